"""EventBus: fan-out of agent events to WatchEvents subscribers (bounded, never blocking)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentEvent:
    """One event: selected | uploaded | duplicate | dropped | dead | config | model."""

    kind: str
    source_id: str
    detail: str
    time_s: float


class EventBus:
    """Publishers never wait: a slow subscriber loses events, not the agent."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: list[queue.Queue[AgentEvent]] = []
        self._lock = threading.Lock()

    def publish(self, kind: str, source_id: str = "", detail: str = "") -> None:
        """Send an event to every subscriber."""
        event = AgentEvent(kind, source_id, detail, time.time())
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            with contextlib.suppress(queue.Full):
                q.put_nowait(event)

    def subscribe(self) -> queue.Queue[AgentEvent]:
        """A new subscriber queue."""
        q: queue.Queue[AgentEvent] = queue.Queue(self.queue_size)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[AgentEvent]) -> None:
        """Forget a subscriber."""
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)
