"""DaemonControl: the daemon's implementation of the control facade (``AgentControl``).

One object for the life of the process: a SIGHUP reload swaps the :class:`Agent`
behind it (``swap``), so the control socket and its servicer never change. It
reads the agent's parts and answers with the facade's plain dataclasses; the
servicer never sees a daemon class.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone

from agent import __version__
from agent.config.config_json import parse_config_json
from agent.control.facade import (
    AgentStatus,
    ConfigView,
    ControlEvent,
    InferResult,
    LimitView,
    ModelView,
    SourceView,
    SpoolStatsView,
    StrategyView,
)
from agent.daemon.agent import SOURCE_QUEUE_MAX_BYTES, Agent
from agent.daemon.events import EventBus
from agent.errors import AgentUnavailableError, FramesiftError
from agent.frames.frame import Frame
from agent.images.decode import decode_image
from agent.inference.loading import load_model
from agent.inference.model import Model, VisionModel
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.limits.windows import WINDOWS
from agent.predictions.roboflow_json import batch_to_roboflow
from agent.spool.disk_spool import SpoolStats

RELOAD_WAIT_S = 60.0
"""How long a control call waits for a SIGHUP reload to finish before answering UNAVAILABLE."""

GRPC_QUEUE_SIZE = 64
"""Frames a host app may have waiting per source before SubmitFrames reports backpressure."""


def _spool_view(stats: SpoolStats | None) -> SpoolStatsView:
    return SpoolStatsView(**asdict(stats)) if stats is not None else SpoolStatsView()


def model_view(model: Model, loaded: bool = True) -> ModelView:
    """What the control API shows of a model."""
    spec = model.spec if isinstance(model, VisionModel) else None
    return ModelView(
        model_id=model.model_id, loaded=loaded, task=model.task.value, providers=tuple(model.providers),
        class_names=tuple(spec.class_names) if spec else (),
        input_height=spec.input_hw[0] if spec else 0, input_width=spec.input_hw[1] if spec else 0,
    )  # fmt: skip


class DaemonControl:
    """Implements :class:`agent.control.facade.AgentControl` over the current Agent."""

    def __init__(self, agent: Agent, events: EventBus) -> None:
        self._agent = agent
        self._events = events
        self._swap_lock = threading.Lock()
        self._serving = threading.Event()  # cleared while a reload replaces the agent
        self._serving.set()
        self.started_mono = time.monotonic()

    @property
    def agent(self) -> Agent:
        """The agent in service (during a reload: the one being replaced)."""
        return self._agent

    def begin_reload(self) -> None:
        """A reload starts: calls wait for the new agent instead of reaching the stopping one."""
        self._serving.clear()

    def swap(self, agent: Agent) -> None:
        """From now on, answer for ``agent`` (SIGHUP reload); waiting calls go on."""
        with self._swap_lock:
            agent.capture_paused = self._agent.capture_paused  # a paused agent stays paused across reloads
            self._agent = agent
        self._serving.set()

    def end_reload(self) -> None:
        """The reload is over (even a failed one): calls proceed."""
        self._serving.set()

    @property
    def stopping(self) -> bool:
        """True once the process is shutting down (a reload is not a shutdown)."""
        return self._serving.is_set() and self._agent.stopping

    def _current(self) -> Agent:
        """The agent to answer with; during a reload, the new one once it serves (no call fails meanwhile)."""
        if not self._serving.wait(RELOAD_WAIT_S):
            raise AgentUnavailableError(f"the agent is still reloading its configuration after {RELOAD_WAIT_S:.0f} s")
        return self._agent

    def _live(self) -> Agent:
        agent = self._current()
        if agent.stopping:
            raise AgentUnavailableError("the agent is stopping")
        return agent

    # ------------------------------------------------------------------ status

    def status(self) -> AgentStatus:
        a = self._current()
        stage, counts, telemetry = a.pipeline.stage, a.batcher.stats(), a.telemetry
        dropped_by_source, dropped_by_reason = telemetry.dropped_by_source(), telemetry.dropped_by_reason()
        known = {s.id for s in a.sources}
        sources = [SourceView(s.id, s.status.kind, s.status.state, s.status.frames, dropped_by_source.get(s.id, 0),
                              s.status.last_error) for s in a.sources]  # fmt: skip
        sources += [SourceView(k, "grpc", "running", v[0], dropped_by_source.get(k, 0))
                    for k, v in counts.items() if k not in known]  # fmt: skip
        st, health, model = stage.stats, a.loop.health, stage.model
        on_request = telemetry.on_request  # read once: frames_in and frames_inferred agree
        return AgentStatus(
            version=__version__, uptime_s=time.monotonic() - self.started_mono,
            model_id=model.model_id if model else "", providers=tuple(model.providers) if model else (),
            capture_paused=a.capture_paused, online=a.online(), sources=tuple(sources),
            batches=health.batches, mean_batch_size=health.frames / health.batches if health.batches else 0.0,
            last_batch_latency_ms=health.last_latency_s * 1000,
            spool=_spool_view(a.pipeline.spool.stats() if a.pipeline.spool else None),
            last_sync=a.syncer.last_result, last_sync_age_s=a.sync_age_s(), config_origin=a.holder.current.origin,
            strategies=tuple(StrategyView(n, st.matched[n], st.selected[n]) for n in stage.selector.engine.names),
            frames_in=sum(v[0] for v in counts.values()) + on_request,
            frames_inferred=health.frames + on_request,
            frames_dropped=sum(dropped_by_reason.values()), near_duplicates=st.near_duplicates,
            limited=st.limited_batch + st.limited_strategy, active_learning_enabled=stage.capturing(),
            destination_state=a.destination_state(), capture_reason=a.capture_reason(),
            config_reason=a.holder.reason(a.syncer.last_result), frames_skipped=telemetry.skipped,
            dropped_by_reason=dropped_by_reason, limits=self._limits(), spool_oldest_age_s=self._spool_age_s(),
            class_psi=dict(telemetry.class_psi),
        )  # fmt: skip

    def _limits(self) -> tuple[LimitView, ...]:
        """Credits used and caps per strategy and window (empty while the limit store cannot be read)."""
        stage = self._current().pipeline.stage
        now = datetime.now(timezone.utc)
        views: list[LimitView] = []
        try:
            for strategy in stage.selector.config.sampling_strategies:
                caps = strategy.limit_values()
                used = stage.limits.usage(strategy.name, now)
                views += [LimitView(strategy.name, window, used.get(window, 0), caps.get(window, 0))
                          for window in WINDOWS if window in caps or used.get(window, 0)]  # fmt: skip
        except FramesiftError:
            return ()
        return tuple(views)

    def _spool_age_s(self) -> float:
        """Seconds the oldest waiting frame has waited; -1 when the spool is empty."""
        spool = self._current().pipeline.spool
        oldest = spool.list(limit=1) if spool is not None else []
        return max(0.0, time.time() - oldest[0].created_s) if oldest else -1.0

    # ------------------------------------------------------------------ config

    def get_config(self) -> ConfigView:
        snap = self._current().holder.current
        return ConfigView(snap.document, snap.origin, snap.etag or "", snap.version)

    def set_config(self, text: str) -> ConfigView:
        holder = self._live().holder
        if not text.strip():
            holder.set_override(None)
            return self.get_config()
        holder.set_override(parse_config_json(text, source="SetConfig"))
        return self.get_config()

    def reload_config(self) -> ConfigView:
        self._live().syncer.sync_now()
        return self.get_config()

    def set_paused(self, paused: bool) -> bool:
        self._current().capture_paused = paused
        return paused

    # ------------------------------------------------------------------ models

    def list_models(self) -> list[ModelView]:
        a = self._current()
        current = a.pipeline.stage.model
        registry = ModelRegistry(a.settings.agent.models_dir or default_models_dir())
        views = [ModelView(r.model_id, loaded=current is not None and r.model_id == current.model_id)
                 for r in registry.list()]  # fmt: skip
        if current is not None and all(v.model_id != current.model_id for v in views):
            views.insert(0, model_view(current))
        return views

    def load_model(self, model_id: str) -> ModelView:
        a = self._live()
        ModelRegistry(a.settings.agent.models_dir or default_models_dir()).resolve(model_id)  # NOT_FOUND first
        model = load_model(a.settings.model, a.settings.agent.models_dir, model_id=model_id)
        a.pipeline.stage.swap_model(model)
        a.model_ref = model_id
        a.telemetry.model_event(f"loaded {model.model_id}")
        return model_view(model)

    def unload_model(self) -> ModelView:
        a = self._current()
        old = a.pipeline.stage.swap_model(None)
        a.telemetry.model_event(f"unloaded {old.model_id if old else ''}")
        return model_view(old, loaded=False) if old is not None else ModelView("", loaded=False)

    # ------------------------------------------------------------------ frames

    def infer(self, data: bytes, source_id: str, submit: bool) -> InferResult:
        a = self._live()
        if a.pipeline.stage.model is None:
            raise AgentUnavailableError("no model loaded")
        t0 = time.perf_counter()
        decoded = decode_image(data, "request image", min_hw=a.pipeline.stage.decode_min_hw())
        reduced = decoded.reduced  # the bytes ride along: a submitted frame is uploaded at full size
        result = a.pipeline.stage.infer_one(decoded.pixels, source_id or "grpc", submit,
                                            encoded=data if decoded.format == "jpeg" else None,
                                            full_hw=decoded.full_hw if reduced else None,
                                            decode_s=time.perf_counter() - t0)  # fmt: skip
        assert result.batch is not None
        decision = result.decision
        matched: tuple[str, ...] = ()
        chosen = ""
        if decision is not None:
            names = a.pipeline.stage.selector.engine.names
            matched = tuple(n for n, hit in zip(names, decision.matrix[0], strict=True) if hit)
            chosen = decision.selections[0].strategy if decision.selections else ""
        return InferResult(batch_to_roboflow(result.batch)[0], matched, chosen)

    def submit_frame(self, data: bytes, source_id: str, frame_id: str) -> bool:
        a = self._live()
        t0 = time.perf_counter()
        min_hw = a.pipeline.stage.decode_min_hw()
        try:  # at the background priority, like every decode beside the model
            decoded = a.submit_decoder.decode(data, f"frame {frame_id or '?'} of {source_id}", min_hw=min_hw)
        except RuntimeError as exc:  # the agent is stopping (a reload swaps it)
            raise AgentUnavailableError("the agent is stopping") from exc
        decode_s = time.perf_counter() - t0
        key = f"grpc:{source_id or 'default'}"
        a.batcher.register(key, GRPC_QUEUE_SIZE, "block", max_bytes=SOURCE_QUEUE_MAX_BYTES)  # bounded memory
        reduced = decoded.reduced  # the bytes ride along: selected frames are uploaded at full size
        frame = Frame(key, frame_id or key, decoded.pixels, decode_s=decode_s,
                      encoded=data if decoded.format == "jpeg" else None,
                      full_hw=decoded.full_hw if reduced else None)  # fmt: skip
        accepted = a.batcher.put(frame, timeout_s=5.0)
        if not accepted:
            a.telemetry.dropped(key, "backpressure")  # the host app is told; counted like every other loss
        return accepted

    # ------------------------------------------------------------------ events

    def subscribe_events(self) -> queue.Queue[ControlEvent]:
        return self._events.subscribe()

    def unsubscribe_events(self, events: queue.Queue[ControlEvent]) -> None:
        self._events.unsubscribe(events)

    # ------------------------------------------------------------------ spool

    def spool_stats(self) -> SpoolStatsView:
        spool = self._current().pipeline.spool
        return _spool_view(spool.stats() if spool else None)

    def flush_spool(self, timeout_s: float) -> SpoolStatsView:
        a = self._live()
        if a.pipeline.spool is not None:
            a.pipeline.spool.retry_dead()
        a.pipeline.drain(timeout_s)
        return self.spool_stats()

    def purge_spool(self, everything: bool) -> SpoolStatsView:
        spool = self._live().pipeline.spool
        if spool is not None:
            spool.purge(dead_only=not everything)
        return self.spool_stats()
