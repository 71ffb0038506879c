"""``bench selection``: a simulated day at a site through the real selector and limits.

The day: one frame every ``frame_interval_s`` (default 30 s); a scene mix that
changes with the hour (night: few cars and people, low confidence; day: a yard
and a loading dock, busier and surer); ``forklift`` is 2 % of the detections; a
third of the frames come in bursts of near-identical frames (same detections,
jittered confidences). Every config has the same daily cap; the limit store is
the real local one in a temporary directory, the clock is injected.

Measures per config: hours of the day with at least one selected frame; share of
selected frames showing the rare class; share of selected frames that repeat a
burst already selected (near-duplicates); share with an uncertain box (binary
entropy >= 0.9, i.e. confidence within about 0.32..0.68); budget used.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import validate_al_config
from agent.limits.local_store import LocalLimitStore
from agent.predictions.batch import PredictionBatch, TaskType
from agent.sampling.box_uncertainty import box_entropy_batch
from agent.sampling.selector import ActiveLearningSelector

CLASSES = ("person", "car", "truck", "forklift")
RARE = "forklift"
# scene -> (mean detections per frame, class probabilities, beta(a, b) of confidences)
SCENES: dict[str, tuple[float, tuple[float, ...], tuple[float, float]]] = {
    "night": (1.5, (0.28, 0.70, 0.0, 0.02), (2.5, 2.0)),
    "yard": (6.0, (0.50, 0.40, 0.08, 0.02), (6.0, 2.0)),
    "dock": (4.0, (0.40, 0.23, 0.35, 0.02), (5.0, 2.0)),
}
DAY = datetime(2024, 3, 5, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SimulatedFrame:
    """One frame of the day: when, which burst it belongs to, its detections."""

    at: datetime
    burst: int
    class_id: NDArray[np.int32]
    confidence: NDArray[np.float32]


def _scene(hour: int, rng: np.random.Generator) -> str:
    if hour < 6 or hour >= 20:
        return "night"
    return "dock" if rng.random() < (0.6 if 6 <= hour < 10 else 0.3) else "yard"


def simulate_day(frame_interval_s: float = 30.0, seed: int = 0) -> list[SimulatedFrame]:
    """The frames of one day, in time order."""
    rng = np.random.default_rng(seed)
    frames: list[SimulatedFrame] = []
    count = int(86400 // frame_interval_s)
    burst, left = 0, 0
    cls: NDArray[np.int32] = np.zeros(0, np.int32)
    conf: NDArray[np.float32] = np.zeros(0, np.float32)
    for i in range(count):
        at = DAY + timedelta(seconds=i * frame_interval_s)
        if left > 0:  # near-identical to the previous frame
            left -= 1
            jitter = rng.normal(0, 0.01, len(conf))
            frames.append(SimulatedFrame(at, burst, cls, np.clip(conf + jitter, 0.01, 0.99).astype(np.float32)))
            continue
        burst += 1
        mean, probs, (a, b) = SCENES[_scene(at.hour, rng)]
        n = int(rng.poisson(mean))
        cls = rng.choice(len(CLASSES), size=n, p=np.array(probs) / sum(probs)).astype(np.int32)
        conf = rng.beta(a, b, n).astype(np.float32)
        if rng.random() < 0.12:  # starts a burst of 5..20 near-identical frames
            left = int(rng.integers(4, 20))
        frames.append(SimulatedFrame(at, burst, cls, conf))
    return frames


def _batch(frames: list[SimulatedFrame]) -> PredictionBatch:
    n = [len(f.class_id) for f in frames]
    xy = np.tile(np.array([[10, 10, 60, 60]], np.float32), (sum(n), 1))
    return PredictionBatch(
        task=TaskType.OBJECT_DETECTION, class_names=CLASSES,
        image_hw=np.tile(np.array([720, 1280], np.int32), (len(frames), 1)), time_s=np.zeros(len(frames)),
        inference_ids=[str(i) for i in range(len(frames))], xyxy=xy,
        confidence=np.concatenate([f.confidence for f in frames]) if frames else np.zeros(0, np.float32),
        class_id=np.concatenate([f.class_id for f in frames]) if frames else np.zeros(0, np.int32),
        frame_index=np.repeat(np.arange(len(frames)), n).astype(np.int32), model_id="site/1",
    )  # fmt: skip


def bench_configs(daily_cap: int = 100) -> dict[str, dict[str, Any]]:
    """The strategies compared: first-come, paced, class quota, uncertainty, all three."""
    limits = [{"type": "daily", "value": daily_cap}]
    every = {"name": "s", "type": "random", "traffic_percentage": 1.0, "limits": limits}
    uncertain = {"name": "s", "type": "detection_uncertainty", "measure": "entropy", "aggregate": "max",
                 "threshold": 0.9, "limits": limits}  # fmt: skip
    pacing = {"pacing": {"window": "daily", "burst": 2}}
    quota = {"class_quota": {"window": "daily", "shares": {RARE: 0.3}}}
    return {
        "first-come": every,
        "paced": every | {"framesift": pacing},
        "class quota": every | {"framesift": quota},
        "uncertainty": uncertain,
        "all three": uncertain | {"framesift": pacing | quota},
    }


@dataclass
class SelectionBenchRow:
    """The measures of one config over the day."""

    name: str
    selected: int
    hours_covered: int
    rare_share: float
    near_duplicate_share: float
    uncertain_share: float
    budget_used: float


def _measure(name: str, picked: list[SimulatedFrame], daily_cap: int) -> SelectionBenchRow:
    rare_id = CLASSES.index(RARE)
    bursts = [f.burst for f in picked]
    repeats = len(bursts) - len(set(bursts))
    n = max(len(picked), 1)
    uncertain = sum(bool((box_entropy_batch(f.confidence) >= 0.9).any()) for f in picked)
    return SelectionBenchRow(
        name=name, selected=len(picked), hours_covered=len({f.at.hour for f in picked}),
        rare_share=sum(bool((f.class_id == rare_id).any()) for f in picked) / n,
        near_duplicate_share=repeats / n, uncertain_share=uncertain / n, budget_used=len(picked) / daily_cap,
    )  # fmt: skip


class _ManualClock:
    """The injected wall clock of the simulated day."""

    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> datetime:
        return self.now


def run_selection_bench(
    daily_cap: int = 100, frame_interval_s: float = 30.0, batch_size: int = 4, seed: int = 0
) -> list[SelectionBenchRow]:
    """Run the same day through each config (fresh limits each); one row per config."""
    frames = simulate_day(frame_interval_s, seed)
    rows = []
    for name, strategy in bench_configs(daily_cap).items():
        doc = {"enabled": True, "persist_predictions": True, "sampling_strategies": [strategy],
               "batching_strategy": {"batches_name_prefix": "day", "recreation_interval": "daily"}}  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="framesift-bench-") as tmp:
            store = LocalLimitStore(Path(tmp), scope="bench")
            clock = _ManualClock()
            selector = ActiveLearningSelector(validate_al_config(doc), store, seed=seed, environ={}, clock=clock)
            picked: list[SimulatedFrame] = []
            try:
                for start in range(0, len(frames), batch_size):
                    chunk = frames[start : start + batch_size]
                    clock.now = chunk[0].at
                    picked += [chunk[s.frame] for s in selector.select(_batch(chunk)).selections]
            finally:
                store.close()
        rows.append(_measure(name, picked, daily_cap))
    return rows
