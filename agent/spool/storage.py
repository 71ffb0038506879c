"""DiskStorage: the spool's records in a diskcache database, durable at every commit.

Durability: SQLite in WAL mode with ``synchronous=FULL``, and every value is stored
*inside* the database (no side files), so the JPEG bytes and the metadata of a record
are one transaction, fsynced before ``insert`` returns: a kill -9 or a power cut
after that loses nothing.

Full disks: a small ballast file (``reserve.bin``) is kept next to the database. If
the database cannot even be opened because the disk is full, the ballast is deleted
and the open retried, so the agent can still drain its queue; the ballast is
reserved again at the next start that has room.

Keys (unchanged since v1): ``("rec", seq)`` → the encoded item, ``("meta", seq)`` →
the encoded delivery state, ``("stat", name)`` → an int counter (``"seq"`` is the
high-water sequence number). Values are encoded by ``agent.spool.encoding``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import diskcache

from agent.errors import DiskFullError, SpoolError
from agent.runtime.disk_full import is_disk_full
from agent.spool.encoding import decode_delivery, decode_record, encode_delivery, encode_record
from agent.spool.interface import StorageWriteError
from agent.spool.records import DeliveryState, SpoolItem

logger = logging.getLogger(__name__)

BALLAST_NAME = "reserve.bin"
BALLAST_BYTES = 256 * 1024
"""Space (bytes) kept aside so that a spool on a full disk can still be opened and drained."""

_ITEM, _DELIVERY, _COUNTER = "rec", "meta", "stat"
_HIGH_WATER = "seq"


def _open_cache(directory: Path) -> diskcache.Cache:
    return diskcache.Cache(
        str(directory / "queue"),
        timeout=60,
        sqlite_synchronous=2,  # FULL: fsync at every commit
        sqlite_journal_mode="wal",
        disk_min_file_size=2**31,  # values inline: one transaction holds bytes + metadata
        size_limit=2**62,
        eviction_policy="none",
        cull_limit=0,
        statistics=0,
    )


def reserve_ballast(directory: Path) -> None:
    """Write ``BALLAST_BYTES`` of reserve (fsynced) unless present; silently skipped when no room."""
    ballast = directory / BALLAST_NAME
    if ballast.exists():
        return
    try:
        with ballast.open("wb") as fh:
            fh.write(b"\0" * BALLAST_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        ballast.unlink(missing_ok=True)  # no room now; reserved again at the next start


class DiskStorage:
    """A RecordStore in ``<directory>/queue`` (diskcache over SQLite)."""

    def __init__(self, directory: Path, *, keep_ballast: bool) -> None:
        """Open (creating) the database; with ``keep_ballast`` also reserve the ballast.

        Raises:
            SpoolError: the database cannot be opened.
        """
        self.directory = directory
        try:
            self.cache = _open_cache(directory)
        except sqlite3.OperationalError as exc:
            # a full disk must not keep the agent from draining its queue: the owner frees the
            # ballast reserved for this moment and tries once more; a reader never spends it
            ballast = directory / BALLAST_NAME
            if not is_disk_full(exc, directory):
                raise SpoolError(f"spool {directory}: cannot open: {exc}") from exc
            if not keep_ballast:
                raise DiskFullError(f"spool {directory}: no space left on the device to open it for reading "
                                    "(the reserve is kept for the agent; `framesift ctl spool-stats` asks the "
                                    "running agent)") from exc  # fmt: skip
            if not ballast.exists():
                raise DiskFullError(f"spool {directory}: no space left on the device, and its reserve is "
                                    "already spent; free some space") from exc  # fmt: skip
            ballast.unlink()
            logger.warning("spool %s: disk full at start; released %d bytes of reserve", directory,
                           BALLAST_BYTES)  # fmt: skip
            self.cache = _open_cache(directory)
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed": kept, never deleted here
            raise SpoolError(
                f"spool {directory}: its database {directory / 'queue'} is unreadable ({exc}); move "
                "that directory aside to start an empty spool"
            ) from None
        if keep_ballast:
            reserve_ballast(directory)

    @property
    def label(self) -> str:
        """The spool directory, for messages."""
        return str(self.directory)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StorageWriteError(str(exc)) from exc

    def load_deliveries(self) -> Iterator[tuple[int, DeliveryState]]:
        """Every stored record's sequence number and delivery state (SpoolFormatError if unreadable)."""
        for key in list(self.cache.iterkeys()):
            if isinstance(key, tuple) and key[0] == _DELIVERY:
                raw = self.cache.get(key)
                if raw is not None:
                    yield key[1], decode_delivery(raw, key[1])

    def high_water_seq(self) -> int:
        """The largest sequence number ever inserted (0 for a new spool)."""
        return self.counter(_HIGH_WATER)

    def read_item(self, seq: int) -> SpoolItem | None:
        """The item of record ``seq`` (SpoolFormatError if unreadable), or None."""
        raw = self.cache.get((_ITEM, seq))
        return None if raw is None else decode_record(raw, seq)

    def insert(self, records: Sequence[tuple[int, SpoolItem, DeliveryState]]) -> None:
        """Store new records and the high-water sequence number in one fsynced transaction."""
        with self._writing(), self.cache.transact():
            for seq, item, delivery in records:
                self.cache.set((_ITEM, seq), encode_record(item))
                self.cache.set((_DELIVERY, seq), encode_delivery(delivery))
            self.cache.set((_COUNTER, _HIGH_WATER), max(seq for seq, _, _ in records))  # never reused

    def write_delivery(self, seq: int, delivery: DeliveryState) -> None:
        """Replace the delivery state of record ``seq``."""
        with self._writing():
            self.cache.set((_DELIVERY, seq), encode_delivery(delivery))

    def delete(self, seq: int, *, count: str | None = None) -> None:
        """Delete record ``seq`` (item and delivery state) and count it under ``count``, in one fsynced
        transaction: an upload's ack is one commit, not two."""
        with self._writing(), self.cache.transact():
            self.cache.delete((_ITEM, seq))
            self.cache.delete((_DELIVERY, seq))
            if count is not None:
                self.cache.incr((_COUNTER, count), 1, default=0)

    def add_to_counter(self, name: str, by: int = 1) -> None:
        """Add ``by`` to the persistent counter ``name``."""
        with self._writing():
            self.cache.incr((_COUNTER, name), by, default=0)

    def counter(self, name: str) -> int:
        """The persistent counter ``name`` (0 if never added to)."""
        return int(self.cache.get((_COUNTER, name), 0))

    def close(self) -> None:
        """Close the database (its last connection checkpoints the WAL)."""
        self.cache.close()
