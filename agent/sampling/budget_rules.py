"""From a config's ``framesift`` objects to limit rules, and the classes each frame is charged to."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import ActiveLearningConfig
from agent.limits.rules import WINDOW_SECONDS, PacingRule, QuotaRule, StrategyRules
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import multilabel_predicted_mask
from agent.sampling.criteria import top_class


def strategy_rules(config: ActiveLearningConfig) -> dict[str, StrategyRules]:
    """Pacing and class-quota rules by strategy name (only strategies that have some).

    The config validator guarantees that a paced or quota window has a limit.
    """
    out: dict[str, StrategyRules] = {}
    for s in config.sampling_strategies:
        ext = s.framesift
        if ext is None or (ext.pacing is None and ext.class_quota is None):
            continue
        limits = s.limit_values()
        pacing = quota = None
        if ext.pacing is not None:
            cap = limits[ext.pacing.window]
            pacing = PacingRule(cap / WINDOW_SECONDS[ext.pacing.window], ext.pacing.burst)
        if ext.class_quota is not None:
            q = ext.class_quota
            quota = QuotaRule(q.window, limits[q.window], None if q.balanced else dict(q.shares or {}))
        out[s.name] = StrategyRules(pacing, quota)
    return out


def frame_classes_batch(batch: PredictionBatch, frames: NDArray[np.intp]) -> list[tuple[str, ...]]:
    """The distinct class names of each of ``frames`` (sorted; detection tasks: every box,
    classification: the top class, multi-label: the predicted classes; stubs: none)."""
    names = batch.class_names
    if batch.is_stub or len(names) == 0:
        return [() for _ in frames]
    if batch.task.is_detection:
        present = np.zeros((batch.batch_size, len(names)), dtype=bool)
        present[batch.frame_index, batch.class_id] = True
    elif batch.task is TaskType.CLASSIFICATION:
        idx, _, has_top = top_class(batch)
        present = np.zeros((batch.batch_size, len(names)), dtype=bool)
        present[np.arange(batch.batch_size)[has_top], idx[has_top]] = True
    else:
        present = np.asarray(multilabel_predicted_mask(batch), dtype=bool)
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    return [tuple(names[c] for c in order if present[f, c]) for f in frames.tolist()]
