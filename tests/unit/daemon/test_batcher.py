"""DynamicBatcher: size/delay flush, fairness, drop-oldest, blocking with timeout."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher

IMG = np.zeros((2, 2, 3), np.uint8)


def frame(source: str, i: int) -> Frame:
    return Frame(source, f"{source}#{i}", IMG)


def test_flush_at_max_batch_size():
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=10_000)
    for i in range(4):
        b.put(frame("a", i))
    t = time.monotonic()
    batch = b.next_batch(threading.Event())
    assert len(batch) == 4 and time.monotonic() - t < 0.5


def test_flush_after_max_delay():
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=30)
    b.put(frame("a", 0))
    t = time.monotonic()
    batch = b.next_batch(threading.Event())
    waited = time.monotonic() - t
    assert len(batch) == 1 and 0.02 <= waited < 0.5


def test_round_robin_fairness():
    b = DynamicBatcher(max_batch_size=4, max_delay_ms=0)
    for i in range(10):
        b.put(frame("busy", i))
    b.put(frame("quiet", 0))
    batch = b.next_batch(threading.Event())
    assert "quiet" in {f.source_id for f in batch}


def test_drop_oldest_for_live_streams():
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=0)
    b.register("cam", queue_size=3, policy="drop_oldest")
    for i in range(5):
        assert b.put(frame("cam", i))
    assert b.stats()["cam"] == (5, 2, 3)
    assert [f.frame_id for f in b.drain()] == ["cam#2", "cam#3", "cam#4"]


def test_block_policy_times_out_instead_of_hanging():
    b = DynamicBatcher(max_batch_size=8, max_delay_ms=0)
    b.register("grpc", queue_size=1, policy="block")
    assert b.put(frame("grpc", 0), timeout_s=0.1)
    t = time.monotonic()
    assert b.put(frame("grpc", 1), timeout_s=0.1) is False
    assert time.monotonic() - t < 1.0


def test_blocked_producer_resumes_when_consumer_takes():
    b = DynamicBatcher(max_batch_size=1, max_delay_ms=0)
    b.register("grpc", queue_size=1, policy="block")
    b.put(frame("grpc", 0))
    result = []
    t = threading.Thread(target=lambda: result.append(b.put(frame("grpc", 1), timeout_s=5)))
    t.start()
    time.sleep(0.05)
    assert b.next_batch(threading.Event())
    t.join(5)
    assert result == [True]


def test_idle_returns_empty_and_stop():
    b = DynamicBatcher()
    assert b.next_batch(threading.Event(), idle_wait_s=0.05) == []
    with pytest.raises(ValueError):
        DynamicBatcher(max_batch_size=0)
