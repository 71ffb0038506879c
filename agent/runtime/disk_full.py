"""One mapping of "no space left" to :class:`~agent.errors.DiskFullError`, for every write path.

SQLite reports a full disk as ``sqlite3.OperationalError("database or disk is full")``
(SQLITE_FULL, also when its journal cannot grow); the OS as ``OSError`` with ``ENOSPC``
or ``EDQUOT``. The spool, the limit store, scan progress, the config cache and the
hub's storage all wrap their writes in :func:`disk_full_as_error`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import DiskFullError

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


MIN_FREE_BYTES = 64 * 1024
"""Below this, an SQLite I/O error on a write is taken for a full disk (tmpfs and some
filesystems report SQLITE_IOERR, not SQLITE_FULL, when the journal cannot grow)."""


def free_bytes(path: Path) -> int | None:
    """Bytes available to this user on the filesystem of ``path`` (its nearest existing parent), or None."""
    for candidate in (path, *path.parents):
        try:
            st = os.statvfs(candidate)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize
    return None


def is_disk_full(exc: BaseException, path: Path | None = None) -> bool:
    """True when ``exc`` (or what it was raised from) means the disk has no space left.

    With ``path``, an SQLite "disk I/O error" also counts when that filesystem is (almost) full.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return True
        if isinstance(current, sqlite3.OperationalError) and "disk is full" in str(current):
            return True
        if isinstance(current, sqlite3.OperationalError) and "disk I/O error" in str(current) and path is not None:
            free = free_bytes(path)
            if free is not None and free < MIN_FREE_BYTES:
                return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_full_as_error(what: str, path: Path | None = None) -> Iterator[None]:
    """Re-raise a full-disk failure of the block as ``DiskFullError(what: no space left …)``.

    ``path``: where the block writes (lets an ambiguous SQLite I/O error be checked against free space).
    """
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc, path):
            raise DiskFullError(f"{what}: no space left on the device") from exc
        raise
