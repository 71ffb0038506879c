"""Preprocessor: BGR frames → float32 NCHW tensor in a preallocated buffer.

Resize modes:
  * ``letterbox``: aspect-preserving resize, centred, padded with ``pad_value``;
  * ``stretch``: resize to the input size, aspect ratio not kept;
  * ``center_crop``: resize the short side to ``input / crop_fraction``, crop the centre.

For each frame the preprocessor also returns the affine map back to the
original pixels: ``x_orig = (x_model - pad_x) / scale_x`` (same for y).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from agent.inference.spec import ModelSpec


class Preprocessor:
    """Fills a reusable (max_batch, 3, H, W) float32 buffer.

    Not thread-safe: one preprocessor per inference thread.
    """

    def __init__(self, spec: ModelSpec, max_batch: int, buffers: int = 1) -> None:
        """
        Args:
            buffers: input buffers used in turn, one per call (2: the tensor of call k stays valid
                while call k + 1 fills the other, so a batch is preprocessed while the previous one runs).
        """
        if max_batch < 1 or buffers < 1:
            raise ValueError(f"max_batch and buffers must be >= 1, got {max_batch} and {buffers}")
        self.spec = spec
        h, w = spec.input_hw
        self.max_batch = max_batch
        # allocated on first use and grown to the largest batch seen: a preprocessor that only ever
        # sees single frames (the daemon's Infer path) holds one frame's tensor, not max_batch of them
        self._buffers: list[NDArray[np.float32]] = [np.empty((0, 3, h, w), dtype=np.float32) for _ in range(buffers)]
        self._turn = 0
        mean = np.asarray(spec.mean if spec.mean is not None else (0.0, 0.0, 0.0), np.float32)
        std = np.asarray(spec.std if spec.std is not None else (1.0, 1.0, 1.0), np.float32)
        # x_norm = (x * scale - mean) / std = x * alpha - beta, per channel (model order)
        self._alpha = (spec.scale / std).astype(np.float32).reshape(3, 1, 1)
        self._beta = (mean / std).astype(np.float32).reshape(3, 1, 1)
        self._plain = bool(np.all(self._beta == 0) and np.all(self._alpha == self._alpha[0]))
        self._channel_index = [2, 1, 0] if spec.channel_order == "rgb" else [0, 1, 2]
        # the padding's value per channel, computed as the pixels are: float32(pad) * alpha - beta
        self._pad_tensor = np.float32(spec.pad_value) * self._alpha
        if not self._plain:
            self._pad_tensor = self._pad_tensor - self._beta

    def __call__(self, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Preprocess up to ``max_batch`` frames.

        Args:
            images: B arrays (H_i, W_i, 3) uint8 BGR.

        Returns:
            tensor: view of a buffer, (B, 3, H, W) float32. Valid until the call ``buffers`` calls later.
            transforms: (B, 4) float32 rows ``[scale_x, scale_y, pad_x, pad_y]``.
        """
        b = len(images)
        if b > self.max_batch:
            raise ValueError(f"got {b} frames, the preprocessor holds at most {self.max_batch}")
        transforms = np.empty((b, 4), dtype=np.float32)
        turn, self._turn = self._turn, (self._turn + 1) % len(self._buffers)
        if self._buffers[turn].shape[0] < b:
            self._buffers[turn] = np.empty((b, *self._buffers[turn].shape[1:]), dtype=np.float32)
        buffer = self._buffers[turn]
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"frame {i}: expected (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
            if self.spec.resize == "letterbox":
                transforms[i] = self._letterbox_into(image, buffer[i])
            else:
                canvas, transforms[i] = self._resize(image)
                self._to_tensor(canvas, buffer[i])
        return buffer[:b], transforms

    def _letterbox_into(self, image: NDArray[np.uint8], out: NDArray[np.float32]) -> NDArray[np.float32]:
        """Letterbox ``image`` straight into ``out``: the bands are filled with the padding's normalised
        value and only the image's pixels are converted (a 16:9 frame leaves 44 % of a square input as
        padding). Same values, bit for bit, as converting the padded canvas.

        Args:
            image: (h, w, 3) uint8 BGR.
            out: (3, H, W) float32, one frame of the input buffer.

        Returns:
            (4,) float32 ``[scale_x, scale_y, pad_x, pad_y]``.
        """
        h, w = self.spec.input_hw
        ih, iw = image.shape[:2]
        r = min(h / ih, w / iw)
        nw, nh = max(1, round(iw * r)), max(1, round(ih * r))
        left, top = (w - nw) // 2, (h - nh) // 2
        if (nw, nh) != (iw, ih):  # INTER_LINEAR, as Ultralytics' LetterBox, so predictions match theirs
            image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if (nw, nh) != (w, h):
            out[:] = self._pad_tensor
        self._to_tensor(image, out[:, top : top + nh, left : left + nw])
        return np.array([nw / iw, nh / ih, left, top], np.float32)

    def _resize(self, image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Stretch or centre-crop ``image`` to the input size (letterbox: :meth:`_letterbox_into`)."""
        h, w = self.spec.input_hw
        ih, iw = image.shape[:2]
        if self.spec.resize == "stretch":
            out = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
            return out, np.array([w / iw, h / ih, 0.0, 0.0], np.float32)
        short = round(min(h, w) / self.spec.crop_fraction)  # center_crop
        r = short / min(ih, iw)
        nw, nh = max(w, round(iw * r)), max(h, round(ih * r))
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        top, left = (nh - h) // 2, (nw - w) // 2
        crop = resized[top : top + h, left : left + w]
        return crop, np.array([nw / iw, nh / ih, -left, -top], np.float32)

    def _to_tensor(self, canvas: NDArray[np.uint8], out: NDArray[np.float32]) -> None:
        for dst_c, src_c in enumerate(self._channel_index):
            np.multiply(canvas[:, :, src_c], self._alpha[dst_c, 0, 0], out=out[dst_c],
                        casting="unsafe")  # fmt: skip
        if not self._plain:
            out -= self._beta
