"""Scheduling priority of the threads around the model (decode, prepare + spool, upload).

On a small edge CPU onnxruntime's threads want every core. A decode thread at the same
priority preempts one of them in the middle of an operator, and the whole parallel
section then waits for the preempted thread: measured on 2 cores (``bench pipeline``),
the daemon reached 0.74x bare throughput with its decode thread at normal priority and
0.80x with it lowered, with the same CPU work. Lowered threads run in the gaps the model
leaves (between operators and batches, serial parts of the graph) instead.

* ``low`` (the default): nice 19. Against a nice-0 thread it gets about 1.5 % of a
  contended core, so it is never starved outright (a busy host application on the same
  box still leaves it a little);
* ``idle``: ``SCHED_IDLE``: runs only on cores nothing else wants;
* ``normal``: unchanged.

Linux only; elsewhere, or when the kernel refuses, it is a no-op (logged once at debug level).
An unprivileged thread cannot raise its priority again, so this is applied only to threads
that do nothing else (their whole life), never to a pool thread that later serves other work.
"""

from __future__ import annotations

import logging
import os
import threading
from enum import Enum

logger = logging.getLogger(__name__)

LOW_NICE = 19


class ThreadPriority(str, Enum):
    """How far a background thread steps back for the model's threads."""

    NORMAL = "normal"
    LOW = "low"
    IDLE = "idle"


_refusal_logged = False


def lower_current_thread(priority: ThreadPriority) -> bool:
    """Lower the calling thread (only it: Linux schedules threads) to ``priority``.

    Returns:
        True when the thread now runs at ``priority`` (always for ``normal``).
    """
    global _refusal_logged
    if priority is ThreadPriority.NORMAL:
        return True
    tid = threading.get_native_id()
    try:
        if priority is ThreadPriority.IDLE:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, tid, max(LOW_NICE, os.getpriority(os.PRIO_PROCESS, tid)))
    except (AttributeError, OSError) as exc:  # not Linux, or a sandbox that refuses
        if not _refusal_logged:
            _refusal_logged = True
            logger.debug("thread priority %s not applied: %s", priority.value, exc)
        return False
    return True


def current_thread_priority() -> ThreadPriority:
    """The calling thread's priority as this module names it (``normal`` when it cannot tell)."""
    tid = threading.get_native_id()
    try:
        if os.sched_getscheduler(tid) == os.SCHED_IDLE:
            return ThreadPriority.IDLE
        return ThreadPriority.LOW if os.getpriority(os.PRIO_PROCESS, tid) >= LOW_NICE else ThreadPriority.NORMAL
    except (AttributeError, OSError):
        return ThreadPriority.NORMAL
