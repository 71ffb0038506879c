"""build_pipeline: the one place that assembles model → sample → limit → prepare → spool → upload.

The daemon (``framesift run``), ``framesift scan`` and ``agent.sdk.active_learning()``
all build their pipeline here from one :class:`AgentSettings`, so they share model
loading and warm-up, batching (``[model] batch_size``), limits (Redis included),
spool caps, upload tuning and the resume promise: a file is marked done only once
the frames selected from its batch are spooled.

What differs between them is only what they put in front (the daemon's sources and
dynamic batcher, the file prefetcher of scan and the SDK function) and around
(config sync, control API, metrics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from agent.config.agent_settings import AgentSettings
from agent.config.snapshot import ConfigSource
from agent.frames.frame import Frame
from agent.frames.prefetch import FileFrame, FramePrefetcher
from agent.frames.scan_progress import ScanProgress
from agent.inference.loading import load_model
from agent.inference.model import Model
from agent.limits.factory import open_limit_store
from agent.limits.store import LimitStore
from agent.pipeline.stage import BatchStage
from agent.pipeline.stage_result import StageObserver, StageResult
from agent.spool.disk_spool import DiskSpool, SpoolRecord
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions

logger = logging.getLogger(__name__)

UploadEventHandler = Callable[[str, SpoolRecord, str], None]


@dataclass
class Pipeline:
    """The assembled pipeline; ``close()`` releases everything it opened, in reverse order.

    Attributes:
        settings: what it was built from.
        stage: the per-batch body (infer → sample → limit → prepare → spool).
        limits: the limit store (local, or Redis with local fallback).
        spool: the durable queue, or None when there is no destination.
        client: the destination's API client, or None when there is no destination.
        uploader: the threads that drain the spool (started by ``start_uploads``).
    """

    settings: AgentSettings
    stage: BatchStage
    limits: LimitStore
    spool: DiskSpool | None = None
    client: UploadClient | None = None
    uploader: Uploader | None = None
    _resources: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def model(self) -> Model | None:
        """The model in use."""
        return self.stage.model

    def start_uploads(self) -> None:
        """Start draining the spool (no-op without a destination)."""
        if self.uploader is not None:
            self.uploader.start()

    def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the spool to empty; True when nothing is pending."""
        return self.uploader.drain(timeout_s) if self.uploader is not None else True

    def run_files(
        self,
        files: Sequence[Path],
        on_batch: Callable[[list[FileFrame], StageResult], None],
        *,
        source_id: Callable[[Path], str] = lambda p: str(p.parent),
    ) -> int:
        """Decode ``files`` ahead on a thread, in batches of ``[model] batch_size``, through the stage.

        ``on_batch(files_of_batch, result)`` sees every batch, failed files included (their
        ``error`` is set, they are not in ``result.frames``). Failed files are marked done with
        their batch. Returns how many files failed.
        """
        failures = 0
        with FramePrefetcher(files, self.settings.model.batch_size) as prefetch:
            for chunk in prefetch:
                good = chunk.good
                failures += len(chunk.frames) - len(good)
                frames = [Frame(source_id(f.path), str(f.path), f.pixels, origin_path=f.path, encoded=f.jpeg)
                          for f in good if f.pixels is not None]  # fmt: skip
                result = self.stage.process(frames)
                failed = [f.path for f in chunk.frames if f.pixels is None]
                if failed and self.stage.progress is not None:
                    self.stage.progress.mark_done(failed)
                on_batch(chunk.frames, result)
        return failures

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop uploads (a record in flight is released, not lost), then close client, spool, limits."""
        if self.uploader is not None:
            self.uploader.stop(max(0.1, timeout_s))
        self._resources.close()


def build_pipeline(
    settings: AgentSettings,
    config: ConfigSource,
    *,
    api_key: str = "",
    model: Model | None = None,
    load: bool = True,
    progress_dir: Path | None = None,
    capture_enabled: Callable[[], bool] = lambda: True,
    observer: StageObserver | None = None,
    on_upload_event: UploadEventHandler | None = None,
) -> Pipeline:
    """Assemble the pipeline ``settings`` describe (uploads not started yet).

    Args:
        settings: model, destination (``url = ""``: select only, no spool), limits, spool caps.
        config: where the active-learning config is read once per batch.
        api_key: the destination's key ("" refuses uploads until one is configured).
        model: an already loaded model; else ``[model] id`` is loaded and warmed (when ``load``).
        progress_dir: where files are marked done once decided (resume); None: no resume.
        capture_enabled: False pauses selection (inference goes on).
        observer: told about every batch (metrics, events).
        on_upload_event: ``(kind, record, detail)`` for uploaded/duplicate/retry/dead.

    Raises:
        ModelNotFoundError, ModelLoadError, ConfigError, SpoolError, LimitBackendError: with
        what and where; whatever was opened before the failure is closed again.
    """
    started = time.monotonic()
    with ExitStack() as undo:
        if model is None and load:
            model = load_model(settings.model, settings.agent.models_dir)
        state = settings.agent.state_dir
        dest = settings.destination
        spool = client = None
        if dest.url:  # the spool first: on a full disk its reserve is what lets it open and drain
            sp = settings.spool
            spool = DiskSpool(state / "spool", max_bytes=int(sp.max_mb * 1024**2), max_count=sp.max_count,
                              overflow=sp.overflow, max_age_s=sp.max_age_h * 3600 or None)  # fmt: skip
            undo.callback(spool.close)
            client = UploadClient(dest.url, api_key, agent_id=settings.agent.id)
            undo.callback(client.close)
        limits = open_limit_store(state, dest.project, settings.active_learning.redis_url)  # degrades when full
        undo.callback(limits.close)
        progress = None
        if progress_dir is not None:
            progress = ScanProgress(progress_dir)  # degrades when full
            undo.callback(progress.close)
        stage = BatchStage(model, config, limits, spool, project=dest.project, seed=settings.active_learning.seed,
                           progress=progress, capture_enabled=capture_enabled, observer=observer,
                           jpeg_passthrough=dest.jpeg_passthrough)  # fmt: skip
        uploader = None
        if spool is not None and client is not None:
            options = UploaderOptions(concurrency=dest.upload_concurrency, backoff_cap_s=dest.backoff_cap_s,
                                      max_bytes_per_s=dest.max_bytes_per_s or None,
                                      thread_priority=settings.agent.background_priority)  # fmt: skip
            uploader = Uploader(spool, client, options, on_duplicate=stage.on_duplicate, on_event=on_upload_event)
        pipeline = Pipeline(settings, stage, limits, spool, client, uploader, undo.pop_all())
    logger.info("pipeline assembled in %.2f s: model %s, destination %s", time.monotonic() - started,
                model.model_id if model else "none", dest.url or "none (select only)")  # fmt: skip
    return pipeline
