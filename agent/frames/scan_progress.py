"""ScanProgress: which files a folder scan has finished, so a rerun resumes.

A file is marked done (by path, size and mtime) only after the frames selected
from its batch are in the spool; an interrupted scan re-reads at most what was not
yet recorded. Records are committed in groups: ``mark_done`` adds to an in-memory
group that is written in one fully synced transaction once it holds
``group_files`` files or its oldest entry is ``group_delay_ms`` old (checked on the
next ``mark_done``), and on ``flush``/``close``. A file in the group already counts
as done for ``is_done``. Committing late is the safe direction: after a crash the
files of an unwritten group are read again (and deduplicated by the server), never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import diskcache

from agent.errors import DiskFullError
from agent.runtime.disk_full import disk_full_as_error

ProgressKey = tuple[str, int, int]
logger = logging.getLogger(__name__)


class ScanProgress:
    """A persistent set of finished files, written in groups."""

    def __init__(self, directory: Path, *, group_files: int = 64, group_delay_ms: float = 250.0) -> None:
        """Open the record; on a full disk it starts empty (files count as not done: read again, never
        lost) and is opened at the next commit."""
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._cache: diskcache.Cache | None = None
        try:
            self._open()
        except DiskFullError as exc:
            logger.warning("%s: files are read again until it opens", exc)
        self.group_files = max(1, group_files)
        self.group_delay_s = max(0.0, group_delay_ms / 1000.0)
        self._group: set[ProgressKey] = set()
        self._group_since = 0.0
        self._lock = threading.Lock()
        self.commits = 0

    def _open(self) -> diskcache.Cache:
        if self._cache is None:
            with disk_full_as_error(f"scan progress {self.directory}", self.directory):
                self._cache = diskcache.Cache(str(self.directory), sqlite_synchronous=2, eviction_policy="none")
        return self._cache

    @staticmethod
    def _key(path: Path) -> ProgressKey | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (str(path.resolve()), st.st_size, st.st_mtime_ns)

    def is_done(self, path: Path) -> bool:
        """True when this exact file (same size and mtime) was finished before."""
        key = self._key(path)
        if key is None:
            return False
        with self._lock:
            if key in self._group:
                return True
        return self._cache is not None and key in self._cache

    def mark_done(self, paths: Iterable[Path]) -> None:
        """Record files as finished; the group is committed when full or old enough.

        Raises:
            DiskFullError: the group could not be written (its files will be read again later).
        """
        keys = [k for k in (self._key(p) for p in paths) if k is not None]
        with self._lock:
            if keys and not self._group:
                self._group_since = time.monotonic()
            self._group.update(keys)
            due = len(self._group) >= self.group_files or (
                self._group and time.monotonic() - self._group_since >= self.group_delay_s
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Commit the group now (one transaction, fully synced).

        Raises:
            DiskFullError: no space left; the group is dropped (its files are read again after a restart).
        """
        with self._lock:
            group, self._group = self._group, set()
            if not group:
                return
            cache = self._open()
            with disk_full_as_error(f"scan progress {self.directory}", self.directory), cache.transact():
                for key in group:
                    cache.set(key, True)
            self.commits += 1

    def close(self) -> None:
        """Commit what is pending, then close the database."""
        try:
            self.flush()
        except DiskFullError as exc:  # the last group is read again next time (at-least-once), not lost
            logger.warning("%s: the last files scanned are read again next time", exc)
        finally:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
