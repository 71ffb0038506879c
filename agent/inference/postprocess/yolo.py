"""Decode Ultralytics YOLO detection heads for a whole batch.

Layouts:
  * YOLOv8 / YOLO11: ``(B, 4 + nc [+ nm], N)``: cx, cy, w, h, class scores (no objectness);
  * YOLOv5: ``(B, N, 5 + nc [+ nm])``: cx, cy, w, h, objectness, class scores.
``nm`` extra columns (mask coefficients of segmentation heads) ride along.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agent.errors import ModelOutputError
from agent.inference.postprocess.nms import nms_batched
from agent.inference.postprocess.params import PostprocessParams


@dataclass
class Candidates:
    """Detections kept after thresholding and NMS, in model-input pixels.

    Attributes:
        xyxy: (K, 4) float32.
        confidence: (K,) float32.
        class_id: (K,) int32.
        frame_index: (K,) int32.
        extra: (K, nm) float32 extra columns (mask coefficients), nm may be 0.
        runner_up_class_id: (K,) int32 second-best class of each box, -1 for one-class models.
        runner_up_confidence: (K,) float32 its score (0 when there is none), on the same
            scale as ``confidence`` (YOLOv5: times objectness).
    """

    xyxy: NDArray[np.float32]
    confidence: NDArray[np.float32]
    class_id: NDArray[np.int32]
    frame_index: NDArray[np.int32]
    extra: NDArray[np.float32]
    runner_up_class_id: NDArray[np.int32]
    runner_up_confidence: NDArray[np.float32]


def guess_layout(shape: tuple[int, ...], num_classes: int, num_extra: int = 0) -> str:
    """Tell YOLOv8 from YOLOv5 by which axis has the per-box attributes."""
    if len(shape) != 3:
        raise ModelOutputError(f"detection output must be 3-D (B, ·, ·), got shape {shape}")
    if shape[1] == 4 + num_classes + num_extra:
        return "yolov8"
    if shape[2] == 5 + num_classes + num_extra:
        return "yolov5"
    raise ModelOutputError(
        f"detection output shape {shape} fits neither YOLOv8 (B, {4 + num_classes + num_extra}, N)"
        f" nor YOLOv5 (B, N, {5 + num_classes + num_extra}) for {num_classes} classes"
    )


def decode_yolo(
    output: NDArray[np.float32],
    layout: str,
    num_classes: int,
    params: PostprocessParams,
    num_extra: int = 0,
) -> Candidates:
    """Threshold, convert to xyxy and run class-aware NMS over the batch.

    Args:
        output: raw head output, layout as described in the module docstring.
        layout: "yolov8" or "yolov5".
        num_classes: nc.
        params: thresholds.
        num_extra: nm, extra columns after the class scores.

    Returns:
        The kept candidates, at most ``params.max_detections`` per frame.
    """
    if layout == "yolov8":
        expected = 4 + num_classes + num_extra
        if output.ndim != 3 or output.shape[1] != expected:
            raise ModelOutputError(f"YOLOv8 output must be (B, {expected}, N), got {output.shape}")
        scores = output[:, 4 : 4 + num_classes, :]  # (B, nc, N)
        best = scores.max(axis=1)  # (B, N)
        frame, box = np.nonzero(best > params.confidence_threshold)
        rows = output[frame, :, box]  # (M, 4 + nc + nm)
        conf = best[frame, box]
        cls = rows[:, 4 : 4 + num_classes].argmax(axis=1)
        extra = rows[:, 4 + num_classes :]
    elif layout == "yolov5":
        expected = 5 + num_classes + num_extra
        if output.ndim != 3 or output.shape[2] != expected:
            raise ModelOutputError(f"YOLOv5 output must be (B, N, {expected}), got {output.shape}")
        objectness = output[:, :, 4]
        pre = objectness > params.confidence_threshold
        frame, box = np.nonzero(pre)
        rows = output[frame, box, :]
        cls_scores = rows[:, 5 : 5 + num_classes] * rows[:, 4:5]
        cls = cls_scores.argmax(axis=1)
        conf = cls_scores[np.arange(len(cls)), cls]
        ok = conf > params.confidence_threshold
        frame, rows, cls, conf = frame[ok], rows[ok], cls[ok], conf[ok]
        extra = rows[:, 5 + num_classes :]
    else:
        raise ModelOutputError(f"unknown detection layout {layout!r}")
    if len(conf) > params.max_candidates:
        top = np.argpartition(-conf, params.max_candidates)[: params.max_candidates]
        frame, rows, cls, conf, extra = frame[top], rows[top], cls[top], conf[top], extra[top]
    cxcywh = rows[:, 0:4].astype(np.float32)
    half = cxcywh[:, 2:4] / 2
    xyxy = np.concatenate([cxcywh[:, 0:2] - half, cxcywh[:, 0:2] + half], axis=1)
    groups = frame.astype(np.int64) * num_classes + cls
    keep = nms_batched(xyxy, conf.astype(np.float32), groups, params.iou_threshold)
    keep = _cap_per_frame(keep, frame, params.max_detections)
    keep = keep[np.lexsort((-conf[keep], frame[keep]))]  # by frame, then score
    kept = rows[keep]
    v8 = layout == "yolov8"
    class_scores = kept[:, 4 : 4 + num_classes] if v8 else kept[:, 5 : 5 + num_classes] * kept[:, 4:5]
    runner_id, runner_conf = runner_up_batch(class_scores, cls[keep])
    return Candidates(
        xyxy=xyxy[keep],
        confidence=conf[keep].astype(np.float32),
        class_id=cls[keep].astype(np.int32),
        frame_index=frame[keep].astype(np.int32),
        extra=np.ascontiguousarray(extra[keep], dtype=np.float32),
        runner_up_class_id=runner_id,
        runner_up_confidence=runner_conf,
    )


def runner_up_batch(
    class_scores: NDArray[np.floating], top: NDArray[np.integer]
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Second-best class of each box.

    Args:
        class_scores: (K, nc) per-class scores of K boxes (before the argmax).
        top: (K,) the chosen class of each box.

    Returns:
        (K,) int32 runner-up class (-1 when nc < 2) and (K,) float32 its score (0 then).
    """
    k, nc = class_scores.shape
    if nc < 2 or k == 0:
        return np.full(k, -1, np.int32), np.zeros(k, np.float32)
    masked = class_scores.astype(np.float32, copy=True)
    masked[np.arange(k), top] = -np.inf
    runner = masked.argmax(axis=1)
    return runner.astype(np.int32), masked[np.arange(k), runner].astype(np.float32)


