"""BatchStage: one batch of frames through infer → sample → limit → prepare → spool.

The per-batch body shared by the daemon's inference loop, ``scan`` and the SDK
function, in two halves:

* ``select_batch(frames)``: infer, sample and take limit credits (the model's thread);
* ``commit(result)``: prepare the selected frames (resize + JPEG), spool them in one
  durable commit, mark the batch's files done, tell the observer.

Frames decoded at a reduced DCT scale for the model (``Frame.encoded`` / ``full_hw``, see
``frames/full_resolution.py``) have their predictions scaled back into the full image right
after inference, and only the selected ones are decoded again, at upload size, by ``commit``.

``process`` runs both in a row (``scan``, the SDK); the daemon hands the first half's
result to :class:`~agent.pipeline.prepare_queue.PrepareQueue`, whose thread commits it,
so the model never waits for JPEG encoding or fsync. A frame is *decided* only once
``commit`` returns: the spool is the commit point and files are marked done after it —
never before, so a crash re-reads what was not committed and never loses a selected frame.

One batch at a time through ``select_batch``: inference buffers and the probability
gates' RNG are not shared between threads, so it and ``infer_one`` hold the stage's lock.
``commit`` holds no lock (batches are committed in order by one thread). The model and
the config may change between batches (hot swap, config sync): the model reference and
the config snapshot are read once per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from agent.config.al_config import ActiveLearningConfig
from agent.config.snapshot import ConfigSource
from agent.errors import AgentUnavailableError, DiskFullError, ImageError, SpoolFullError
from agent.frames.frame import Frame
from agent.frames.full_resolution import DecodeSizePolicy, decode_for_upload, restore_full_resolution
from agent.frames.scan_progress import ScanProgress
from agent.images.decode import MinHW
from agent.inference.model import Model, PreparedInput, VisionModel
from agent.limits.store import LimitStore
from agent.pipeline.stage_result import SpoolWriter, StageObserver, StageResult
from agent.prepare.encode import PreparedFrame, prepare_encoded, prepare_frame
from agent.prepare.jpeg_passthrough import passthrough_for_upload
from agent.sampling.selector import ActiveLearningSelector, SelectionStats
from agent.spool.disk_spool import SpoolItem, SpoolRecord

logger = logging.getLogger(__name__)

__all__ = ["BatchStage", "SpoolWriter", "StageObserver", "StageResult"]

_RELEASED: NDArray[np.uint8] = np.zeros((0, 0, 3), np.uint8)
"""What ``frame.image`` becomes once a frame's pixels are no longer needed (not selected)."""


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
        jpeg_passthrough: bool = True,
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
            jpeg_passthrough: upload a selected JPEG's own bytes (metadata removed) when they need no
                resize and are not above ``jpeg_compression_level`` (``prepare/jpeg_passthrough.py``).
        """
        self.config = config
        self.limits = limits
        self.spool = spool
        self.default_project = project
        self.seed = seed
        self.progress = progress
        self.capture_enabled = capture_enabled
        self.observer = observer
        self.jpeg_passthrough = jpeg_passthrough
        self._model = model
        self._lock = threading.Lock()
        self.decode_size = DecodeSizePolicy()
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

    def decode_min_hw(self) -> MinHW | None:
        """(height, width) sources decode JPEGs at for the model in use; None: full size."""
        return self.decode_size.min_hw(self._model)

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
        return self.commit(self.select_batch(frames))

    def prepare_input(self, frames: Sequence[Frame]) -> PreparedInput | None:
        """Preprocess ``frames`` for the model in use ahead of :meth:`select_batch` (another thread may call it).

        None when the model cannot (the stub, no model, more frames than a batch); ``select_batch``
        then preprocesses itself. See :meth:`VisionModel.prepare_input` for how long the input stays valid.
        """
        model = self._model
        return model.prepare_input([f.image for f in frames]) if isinstance(model, VisionModel) else None

    def select_batch(self, frames: Sequence[Frame], prepared: PreparedInput | None = None) -> StageResult:
        """Infer and select one batch (limit credits taken); nothing is spooled or marked done yet.

        ``prepared``: the batch's input from :meth:`prepare_input`, used when it was made for the model
        still in use. The result must go to :meth:`commit`, which makes the decision durable. Pixels of
        frames that were not selected are released here (``frame.image`` becomes an empty array).
        """
        result = StageResult(frames)
        with self._lock:
            model = self._model
            if model is not None and frames:
                images = [f.image for f in frames]
                t0 = time.perf_counter()
                if prepared is not None and prepared.model is model and isinstance(model, VisionModel):
                    predicted = model.predict_prepared(prepared)
                    predicted.frame_ids = [f.frame_id for f in frames]
                else:
                    predicted = model.predict(images, [f.frame_id for f in frames])
                result.batch = restore_full_resolution(predicted, frames)
                result.infer_s = time.perf_counter() - t0
                self._record_model_times(result, model)
                if self.capturing():
                    self._select(result, images, [f.source_id for f in frames])
        for index, frame in enumerate(frames):
            if index not in result.selected_images:
                frame.image = _RELEASED  # bounded memory: only selected pixels wait for prepare
                frame.encoded = None
        return result

    def commit(self, result: StageResult) -> StageResult:
        """Prepare and spool the selected frames, then mark the batch's files done; tells the observer."""
        if not result.committed:
            result.committed = True
            if result.selected_images and result.decision is not None:
                self._prepare_and_spool(result)
            result.selected_images = {}
            for frame in result.frames:
                frame.encoded = None
            if self.progress is not None:
                done = [f.origin_path for f in result.frames if f.origin_path is not None]
                try:
                    if done:
                        self.progress.mark_done(done)
                except DiskFullError as exc:  # decided but not recorded: read (and deduplicated) again later
                    logger.warning("%s; %d file(s) will be read again after a restart", exc, len(done))
            if self.observer is not None:
                self.observer.batch_done(result)
        return result

    def infer_one(self, image: NDArray[np.uint8], source_id: str, submit: bool, *, encoded: bytes | None = None,
                  full_hw: tuple[int, int] | None = None, decode_s: float = 0.0) -> StageResult:  # fmt: skip
        """Predict one decoded image; with ``submit`` (and capture on) also select and spool it.

        ``encoded``, ``full_hw`` and ``decode_s``: as on :class:`Frame` (``encoded``/``full_hw`` when
        ``image`` is a reduced decode). The observer is told, like after every batch (metrics, events).

        Raises:
            AgentUnavailableError: no model is loaded.
        """
        frame = Frame(source_id, source_id, image, encoded=encoded, full_hw=full_hw, decode_s=decode_s)
        result = StageResult([frame], on_request=True, sampling_asked=submit)
        with self._lock:
            model = self._model
            if model is None:
                raise AgentUnavailableError("no model loaded")
            t0 = time.perf_counter()
            result.batch = restore_full_resolution(model.predict([image]), [frame])
            result.infer_s = time.perf_counter() - t0
            self._record_model_times(result, model)
            if submit and self.capturing():
                self._select(result, [image], [source_id])
        if result.selected_images:
            self._prepare_and_spool(result)
        result.selected_images = {}
        result.committed = True
        if self.observer is not None:
            self.observer.batch_done(result)
        return result

    @staticmethod
    def _record_model_times(result: StageResult, model: Model) -> None:
        times = getattr(model, "last_times", None)
        if times is None or not hasattr(times, "preprocess_s"):
            result.stage_s["infer"] = result.infer_s
            return
        result.stage_s.update(preprocess=times.preprocess_s, infer=times.infer_s, postprocess=times.postprocess_s)

    def _select(self, result: StageResult, images: list[NDArray[np.uint8]], sources: list[str]) -> None:
        assert result.batch is not None
        t0 = time.perf_counter()
        selector = self._current_selector()
        st = selector.stats
        before = st.near_duplicates, st.limited_batch, st.limited_strategy
        try:
            decision = result.decision = selector.select(result.batch, images, sources)
        except DiskFullError as exc:  # the limit store cannot count: keep capturing later, lose only this batch
            logger.warning("%s: %d frame(s) not sampled", exc, len(sources))
            result.drops = [(source, "disk_full") for source in sources]
            return
        finally:
            result.stage_s["sample"] = time.perf_counter() - t0
        self.decode_size.observe_frames(len(sources))
        result.near_duplicates = st.near_duplicates - before[0]
        result.limited_batch = st.limited_batch - before[1]
        result.limited_strategy = st.limited_strategy - before[2]
        if self.spool is not None:
            result.selected_images = {sel.frame: images[sel.frame] for sel in decision.selections}
        result.selector, result.project = selector, selector.config.target_project or self.default_project

    def _prepare_and_spool(self, result: StageResult) -> None:
        assert result.batch is not None and result.decision is not None and self.spool is not None
        selector, project = result.selector, result.project
        assert selector is not None
        cfg = selector.config
        batch, decision = result.batch, result.decision
        sources = [f.source_id for f in result.frames]
        t0 = time.perf_counter()
        items = []
        for sel in decision.selections:
            prepared = self._prepare_one(result, sel.frame, cfg)
            items.append(SpoolItem(
                jpeg=prepared.jpeg, sha256=prepared.sha256, project=project, batch_name=sel.batch_name,
                tags=tuple(sel.tags), strategy=sel.strategy, inference_id=batch.inference_ids[sel.frame],
                annotation=prepared.annotation, credit=sel.credit, source=sources[sel.frame],
            ))  # fmt: skip
        t1 = time.perf_counter()
        result.stage_s["prepare"] = t1 - t0
        try:
            result.seqs = self.spool.put_many(items)
        except (SpoolFullError, DiskFullError) as exc:
            result.seqs = exc.stored if isinstance(exc, SpoolFullError) else []
            refused = decision.selections[len(result.seqs) :]  # the spool keeps a group's prefix
            logger.warning("dropped %d selected frame(s): %s", len(refused), exc)
            reason = "disk_full" if isinstance(exc, DiskFullError) else "spool_full"
            result.drops = [(sources[sel.frame], reason) for sel in refused]
            for sel in refused:
                try:
                    selector.give_back(sel)
                except DiskFullError:
                    break  # the limit store cannot write either: the credits are spent
        finally:
            result.stage_s["spool"] = time.perf_counter() - t1

    def _prepare_one(self, result: StageResult, index: int, cfg: ActiveLearningConfig) -> PreparedFrame:
        """Frame ``index`` ready to spool: its own JPEG bytes when they can go as they are, else encoded."""
        assert result.batch is not None
        persist = bool(cfg.persist_predictions)
        full_hw = (int(result.batch.image_hw[index][0]), int(result.batch.image_hw[index][1]))
        if self.jpeg_passthrough:
            as_is = passthrough_for_upload(result.frames[index].encoded, full_hw, cfg.max_image_size,
                                           cfg.jpeg_compression_level)  # fmt: skip
            if as_is is not None:
                return prepare_encoded(as_is, result.batch, index, persist_predictions=persist)
        self.decode_size.observe_redecode()
        pixels = self._upload_pixels(result, index, cfg.max_image_size)
        return prepare_frame(pixels, result.batch, index, max_image_size=cfg.max_image_size,
                             jpeg_quality=cfg.jpeg_compression_level, persist_predictions=persist)  # fmt: skip

    @staticmethod
    def _upload_pixels(result: StageResult, index: int, max_image_size: list[int] | None) -> NDArray[np.uint8]:
        """Frame ``index``'s pixels at upload size: its bytes decoded again when it was reduced for the model."""
        frame, reduced = result.frames[index], result.selected_images[index]
        try:
            return decode_for_upload(frame, reduced, max_image_size)
        except ImageError as exc:  # decoded once already; never lose the frame over its second decode
            logger.warning("%s; uploading the model's %dx%d decode instead", exc, reduced.shape[1], reduced.shape[0])
            return reduced

    def on_duplicate(self, record: SpoolRecord) -> None:
        """The destination already had these bytes: give the frame's limit credit back."""
        if record.item.credit is not None:
            self.limits.give_back(record.item.credit)
