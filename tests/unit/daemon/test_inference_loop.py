"""InferenceLoop: heartbeat and the stuck-inference restart."""

from __future__ import annotations

import threading
import time

import numpy as np

from agent.daemon.inference_loop import InferenceLoop
from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher


def test_stuck_batch_restarts_the_runner():
    batcher = DynamicBatcher(max_batch_size=1, max_delay_ms=0)
    release = threading.Event()
    processed: list[str] = []
    restarted = threading.Event()

    def process(frames):
        if frames[0].frame_id == "hang":
            release.wait(30)  # a wedged inference call
            return
        processed.extend(f.frame_id for f in frames)

    loop = InferenceLoop(batcher, process, stuck_timeout_s=0.4, on_stuck=restarted.set)
    loop.start()
    try:
        image = np.zeros((2, 2, 3), np.uint8)
        batcher.put(Frame("s", "hang", image))
        assert restarted.wait(5)
        assert loop.health.stuck_restarts == 1
        batcher.put(Frame("s", "after", image))
        deadline = time.monotonic() + 5
        while "after" not in processed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert processed == ["after"]  # the new runner serves while the old one is wedged
        assert loop.healthy()
    finally:
        release.set()
        loop.stop(2)
