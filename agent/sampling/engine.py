"""SamplingEngine: evaluate every strategy of a config on a batch at once.

``evaluate`` returns a frames × strategies bool matrix in config order (the
reference evaluates every strategy, no short-circuit). Probability gates draw
from a seeded ``numpy.random.Generator``: one (B, S) draw per batch, in
frame-major order, so a seeded run gives the same decisions however the
frames are split into batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import (
    ActiveLearningConfig,
    ClassesBasedStrategy,
    CloseToThresholdStrategy,
    DetectionsNumberBasedStrategy,
    DetectionUncertaintyStrategy,
    EntropyStrategy,
    MarginStrategy,
    RandomStrategy,
    SdkConditionalsStrategy,
    Strategy,
)
from agent.predictions.batch import PredictionBatch
from agent.sampling import criteria
from agent.sampling.box_uncertainty import detection_uncertainty

Criterion = Callable[[PredictionBatch], NDArray[np.bool_]]


def compile_strategy(strategy: Strategy) -> tuple[Criterion, float]:
    """Return (deterministic criterion, probability) for one configured strategy."""
    if isinstance(strategy, RandomStrategy):
        return (lambda b: np.ones(b.batch_size, dtype=bool)), strategy.traffic_percentage
    if isinstance(strategy, CloseToThresholdStrategy):
        return (lambda b: criteria.close_to_threshold_strategy(b, strategy)), strategy.probability
    if isinstance(strategy, ClassesBasedStrategy):
        names = strategy.selected_class_names
        return (lambda b: criteria.classes_based(b, names)), strategy.probability
    if isinstance(strategy, DetectionsNumberBasedStrategy):
        return (lambda b: criteria.detections_number(b, strategy)), strategy.probability
    if isinstance(strategy, EntropyStrategy):
        return (lambda b: criteria.entropy(b, strategy)), strategy.probability
    if isinstance(strategy, MarginStrategy):
        return (lambda b: criteria.margin(b, strategy)), strategy.probability
    if isinstance(strategy, SdkConditionalsStrategy):
        return (lambda b: criteria.sdk_conditionals(b, strategy)), strategy.probability
    if isinstance(strategy, DetectionUncertaintyStrategy):
        return (lambda b: detection_uncertainty(b, strategy)), strategy.probability
    raise TypeError(f"no criterion for strategy type {type(strategy).__name__}")


@dataclass(frozen=True)
class CompiledStrategy:
    """A strategy ready to evaluate."""

    name: str
    criterion: Criterion
    probability: float


class SamplingEngine:
    """Evaluates the strategies of one config. Not thread-safe (owns the RNG)."""

    def __init__(self, config: ActiveLearningConfig, seed: int | None = None) -> None:
        self.config = config
        self.strategies = [CompiledStrategy(s.name, *compile_strategy(s)) for s in config.sampling_strategies]
        self.names = [s.name for s in self.strategies]
        self._probabilities = np.array([s.probability for s in self.strategies], dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def evaluate(self, batch: PredictionBatch, boost: NDArray[np.float64] | None = None) -> NDArray[np.bool_]:
        """(B, S) bool: frame b matches strategy s (criterion and probability gate).

        A disabled config matches nothing (and draws nothing). ``boost``: (S,) factors of
        the probability gates (framesift drift boost; the result is capped at 1); the
        draws are the same with or without it.
        """
        b, s = batch.batch_size, len(self.strategies)
        if not self.config.enabled or s == 0 or b == 0:
            return np.zeros((b, s), dtype=bool)
        matrix = np.empty((b, s), dtype=bool)
        for j, strategy in enumerate(self.strategies):
            matrix[:, j] = strategy.criterion(batch)
        draws = self.rng.random((b, s))
        probabilities = self._probabilities if boost is None else np.minimum(self._probabilities * boost, 1.0)
        matrix &= draws < probabilities[None, :]
        return matrix