def _cap_per_frame(keep: NDArray[np.intp], frame: NDArray[np.intp], max_per_frame: int) -> NDArray[np.intp]:
    """Keep at most ``max_per_frame`` of ``keep`` (score-ordered) in each frame."""
    if len(keep) <= max_per_frame:
        return keep
    f = frame[keep]
    order = np.argsort(f, kind="stable")
    sorted_f = f[order]
    starts = np.searchsorted(sorted_f, sorted_f, side="left")
    rank_sorted = np.arange(len(sorted_f)) - starts
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return keep[rank < max_per_frame]


def to_original_pixels(
    xyxy: NDArray[np.float32],
    frame_index: NDArray[np.int32],
    transforms: NDArray[np.float32],
    image_hw: NDArray[np.int32],
) -> NDArray[np.float32]:
    """Map (K, 4) boxes from model-input pixels to each frame's original pixels, clipped.

    Args:
        xyxy: (K, 4) float32 boxes in model-input pixels.
        frame_index: (K,) int32.
        transforms: (B, 4) float32 ``[scale_x, scale_y, pad_x, pad_y]`` per frame.
        image_hw: (B, 2) int32 original height, width.
    """
    t = transforms[frame_index]
    scale = np.concatenate([t[:, 0:2], t[:, 0:2]], axis=1)
    pad = np.concatenate([t[:, 2:4], t[:, 2:4]], axis=1)
    out = (xyxy - pad) / scale
    hw = image_hw[frame_index].astype(np.float32)
    limits = np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=1)
    clipped: NDArray[np.float32] = np.clip(out, 0, limits).astype(np.float32)
    return clipped
