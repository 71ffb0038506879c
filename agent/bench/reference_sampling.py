"""Baseline for ``bench sampling``: the reference's per-frame, per-detection loops.

This mirrors how the reference evaluates a strategy (one prediction dict at a
time, iterating detections in Python) for the detection strategies used by
the benchmark. It exists only to measure the vectorized engine against.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def _class_excluded(class_name: str, selected_class_names: set[str] | None) -> bool:
    return selected_class_names is not None and class_name not in selected_class_names


def _is_close(value: float, threshold: float, epsilon: float) -> bool:
    return abs(value - threshold) < epsilon


def _count_close(
    prediction: dict[str, Any], selected_class_names: set[str] | None, threshold: float, epsilon: float
) -> int:
    """One function call per detection, keyword arguments: the reference's shape."""
    counter = 0
    for details in prediction["predictions"]:
        if _class_excluded(class_name=details["class"], selected_class_names=selected_class_names):
            continue
        if _is_close(value=details["confidence"], threshold=threshold, epsilon=epsilon):
            counter += 1
    return counter


def evaluate_frame(prediction: dict[str, Any], strategy: dict[str, Any], rng: random.Random) -> bool:
    """One strategy on one detection prediction, the reference way."""
    kind = strategy["type"]
    if kind == "random":
        return bool(rng.random() < strategy["traffic_percentage"])
    if prediction.get("is_stub"):
        return False
    preds = prediction["predictions"]
    selected = set(strategy["selected_class_names"]) if strategy.get("selected_class_names") else None
    if kind == "close_to_threshold":
        hit = _count_close(prediction, selected, strategy["threshold"], strategy["epsilon"]) >= strategy.get(
            "minimum_objects_close_to_threshold", 1
        )
    elif kind == "detections_number_based":
        n = _count_close(prediction, selected, 0.5, 1.0)
        lt, mt = strategy.get("less_than"), strategy.get("more_than")
        hit = (lt is None or n < lt) and (mt is None or n > mt)
    elif kind == "sdk_conditionals":
        lo, hi = strategy.get("confidence_interval", [30, 99])
        hit = len(preds) >= strategy.get("required_objects_count", 1) and any(
            lo <= det["confidence"] * 100 <= hi for det in preds
        )
    else:
        raise ValueError(f"baseline has no {kind}")
    return bool(hit and rng.random() < strategy.get("probability", 1.0))


def evaluate_batch(predictions: Sequence[dict[str, Any]], strategies: Sequence[dict[str, Any]],
                   rng: random.Random) -> list[list[bool]]:  # fmt: skip
    """Every strategy on every frame, frame by frame."""
    return [[evaluate_frame(p, s, rng) for s in strategies] for p in predictions]
