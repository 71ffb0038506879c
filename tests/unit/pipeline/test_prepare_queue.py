"""PrepareQueue: batches committed in order off the caller's thread, bounded, nothing lost at stop."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from agent.frames.frame import Frame
from agent.pipeline.prepare_queue import PrepareQueue
from agent.pipeline.stage_result import StageResult


def result(tag: str, frames: int = 2, held_bytes: int = 0) -> StageResult:
    r = StageResult([Frame("cam", f"{tag}-{i}", np.zeros((1, 1, 3), np.uint8)) for i in range(frames)])
    if held_bytes:
        r.selected_images = {0: np.zeros(held_bytes, np.uint8).reshape(-1, 1, 1)}
    return r


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class Gate:
    """A commit function that records batches and can be held closed."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.committed: list[str] = []

    def __call__(self, r: StageResult) -> None:
        self.open.wait(10)
        self.committed.append(r.frames[0].frame_id.split("-")[0])


def test_batches_are_committed_in_order_and_stop_commits_everything_queued():
    gate = Gate()
    gate.open.clear()
    queue = PrepareQueue(gate, max_batches=10)
    queue.start()
    for tag in "abcde":
        assert queue.put(result(tag))
    assert queue.frames_pending == 10  # accepted, not decided
    gate.open.set()
    assert queue.stop(5.0) == 0
    assert gate.committed == list("abcde")
    assert queue.frames_pending == 0


@pytest.mark.parametrize(
    ("max_batches", "max_bytes", "held", "blocked_put"),
    [
        (2, 10**9, 0, 3),  # bounded in batches: the third waiting batch blocks
        (100, 1000, 600, 2),  # bounded in bytes: 600 + 600 > 1000 blocks the second waiting batch
    ],
)
def test_a_full_queue_blocks_the_producer(max_batches, max_bytes, held, blocked_put):
    gate = Gate()
    gate.open.clear()
    queue = PrepareQueue(gate, max_batches=max_batches, max_bytes=max_bytes)
    queue.start()
    assert queue.put(result("busy"))  # taken by the worker, held in commit
    wait_for(lambda: queue.bytes_pending == 0 and queue.frames_pending == 2)
    for i in range(blocked_put - 1):
        assert queue.put(result(f"q{i}", held_bytes=held), timeout_s=0.5)
    assert not queue.put(result("over", held_bytes=held), timeout_s=0.2)  # full: the caller keeps it
    gate.open.set()
    assert queue.put(result("later", held_bytes=held), timeout_s=5.0)  # room again once committed
    queue.stop(5.0)
    assert "over" not in gate.committed and gate.committed[-1] == "later"


def test_one_oversized_batch_still_passes_an_empty_queue():
    gate = Gate()
    queue = PrepareQueue(gate, max_bytes=10)
    queue.start()
    assert queue.put(result("big", held_bytes=100), timeout_s=1.0)
    queue.stop(5.0)
    assert gate.committed == ["big"]


def test_a_failing_commit_does_not_stop_the_worker_and_idle_hook_runs():
    seen: list[str] = []
    idle = threading.Event()

    def commit(r: StageResult) -> None:
        if r.frames[0].frame_id.startswith("bad"):
            raise RuntimeError("boom")
        seen.append(r.frames[0].frame_id)

    queue = PrepareQueue(commit, on_idle=idle.set)
    queue.start()
    queue.put(result("bad"))
    queue.put(result("good"))
    assert queue.wait_empty(5.0)
    wait_for(idle.is_set)  # ran empty after the burst: the idle hook (progress flush) ran
    queue.stop(2.0)
    assert seen == ["good-0"] and queue.failed_batches == 1


def test_put_after_stop_is_refused():
    queue = PrepareQueue(lambda r: None)
    queue.start()
    queue.stop(1.0)
    assert not queue.put(result("late"), timeout_s=0.1)
