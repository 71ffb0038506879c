"""Stopping child processes in tests: SIGKILL (a crash) or SIGTERM with a SIGKILL fallback."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def kill_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGKILL, as a crash, and reap it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def stop_process(proc: subprocess.Popen[Any] | None, timeout_s: float = 15.0) -> None:
    """SIGTERM and wait; SIGKILL when it does not stop in time."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            kill_process(proc)
