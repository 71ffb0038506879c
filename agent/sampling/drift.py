"""DriftMonitor: per-class confidence histograms and a rolling population-stability index.

The reference histogram of each class collects the first ``reference_window_s``
(default a day) after the monitor starts, i.e. after a config change (the pipeline
builds a new selector, hence a new monitor, per config version) or a model change
(``batch.model_id`` differs from the previous batch's). The recent histogram is the
last ``recent_window_s`` (default an hour), kept as one-minute slots.

PSI of a class = sum over the 10 confidence bins of ``(r - e) * ln(r / e)``, where e
and r are the reference and recent bin shares (each share at least 1e-4). It is
reported once the reference window has closed and both histograms of the class hold
at least ``min_samples`` boxes; < 0.1 is usually read as stable, > 0.25 as a shift.
Updating costs one ``np.bincount`` per batch, no loop over detections.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from agent.predictions.batch import PredictionBatch

CONFIDENCE_BINS = 10
PSI_FLOOR = 1e-4


def confidence_histograms_batch(
    batch: PredictionBatch, class_map: NDArray[np.intp], num_classes: int
) -> NDArray[np.int64]:
    """(num_classes, CONFIDENCE_BINS) int64 box counts per class and confidence bin.

    Args:
        batch: predictions; detection tasks count every box, classification the top class.
        class_map: (C_batch,) the monitor's class index of each class id of the batch.
        num_classes: rows of the result.
    """
    if batch.is_stub:
        return np.zeros((num_classes, CONFIDENCE_BINS), np.int64)
    if batch.task.is_detection:
        conf, cls = batch.confidence.astype(np.float64), batch.class_id
    else:
        assert batch.class_scores is not None
        filled = np.nan_to_num(batch.class_scores.astype(np.float64), nan=-1.0)
        cls = filled.argmax(axis=1) if filled.shape[1] else np.zeros(0, np.intp)
        conf = filled[np.arange(len(cls)), cls]
        keep = conf >= 0
        conf, cls = conf[keep], cls[keep]
    bins = np.clip((conf * CONFIDENCE_BINS).astype(np.int64), 0, CONFIDENCE_BINS - 1)
    flat = class_map[cls].astype(np.int64) * CONFIDENCE_BINS + bins
    return np.bincount(flat, minlength=num_classes * CONFIDENCE_BINS).reshape(num_classes, CONFIDENCE_BINS)


def psi_batch(reference: NDArray[np.integer], recent: NDArray[np.integer]) -> NDArray[np.float64]:
    """(K,) PSI of K histograms (K, bins) against their references (K, bins)."""
    e = reference / np.maximum(reference.sum(axis=1, keepdims=True), 1)
    r = recent / np.maximum(recent.sum(axis=1, keepdims=True), 1)
    e, r = np.maximum(e, PSI_FLOOR), np.maximum(r, PSI_FLOOR)
    return np.asarray(((r - e) * np.log(r / e)).sum(axis=1), dtype=np.float64)


class DriftMonitor:
    """Reference and recent confidence histograms per class. Not thread-safe (one per selector)."""

    def __init__(
        self,
        reference_window_s: float = 86400.0,
        recent_window_s: float = 3600.0,
        slot_s: float = 60.0,
        min_samples: int = 50,
    ) -> None:
        self.reference_window_s = reference_window_s
        self.recent_window_s = recent_window_s
        self.slot_s = slot_s
        self.min_samples = min_samples
        self._reset("")

    def _reset(self, model_id: str) -> None:
        self.model_id = model_id
        self.started_s: float | None = None
        self.class_names: list[str] = []
        self._index: dict[str, int] = {}
        self.reference = np.zeros((0, CONFIDENCE_BINS), np.int64)
        self._slots: dict[int, NDArray[np.int64]] = {}

    def _class_map(self, names: tuple[str, ...]) -> NDArray[np.intp]:
        for name in names:
            if name not in self._index:
                self._index[name] = len(self.class_names)
                self.class_names.append(name)
        grow = len(self.class_names) - len(self.reference)
        if grow > 0:
            self.reference = np.vstack([self.reference, np.zeros((grow, CONFIDENCE_BINS), np.int64)])
            for slot, counts in self._slots.items():
                self._slots[slot] = np.vstack([counts, np.zeros((grow, CONFIDENCE_BINS), np.int64)])
        return np.array([self._index[n] for n in names], dtype=np.intp).reshape(len(names))

    def observe(self, batch: PredictionBatch, now_s: float) -> None:
        """Add one batch's confidences at time ``now_s`` (POSIX seconds)."""
        if batch.model_id and batch.model_id != self.model_id:
            self._reset(batch.model_id)
        if self.started_s is None:
            self.started_s = now_s
        counts = confidence_histograms_batch(batch, self._class_map(batch.class_names), len(self.class_names))
        if now_s < self.started_s + self.reference_window_s:
            self.reference += counts
        slot = math.floor(now_s / self.slot_s)
        if slot in self._slots:
            self._slots[slot] += counts
        else:
            self._slots[slot] = counts
        oldest = math.floor((now_s - self.recent_window_s) / self.slot_s)
        for old in [s for s in self._slots if s <= oldest]:
            del self._slots[old]

    def recent(self, now_s: float) -> NDArray[np.int64]:
        """(K, bins) counts of the last ``recent_window_s``."""
        oldest = math.floor((now_s - self.recent_window_s) / self.slot_s)
        total = np.zeros((len(self.class_names), CONFIDENCE_BINS), np.int64)
        for slot, counts in self._slots.items():
            if slot > oldest:
                total += counts
        return total

    def reference_closed(self, now_s: float) -> bool:
        """True once the reference window is over."""
        return self.started_s is not None and now_s >= self.started_s + self.reference_window_s

    def psi(self, now_s: float) -> dict[str, float]:
        """PSI per class with enough boxes in both windows; empty while the reference is open."""
        if not self.reference_closed(now_s) or not self.class_names:
            return {}
        recent = self.recent(now_s)
        ok = (self.reference.sum(axis=1) >= self.min_samples) & (recent.sum(axis=1) >= self.min_samples)
        values = psi_batch(self.reference[ok], recent[ok])
        names = [n for n, keep in zip(self.class_names, ok.tolist(), strict=True) if keep]
        return dict(zip(names, values.tolist(), strict=True))

    def max_psi(self, now_s: float) -> float:
        """The largest PSI over the classes (0 when none is reported)."""
        return max(self.psi(now_s).values(), default=0.0)
