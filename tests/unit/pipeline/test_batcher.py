"""DynamicBatcher: size/delay flush, fairness, drop-oldest, blocking with timeout.

Time is a manual clock: a flush or a give-up happens because the clock was moved,
never because the test slept. The batcher's condition waits are still real (a few
ms here), so a thread waiting on it re-reads the clock; ``ManualClock.wait_reads``
lets the test wait until it has (a positive signal that the thread is in its loop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher

IMG = np.zeros((2, 2, 3), np.uint8)
DEADLINE_S = 30.0  # generous: only reached when the code under test is broken


def frame(source: str, i: int) -> Frame:
    return Frame(source, f"{source}#{i}", IMG)


class ManualClock:
    """A monotonic clock that moves only when told; counts how often it is read."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.reads = 0
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            self.reads += 1
            self._cond.notify_all()
            return self.now

    def advance(self, seconds: float) -> None:
        with self._cond:
            self.now += seconds

    def wait_reads(self, n: int, done: threading.Event) -> None:
        """Wait until the clock has been read ``n`` times in all, or ``done`` is set."""
        deadline = time.monotonic() + DEADLINE_S
        with self._cond:
            while self.reads < n and not done.is_set():
                assert time.monotonic() < deadline, f"clock read {self.reads} times, expected {n}"
                self._cond.wait(0.05)


class Call:
    """Runs ``fn`` in a thread; ``done`` is set when it returns."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        self.result = fn()
        self.done.set()

    def join(self) -> Any:
        assert self.done.wait(DEADLINE_S), "the call never returned"
        return self.result


def test_flush_at_max_batch_size():
    clock = ManualClock()  # never moves: only the size can flush
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=10, clock=clock)
    for i in range(4):
        b.put(frame("a", i))
    batch = Call(lambda: b.next_batch(threading.Event(), idle_wait_s=60)).join()
    assert [f.frame_id for f in batch] == ["a#0", "a#1", "a#2", "a#3"]


def test_a_batch_holds_at_most_max_batch_size():
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=10, clock=ManualClock())
    for i in range(6):
        b.put(frame("a", i))
    assert len(b.next_batch(threading.Event())) == 4
    assert b.pending() == 2


def test_no_flush_below_size_before_the_delay():
    clock = ManualClock()
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=10, clock=clock)
    for i in range(3):
        b.put(frame("a", i))
    start = clock.reads
    call = Call(lambda: b.next_batch(threading.Event(), idle_wait_s=60))
    clock.wait_reads(start + 4, call.done)  # several looks at the clock
    assert not call.done.is_set()
    clock.advance(0.011)
    assert len(call.join()) == 3


def test_flush_after_max_delay():
    clock = ManualClock()
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=10, clock=clock)
    b.put(frame("a", 0))
    start = clock.reads
    call = Call(lambda: b.next_batch(threading.Event(), idle_wait_s=60))
    clock.wait_reads(start + 3, call.done)
    clock.advance(0.009)  # 1 ms short of the delay: still waiting
    clock.wait_reads(clock.reads + 3, call.done)
    assert not call.done.is_set()
    clock.advance(0.002)
    assert [f.frame_id for f in call.join()] == ["a#0"]


def test_delay_counts_from_the_oldest_frame():
    clock = ManualClock()
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=10, clock=clock)
    b.put(frame("a", 0))
    clock.advance(0.008)
    b.put(frame("b", 0))  # younger: does not postpone the flush of a#0
    start = clock.reads
    call = Call(lambda: b.next_batch(threading.Event(), idle_wait_s=60))
    clock.wait_reads(start + 3, call.done)
    assert not call.done.is_set()
    clock.advance(0.003)  # a#0 has waited 11 ms, b#0 only 3 ms
    assert sorted(f.frame_id for f in call.join()) == ["a#0", "b#0"]


def test_round_robin_fairness():
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=0)
    for i in range(10):
        b.put(frame("busy", i))
    b.put(frame("quiet", 0))
    batch = b.next_batch(threading.Event())
    assert "quiet" in {f.source_id for f in batch}


def test_drop_oldest_for_live_streams():
    drops: list[tuple[str, str]] = []
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=0, on_drop=lambda source, reason: drops.append((source, reason)))
    b.register("cam", queue_size=3, policy="drop_oldest")
    for i in range(5):
        assert b.put(frame("cam", i))
    assert b.stats()["cam"] == (5, 2, 3)
    assert drops == [("cam", "queue_full")] * 2
    assert [f.frame_id for f in b.drain()] == ["cam#2", "cam#3", "cam#4"]


def test_block_policy_times_out_instead_of_hanging():
    clock = ManualClock()
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=0, clock=clock)
    b.register("grpc", queue_size=1, policy="block")
    assert b.put(frame("grpc", 0), timeout_s=0.01)
    start = clock.reads
    call = Call(lambda: b.put(frame("grpc", 1), timeout_s=0.01))
    clock.wait_reads(start + 3, call.done)  # waiting for room
    assert not call.done.is_set()
    clock.advance(0.01)
    assert call.join() is False
    assert b.stats()["grpc"] == (1, 0, 1)  # refused, not dropped: the producer still holds the frame


def test_blocked_producer_resumes_when_consumer_takes():
    clock = ManualClock()  # never moves: the producer cannot time out
    b = DynamicBatcher(max_batch_size=1, max_delay_ms=0, clock=clock)
    b.register("grpc", queue_size=1, policy="block")
    b.put(frame("grpc", 0))
    start = clock.reads
    call = Call(lambda: b.put(frame("grpc", 1), timeout_s=60))
    # deadline + first look: it then waits on the condition, releasing the lock
    clock.wait_reads(start + 2, call.done)
    assert not call.done.is_set()
    assert [f.frame_id for f in b.next_batch(threading.Event())] == ["grpc#0"]
    assert call.join() is True
    assert [f.frame_id for f in b.drain()] == ["grpc#1"]


def test_idle_returns_empty():
    clock = ManualClock()
    b = DynamicBatcher(clock=clock)
    start = clock.reads
    call = Call(lambda: b.next_batch(threading.Event(), idle_wait_s=0.01))
    clock.wait_reads(start + 3, call.done)
    assert not call.done.is_set()
    clock.advance(0.01)
    assert call.join() == []


def test_stop_hands_out_what_is_waiting():
    clock = ManualClock()  # never moves: the delay is never reached
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=10, clock=clock)
    b.put(frame("a", 0))
    stop = threading.Event()
    stop.set()
    assert [f.frame_id for f in b.next_batch(stop)] == ["a#0"]


def test_invalid_arguments():
    with pytest.raises(ValueError):
        DynamicBatcher(max_batch_size=0)
    with pytest.raises(ValueError):
        DynamicBatcher(max_delay_ms=-1)
    with pytest.raises(ValueError):
        DynamicBatcher().register("x", policy="newest")
