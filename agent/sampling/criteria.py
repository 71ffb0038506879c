"""Deterministic sampling criteria, vectorized over a whole PredictionBatch.

Each function returns a (B,) bool mask: which frames meet the strategy's
criterion before its probability gate. The semantics are the reference's
(``roboflow-active-learning.md`` §2) to the letter: strict inequalities,
which task types each criterion applies to, stubs matching nothing.
Confidences are compared in float64, as the reference compares Python floats.
No Python loop runs per detection or per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import (
    CloseToThresholdStrategy,
    DetectionsNumberBasedStrategy,
    EntropyStrategy,
    MarginStrategy,
    SdkConditionalsStrategy,
)
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import multilabel_predicted_mask

BoolMask = NDArray[np.bool_]


def _none(batch: PredictionBatch) -> BoolMask:
    return np.zeros(batch.batch_size, dtype=bool)


def class_allowed(class_names: Sequence[str], selected: Sequence[str] | None) -> BoolMask:
    """(C,) bool: classes not excluded by ``selected`` (None = all allowed)."""
    if selected is None:
        return np.ones(len(class_names), dtype=bool)
    chosen = set(selected)
    return np.array([name in chosen for name in class_names], dtype=bool).reshape(len(class_names))


def _close(values: NDArray[np.floating], threshold: float, epsilon: float) -> BoolMask:
    with np.errstate(invalid="ignore"):
        return np.abs(values.astype(np.float64, copy=False) - threshold) < epsilon


def _per_frame_count(batch: PredictionBatch, rows: BoolMask) -> NDArray[np.int64]:
    """(B,) number of True rows per frame.

    Detections are stored frame by frame, so a segmented sum (reduceat) over the
    frame boundaries does it without gathering the masked frame indices.
    """
    bounds = batch.frame_bounds()
    if bounds is None:
        return np.bincount(batch.frame_index[rows], minlength=batch.batch_size)
    starts, empty = bounds
    if len(rows) == 0:
        return np.zeros(batch.batch_size, np.int64)
    padded = np.zeros(len(rows) + 1, dtype=np.int64)
    padded[:-1] = rows
    counts = np.add.reduceat(padded, starts)
    counts[empty] = 0
    return counts


def top_class(batch: PredictionBatch) -> tuple[NDArray[np.intp], NDArray[np.float64], BoolMask]:
    """Single-label top class per frame: (index (B,), confidence (B,), has_top (B,))."""
    assert batch.class_scores is not None
    scores = batch.class_scores.astype(np.float64)
    b, c = scores.shape
    if c == 0:
        return np.zeros(b, np.intp), np.zeros(b), np.zeros(b, bool)
    filled = np.where(np.isnan(scores), -np.inf, scores)
    idx = filled.argmax(axis=1)
    conf = scores[np.arange(b), idx]
    return idx, conf, ~np.isnan(conf)


def close_to_threshold(
    batch: PredictionBatch,
    threshold: float,
    epsilon: float,
    selected: Sequence[str] | None,
    only_top_classes: bool,
    minimum_objects: int,
) -> BoolMask:
    """The reference's close-to-threshold test (§2.2), for every task type."""
    if batch.is_stub:
        return _none(batch)
    allowed = class_allowed(batch.class_names, selected)
    if batch.task.is_detection:
        rows = _close(batch.confidence_f64(), threshold, epsilon)
        if selected is not None:
            rows &= allowed[batch.class_id]
        return _per_frame_count(batch, rows) >= minimum_objects
    assert batch.class_scores is not None
    scores = batch.class_scores
    present = ~np.isnan(scores)
    close = _close(scores, threshold, epsilon) & present & allowed[None, :]
    if batch.task is TaskType.CLASSIFICATION:
        if only_top_classes:
            idx, conf, has_top = top_class(batch)
            if len(allowed) == 0:
                return _none(batch)
            return np.asarray(has_top & allowed[idx] & _close(conf, threshold, epsilon), dtype=bool)
        return np.asarray(close.any(axis=1), dtype=bool)
    if only_top_classes:
        close &= multilabel_predicted_mask(batch)
    return np.asarray(close.any(axis=1), dtype=bool)


def close_to_threshold_strategy(batch: PredictionBatch, s: CloseToThresholdStrategy) -> BoolMask:
    """``close_to_threshold``."""
    return close_to_threshold(
        batch, s.threshold, s.epsilon, s.selected_class_names, s.only_top_classes,
        s.minimum_objects_close_to_threshold,
    )  # fmt: skip


