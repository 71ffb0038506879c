"""Agent: the daemon's composition root and the facade the control plane talks to.

``start()`` builds everything in order (state, metrics, model, limits, spool,
uploader, config sync, batcher, inference loop, sources); ``stop()`` tears it
down in reverse: sources first, then the batch in flight and whatever is queued
(within the time left), then uploads, then the spool.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from agent import __version__
from agent.config.agent_settings import AgentSettings
from agent.daemon.config_sync import ConfigHolder, ConfigSnapshot, ConfigSyncer
from agent.daemon.events import EventBus
from agent.daemon.inference_loop import InferenceLoop
from agent.daemon.metrics import AgentMetrics
from agent.errors import AgentUnavailableError, ConfigError
from agent.frames.frame import Frame
from agent.frames.scan_progress import ScanProgress
from agent.images.decode import decode_image
from agent.inference.model import Model
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.inference.runner import RunnerOptions, parse_providers
from agent.limits.factory import open_limit_store
from agent.pipeline.batcher import DynamicBatcher
from agent.pipeline.collector import FrameCollector
from agent.predictions.batch import TaskType
from agent.predictions.roboflow_json import batch_to_roboflow
from agent.sampling.selector import ActiveLearningSelector
from agent.sources.base import SourceThread
from agent.sources.folder import FolderSource
from agent.sources.video import VideoSource
from agent.spool.disk_spool import DiskSpool, SpoolRecord, SpoolStats
from agent.upload.client import UploadClient
from agent.upload.credentials import load_api_key
from agent.upload.worker import Uploader, UploaderOptions

logger = logging.getLogger(__name__)


class Agent:
    """Owns the pipeline; thread-safe facade for gRPC."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.started_mono = time.monotonic()
        self.events = EventBus()
        self.metrics = AgentMetrics()
        self.capture_paused = False
        self.al_enabled_env = os.environ.get("ACTIVE_LEARNING_ENABLED", "true").lower() not in ("false", "0", "no")
        self.model: Model | None = None
        self._work_lock = threading.Lock()  # one inference/selection at a time (buffers, RNG)
        self._selector_version = -1
        self.sources: list[SourceThread] = []
        self.stopping = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Build and start every component (blocks until the model is warm)."""
        s = self.settings
        state = s.agent.state_dir
        state.mkdir(parents=True, exist_ok=True)
        if s.metrics.listen:
            self.metrics.serve(s.metrics.listen)
        self.registry = ModelRegistry(s.agent.models_dir or default_models_dir())
        self.model = self._load_model(s.model.id)
        project = s.destination.project
        self.limits = open_limit_store(state, project, s.active_learning.redis_url)
        self.spool = DiskSpool(state / "spool", max_bytes=int(s.spool.max_mb * 1024**2),
                               max_count=s.spool.max_count, overflow=s.spool.overflow,
                               max_age_s=s.spool.max_age_h * 3600 or None)  # fmt: skip
        self.client = UploadClient(s.destination.url, self._api_key())
        self.holder = ConfigHolder(state, s.active_learning.config_file)
        self.holder.subscribe(lambda snap: self.events.publish("config", "", f"{snap.origin} v{snap.version}"))
        self.selector = self._new_selector(self.holder.current)
        self.collector = FrameCollector(self.selector, self.spool, project)
        self.uploader = Uploader(
            self.spool, self.client,
            UploaderOptions(concurrency=s.destination.upload_concurrency, backoff_cap_s=s.destination.backoff_cap_s,
                            max_bytes_per_s=s.destination.max_bytes_per_s or None),
            on_duplicate=self.collector.on_duplicate, on_event=self._upload_event,
        )  # fmt: skip
        self.uploader.start()
        self.syncer = ConfigSyncer(self.holder, self.client, s.destination.workspace, project,
                                   s.destination.sync_interval_s)  # fmt: skip
        self.syncer.start()
        self.batcher = DynamicBatcher(s.model.batch_size, s.model.max_delay_ms)
        self.loop = InferenceLoop(self.batcher, self._process, stuck_timeout_s=s.model.stuck_timeout_s,
                                  on_stuck=self._restart_runner)  # fmt: skip
        self.loop.start()
        self._bind_gauges()
        self.progress = ScanProgress(state / "folder-sources")
        for src in s.sources:
            self.batcher.register(src.id, src.queue_size, "drop_oldest" if src.type != "folder" else "block")
            if src.type == "folder":
                thread: SourceThread = FolderSource(
                    src.id,
                    self.batcher,
                    Path(src.path),
                    self.progress,
                    poll_interval_s=src.poll_interval_s,
                    settle_ms=src.settle_ms,
                )
            else:
                thread = VideoSource(src.id, self.batcher, src.path, fps=src.fps, every_nth=src.every_nth,
                                     loop=src.loop)  # fmt: skip
            self.sources.append(thread)
            thread.start()
        logger.warning("framesift %s running: model %s, %d source(s), destination %s/%s", __version__,
                       s.model.id, len(self.sources), s.destination.url, project)  # fmt: skip

    def stop(self, timeout_s: float = 9.0) -> None:
        """Stop sources, finish the batch in flight, spool what is queued, stop uploads."""
        deadline = time.monotonic() + timeout_s
        self.stopping = True
        for src in self.sources:
            src.stop(max(0.1, min(2.0, deadline - time.monotonic())))
        self.loop.stop(max(0.1, deadline - time.monotonic() - 2.0))
        queued = self.batcher.drain()  # frames already accepted: select and spool them while time allows
        size = self.settings.model.batch_size
        for start in range(0, len(queued), size):
            if time.monotonic() > deadline - 1.5:
                self.metrics.frames_dropped.labels("shutdown").inc(len(queued) - start)
                logger.warning("shutdown: %d queued frame(s) not processed in time", len(queued) - start)
                break
            self.loop.run_batch(queued[start : start + size])
        self.syncer.stop(0.5)
        self.uploader.stop(max(0.1, min(3.0, deadline - time.monotonic() - 0.5)))
        self.client.close()
        self.spool.close()
        self.limits.close()
        self.progress.close()

    # ------------------------------------------------------------------ internals

    def _api_key(self) -> str:
        try:
            return load_api_key(self.settings.destination.api_key_file)
        except ConfigError as exc:  # the agent still captures and spools; uploads wait for a key
            logger.warning("%s: uploads will be refused until a key is configured", exc)
            return ""

    def _load_model(self, model_id: str) -> Model:
        m = self.settings.model
        model = self.registry.load(
            model_id, max_batch=m.batch_size,
            runner_options=RunnerOptions(providers=parse_providers(m.providers), trt_cache_dir=m.trt_cache_dir,
                                         trt_fp16=m.trt_fp16, intra_op_threads=m.threads),
            params=PostprocessParams(confidence_threshold=m.confidence, iou_threshold=m.iou),
            stub_task=TaskType(m.stub_task),
        )  # fmt: skip
        model.warm_up()
        return model

    def _restart_runner(self) -> None:
        try:
            self.model = self._load_model(self.model.model_id if self.model else self.settings.model.id)
            self._work_lock = threading.Lock()  # the stuck thread may hold the old one forever
        except Exception:
            logger.exception("could not reload the model after a stuck inference")

    def _new_selector(self, snap: ConfigSnapshot) -> ActiveLearningSelector:
        model_id = self.model.model_id if self.model else ""
        selector = ActiveLearningSelector(snap.config, self.limits, model_id=model_id,
                                          seed=self.settings.active_learning.seed)  # fmt: skip
        if getattr(self, "selector", None) is not None:
            selector.stats = self.selector.stats  # counters survive config changes
        self._selector_version = snap.version
        return selector

    def _capture_enabled(self) -> bool:
        return self.al_enabled_env and not self.capture_paused and self.holder.current.config.enabled

    def _process(self, frames: list[Frame]) -> None:
        model = self.model
        now = time.monotonic()
        for f in frames:
            self.metrics.frames_in.labels(f.source_id).inc()
            self.metrics.queue_wait.observe(now - f.enqueued_mono)
        if model is None:
            self.metrics.frames_dropped.labels("no_model").inc(len(frames))
            return
        with self._work_lock:
            t0 = time.perf_counter()
            batch = model.predict([f.image for f in frames], [f.frame_id for f in frames])
            self.metrics.batch_latency.observe(time.perf_counter() - t0)
            self.metrics.batch_size.observe(len(frames))
            self.metrics.frames_inferred.inc(len(frames))
            if not self._capture_enabled():
                return
            if self.holder.current.version != self._selector_version:
                self.selector = self._new_selector(self.holder.current)
                self.collector.selector = self.selector
            before = self.selector.stats.near_duplicates, self.selector.stats.limited_batch, \
                self.selector.stats.limited_strategy  # fmt: skip
            result = self.collector.collect(batch, [f.image for f in frames], [f.source_id for f in frames])
        st = self.selector.stats
        self.metrics.deduplicated.inc(st.near_duplicates - before[0])
        self.metrics.limited.labels("batch").inc(st.limited_batch - before[1])
        self.metrics.limited.labels("strategy").inc(st.limited_strategy - before[2])
        if result.dropped:
            self.metrics.frames_dropped.labels("spool").inc(result.dropped)
            self.events.publish("dropped", "", f"{result.dropped} selected frame(s): spool full")
        else:
            self.metrics.spooled.inc(len(result.seqs))
        for sel in result.decision.selections:
            self.metrics.selected.labels(sel.strategy).inc()
            self.events.publish("selected", frames[sel.frame].source_id, f"{frames[sel.frame].frame_id} "
                                f"by {sel.strategy} → {sel.batch_name}")  # fmt: skip

    def _upload_event(self, kind: str, record: SpoolRecord, detail: str) -> None:
        self.metrics.uploaded.labels(kind).inc()
        self.events.publish(kind if kind != "retry" else "upload_retry", record.item.source, detail)

    # ------------------------------------------------------------------ facade (gRPC)

    def status(self) -> dict[str, Any]:
        """Everything GetStatus reports."""
        stats = self.batcher.stats()
        sources = [{"id": s.id, "kind": s.status.kind, "state": s.status.state, "frames": s.status.frames,
                    "dropped": stats.get(s.id, (0, 0, 0))[1], "last_error": s.status.last_error}
                   for s in self.sources]  # fmt: skip
        grpc_sources = [k for k in stats if k not in {s.id for s in self.sources}]
        for key in grpc_sources:
            sources.append({"id": key, "kind": "grpc", "state": "running", "frames": stats[key][0],
                            "dropped": stats[key][1], "last_error": ""})  # fmt: skip
        st = self.selector.stats
        h = self.loop.health
        sync_age = self._sync_age_s()
        spool = self.spool.stats()
        return {
            "version": __version__, "uptime_s": time.monotonic() - self.started_mono,
            "model_id": self.model.model_id if self.model else "",
            "providers": self.model.providers if self.model else [],
            "capture_paused": self.capture_paused, "sources": sources,
            "online": self._online(),
            "batches": h.batches, "mean_batch_size": h.frames / h.batches if h.batches else 0.0,
            "last_batch_latency_ms": h.last_latency_s * 1000, "spool": spool,
            "last_sync_result": self.syncer.last_result, "last_sync_age_s": sync_age,
            "config_origin": self.holder.current.origin,
            "strategies": [(n, st.matched[n], st.selected[n]) for n in self.selector.engine.names],
            "frames_in": sum(v[0] for v in stats.values()), "frames_inferred": h.frames,
            "frames_dropped": sum(v[1] for v in stats.values()), "near_duplicates": st.near_duplicates,
            "limited": st.limited_batch + st.limited_strategy, "active_learning_enabled": self._capture_enabled(),
        }  # fmt: skip

    def _sync_age_s(self) -> float:
        """Seconds since the last successful config sync; -1 before the first."""
        last = self.syncer.last_sync_mono
        return time.monotonic() - last if last is not None else -1.0

    def _online(self) -> bool:
        return self.uploader.link.online and not self.syncer.last_result.startswith("offline")

    def _bind_gauges(self) -> None:
        """Gauges computed when Prometheus scrapes (not only when someone asks for the status)."""
        self.metrics.spool_bytes.set_function(lambda: self.spool.stats().bytes)
        self.metrics.spool_frames.set_function(lambda: self.spool.stats().count)
        self.metrics.sync_age.set_function(lambda: max(self._sync_age_s(), 0.0))
        self.metrics.online.set_function(lambda: 1.0 if self._online() else 0.0)

    def get_config(self) -> ConfigSnapshot:
        """The config in force."""
        return self.holder.current

    def set_config(self, text: str) -> ConfigSnapshot:
        """Set or clear ("") the local override. Raises ConfigError with field paths."""
        if not text.strip():
            return self.holder.set_override(None)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return self.holder.set_override(document)

    def reload_config(self) -> ConfigSnapshot:
        """Fetch the remote config now."""
        self.syncer.sync_now()
        return self.holder.current

    def set_paused(self, paused: bool) -> bool:
        """Pause/resume capture (inference continues; nothing is selected while paused)."""
        self.capture_paused = paused
        return paused

    def list_models(self) -> list[tuple[str, Path | None]]:
        """(model id, path) of every model in the models directory."""
        return [(r.model_id, r.path) for r in self.registry.list()]

    def load_model(self, model_id: str) -> Model:
        """Load and warm ``model_id``, then swap it in; the old one serves until then."""
        self.registry.resolve(model_id)  # NOT_FOUND before any work
        model = self._load_model(model_id)
        with self._work_lock:
            self.model = model
        self.events.publish("model", "", f"loaded {model_id}")
        return model

    def unload_model(self) -> str:
        """Stop inference (frames are dropped until a model is loaded)."""
        with self._work_lock:
            old = self.model.model_id if self.model else ""
            self.model = None
        self.events.publish("model", "", f"unloaded {old}")
        return old

    def infer(self, data: bytes, source_id: str, submit: bool) -> tuple[dict[str, Any], list[str], str]:
        """Predict one image; with ``submit`` also select (and spool) it."""
        if self.model is None:
            raise AgentUnavailableError("no model loaded")
        pixels = decode_image(data, "request image").pixels
        with self._work_lock:
            batch = self.model.predict([pixels])
            matched: list[str] = []
            chosen = ""
            if submit and self._capture_enabled():
                decision = self.collector.collect(batch, [pixels], [source_id or "grpc"]).decision
                matched = [n for n, hit in zip(self.selector.engine.names, decision.matrix[0], strict=True) if hit]
                chosen = decision.selections[0].strategy if decision.selections else ""
        return batch_to_roboflow(batch)[0], matched, chosen

    def submit_frame(self, data: bytes, source_id: str, frame_id: str, timeout_s: float = 5.0) -> bool:
        """Queue a frame from a host app; False when its queue stayed full (backpressure)."""
        if self.stopping:
            raise AgentUnavailableError("agent is stopping")
        pixels = decode_image(data, f"frame {frame_id or '?'} of {source_id}").pixels
        key = f"grpc:{source_id or 'default'}"
        self.batcher.register(key, 64, "block")
        return self.batcher.put(Frame(key, frame_id or key, pixels), timeout_s=timeout_s)

    def spool_stats(self) -> SpoolStats:
        """Spool counters."""
        return self.spool.stats()

    def flush_spool(self, timeout_s: float) -> SpoolStats:
        """Retry dead letters and wait up to ``timeout_s`` for the queue to drain."""
        self.spool.retry_dead()
        self.uploader.drain(timeout_s)
        return self.spool.stats()

    def purge_spool(self, everything: bool) -> SpoolStats:
        """Delete dead letters (or every frame not being uploaded)."""
        self.spool.purge(dead_only=not everything)
        return self.spool.stats()
