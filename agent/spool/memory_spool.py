"""MemorySpool: the spool's rules without durability, for tests.

Same semantics as ``DiskSpool`` (caps and overflow, lease/ack/nack, retries, dead
letters, expiry, read-only refusal: the same ``RecordQueue``), but the records live in
a dict and are gone with the process. Items go through the same versioned encoding
as on disk, so a leased item is a fresh copy, never the object that was put.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from agent.spool.encoding import decode_delivery, decode_record, encode_delivery, encode_record
from agent.spool.record_queue import OverflowPolicy, RecordQueue
from agent.spool.records import DeliveryState, SpoolItem


class MemoryStore:
    """A RecordStore in dicts (encoded values, like ``DiskStorage``)."""

    label = "memory"

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.deliveries: dict[int, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self._high_water_seq = 0

    def load_deliveries(self) -> Iterator[tuple[int, DeliveryState]]:
        """Every record's sequence number and delivery state."""
        for seq, raw in list(self.deliveries.items()):
            yield seq, decode_delivery(raw, seq)

    def high_water_seq(self) -> int:
        """The largest sequence number ever inserted."""
        return self._high_water_seq

    def read_item(self, seq: int) -> SpoolItem | None:
        """A fresh copy of record ``seq``'s item, or None."""
        raw = self.items.get(seq)
        return None if raw is None else decode_record(raw, seq)

    def insert(self, records: Sequence[tuple[int, SpoolItem, DeliveryState]]) -> None:
        """Store new records (all or none: encoding happens before anything is stored)."""
        encoded = [(seq, encode_record(item), encode_delivery(d)) for seq, item, d in records]
        for seq, item, delivery in encoded:
            self.items[seq], self.deliveries[seq] = item, delivery
        self._high_water_seq = max([self._high_water_seq, *(seq for seq, _, _ in records)])

    def write_delivery(self, seq: int, delivery: DeliveryState) -> None:
        """Replace record ``seq``'s delivery state."""
        self.deliveries[seq] = encode_delivery(delivery)

    def delete(self, seq: int, *, count: str | None = None) -> None:
        """Delete record ``seq``; with ``count``, add 1 to that counter."""
        self.items.pop(seq, None)
        self.deliveries.pop(seq, None)
        if count is not None:
            self.add_to_counter(count)

    def add_to_counter(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + by

    def counter(self, name: str) -> int:
        """Counter ``name`` (0 if never added to)."""
        return self.counters.get(name, 0)

    def close(self) -> None:
        """Nothing to release."""


class MemorySpool(RecordQueue):
    """A non-durable spool with DiskSpool's semantics; pass ``store`` to share records
    between instances (a "reopen")."""

    def __init__(
        self,
        *,
        store: MemoryStore | None = None,
        max_bytes: int = 2 * 1024**3,
        max_count: int = 100_000,
        overflow: OverflowPolicy = "drop_oldest",
        max_age_s: float | None = None,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """See ``RecordQueue`` for the options (sizes in bytes, times in seconds)."""
        super().__init__(store if store is not None else MemoryStore(), max_bytes=max_bytes,
                         max_count=max_count, overflow=overflow, max_age_s=max_age_s,
                         read_only=read_only, clock=clock, monotonic=monotonic)  # fmt: skip
