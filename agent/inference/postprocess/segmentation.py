"""YOLOv8-seg masks: mask coefficients × prototypes → polygons in original pixels."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from agent.errors import ModelOutputError


def masks_to_polygons(
    coefficients: NDArray[np.float32],
    prototypes: NDArray[np.float32],
    frame_index: NDArray[np.int32],
    boxes_model: NDArray[np.float32],
    input_hw: tuple[int, int],
    transforms: NDArray[np.float32],
    image_hw: NDArray[np.int32],
) -> list[NDArray[np.float32]]:
    """Build one polygon per detection.

    Args:
        coefficients: (K, nm) float32 mask coefficients of the kept detections.
        prototypes: (B, nm, mh, mw) float32 mask prototypes.
        frame_index: (K,) int32 frame of each detection.
        boxes_model: (K, 4) float32 boxes in model-input pixels (mask crop).
        input_hw: model input height, width.
        transforms: (B, 4) ``[scale_x, scale_y, pad_x, pad_y]``.
        image_hw: (B, 2) original height, width.

    Returns:
        K arrays (P_k, 2) float32 of (x, y) in original pixels: the outline of the
        largest connected region of each mask; empty (0, 2) when the mask is empty.
    """
    if prototypes.ndim != 4 or prototypes.shape[1] != coefficients.shape[1]:
        raise ModelOutputError(f"mask prototypes must be (B, {coefficients.shape[1]}, mh, mw), got {prototypes.shape}")
    k = len(coefficients)
    if k == 0:
        return []
    _, nm, mh, mw = prototypes.shape
    protos = prototypes.reshape(prototypes.shape[0], nm, mh * mw)
    # one matmul per frame that has detections: (k_f, nm) @ (nm, mh*mw)
    logits = np.empty((k, mh * mw), dtype=np.float32)
    for f in np.unique(frame_index):
        rows = np.flatnonzero(frame_index == f)
        logits[rows] = coefficients[rows] @ protos[f]
    masks = (logits > 0.0).reshape(k, mh, mw)  # sigmoid(x) > 0.5  <=>  x > 0
    ih, iw = input_hw
    sx, sy = mw / iw, mh / ih
    box = boxes_model * np.array([sx, sy, sx, sy], np.float32)
    xs = np.arange(mw, dtype=np.float32)[None, None, :]
    ys = np.arange(mh, dtype=np.float32)[None, :, None]
    inside = (
        (xs >= box[:, 0, None, None]) & (xs < box[:, 2, None, None])
        & (ys >= box[:, 1, None, None]) & (ys < box[:, 3, None, None])
    )  # fmt: skip
    masks &= inside
    polygons: list[NDArray[np.float32]] = []
    for i in range(k):
        contours, _ = cv2.findContours(masks[i].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            polygons.append(np.zeros((0, 2), np.float32))
            continue
        largest = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float32)
        f = int(frame_index[i])
        scale_x, scale_y, pad_x, pad_y = transforms[f]
        # proto pixel centre → model pixels → original pixels
        x = ((largest[:, 0] + 0.5) / sx - pad_x) / scale_x
        y = ((largest[:, 1] + 0.5) / sy - pad_y) / scale_y
        h, w = image_hw[f]
        poly = np.stack([np.clip(x, 0, w), np.clip(y, 0, h)], axis=1).astype(np.float32)
        polygons.append(poly)
    return polygons
