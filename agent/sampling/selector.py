"""ActiveLearningSelector: the brain. Predictions in, selected frames out.

Order per batch (reference §3.1, with the near-duplicate filter added):
  1. every strategy evaluated on every frame (SamplingEngine, vectorized);
  2. frames matching nothing are done;
  3. near-duplicates of recently selected frames of the same source are dropped
     (before they cost a credit);
  4. batch cap + first strategy whose limits have room (and, framesift, a pacing
     token and class-quota room), atomically (LimitStore);
  5. tags of the winning strategy.

Every batch also feeds the DriftMonitor (per-class confidence histograms); a
strategy with a ``drift_boost`` gets its probability gate multiplied while some
class's PSI is above its level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import ActiveLearningConfig
from agent.limits.store import ConsumeResult, Credit, CreditRequest, LimitStore
from agent.limits.windows import utc
from agent.predictions.batch import PredictionBatch
from agent.sampling.batches import batch_name, collect_tags, env_tags
from agent.sampling.budget_rules import frame_classes_batch, strategy_rules
from agent.sampling.drift import DriftMonitor
from agent.sampling.engine import SamplingEngine
from agent.sampling.near_duplicates import NearDuplicateFilter, dhash


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Selection:
    """A frame chosen for labeling.

    Attributes:
        frame: index of the frame in its PredictionBatch.
        strategy: the strategy that took the limit credit.
        matched: every strategy that matched, in config order.
        batch_name: labeling batch the frame goes to.
        tags: upload tags, reference order.
        credit: the limit credit (give it back if the server reports a duplicate).
        charged_class: the class pool a class quota charged the frame to, or None.
    """

    frame: int
    strategy: str
    matched: tuple[str, ...]
    batch_name: str
    tags: tuple[str, ...]
    credit: Credit
    charged_class: str | None = None


@dataclass(frozen=True)
class BatchDecision:
    """What the selector decided for one batch.

    Attributes:
        matrix: (B, S) bool, frame b matched strategy s (config order, gates applied).
        selections: the frames chosen (matched, not near-duplicate, credit granted).
        psi: population-stability index per class (drift), once the reference day closed.
    """

    matrix: NDArray[np.bool_]
    selections: list[Selection]
    psi: dict[str, float] = field(default_factory=dict)


@dataclass
class SelectionStats:
    """Counters since start (per strategy where it makes sense)."""

    frames: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    selected: Counter[str] = field(default_factory=Counter)
    limited_batch: int = 0
    limited_strategy: int = 0
    near_duplicates: int = 0
    limited_pacing: int = 0
    limited_quota: int = 0
    charged_classes: Counter[str] = field(default_factory=Counter)
    boosted_batches: int = 0


class ActiveLearningSelector:
    """Evaluates strategies, filters near-duplicates and takes limit credits."""

    def __init__(
        self,
        config: ActiveLearningConfig,
        limits: LimitStore,
        *,
        model_id: str = "",
        seed: int | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        ignore_limits: bool = False,
    ) -> None:
        self.config = config
        self.limits = limits
        self.model_id = model_id
        self.engine = SamplingEngine(config, seed)
        self.clock = clock
        self.env_tags = env_tags(environ)
        self.stats = SelectionStats()
        ndf = config.near_duplicate_filter
        self.near_duplicates = NearDuplicateFilter(ndf.max_hamming_distance, ndf.history_size) if ndf else None
        self.ignore_limits = ignore_limits
        self._limits_by_name = {s.name: ({} if ignore_limits else s.limit_values()) for s in config.sampling_strategies}
        self._tags_by_name = {s.name: list(s.tags) for s in config.sampling_strategies}
        self.rules = {} if ignore_limits else strategy_rules(config)
        self._quotas = any(r.quota is not None for r in self.rules.values())
        self.drift = DriftMonitor()
        self._boosts = [(j, s.framesift.drift_boost) for j, s in enumerate(config.sampling_strategies)
                        if s.framesift is not None and s.framesift.drift_boost is not None]  # fmt: skip
        self._psi_slot = -1
        self._psi: dict[str, float] = {}

    def _drift(self, batch: PredictionBatch, now: datetime) -> NDArray[np.float64] | None:
        """Feed the drift monitor; the (S,) probability boosts, or None when none applies."""
        now_s = utc(now).timestamp()
        self.drift.observe(batch, now_s)
        slot = int(now_s // self.drift.slot_s)
        if slot != self._psi_slot:  # PSI changes at most once a slot
            self._psi_slot, self._psi = slot, self.drift.psi(now_s)
        if not self._boosts or not self._psi:
            return None
        worst = max(self._psi.values())
        boost = np.ones(len(self.engine.names))
        for j, rule in self._boosts:
            if worst > rule.psi_above:
                boost[j] = rule.factor
        if not (boost > 1).any():
            return None
        self.stats.boosted_batches += 1
        return boost

    def select(
        self,
        batch: PredictionBatch,
        images: Sequence[NDArray[np.uint8]] | None = None,
        sources: Sequence[str] | None = None,
    ) -> BatchDecision:
        """Choose the frames of ``batch`` to label.

        Args:
            batch: predictions of B frames.
            images: the B frames (H, W, 3) uint8 BGR; needed for near-duplicate filtering.
            sources: B source ids (near-duplicates are per source); default one source.

        Returns:
            The match matrix and one Selection per chosen frame, in frame order.
        """
        now = self.clock()
        matrix = self.engine.evaluate(batch, self._drift(batch, now))
        self.stats.frames += batch.batch_size
        names = self.engine.names
        for j, count in enumerate(matrix.sum(axis=0)):
            if count:
                self.stats.matched[names[j]] += int(count)
        candidates = np.flatnonzero(matrix.any(axis=1))
        if candidates.size == 0:
            return BatchDecision(matrix, [], self._psi)
        bs = self.config.batching_strategy
        name = batch_name(bs.batches_name_prefix, bs.recreation_interval, now) if bs else "framesift"
        max_images = bs.max_batch_images if bs and not self.ignore_limits else None
        selections: list[Selection] = []
        classes = frame_classes_batch(batch, candidates) if self._quotas else [()] * len(candidates)
        for frame, frame_classes in zip(candidates.tolist(), classes, strict=True):
            source = sources[frame] if sources is not None else "default"
            hash_value = None
            if self.near_duplicates is not None and images is not None:
                hash_value = dhash(images[frame])
                if self.near_duplicates.is_duplicate(source, hash_value):
                    self.stats.near_duplicates += 1
                    continue
            matched = tuple(names[j] for j in np.flatnonzero(matrix[frame]))
            request = CreditRequest([(m, self._limits_by_name[m]) for m in matched], name, max_images,
                                    self.rules, frame_classes)  # fmt: skip
            result: ConsumeResult = self.limits.try_consume(request, now)
            if result.credit is None:
                if result.reason == "batch_full":
                    self.stats.limited_batch += 1
                else:
                    self.stats.limited_strategy += 1
                    refused = result.extra.get("refused")
                    self.stats.limited_pacing += refused == "pacing"
                    self.stats.limited_quota += refused == "quota"
                continue
            if hash_value is not None and self.near_duplicates is not None:
                self.near_duplicates.remember(source, hash_value)
            winner = result.credit.strategy
            self.stats.selected[winner] += 1
            tags = collect_tags(self.env_tags, self.config.tags, self._tags_by_name[winner],
                                self.model_id, bool(self.config.persist_predictions))  # fmt: skip
            charged = result.extra.get("class")
            if charged is not None:
                self.stats.charged_classes[charged] += 1
            selections.append(Selection(frame, winner, matched, name, tuple(tags), result.credit, charged))
        return BatchDecision(matrix, selections, self._psi)

    def give_back(self, selection: Selection) -> None:
        """Return a selection's credit (the server already had the image)."""
        self.limits.give_back(selection.credit)
