"""EventBus: fan-out of agent events to WatchEvents subscribers (bounded, never blocking)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time

from agent.control.facade import ControlEvent


class EventBus:
    """Publishers never wait: a slow subscriber loses events, not the agent."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: list[queue.Queue[ControlEvent]] = []
        self._lock = threading.Lock()

    def publish(self, kind: str, source_id: str = "", detail: str = "") -> None:
        """Send an event to every subscriber."""
        event = ControlEvent(kind, source_id, detail, time.time())
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            with contextlib.suppress(queue.Full):
                q.put_nowait(event)

    def subscribe(self) -> queue.Queue[ControlEvent]:
        """A new subscriber queue."""
        q: queue.Queue[ControlEvent] = queue.Queue(self.queue_size)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[ControlEvent]) -> None:
        """Forget a subscriber."""
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)
