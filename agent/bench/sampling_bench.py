"""``bench sampling``: vectorized engine vs the per-frame reference loops, same inputs."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.bench.reference_sampling import evaluate_batch
from agent.config.al_config import validate_al_config
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import batch_to_roboflow
from agent.sampling.engine import SamplingEngine

BENCH_STRATEGIES: list[dict[str, Any]] = [
    {"name": "uncertain", "type": "close_to_threshold", "threshold": 0.5, "epsilon": 0.1, "probability": 1.0},
    {"name": "uncertain_people", "type": "close_to_threshold", "threshold": 0.4, "epsilon": 0.15,
     "probability": 1.0, "selected_class_names": ["person"], "minimum_objects_close_to_threshold": 3},
    {"name": "crowded", "type": "detections_number_based", "probability": 1.0, "more_than": 80},
    {"name": "few_cars", "type": "detections_number_based", "probability": 1.0, "less_than": 30,
     "selected_class_names": ["car"]},
    {"name": "sdk", "type": "sdk_conditionals", "confidence_interval": [0, 60]},
    {"name": "background", "type": "random", "traffic_percentage": 0.05},
]  # fmt: skip


def synthetic_batch(frames: int, detections: int, seed: int = 0) -> PredictionBatch:
    """B frames × N detections each, 10 classes, random boxes and confidences."""
    rng = np.random.default_rng(seed)
    n = frames * detections
    xy = rng.uniform(0, 600, (n, 2)).astype(np.float32)
    wh = rng.uniform(5, 100, (n, 2)).astype(np.float32)
    names = ("person", "car", "bike", "bus", "dog", "cat", "truck", "sign", "light", "bag")
    return PredictionBatch(
        task=TaskType.OBJECT_DETECTION, class_names=names,
        image_hw=np.tile(np.array([720, 1280], np.int32), (frames, 1)), time_s=np.zeros(frames),
        inference_ids=[str(i) for i in range(frames)], xyxy=np.concatenate([xy, xy + wh], axis=1),
        confidence=rng.uniform(0.25, 1.0, n).astype(np.float32),
        class_id=rng.integers(0, len(names), n).astype(np.int32),
        frame_index=np.repeat(np.arange(frames), detections).astype(np.int32),
    )  # fmt: skip


@dataclass
class SamplingBenchResult:
    """Median seconds per batch for both implementations."""

    frames: int
    detections: int
    strategies: int
    vectorized_ms: float
    reference_ms: float

    @property
    def speedup(self) -> float:
        """reference / vectorized."""
        return self.reference_ms / self.vectorized_ms if self.vectorized_ms else 0.0


def run_sampling_bench(frames: int = 64, detections: int = 100, repeats: int = 50) -> SamplingBenchResult:
    """Time both implementations on the same batch; medians over ``repeats`` runs."""
    doc = {"enabled": True, "persist_predictions": True, "sampling_strategies": BENCH_STRATEGIES,
           "batching_strategy": {"batches_name_prefix": "b", "recreation_interval": "never"}}  # fmt: skip
    engine = SamplingEngine(validate_al_config(doc), seed=0)
    batch = synthetic_batch(frames, detections)
    docs = batch_to_roboflow(batch)  # the reference works on these dicts
    rng = random.Random(0)
    engine.evaluate(batch)
    vec, ref = [], []
    for _ in range(repeats):
        batch._derived.clear()  # no float64 copies carried over from the previous run
        t = time.perf_counter()
        engine.evaluate(batch)
        vec.append(time.perf_counter() - t)
    for _ in range(max(5, repeats // 5)):
        t = time.perf_counter()
        evaluate_batch(docs, BENCH_STRATEGIES, rng)
        ref.append(time.perf_counter() - t)
    return SamplingBenchResult(frames, detections, len(BENCH_STRATEGIES),
                               float(np.median(vec)) * 1000, float(np.median(ref)) * 1000)  # fmt: skip
