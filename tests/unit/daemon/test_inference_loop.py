"""InferenceLoop: heartbeat and the stuck-inference restart.

Every wait is on an event or a state the loop reports, with a generous deadline;
nothing is asserted about how long something took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from agent.daemon.inference_loop import InferenceLoop
from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher

DEADLINE_S = 30.0  # generous: only reached when the code under test is broken
IMAGE = np.zeros((2, 2, 3), np.uint8)


def wait_for(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_stuck_batch_restarts_the_runner():
    batcher = DynamicBatcher(max_batch_size=1, max_delay_ms=0)
    hanging = threading.Event()
    release = threading.Event()
    after_done = threading.Event()
    processed: list[str] = []
    restarted = threading.Event()

    def process(frames):
        if frames[0].frame_id == "hang":
            hanging.set()
            release.wait(2 * DEADLINE_S)  # a wedged inference call
            return
        processed.extend(f.frame_id for f in frames)
        after_done.set()

    loop = InferenceLoop(batcher, process, stuck_timeout_s=1.0, on_stuck=restarted.set)
    loop.start()
    try:
        batcher.put(Frame("s", "hang", IMAGE))
        assert hanging.wait(DEADLINE_S)
        assert restarted.wait(DEADLINE_S)
        assert loop.health.stuck_restarts == 1
        assert loop.health.batches == 0  # the wedged batch never completed
        batcher.put(Frame("s", "after", IMAGE))
        assert after_done.wait(DEADLINE_S)  # the new runner serves while the old one is wedged
        assert processed == ["after"]
        assert wait_for(lambda: loop.health.batches == 1)
        assert loop.health.frames == 1 and loop.health.batch_started is None
        assert loop.healthy()
    finally:
        release.set()
        loop.stop(2)


def test_a_failing_batch_does_not_stop_the_loop():
    batcher = DynamicBatcher(max_batch_size=1, max_delay_ms=0)
    done = threading.Event()
    seen: list[str] = []

    def process(frames):
        seen.extend(f.frame_id for f in frames)
        if frames[0].frame_id == "bad":
            raise RuntimeError("model exploded")
        done.set()

    loop = InferenceLoop(batcher, process, stuck_timeout_s=60)
    loop.start()
    try:
        batcher.put(Frame("s", "bad", IMAGE))
        batcher.put(Frame("s", "good", IMAGE))
        assert done.wait(DEADLINE_S)
        assert seen == ["bad", "good"]
        assert wait_for(lambda: loop.health.batches == 2)
        assert loop.health.stuck_restarts == 0 and loop.healthy()
    finally:
        loop.stop(2)


def test_look_ahead_prepares_each_batch_once_in_order_and_hands_back_what_is_left():
    batcher = DynamicBatcher(max_batch_size=2, max_delay_ms=0)
    batcher.register("s", 64, "block")
    prepared_for: list[list[str]] = []
    processed: list[tuple[list[str], object]] = []
    block = threading.Event()
    started_blocked = threading.Event()

    def prepare(frames):
        prepared_for.append([f.frame_id for f in frames])
        return f"input of {frames[0].frame_id}"

    def process(frames, prepared):
        if frames[0].frame_id == "hold":
            started_blocked.set()
            block.wait(DEADLINE_S)
        processed.append(([f.frame_id for f in frames], prepared))

    loop = InferenceLoop(batcher, process, prepare=prepare)
    loop.start()
    try:
        for i in range(6):
            batcher.put(Frame("s", f"f{i}", IMAGE))
        assert wait_for(lambda: len(processed) == 3)
        assert [ids for ids, _ in processed] == [["f0", "f1"], ["f2", "f3"], ["f4", "f5"]]
        assert [p for _, p in processed] == ["input of f0", "input of f2", "input of f4"]  # each its own input
        assert prepared_for == [ids for ids, _ in processed]
        # the model holds a batch: one more is prepared and waits, the rest stays in the batcher
        batcher.put(Frame("s", "hold", IMAGE))
        assert started_blocked.wait(DEADLINE_S)
        for i in range(6, 10):
            batcher.put(Frame("s", f"f{i}", IMAGE))
        assert wait_for(lambda: len(prepared_for) == 5)
        assert prepared_for[-1] == ["f6", "f7"]
    finally:
        loop._stop.set()
        block.set()
        loop.stop(timeout_s=5)
    left = [f.frame_id for f in loop.take_pending()] + [f.frame_id for f in batcher.drain()]
    done = [i for ids, _ in processed for i in ids]
    assert sorted(done + left) == sorted([f"f{i}" for i in range(10)] + ["hold"])  # nothing lost
