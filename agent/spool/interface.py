"""The spool's two seams, as Protocols.

* ``Spool``: what the pipeline (``put_many``), the uploader (``lease`` … ``pending``) and
  the daemon (``stats``, ``retry_dead``, ``purge``, ``close``) use. Implemented by
  ``DiskSpool`` (durable) and ``MemorySpool`` (tests).
* ``RecordStore``: where a spool keeps its records. Implemented by ``DiskStorage``
  (diskcache) and ``MemoryStore``; ``RecordQueue`` holds the rules on top of either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from agent.errors import SpoolError
from agent.spool.records import DeliveryState, SpoolEntry, SpoolItem, SpoolRecord, SpoolStats


class Spool(Protocol):
    """A bounded queue of SpoolItems with at-least-once delivery.

    Times are seconds (``lease_s``, ``wait_s``, ``retry_in_s``); sequence numbers are ints.
    """

    def put(self, item: SpoolItem) -> int:
        """Store one item; its sequence number. Raises SpoolFullError when it cannot."""

    def put_many(self, items: Sequence[SpoolItem]) -> list[int]:
        """Store ``items`` together (all or none); their sequence numbers. Raises SpoolFullError."""

    def lease(self, lease_s: float = 300.0, wait_s: float = 0.0) -> SpoolRecord | None:
        """The oldest due record, handed out for ``lease_s``; waits up to ``wait_s`` for one."""

    def ack(self, seq: int) -> None:
        """Delivered: delete the record."""

    def nack(self, seq: int, retry_in_s: float, error: str) -> None:
        """Failed, retryable: count the attempt, hand the record out again after ``retry_in_s``."""

    def release(self, seq: int) -> None:
        """Give a lease back without counting an attempt."""

    def dead_letter(self, seq: int, error: str) -> None:
        """Failed permanently: park the record in the dead-letter area."""

    def set_server_id(self, seq: int, server_id: str) -> None:
        """Remember the destination's image id (a retry then only re-sends the annotation)."""

    def retry_dead(self, seqs: Sequence[int] | None = None) -> int:
        """Make dead records (all, or ``seqs``) ready again; how many."""

    def purge(self, *, dead_only: bool = True) -> int:
        """Delete dead records (or every record not being uploaded); how many."""

    def pending(self) -> int:
        """Records neither delivered nor dead (leased ones included)."""

    def stats(self) -> SpoolStats:
        """Counts and sizes."""

    def close(self) -> None:
        """Release the spool's resources."""

    def list(self, state: str | None = None, limit: int = 100) -> list[SpoolEntry]:
        """Up to ``limit`` records in sequence order, all or only ``ready`` / ``dead`` ones."""


class StorageWriteError(SpoolError):
    """A RecordStore could not write (e.g. the disk is full); nothing of that write is stored."""


class RecordStore(Protocol):
    """Where a spool's records live: items, delivery states and counters, by sequence number.

    Writes raise StorageWriteError and are atomic: ``insert`` stores the whole group or
    nothing.
    """

    @property
    def label(self) -> str:
        """Names the store in messages (a directory, or "memory")."""

    def load_deliveries(self) -> Iterable[tuple[int, DeliveryState]]:
        """Every stored record's sequence number and delivery state."""

    def high_water_seq(self) -> int:
        """The largest sequence number ever inserted (0 for a new store)."""

    def read_item(self, seq: int) -> SpoolItem | None:
        """The item of record ``seq``, or None when it is not stored."""

    def insert(self, records: Sequence[tuple[int, SpoolItem, DeliveryState]]) -> None:
        """Store new records and raise the high-water sequence number, in one transaction."""

    def write_delivery(self, seq: int, delivery: DeliveryState) -> None:
        """Replace the delivery state of record ``seq``."""

    def delete(self, seq: int, *, count: str | None = None) -> None:
        """Delete record ``seq`` (item and delivery state together); with ``count``, add 1 to that
        persistent counter in the same transaction (why the record went: delivered, dropped, expired)."""

    def add_to_counter(self, name: str, by: int = 1) -> None:
        """Add ``by`` to the persistent counter ``name``."""

    def counter(self, name: str) -> int:
        """The persistent counter ``name`` (0 if never added to)."""

    def close(self) -> None:
        """Release the store."""
