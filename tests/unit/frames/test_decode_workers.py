"""DecodeWorkers decode at the background priority and hand every result or error back to the caller."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
import simplejpeg

from agent.errors import ImageError
from agent.frames.decode_workers import DecodeWorkers
from agent.runtime.thread_priority import ThreadPriority


def _jpeg(h: int = 64, w: int = 96) -> bytes:
    return simplejpeg.encode_jpeg(np.full((h, w, 3), 90, np.uint8), quality=90, colorspace="BGR")


def test_results_and_errors_reach_the_caller() -> None:
    workers = DecodeWorkers(ThreadPriority.NORMAL, workers=2)
    try:
        assert workers.decode(_jpeg(), "frame a").pixels.shape == (64, 96, 3)
        reduced = workers.decode(_jpeg(720, 1280), "frame b", min_hw=(180, 320))
        assert reduced.reduced and reduced.pixels.shape[:2] == (180, 320)
        with pytest.raises(ImageError, match="frame c"):
            workers.decode(b"not an image", "frame c")
        assert workers.decode(_jpeg(), "frame d").pixels.shape == (64, 96, 3)  # a failure stops nothing
    finally:
        workers.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread scheduling is Linux's")
def test_workers_run_at_the_background_priority() -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) != 0:
        pytest.skip("the test process itself runs niced")
    workers = DecodeWorkers(ThreadPriority.LOW, workers=1)
    try:
        workers.decode(_jpeg(), "frame")  # the worker has lowered itself before taking its first job
        thread = next(t for t in threading.enumerate() if t.name == "decode-0")
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == 19
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0
    finally:
        workers.stop()


def test_stopped_workers_refuse_and_leave_no_thread() -> None:
    workers = DecodeWorkers(ThreadPriority.NORMAL, workers=2)
    workers.stop(timeout_s=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("decode-") and t.is_alive()]
    with pytest.raises(RuntimeError, match="stopped"):
        workers.decode(_jpeg(), "late frame")
