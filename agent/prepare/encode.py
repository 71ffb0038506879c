"""Prepare a selected frame for upload: downscale, JPEG, annotation.

* Downscale to fit ``max_image_size`` [height, width], aspect kept, never upscaled
  (the reference's size arithmetic, ``int()`` truncation included).
* JPEG at ``jpeg_compression_level`` with simplejpeg (libjpeg-turbo), 4:2:0 chroma
  subsampling (as the reference's ``cv2.imencode``; a third faster than 4:4:4). The bytes are
  final: they are spooled as they are and never re-encoded, because the server
  deduplicates on the SHA-256 of exactly these bytes.
* The annotation is the prediction in Roboflow JSON **in the uploaded JPEG's pixel
  frame**, scaled per axis (the reference's active-learning path divides by the scale
  instead, leaving boxes in a frame 1/s of the original, and does not scale keypoints).
  Classification → the top class as text; multi-label → the predicted classes,
  comma-joined; stubs, ``persist_predictions: false`` and frames without any
  prediction → no annotation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg
from numpy.typing import NDArray

from agent.predictions.annotation import Annotation
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import batch_to_roboflow


@dataclass(frozen=True)
class PreparedFrame:
    """Upload-ready bytes of one frame.

    Attributes:
        jpeg: the exact bytes to upload.
        sha256: hex digest of ``jpeg`` (the server's dedup key, our idempotency key).
        width, height: size of the JPEG.
        annotation: the draft annotation, or None.
        prediction: the frame's prediction JSON (in the JPEG's frame), or None for stubs.
    """

    jpeg: bytes
    sha256: str
    width: int
    height: int
    annotation: Annotation | None
    prediction: dict[str, object] | None


def fit_size(height: int, width: int, max_hw: list[int] | None) -> tuple[int, int]:
    """Target (height, width): fit inside ``max_hw`` keeping the aspect ratio, never upscale."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image must be non-empty, got {width}x{height}")
    if not max_hw:
        return height, width
    h_max, w_max = max_hw
    if height <= h_max and width <= w_max:
        return height, width
    r_img, r_max = width / height, w_max / h_max
    if r_img >= r_max:
        return max(1, int(w_max / r_img)), w_max
    return h_max, max(1, int(h_max * r_img))


def _scaled(frame_batch: PredictionBatch, sx: float, sy: float, hw: tuple[int, int]) -> PredictionBatch:
    """The one-frame batch with boxes/polygons/keypoints scaled by (sx, sy)."""
    factors = np.array([sx, sy, sx, sy], np.float32)
    frame_batch.xyxy = (frame_batch.xyxy * factors).astype(np.float32)
    if frame_batch.polygons is not None:
        frame_batch.polygons = [(p * np.array([sx, sy], np.float32)).astype(np.float32) for p in frame_batch.polygons]
    if frame_batch.keypoints is not None:
        frame_batch.keypoints = [
            [kp | {"x": kp["x"] * sx, "y": kp["y"] * sy} if "x" in kp and "y" in kp else kp for kp in kps]
            for kps in frame_batch.keypoints
        ]
    frame_batch.image_hw = np.array([hw], np.int32)
    frame_batch._derived.clear()
    return frame_batch


def annotation_for(prediction: dict[str, object], task: TaskType, file_stem: str) -> Annotation | None:
    """The annotation file for one frame's prediction JSON, or None when there is nothing to send."""
    if prediction.get("is_stub"):
        return None
    if task is TaskType.CLASSIFICATION:
        top = prediction.get("top")
        return Annotation(f"{file_stem}.txt", str(top)) if top else None
    if task is TaskType.MULTI_LABEL_CLASSIFICATION:
        chosen = prediction.get("predicted_classes") or []
        assert isinstance(chosen, list)
        return Annotation(f"{file_stem}.txt", ",".join(str(c) for c in chosen)) if chosen else None
    if not prediction.get("predictions"):
        return None
    return Annotation(f"{file_stem}.json", json.dumps(prediction))


def prepare_frame(
    image: NDArray[np.uint8],
    batch: PredictionBatch,
    frame: int,
    *,
    max_image_size: list[int] | None,
    jpeg_quality: int,
    persist_predictions: bool,
) -> PreparedFrame:
    """Encode frame ``frame`` of ``batch`` for upload.

    Args:
        image: (H, W, 3) uint8 BGR, the frame's pixels: its full size ``batch.image_hw[frame]``, or
            a reduced decode of it at least as large as the upload size (resized to it here).
        batch: the predictions of its batch, in the full image's pixels.
        frame: index of the frame in ``batch``.
        max_image_size: [height, width] to fit in, or None.
        jpeg_quality: 1..100.
        persist_predictions: send the prediction as a draft annotation.
    """
    full_h, full_w = (int(v) for v in batch.image_hw[frame])  # the frame the predictions are in
    nh, nw = fit_size(full_h, full_w, max_image_size)
    h, w = image.shape[:2]
    pixels = image if (nh, nw) == (h, w) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(pixels), quality=jpeg_quality, colorspace="BGR",
                                  colorsubsampling="420")  # fmt: skip
    return _prepared(jpeg, batch, frame, (nh, nw), persist_predictions)


def prepare_encoded(jpeg: bytes, batch: PredictionBatch, frame: int, *, persist_predictions: bool) -> PreparedFrame:
    """Frame ``frame`` of ``batch`` uploaded as the JPEG it was read from (see ``prepare/jpeg_passthrough.py``).

    Args:
        jpeg: the bytes to upload, whose upright size is the frame's full size ``batch.image_hw[frame]``.
        batch: the predictions of its batch, in the full image's pixels.
        frame: index of the frame in ``batch``.
        persist_predictions: send the prediction as a draft annotation.
    """
    full_h, full_w = (int(v) for v in batch.image_hw[frame])
    return _prepared(jpeg, batch, frame, (full_h, full_w), persist_predictions)


def _prepared(jpeg: bytes, batch: PredictionBatch, frame: int, hw: tuple[int, int],
              persist_predictions: bool) -> PreparedFrame:  # fmt: skip
    """The upload of ``jpeg`` (``hw`` upright) with frame ``frame``'s prediction scaled into its pixels."""
    full_h, full_w = (int(v) for v in batch.image_hw[frame])
    nh, nw = hw
    one = batch.select_frames([frame])
    if not one.is_stub and (nh, nw) != (full_h, full_w):
        one = _scaled(one, nw / full_w, nh / full_h, (nh, nw))
    prediction = batch_to_roboflow(one)[0]
    annotation = None
    if persist_predictions:
        annotation = annotation_for(prediction, batch.task, batch.inference_ids[frame])
    return PreparedFrame(
        jpeg=jpeg, sha256=hashlib.sha256(jpeg).hexdigest(), width=nw, height=nh,
        annotation=annotation, prediction=None if one.is_stub else prediction,
    )  # fmt: skip
