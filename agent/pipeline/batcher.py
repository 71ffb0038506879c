"""DynamicBatcher: frames from many sources → batches for the model.

A batch is flushed when ``max_batch_size`` frames are waiting or when the oldest
waiting frame has waited ``max_delay_ms``. Frames are taken round-robin across
sources so a busy camera cannot starve a quiet one. Each source has a queue
bounded in frames and in pixel bytes (``max_bytes``; a 720p frame is 2.7 MB, so
files wait on disk, not decoded in memory): live streams use ``drop_oldest`` (the newest frame matters; drops are
counted), host-app submissions use ``block`` with a timeout so a caller is told
"busy" instead of waiting forever.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from agent.frames.frame import Frame


@dataclass
class SourceQueue:
    """One source's queue and counters."""

    maxlen: int
    policy: str  # drop_oldest | block
    frames: deque[Frame]
    accepted: int = 0
    dropped: int = 0
    max_bytes: int = 0  # 0: no byte bound
    bytes: int = 0

    def full(self, incoming: int) -> bool:
        """No room for one more frame of ``incoming`` bytes (an empty queue always takes one)."""
        if not self.frames:
            return False
        return len(self.frames) >= self.maxlen or (0 < self.max_bytes < self.bytes + incoming)


class DynamicBatcher:
    """Thread-safe; any number of producers, one consumer.

    ``clock`` (monotonic seconds) decides when a frame has waited ``max_delay_ms`` and
    when a blocked ``put`` gives up; tests inject a manual clock. Waits on the condition
    still sleep in real time, so with a manual clock they only bound how often the
    clock is read again.
    """

    def __init__(self, max_batch_size: int = 8, max_delay_ms: float = 50.0, default_queue_size: int = 64,
                 clock: Callable[[], float] = time.monotonic,
                 on_drop: Callable[[str, str], None] | None = None) -> None:  # fmt: skip
        if max_batch_size < 1 or max_delay_ms < 0:
            raise ValueError("max_batch_size must be >= 1 and max_delay_ms >= 0")
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_ms / 1000.0
        self.default_queue_size = default_queue_size
        self._clock = clock
        self._on_drop = on_drop  # (source id, "queue_full") for every frame evicted by drop_oldest
        self._queues: OrderedDict[str, SourceQueue] = OrderedDict()
        self._cond = threading.Condition()
        self._rr = 0

    def register(self, source_id: str, queue_size: int | None = None, policy: str = "drop_oldest",
                 max_bytes: int = 0) -> None:  # fmt: skip
        """Declare a source (optional: unknown sources get the default queue); ``max_bytes`` 0: frames only."""
        if policy not in ("drop_oldest", "block"):
            raise ValueError(f"policy must be drop_oldest or block, got {policy!r}")
        with self._cond:
            size = queue_size or self.default_queue_size
            self._queues.setdefault(source_id, SourceQueue(size, policy, deque(), max_bytes=max(0, max_bytes)))

    def _queue(self, source_id: str) -> SourceQueue:
        q = self._queues.get(source_id)
        if q is None:
            q = self._queues[source_id] = SourceQueue(self.default_queue_size, "drop_oldest", deque())
        return q

    def put(self, frame: Frame, timeout_s: float = 0.0) -> bool:
        """Enqueue a frame. ``drop_oldest`` never blocks; ``block`` waits up to ``timeout_s``.

        Returns False when a ``block`` queue stayed full (the caller should report busy).
        """
        size = frame.image.nbytes
        with self._cond:
            q = self._queue(frame.source_id)
            if q.full(size):
                if q.policy == "drop_oldest":
                    while q.full(size):
                        q.bytes -= q.frames.popleft().image.nbytes
                        q.dropped += 1
                        if self._on_drop is not None:
                            self._on_drop(frame.source_id, "queue_full")
                else:
                    deadline = self._clock() + timeout_s
                    while q.full(size):
                        remaining = deadline - self._clock()
                        if remaining <= 0:
                            return False  # not accepted: the producer keeps the frame (and is told)
                        self._cond.wait(remaining)
            frame.enqueued_mono = self._clock()
            q.frames.append(frame)
            q.bytes += size
            q.accepted += 1
            self._cond.notify_all()
            return True

    def pending(self) -> int:
        """Frames waiting in all queues."""
        with self._cond:
            return sum(len(q.frames) for q in self._queues.values())

    def _oldest(self) -> float | None:
        heads = [q.frames[0].enqueued_mono for q in self._queues.values() if q.frames]
        return min(heads) if heads else None

    def next_batch(self, stop: threading.Event, idle_wait_s: float = 0.5) -> list[Frame]:
        """Block until a batch is due (or ``idle_wait_s`` passes with nothing: returns [])."""
        with self._cond:
            deadline_idle = self._clock() + idle_wait_s
            while not stop.is_set():
                oldest = self._oldest()
                total = sum(len(q.frames) for q in self._queues.values())
                now = self._clock()
                if oldest is not None and (total >= self.max_batch_size or now - oldest >= self.max_delay_s):
                    return self._take()
                if oldest is None:
                    if now >= deadline_idle:
                        return []
                    self._cond.wait(deadline_idle - now)
                else:
                    self._cond.wait(max(0.0005, oldest + self.max_delay_s - now))
            return self._take() if stop.is_set() else []

    def drain(self) -> list[Frame]:
        """Everything waiting, in fair order (shutdown)."""
        with self._cond:
            out: list[Frame] = []
            while any(q.frames for q in self._queues.values()):
                out.extend(self._take())
            return out

    def _take(self) -> list[Frame]:
        batch: list[Frame] = []
        names = list(self._queues)
        if not names:
            return batch
        i = self._rr % len(names)
        idle_rounds = 0
        while len(batch) < self.max_batch_size and idle_rounds < len(names):
            q = self._queues[names[i]]
            if q.frames:
                frame = q.frames.popleft()
                q.bytes -= frame.image.nbytes
                batch.append(frame)
                idle_rounds = 0
            else:
                idle_rounds += 1
            i = (i + 1) % len(names)
        self._rr = i
        self._cond.notify_all()  # room for blocked producers
        return batch

    def stats(self) -> dict[str, tuple[int, int, int]]:
        """source → (accepted, dropped, waiting)."""
        with self._cond:
            return {k: (q.accepted, q.dropped, len(q.frames)) for k, q in self._queues.items()}
