"""The control facade: what the control plane may ask of a running agent.

The gRPC servicer (and anything else beside the pipeline: tests, a future HTTP
status page) depends on this module only, never on the daemon's classes. The
daemon implements :class:`AgentControl`; the servicer converts these plain
dataclasses to protobuf in ``agent.control.convert``.

Errors: methods raise the ``agent.errors`` hierarchy only — ``ConfigError`` and
``ImageError`` for bad input, ``ModelNotFoundError``, ``SpoolFullError`` and
``AgentUnavailableError`` (no model, stopping).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class SyncState(str, Enum):
    """Outcome of the last config sync (the text before ``:`` in ``last_sync_result``)."""

    NEVER = "never"
    OK = "ok"
    UNCHANGED = "ok (unchanged)"
    NOT_MODIFIED = "not-modified"
    NO_CONFIG = "no-config"  # the server has none for this project: the local file or the default apply
    OFFLINE = "offline"
    REJECTED = "rejected"  # the server refused the request (e.g. 401/403): see the detail
    INVALID = "invalid"


@dataclass(frozen=True)
class SyncResult:
    """The last config sync: its state and, for offline/invalid, why."""

    state: SyncState = SyncState.NEVER
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.state.value}: {self.detail}" if self.detail else self.state.value

    @property
    def offline(self) -> bool:
        """True when the destination could not be reached."""
        return self.state is SyncState.OFFLINE


@dataclass(frozen=True)
class SpoolStatsView:
    """Spool counters (``dropped``/``expired``/``delivered`` since the spool was created)."""

    count: int = 0
    bytes: int = 0
    ready: int = 0
    leased: int = 0
    dead: int = 0
    dropped: int = 0
    rejected: int = 0
    expired: int = 0
    delivered: int = 0


@dataclass(frozen=True)
class SourceView:
    """One frame source (``kind``: folder | video | stream | grpc)."""

    id: str
    kind: str
    state: str
    frames: int = 0
    dropped: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class StrategyView:
    """Counters of one sampling strategy since start."""

    name: str
    matched: int = 0
    selected: int = 0


@dataclass(frozen=True)
class LimitView:
    """One strategy's credits in one window (``cap`` 0: no cap for that window)."""

    strategy: str
    window: str
    used: int
    cap: int = 0


@dataclass(frozen=True)
class AgentStatus:
    """Everything ``GetStatus`` reports."""

    version: str
    uptime_s: float
    model_id: str = ""
    providers: tuple[str, ...] = ()
    capture_paused: bool = False
    online: bool = True
    sources: tuple[SourceView, ...] = ()
    batches: int = 0
    mean_batch_size: float = 0.0
    last_batch_latency_ms: float = 0.0
    spool: SpoolStatsView = field(default_factory=SpoolStatsView)
    last_sync: SyncResult = field(default_factory=SyncResult)
    last_sync_age_s: float = -1.0  # -1 before the first successful sync
    config_origin: str = "default"
    strategies: tuple[StrategyView, ...] = ()
    frames_in: int = 0
    frames_inferred: int = 0
    frames_dropped: int = 0
    near_duplicates: int = 0
    limited: int = 0
    active_learning_enabled: bool = True
    destination_state: str = "online"  # online | paused for N s: … | offline: … | unauthorized: …
    capture_reason: str = ""  # why capture is off; "" while it runs
    config_reason: str = ""  # why the config in force is the one it is
    frames_skipped: int = 0  # inferred while capture was off (not sampled)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)  # as framesift_frames_dropped_total
    limits: tuple[LimitView, ...] = ()
    spool_oldest_age_s: float = -1.0  # -1 when the spool is empty
    class_psi: dict[str, float] = field(default_factory=dict)  # drift per class (framesift_class_psi)


@dataclass(frozen=True)
class ConfigView:
    """The active-learning config in force and where it came from."""

    document: dict[str, Any]
    origin: str  # remote | last-good | local-override | file | default
    etag: str = ""
    version: int = 0


@dataclass(frozen=True)
class ModelView:
    """A model the agent knows (loaded or only present in the models directory)."""

    model_id: str
    loaded: bool = False
    task: str = ""
    providers: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    input_height: int = 0
    input_width: int = 0


@dataclass(frozen=True)
class InferResult:
    """One ``Infer`` answer: the prediction (Roboflow JSON) and what sampling made of it."""

    prediction: dict[str, Any]
    matched_strategies: tuple[str, ...] = ()
    selected_strategy: str = ""  # "" when not selected


@dataclass(frozen=True)
class ControlEvent:
    """One event: selected | uploaded | upload_retry | duplicate | dropped | dead | config | model."""

    kind: str
    source_id: str
    detail: str
    time_s: float


class AgentControl(Protocol):
    """The operations the control plane performs on a running agent (thread-safe)."""

    @property
    def stopping(self) -> bool:
        """True once shutdown began (streams end, submissions are refused)."""

    def status(self) -> AgentStatus:
        """A consistent snapshot of the agent's state."""

    def get_config(self) -> ConfigView:
        """The active-learning config in force."""

    def set_config(self, text: str) -> ConfigView:
        """Set (JSON text) or clear ("") the local override. Raises ConfigError with field paths."""

    def reload_config(self) -> ConfigView:
        """Fetch the remote config now."""

    def set_paused(self, paused: bool) -> bool:
        """Pause or resume capture (inference goes on); returns the new state."""

    def list_models(self) -> list[ModelView]:
        """Models in the models directory, the loaded one first when it lives elsewhere."""

    def load_model(self, model_id: str) -> ModelView:
        """Load and warm a model, then swap it in. Raises ModelNotFoundError."""

    def unload_model(self) -> ModelView:
        """Stop inference; returns the model that was unloaded (``loaded=False``)."""

    def infer(self, data: bytes, source_id: str, submit: bool) -> InferResult:
        """Predict one encoded image; with ``submit`` also select (and spool) it."""

    def submit_frame(self, data: bytes, source_id: str, frame_id: str) -> bool:
        """Queue one encoded frame; False when its queue stayed full (backpressure)."""

    def subscribe_events(self) -> queue.Queue[ControlEvent]:
        """A new bounded event queue (a slow reader loses events, never blocks the agent)."""

    def unsubscribe_events(self, events: queue.Queue[ControlEvent]) -> None:
        """Forget a queue returned by ``subscribe_events``."""

    def spool_stats(self) -> SpoolStatsView:
        """Spool counters."""

    def flush_spool(self, timeout_s: float) -> SpoolStatsView:
        """Retry dead letters and wait up to ``timeout_s`` for the queue to drain."""

    def purge_spool(self, everything: bool) -> SpoolStatsView:
        """Delete dead letters (or every frame not being uploaded)."""
