"""Agent: the daemon's lifecycle — build, start and stop the pipeline and what feeds it.

``Agent(settings, telemetry)`` builds everything (config holder, the pipeline from
``agent.pipeline.assembly``, config sync, dynamic batcher, inference loop, sources)
without starting a thread; ``start()`` starts them; ``stop()`` tears them down in
reverse: sources first, then the batch in flight and whatever is queued (within the
time left), then the prepare stage (every batch handed to it is spooled), then config
sync and uploads, then the stores.

Threads per batch: the inference loop infers and samples (``BatchStage.select_batch``)
and hands the result to the prepare stage (``PrepareQueue``), whose thread resizes and
encodes the selected frames, spools them and marks their files done — so the model does
not wait for JPEG encoding or fsync. Both queues in front of the model are bounded in
frames and bytes: a file source blocks (loses nothing), a live stream drops its oldest.

The per-batch work is the pipeline's :class:`~agent.pipeline.stage.BatchStage`; what
the control plane may do is :class:`~agent.daemon.control_adapter.DaemonControl`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from agent import __version__
from agent.config.agent_settings import AgentSettings, SourceSection
from agent.config.environment import Environment, read_environment
from agent.daemon.config_sync import ConfigHolder, ConfigSyncer
from agent.daemon.inference_loop import InferenceLoop
from agent.daemon.telemetry import AgentTelemetry
from agent.errors import ConfigError
from agent.frames.decode_workers import DecodeWorkers
from agent.frames.frame import Frame
from agent.frames.scan_progress import ScanProgress
from agent.inference.loading import load_model
from agent.inference.model import PreparedInput
from agent.pipeline.assembly import build_pipeline
from agent.pipeline.batcher import DynamicBatcher
from agent.pipeline.prepare_queue import PrepareQueue
from agent.pipeline.stage_result import StageResult
from agent.runtime.thread_priority import ThreadPriority
from agent.sources.base import SourceThread
from agent.sources.folder import FolderSource
from agent.sources.video import VideoSource
from agent.upload.credentials import load_api_key

logger = logging.getLogger(__name__)

SOURCE_QUEUE_MAX_BYTES = 32 * 1024 * 1024
"""Decoded pixels a source may have waiting for the model (about 11 frames of 1280×720)."""


class Agent:
    """One configuration of the running daemon (SIGHUP builds a new one)."""

    def __init__(self, settings: AgentSettings, telemetry: AgentTelemetry, environment: Environment | None = None):
        """Build every component (loads and warms the model); starts no thread.

        Raises:
            ConfigError, ModelNotFoundError, ModelLoadError, SpoolError: with what and where.
        """
        s = self.settings = settings
        self.telemetry = telemetry
        self.environment = environment or read_environment()
        self.started_mono = time.monotonic()
        self.capture_paused = False
        self.stopping = False
        self.model_ref = s.model.id  # the id or path the model in use was loaded from
        state = s.agent.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.holder = ConfigHolder(state, s.active_learning.config_file)
        self.holder.subscribe(lambda snap: telemetry.events.publish("config", "", f"{snap.origin} v{snap.version}"))
        self.pipeline = build_pipeline(
            s, self.holder, api_key=self._api_key(), progress_dir=state / "folder-sources",
            capture_enabled=self.capture_enabled, observer=telemetry, on_upload_event=telemetry.upload_event,
        )  # fmt: skip
        try:
            assert self.pipeline.client is not None  # the daemon always has a destination
            self.syncer = ConfigSyncer(self.holder, self.pipeline.client, s.destination.workspace,
                                       s.destination.project, s.destination.sync_interval_s)  # fmt: skip
            self.batcher = DynamicBatcher(s.model.batch_size, s.model.max_delay_ms, on_drop=telemetry.dropped)
            progress = self.pipeline.stage.progress
            assert progress is not None
            self.prepare = PrepareQueue(self.pipeline.stage.commit, on_idle=progress.flush,
                                        priority=s.agent.background_priority)  # fmt: skip
            telemetry.bind_prepare(lambda: self.prepare.frames_pending)
            self.loop = InferenceLoop(
                self.batcher, self._infer_batch, stuck_timeout_s=s.model.stuck_timeout_s,
                on_stuck=self._restart_runner, prepare=self.pipeline.stage.prepare_input,
                prepare_priority=ThreadPriority.NORMAL,
            )  # fmt: skip
            self.sources = [self._build_source(src, progress) for src in s.sources]
            self.submit_decoder = DecodeWorkers(s.agent.background_priority)  # SubmitFrames' images
        except BaseException:
            self.pipeline.close(1.0)
            raise

    def _build_source(self, src: SourceSection, progress: ScanProgress) -> SourceThread:
        source: SourceThread
        if src.type == "folder":
            source = FolderSource(src.id, self.batcher, Path(src.path), progress,
                                  poll_interval_s=src.poll_interval_s, settle_ms=src.settle_ms,
                                  decode_min_hw=self.pipeline.stage.decode_min_hw)  # fmt: skip
        else:
            source = VideoSource(src.id, self.batcher, src.path, fps=src.fps, every_nth=src.every_nth,
                                 loop=src.loop)  # fmt: skip
        source.priority = self.settings.agent.background_priority
        # files (folders, video files) wait for room and lose nothing; live streams keep the newest frames
        self.batcher.register(src.id, src.queue_size, "block" if source.finite else "drop_oldest",
                              max_bytes=SOURCE_QUEUE_MAX_BYTES)  # fmt: skip
        return source

    def _infer_batch(self, frames: list[Frame], prepared: object = None) -> StageResult:
        """On the inference thread: infer and sample (``prepared``: the look-ahead thread's input), then hand
        the batch to the prepare stage."""
        result = self.pipeline.stage.select_batch(frames, prepared if isinstance(prepared, PreparedInput) else None)
        if not self.prepare.put(result):  # the prepare stage is stopping: commit here, lose nothing
            self.pipeline.stage.commit(result)
        return result

    def start(self) -> None:
        """Start uploads, config sync, the inference loop and the sources."""
        self.pipeline.start_uploads()
        self.syncer.start()
        self.prepare.start()
        self.loop.start()
        for source in self.sources:
            source.start()
        s = self.settings
        logger.warning("framesift %s running: model %s, %d source(s), destination %s/%s", __version__, s.model.id,
                       len(self.sources), s.destination.url, s.destination.project)  # fmt: skip

    def stop(self, timeout_s: float = 9.0) -> None:
        """Stop sources, finish the batch in flight, spool what is queued, stop uploads."""
        deadline = time.monotonic() + timeout_s
        self.stopping = True
        for src in self.sources:
            src.stop(max(0.1, min(2.0, deadline - time.monotonic())))
        self.submit_decoder.stop(max(0.1, min(1.0, deadline - time.monotonic())))
        self.loop.stop(max(0.1, deadline - time.monotonic() - 2.0))
        queued = self.loop.take_pending() + self.batcher.drain()  # accepted frames: select and spool them in time
        size = self.settings.model.batch_size
        for start in range(0, len(queued), size):
            if time.monotonic() > deadline - 1.5:
                self.telemetry.dropped("all", "shutdown", len(queued) - start)
                logger.warning("shutdown: %d queued frame(s) not processed in time (they are read again at "
                               "the next start)", len(queued) - start)  # fmt: skip
                break
            self.loop.run_batch(queued[start : start + size])
        left = self.prepare.stop(max(0.1, deadline - time.monotonic() - 1.0))
        if left:
            self.telemetry.dropped("all", "shutdown", left)
            logger.warning("shutdown: %d frame(s) not spooled in time (their files are read again at the next "
                           "start)", left)  # fmt: skip
        self.syncer.stop(0.5)
        self.pipeline.close(max(0.1, min(3.0, deadline - time.monotonic() - 0.5)))

    # ------------------------------------------------------------------ state the control plane reads

    def capture_enabled(self) -> bool:
        """Selection runs: not turned off by ACTIVE_LEARNING_ENABLED, not paused (the config is checked per batch)."""
        return self.environment.active_learning_enabled and not self.capture_paused

    def online(self) -> bool:
        """The destination answered the last upload and the last config sync."""
        uploader = self.pipeline.uploader
        return (uploader is None or uploader.link.online) and not self.syncer.last_result.offline

    def destination_state(self) -> str:
        """The upload link in one line (``online``, ``paused for 12 s: HTTP 429``, ``unauthorized: …``)."""
        uploader = self.pipeline.uploader
        return uploader.link.describe() if uploader is not None else "none"

    def link_state(self) -> str:
        """The upload link's state name (for the ``framesift_destination_state`` gauge)."""
        uploader = self.pipeline.uploader
        return uploader.link.state.value if uploader is not None else "online"

    def capture_reason(self) -> str:
        """Why capture is off, or "" while it runs."""
        if not self.environment.active_learning_enabled:
            return "ACTIVE_LEARNING_ENABLED is false in the agent's environment"
        if self.capture_paused:
            return "paused with `framesift ctl pause` (resume with `framesift ctl resume`)"
        snap = self.holder.current
        if not snap.config.enabled:
            return f"the active-learning config in force ({snap.origin}) has enabled: false"
        return ""

    def sync_age_s(self) -> float:
        """Seconds since the last successful config sync; -1 before the first."""
        last = self.syncer.last_sync_mono
        return time.monotonic() - last if last is not None else -1.0

    # ------------------------------------------------------------------ internals

    def _api_key(self) -> str:
        try:
            return load_api_key(self.settings.destination.api_key_file,
                                key_file_option="set [destination] api_key_file in the agent's TOML")  # fmt: skip
        except ConfigError as exc:  # the agent still captures and spools; uploads wait for a key
            logger.warning("%s: uploads will be refused until a key is configured", exc)
            return ""

    def _restart_runner(self) -> None:
        try:
            fresh = load_model(self.settings.model, self.settings.agent.models_dir, model_id=self.model_ref)
        except Exception:
            logger.exception("could not reload the model after a stuck inference")
            return
        self.pipeline.stage.abandon_stuck_batch(fresh)
