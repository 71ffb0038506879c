"""Reduced decodes and the way back to full resolution.

A 1280×720 JPEG for a 320×320 model is decoded with libjpeg's DCT scaling at the
smallest 1/1, 1/2, 1/4, 1/8 scale that still covers the model's input
(:func:`inference_min_hw`); the encoded bytes stay on the frame. Two things then
bring the frame back to its real size:

* :func:`restore_full_resolution`: predictions made on the reduced pixels are scaled
  into the original image's pixel frame (``PredictionBatch.image_hw`` becomes the full
  size), so strategies, the ``Infer`` reply and annotations never see the reduced size;
* :func:`decode_for_upload`: the prepare stage decodes a selected frame's bytes again,
  at the smallest DCT scale that still covers the upload size (``max_image_size``, or
  the full image), so uploads keep their resolution.

A selected frame that cannot be uploaded as its own JPEG bytes (``prepare/jpeg_passthrough.py``)
is thus decoded twice; :class:`DecodeSizePolicy` decodes at full size instead while most recent
frames were (then the reduced decode is pure extra work).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from agent.frames.frame import Frame
from agent.images.decode import FitInside, MinHW, decode_image
from agent.inference.spec import ModelSpec
from agent.predictions.batch import PredictionBatch
from agent.prepare.encode import fit_size


def inference_min_hw(model: object | None) -> MinHW | None:
    """The smallest decode of a frame ``model``'s preprocessing can use.

    None (decode at full size) for no model or a model without an input size (the stub).
    A letterbox scales the frame to fit inside the input (:class:`FitInside`: 320×180 of a
    1280×720 frame for 320×320); stretch resizes each side to the input's; a centre crop
    first resizes the short side to ``input / crop_fraction``, so both sides must reach that.
    """
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        return None
    h, w = spec.input_hw
    if spec.resize == "center_crop":
        side = math.ceil(max(h, w) / spec.crop_fraction)
        return side, side
    if spec.resize == "letterbox":
        return FitInside(h, w)
    return h, w


class DecodeSizePolicy:
    """Reduced decodes while few selected frames are decoded again, full ones while most are.

    A reduced decode costs R, a full one F (R ≈ 0.3–0.65 F at 1280×720, by subsampling); with a
    share s of the frames decoded a second time (selected, and not uploaded as their own JPEG bytes)
    the reduced path costs R + s·F per frame against F, so it pays while s < 1 − R/F. The share is
    kept as decaying counts (``decay`` per batch); the inference thread counts frames, the prepare
    stage counts second decodes.
    """

    def __init__(self, full_decode_share: float = 0.5, decay: float = 0.8) -> None:
        self.full_decode_share = full_decode_share
        self.decay = decay
        self._frames = 0.0
        self._redecoded = 0.0
        self._lock = threading.Lock()

    @property
    def redecode_share(self) -> float:
        """The recent share of frames decoded a second time for their upload."""
        return self._redecoded / self._frames if self._frames else 0.0

    def observe_frames(self, frames: int) -> None:
        """A batch of ``frames`` frames was inferred (older counts decay)."""
        with self._lock:
            self._frames = self._frames * self.decay + frames
            self._redecoded *= self.decay

    def observe_redecode(self) -> None:
        """A selected frame is decoded a second time for its upload."""
        with self._lock:
            self._redecoded += 1

    def min_hw(self, model: object | None) -> MinHW | None:
        """(height, width) to decode JPEGs at for ``model``, or None for full size."""
        if self.redecode_share >= self.full_decode_share:
            return None
        return inference_min_hw(model)


def restore_full_resolution(batch: PredictionBatch, frames: Sequence[Frame]) -> PredictionBatch:
    """Scale the predictions of reduced frames into their full image's pixels, in place.

    Args:
        batch: predictions of ``frames`` (same order), boxes in each frame's ``image`` pixels.
        frames: the frames; those with ``full_hw`` set were predicted on a reduced decode.

    Returns:
        ``batch``, with ``xyxy`` (N, 4), polygons (K_i, 2) and keypoints in full-image pixels and
        ``image_hw`` (B, 2) the full sizes.
    """
    factors = np.ones((len(frames), 2), np.float32)  # (B, 2): x, y scale of each frame
    changed = False
    for index, frame in enumerate(frames):
        if frame.full_hw is None:
            continue
        h, w = frame.image.shape[:2] if frame.image.size else tuple(batch.image_hw[index])
        full_h, full_w = frame.full_hw
        if (h, w) != (full_h, full_w):
            factors[index] = (full_w / w, full_h / h)
            batch.image_hw[index] = (full_h, full_w)
            changed = True
    if not changed or batch.is_stub:
        return batch
    per_det = factors[batch.frame_index]  # (N, 2)
    if len(batch.xyxy):
        batch.xyxy = (batch.xyxy * np.tile(per_det, 2)).astype(np.float32)
    if batch.polygons is not None:
        batch.polygons = [(p * f).astype(np.float32) for p, f in zip(batch.polygons, per_det, strict=True)]
    if batch.keypoints is not None:
        batch.keypoints = [
            [kp | {"x": kp["x"] * float(f[0]), "y": kp["y"] * float(f[1])} if "x" in kp and "y" in kp else kp
             for kp in kps]
            for kps, f in zip(batch.keypoints, per_det, strict=True)
        ]  # fmt: skip
    batch._derived.clear()  # cached areas and bounds are in the old frame
    return batch


def decode_for_upload(frame: Frame, fallback: NDArray[np.uint8], max_image_size: list[int] | None) -> NDArray[np.uint8]:
    """The pixels to upload for ``frame``: its encoded bytes decoded at the upload size.

    Args:
        frame: a selected frame.
        fallback: (H, W, 3) uint8 BGR, the pixels the frame was predicted on, used when the frame
            has no encoded bytes (video, raw pixels) or was decoded at full size already.
        max_image_size: the config's [height, width] to fit uploads in, or None (full size).

    Returns:
        (H', W', 3) uint8 BGR, at least the size ``prepare_frame`` will resize to, upright.
    """
    if frame.encoded is None or frame.full_hw is None or fallback.shape[:2] == frame.full_hw:
        return fallback
    target = fit_size(frame.full_hw[0], frame.full_hw[1], max_image_size)
    return decode_image(frame.encoded, frame.frame_id, min_hw=target).pixels
