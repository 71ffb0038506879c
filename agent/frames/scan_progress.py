"""ScanProgress: which files a folder scan has finished, so a rerun resumes.

A file is marked done (by path, size and mtime) only after the frames selected
from its batch are in the spool; an interrupted scan re-reads at most one batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import diskcache


class ScanProgress:
    """A persistent set of finished files."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(directory), sqlite_synchronous=2, eviction_policy="none")

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (str(path.resolve()), st.st_size, st.st_mtime_ns)

    def is_done(self, path: Path) -> bool:
        """True when this exact file (same size and mtime) was finished before."""
        key = self._key(path)
        return key is not None and key in self.cache

    def mark_done(self, paths: Iterable[Path]) -> None:
        """Record files as finished (one transaction)."""
        with self.cache.transact():
            for path in paths:
                key = self._key(path)
                if key is not None:
                    self.cache.set(key, True)

    def close(self) -> None:
        """Close the database."""
        self.cache.close()
