"""Background threads step back for the model's threads; the thread that asks is the only one lowered."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from agent.runtime.thread_priority import ThreadPriority, current_thread_priority, lower_current_thread

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread scheduling is Linux's")


def _in_thread(priority: ThreadPriority) -> tuple[bool, ThreadPriority, int]:
    out: list[tuple[bool, ThreadPriority, int]] = []

    def body() -> None:
        applied = lower_current_thread(priority)
        out.append((applied, current_thread_priority(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(5)
    return out[0]


@pytest.mark.parametrize(
    ("priority", "expected", "nice"),
    [
        (ThreadPriority.NORMAL, ThreadPriority.NORMAL, 0),
        (ThreadPriority.LOW, ThreadPriority.LOW, 19),
        (ThreadPriority.IDLE, ThreadPriority.IDLE, 0),
    ],
)
def test_a_thread_lowers_only_itself(priority: ThreadPriority, expected: ThreadPriority, nice: int) -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) != 0:
        pytest.skip("the test process itself runs niced")
    applied, seen, seen_nice = _in_thread(priority)
    assert applied is True
    assert seen is expected
    assert seen_nice == nice
    assert current_thread_priority() is ThreadPriority.NORMAL  # the calling (main) thread is untouched
