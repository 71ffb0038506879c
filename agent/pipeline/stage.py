"""BatchStage: one batch of frames through infer → sample → limit → prepare → spool.

The per-batch body shared by the daemon's inference loop, ``scan`` and the SDK
function. A frame is *decided* once this returns: the frames selected from the
batch are in the spool (one durable commit for the batch) and files the batch
came from are marked done in their progress store — never before, so a crash
re-reads at most the batch in flight and never loses a selected frame.

One batch at a time: inference buffers and the probability gates' RNG are not
shared between threads, so ``process`` and ``infer_one`` hold the stage's lock.
The model and the config may change between batches (hot swap, config sync):
the model reference and the config snapshot are read once per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import ActiveLearningConfig
from agent.config.snapshot import ConfigSource
from agent.errors import AgentUnavailableError, DiskFullError, SpoolFullError
from agent.frames.frame import Frame
from agent.frames.scan_progress import ScanProgress
from agent.inference.model import Model
from agent.limits.store import LimitStore
from agent.predictions.batch import PredictionBatch
from agent.prepare.encode import prepare_frame
from agent.sampling.selector import ActiveLearningSelector, BatchDecision, SelectionStats
from agent.spool.disk_spool import SpoolItem, SpoolRecord

logger = logging.getLogger(__name__)


class SpoolWriter(Protocol):
    """The one spool operation the stage needs: a durable group commit."""

    def put_many(self, items: list[SpoolItem]) -> list[int]:
        """Store ``items`` in one transaction; raises SpoolFullError and stores nothing when it cannot."""


@dataclass
class StageResult:
    """What happened to one batch.

    Attributes:
        frames: the batch's frames, in order.
        batch: their predictions, or None when no model was loaded (frames dropped).
        decision: the selector's decision, or None when capture was off.
        seqs: spool sequence numbers of the selected frames.
        drops: (source id, reason) of each frame that could not be kept: a selected frame the spool
            refused (``spool_full``; credits given back) or any frame of a batch whose selection found
            the disk full (``disk_full``).
        started_mono: monotonic time the stage took the batch (frames waited until then).
        infer_s: seconds spent in the model.
        near_duplicates, limited_batch, limited_strategy: what the selector refused in this batch.
    """

    frames: Sequence[Frame]
    batch: PredictionBatch | None = None
    decision: BatchDecision | None = None
    seqs: list[int] = field(default_factory=list)
    drops: list[tuple[str, str]] = field(default_factory=list)
    started_mono: float = field(default_factory=time.monotonic)
    infer_s: float = 0.0
    near_duplicates: int = 0
    limited_batch: int = 0
    limited_strategy: int = 0

    @property
    def dropped(self) -> int:
        """How many frames of the batch could not be kept."""
        return len(self.drops)


class StageObserver(Protocol):
    """Told about every batch (metrics, events); must not raise or block."""

    def batch_done(self, result: StageResult) -> None:
        """One batch finished (inferred, maybe selected and spooled)."""


class BatchStage:
    """Runs batches through the model, the selector and the spool."""

    def __init__(
        self,
        model: Model | None,
        config: ConfigSource,
        limits: LimitStore,
        spool: SpoolWriter | None,
        *,
        project: str,
        seed: int | None = None,
        progress: ScanProgress | None = None,
        capture_enabled: Callable[[], bool] = lambda: True,
        observer: StageObserver | None = None,
    ) -> None:
        """
        Args:
            model: the model (None: frames are counted and dropped until one is loaded).
            config: where the active-learning config in force is read, once per batch.
            limits: the limit store (local or Redis).
            spool: where selected frames go; None only selects (``scan`` without a destination).
            project: destination project unless the config names ``target_project``.
            seed: seed of the probability gates (reproducible runs).
            progress: where files are marked done once their batch is decided.
            capture_enabled: False pauses selection (inference goes on).
            observer: told about every batch.
        """
        self.config = config
        self.limits = limits
        self.spool = spool
        self.default_project = project
        self.seed = seed
        self.progress = progress
        self.capture_enabled = capture_enabled
        self.observer = observer
        self._model = model
        self._lock = threading.Lock()
        snap = config.current
        self._selector = self._new_selector(snap.config, None)
        self._selector_version = snap.version

    # ------------------------------------------------------------------ state

    @property
    def model(self) -> Model | None:
        """The model in use (read once per batch)."""
        return self._model

    @property
    def selector(self) -> ActiveLearningSelector:
        """The selector of the config in force."""
        return self._selector

    @property
    def stats(self) -> SelectionStats:
        """Selection counters since start (they survive config changes)."""
        return self._selector.stats

    @property
    def project(self) -> str:
        """The destination project: the config's ``target_project``, else the configured one."""
        return self._selector.config.target_project or self.default_project

    def swap_model(self, model: Model | None) -> Model | None:
        """Use ``model`` from the next batch on (waits for the batch in flight); returns the old one."""
        with self._lock:
            old, self._model = self._model, model
            self._selector.model_id = model.model_id if model else ""
        return old

    def abandon_stuck_batch(self, model: Model | None) -> None:
        """After a stuck inference: use ``model`` with a fresh lock (the stuck thread may hold the old one)."""
        self._lock = threading.Lock()
        self._model = model
        self._selector.model_id = model.model_id if model else ""

    def capturing(self) -> bool:
        """True when selection runs: capture not paused and the config enabled."""
        return self.capture_enabled() and self.config.current.config.enabled

    def _new_selector(
        self, config: ActiveLearningConfig, previous: ActiveLearningSelector | None
    ) -> ActiveLearningSelector:
        selector = ActiveLearningSelector(config, self.limits, model_id=self._model.model_id if self._model else "",
                                          seed=self.seed)  # fmt: skip
        if previous is not None:
            selector.stats = previous.stats  # counters survive config changes
        return selector

    def _current_selector(self) -> ActiveLearningSelector:
        snap = self.config.current
        if snap.version != self._selector_version:
            self._selector = self._new_selector(snap.config, self._selector)
            self._selector_version = snap.version
        return self._selector

    # ------------------------------------------------------------------ batches

    def process(self, frames: Sequence[Frame]) -> StageResult:
        """Infer, select and spool one batch; marks its files done. Never raises for a full spool."""
        result = StageResult(frames)
        with self._lock:
            model = self._model
            if model is not None and frames:
                images = [f.image for f in frames]
                t0 = time.perf_counter()
                result.batch = model.predict(images, [f.frame_id for f in frames])
                result.infer_s = time.perf_counter() - t0
                if self.capturing():
                    self._select_and_spool(result, images, [f.source_id for f in frames])
        if self.progress is not None:
            done = [f.origin_path for f in frames if f.origin_path is not None]
            try:
                if done:
                    self.progress.mark_done(done)
            except DiskFullError as exc:  # decided but not recorded: read (and deduplicated) again after a restart
                logger.warning("%s; %d file(s) will be read again after a restart", exc, len(done))
        if self.observer is not None:
            self.observer.batch_done(result)
        return result

    def infer_one(self, image: NDArray[np.uint8], source_id: str, submit: bool) -> StageResult:
        """Predict one decoded image; with ``submit`` (and capture on) also select and spool it.

        Raises:
            AgentUnavailableError: no model is loaded.
        """
        frame = Frame(source_id, source_id, image)
        result = StageResult([frame])
        with self._lock:
            model = self._model
            if model is None:
                raise AgentUnavailableError("no model loaded")
            t0 = time.perf_counter()
            result.batch = model.predict([image])
            result.infer_s = time.perf_counter() - t0
            if submit and self.capturing():
                self._select_and_spool(result, [image], [source_id])
        return result

    def _select_and_spool(self, result: StageResult, images: list[NDArray[np.uint8]], sources: list[str]) -> None:
        assert result.batch is not None
        selector = self._current_selector()
        st = selector.stats
        before = st.near_duplicates, st.limited_batch, st.limited_strategy
        try:
            decision = result.decision = selector.select(result.batch, images, sources)
        except DiskFullError as exc:  # the limit store cannot count: keep capturing later, lose only this batch
            logger.warning("%s: %d frame(s) not sampled", exc, len(sources))
            result.drops = [(source, "disk_full") for source in sources]
            return
        result.near_duplicates = st.near_duplicates - before[0]
        result.limited_batch = st.limited_batch - before[1]
        result.limited_strategy = st.limited_strategy - before[2]
        if not decision.selections or self.spool is None:
            return
        cfg = selector.config
        project = cfg.target_project or self.default_project
        batch = result.batch
        items = []
        for sel in decision.selections:
            prepared = prepare_frame(
                images[sel.frame], batch, sel.frame, max_image_size=cfg.max_image_size,
                jpeg_quality=cfg.jpeg_compression_level, persist_predictions=bool(cfg.persist_predictions),
            )  # fmt: skip
            items.append(SpoolItem(
                jpeg=prepared.jpeg, sha256=prepared.sha256, project=project, batch_name=sel.batch_name,
                tags=tuple(sel.tags), strategy=sel.strategy, inference_id=batch.inference_ids[sel.frame],
                annotation=prepared.annotation, credit=sel.credit, source=sources[sel.frame],
            ))  # fmt: skip
        try:
            result.seqs = self.spool.put_many(items)
        except (SpoolFullError, DiskFullError) as exc:
            logger.warning("dropped %d selected frame(s): %s", len(items), exc)
            reason = "disk_full" if isinstance(exc, DiskFullError) else "spool_full"
            result.drops = [(sources[sel.frame], reason) for sel in decision.selections]
            for sel in decision.selections:
                try:
                    selector.give_back(sel)
                except DiskFullError:
                    break  # the limit store cannot write either: the credits are spent

    def on_duplicate(self, record: SpoolRecord) -> None:
        """The destination already had these bytes: give the frame's limit credit back."""
        if record.item.credit is not None:
            self.limits.give_back(record.item.credit)
