"""Class-aware non-maximum suppression over a whole batch, in numpy."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def box_iou_batch(box: NDArray[np.floating], boxes: NDArray[np.floating]) -> NDArray[np.float32]:
    """IoU of one box (4,) xyxy against boxes (M, 4) xyxy, any float dtype; (M,) float32."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (box[2] - box[0]) * (box[3] - box[1])
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms_batched(
    xyxy: NDArray[np.float32],
    scores: NDArray[np.float32],
    groups: NDArray[np.int64],
    iou_threshold: float,
) -> NDArray[np.intp]:
    """Greedy NMS where boxes only suppress boxes of the same group.

    Groups are (frame, class) pairs encoded as integers; boxes of different
    groups are shifted apart so they never overlap, and one NMS pass serves the
    whole batch.

    Args:
        xyxy: (M, 4) float32 boxes.
        scores: (M,) float32 scores.
        groups: (M,) int64 group of each box.
        iou_threshold: a box is dropped when its IoU with a kept box is above this.

    Returns:
        (K,) indices of kept boxes, by descending score.
    """
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.intp)
    span = float(np.max(xyxy[:, 2:]) - min(float(np.min(xyxy[:, :2])), 0.0)) + 1.0
    shifted = xyxy.astype(np.float64) + (groups.astype(np.float64) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        ious = box_iou_batch(shifted[i], shifted[rest])
        order = rest[ious <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)
