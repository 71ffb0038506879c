"""DiskSpool: the durable offline queue of frames waiting for upload.

Composes the spool's parts:

* ``SpoolOwnership`` (``ownership.py``): one process owns the directory (``owner.lock``);
  others may open it read-only for ``stats`` and ``list``;
* ``DiskStorage`` (``storage.py``): diskcache/SQLite, one fsynced transaction per
  ``put_many``, the ballast reserve for full disks;
* ``RecordQueue`` (``record_queue.py``) with its ``LeaseIndex``: caps and overflow,
  lease/ack/nack, retries, dead letters, expiry;
* the versioned encoding (``encoding.py``) that still reads v1 spools.

A record acknowledged by ``put`` survives a kill -9 or a power cut.

The record types are re-exported here for existing imports; new code imports them
from ``agent.spool.records``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.spool.ownership import SpoolOwnership
from agent.spool.record_queue import OverflowPolicy, RecordQueue
from agent.spool.records import SpoolEntry, SpoolItem, SpoolRecord, SpoolStats
from agent.spool.storage import BALLAST_BYTES, BALLAST_NAME, DiskStorage

__all__ = [
    "BALLAST_BYTES",
    "BALLAST_NAME",
    "DiskSpool",
    "OverflowPolicy",
    "SpoolEntry",
    "SpoolItem",
    "SpoolRecord",
    "SpoolStats",
]


class DiskSpool(RecordQueue):
    """A bounded, durable, crash-safe queue of SpoolItems in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 2 * 1024**3,
        max_count: int = 100_000,
        overflow: OverflowPolicy = "drop_oldest",
        max_age_s: float | None = None,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Open (creating) the spool in ``directory``; see ``RecordQueue`` for the options.

        Raises:
            SpoolError: another process owns it (unless ``read_only``), or it cannot be opened.
            SpoolFormatError: it was written by a newer framesift.
        """
        if overflow not in ("drop_oldest", "reject_new"):
            raise ValueError(f"overflow must be drop_oldest or reject_new, got {overflow!r}")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._ownership = None if read_only else SpoolOwnership(directory)
        try:
            self.storage = DiskStorage(directory, keep_ballast=not read_only)
            try:
                super().__init__(self.storage, max_bytes=max_bytes, max_count=max_count, overflow=overflow,
                                 max_age_s=max_age_s, read_only=read_only, clock=clock,
                                 monotonic=monotonic)  # fmt: skip
            except BaseException:
                self.storage.close()
                raise
        except BaseException:
            if self._ownership is not None:
                self._ownership.release()
            raise

    def close(self) -> None:
        """Close the database and release ownership."""
        super().close()
        if self._ownership is not None:
            self._ownership.release()
            self._ownership = None
