"""SpoolOwnership: one process owns a spool directory (an exclusive ``flock`` on ``owner.lock``).

The lock is advisory and held for the life of the open file descriptor, so it is
released by the kernel when the owner dies (even by kill -9): no stale locks.
Other processes may still open the spool read-only for ``stats`` and ``list``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from agent.errors import SpoolError

OWNER_LOCK_NAME = "owner.lock"


class SpoolOwnership:
    """The exclusive lock on ``<directory>/owner.lock``; it holds the owner's pid as text."""

    def __init__(self, directory: Path) -> None:
        """Take the lock without waiting.

        Raises:
            SpoolError: another process owns the directory.
        """
        self.directory = directory
        fd = os.open(directory / OWNER_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool {directory} is in use by another framesift process; stop it, or use "
                "`framesift ctl spool …` to act through the running agent"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def release(self) -> None:
        """Unlock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
