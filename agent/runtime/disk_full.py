"""One mapping of "no space left" to :class:`~agent.errors.DiskFullError`, for every write path.

SQLite reports a full disk as ``sqlite3.OperationalError("database or disk is full")``
(SQLITE_FULL, also when its journal cannot grow); the OS as ``OSError`` with ``ENOSPC``
or ``EDQUOT``. The spool, the limit store, scan progress, the config cache and the
hub's storage all wrap their writes in :func:`disk_full_as_error`.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from agent.errors import DiskFullError

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means the disk has no space left."""
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
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_full_as_error(what: str) -> Iterator[None]:
    """Re-raise a full-disk failure of the block as ``DiskFullError(what: no space left …)``."""
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"{what}: no space left on the device") from exc
        raise