def classes_based(batch: PredictionBatch, selected: Sequence[str]) -> BoolMask:
    """``classes_based`` (§2.3): classification only; close-to-threshold with 0.5 ± 1.0."""
    if batch.task.is_detection:
        return _none(batch)
    return close_to_threshold(batch, 0.5, 1.0, selected, True, 1)


def detections_number(batch: PredictionBatch, s: DetectionsNumberBasedStrategy) -> BoolMask:
    """``detections_number_based`` (§2.4): strict (more_than, less_than) on the count."""
    if batch.is_stub or not batch.task.is_detection:
        return _none(batch)
    rows = _close(batch.confidence_f64(), 0.5, 1.0)
    if s.selected_class_names is not None:
        rows &= class_allowed(batch.class_names, s.selected_class_names)[batch.class_id]
    n = _per_frame_count(batch, rows)
    ok = np.ones(batch.batch_size, dtype=bool)
    if s.less_than is not None:
        ok &= n < s.less_than
    if s.more_than is not None:
        ok &= n > s.more_than
    return ok


def _probabilities(batch: PredictionBatch) -> NDArray[np.float64]:
    assert batch.class_scores is not None
    return np.nan_to_num(batch.class_scores.astype(np.float64), nan=0.0)


def normalized_entropy(batch: PredictionBatch) -> NDArray[np.float64]:
    """(B,) uncertainty in [0, 1].

    Single-label: Shannon entropy of the (renormalised) distribution / log(C).
    Multi-label: the largest binary entropy (bits) over the classes.
    """
    p = _probabilities(batch)
    b, c = p.shape
    if c == 0:
        return np.zeros(b)
    if batch.task is TaskType.MULTI_LABEL_CLASSIFICATION:
        q = np.clip(p, 1e-12, 1 - 1e-12)
        h = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
        return np.asarray(h.max(axis=1), dtype=np.float64)
    if c < 2:
        return np.zeros(b)
    total = p.sum(axis=1, keepdims=True)
    q = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q), 0.0)
    return np.asarray(-terms.sum(axis=1) / np.log(c), dtype=np.float64)


def top2_margin(batch: PredictionBatch) -> NDArray[np.float64]:
    """(B,) margin in [0, 1]: top-1 minus top-2 (single-label); min |2p - 1| (multi-label)."""
    p = _probabilities(batch)
    b, c = p.shape
    if batch.task is TaskType.MULTI_LABEL_CLASSIFICATION:
        return np.abs(2 * p - 1).min(axis=1) if c else np.ones(b)
    if c < 2:
        return np.ones(b)
    top2 = np.partition(p, c - 2, axis=1)[:, c - 2 :]
    return np.asarray(top2[:, 1] - top2[:, 0], dtype=np.float64)


def entropy(batch: PredictionBatch, s: EntropyStrategy) -> BoolMask:
    """framesift ``entropy``: classification frames with normalised entropy >= threshold."""
    if batch.is_stub or batch.task.is_detection:
        return _none(batch)
    return normalized_entropy(batch) >= s.threshold


def margin(batch: PredictionBatch, s: MarginStrategy) -> BoolMask:
    """framesift ``margin``: classification frames with top-2 margin <= threshold."""
    if batch.is_stub or batch.task.is_detection:
        return _none(batch)
    return top2_margin(batch) <= s.threshold


def sdk_conditionals(batch: PredictionBatch, s: SdkConditionalsStrategy) -> BoolMask:
    """The SDK's ``conditionals`` (roboflow-upload-api.md §1.3), detection tasks only.

    Image gate: count >= required_objects_count, target-class count >= required_class_count
    (when target_classes is set) and distinct classes >= required_class_variance_count
    (which the SDK ignores). Then at least one detection must pass size (strict, px²),
    confidence (percent, inclusive) and target class together.
    """
    if batch.is_stub or not batch.task.is_detection:
        return _none(batch)
    b = batch.batch_size
    n_classes = max(len(batch.class_names), 1)
    total = batch.detections_per_frame()
    gate = total >= s.required_objects_count
    in_target: BoolMask | bool = True
    if s.target_classes:
        in_target = class_allowed(batch.class_names, s.target_classes)[batch.class_id]
        gate &= _per_frame_count(batch, in_target) >= s.required_class_count
    if s.required_class_variance_count > 0:
        present = np.zeros((b, n_classes), dtype=bool)
        present[batch.frame_index, batch.class_id] = True
        gate &= present.sum(axis=1) >= s.required_class_variance_count
    area = batch.box_area_f64()
    low, high = s.size_bounds()
    percent = batch.confidence_f64() * 100.0
    lo, hi = s.confidence_interval
    passing = (area > low) & (area < high) & (percent >= lo) & (percent <= hi) & in_target
    return gate & (_per_frame_count(batch, passing) > 0)
