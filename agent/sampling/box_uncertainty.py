"""Detection uncertainty: box-level scores aggregated per frame, vectorized over a batch.

Box uncertainty is in [0, 1], higher = less sure:

* ``entropy``: the binary entropy (bits) of the box confidence p,
  ``-(p log2 p + (1 - p) log2 (1 - p))``: 1 at p = 0.5, 0 at p = 0 or 1;
* ``margin``: ``1 - (p_top - p_runner_up)``, the runner-up class score kept by
  postprocessing (``PredictionBatch.runner_up_confidence``); an unknown runner-up
  (one-class model, JSON without the extra fields) counts as 0, so the margin is p_top.

Per frame, over its boxes (optionally only boxes of ``selected_class_names``):
``max``, ``mean``, or ``count_above`` (boxes whose uncertainty is >= the threshold).
A frame without such boxes has no uncertainty (never matches).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import DetectionUncertaintyStrategy
from agent.predictions.batch import PredictionBatch

Measure = Literal["entropy", "margin"]
Aggregate = Literal["max", "mean", "count_above"]


def box_entropy_batch(confidence: NDArray[np.floating]) -> NDArray[np.float64]:
    """(N,) float64 binary entropy in bits of (N,) confidences in [0, 1]."""
    p = np.clip(confidence.astype(np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0.0)
    return np.asarray(-terms, dtype=np.float64)


def box_margin_uncertainty_batch(
    confidence: NDArray[np.floating], runner_up_confidence: NDArray[np.floating] | None
) -> NDArray[np.float64]:
    """(N,) float64 ``1 - (top - runner-up)`` clipped to [0, 1]; unknown runner-up (None, NaN) = 0."""
    top = confidence.astype(np.float64)
    if runner_up_confidence is None:
        runner = np.zeros_like(top)
    else:
        runner = np.nan_to_num(runner_up_confidence.astype(np.float64), nan=0.0)
    return np.asarray(np.clip(1.0 - (top - runner), 0.0, 1.0), dtype=np.float64)


def box_uncertainty(batch: PredictionBatch, measure: Measure) -> NDArray[np.float64]:
    """(N,) float64 uncertainty of every box of the batch."""
    if measure == "entropy":
        return box_entropy_batch(batch.confidence)
    return box_margin_uncertainty_batch(batch.confidence, batch.runner_up_confidence)


def frame_uncertainty(
    batch: PredictionBatch,
    values: NDArray[np.float64],
    rows: NDArray[np.bool_],
    aggregate: Aggregate,
    level: float = 0.5,
) -> NDArray[np.float64]:
    """(B,) float64 per-frame aggregate of (N,) box ``values`` over the boxes in ``rows``.

    ``max``/``mean``: NaN for a frame without boxes; ``count_above``: boxes >= ``level``.
    """
    b = batch.batch_size
    frames = batch.frame_index[rows]
    chosen = values[rows]
    if aggregate == "count_above":
        return np.bincount(frames[chosen >= level], minlength=b).astype(np.float64)
    counts = np.bincount(frames, minlength=b)
    if aggregate == "mean":
        sums = np.bincount(frames, weights=chosen, minlength=b)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    out = np.full(b, -np.inf)
    np.maximum.at(out, frames, chosen)
    return np.where(counts > 0, out, np.nan)


def detection_uncertainty(batch: PredictionBatch, s: DetectionUncertaintyStrategy) -> NDArray[np.bool_]:
    """(B,) bool: the frames a ``detection_uncertainty`` strategy matches (before its gate)."""
    if batch.is_stub or not batch.task.is_detection:
        return np.zeros(batch.batch_size, dtype=bool)
    rows = np.ones(batch.num_detections, dtype=bool)
    if s.selected_class_names is not None:
        chosen = set(s.selected_class_names)
        allowed = np.array([name in chosen for name in batch.class_names], dtype=bool).reshape(-1)
        rows = allowed[batch.class_id] if len(allowed) else np.zeros(batch.num_detections, dtype=bool)
    score = frame_uncertainty(batch, box_uncertainty(batch, s.measure), rows, s.aggregate, s.threshold)
    if s.aggregate == "count_above":
        return np.asarray(score >= s.minimum_boxes, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(score >= s.threshold, dtype=bool)
