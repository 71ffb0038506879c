"""Stopping threads: join with a deadline and say so when a thread outlives it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

logger = logging.getLogger(__name__)


def join_or_warn(thread: threading.Thread | None, timeout_s: float, what: str | None = None) -> bool:
    """Join ``thread`` for at most ``timeout_s``; log a warning and return False if it is still alive.

    A thread that was never started (or is None) counts as stopped.
    """
    if thread is None or thread.ident is None:
        return True
    thread.join(max(0.0, timeout_s))
    if thread.is_alive():
        logger.warning("%s did not stop within %.1f s", what or f"thread {thread.name}", timeout_s)
        return False
    return True


def join_all_or_warn(threads: Iterable[threading.Thread], timeout_s: float) -> list[threading.Thread]:
    """Join every thread within one shared deadline; returns those still alive (each warned about)."""
    deadline = time.monotonic() + timeout_s
    return [t for t in threads if not join_or_warn(t, deadline - time.monotonic())]
