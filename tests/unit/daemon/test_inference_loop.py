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
