"""RecordQueue: the spool's rules over any RecordStore (caps, overflow, leases, retries, dead letters).

Delivery is at-least-once: ``lease`` hands a record to one uploader; ``ack`` deletes
it, ``nack`` schedules a retry, ``dead_letter`` parks it. Leases live in memory only
(``LeaseIndex``), so a record leased by a process that died is ready again after a
restart. Exactly-once at the destination comes from the server's deduplication on the
SHA-256 of the bytes, which are never re-encoded.

``DiskSpool`` runs these rules over ``DiskStorage``, ``MemorySpool`` over a dict.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

from agent.errors import DiskFullError, SpoolError, SpoolFullError
from agent.runtime.disk_full import is_disk_full
from agent.spool.encoding import SpoolFormatError
from agent.spool.interface import RecordStore, StorageWriteError
from agent.spool.lease_index import LeaseIndex
from agent.spool.records import DeliveryState, SpoolEntry, SpoolItem, SpoolRecord, SpoolStats, stored_bytes

logger = logging.getLogger(__name__)

OverflowPolicy = Literal["drop_oldest", "reject_new"]


class RecordQueue:
    """A bounded, thread-safe queue of SpoolItems kept in a RecordStore."""

    def __init__(
        self,
        store: RecordStore,
        *,
        max_bytes: int = 2 * 1024**3,
        max_count: int = 100_000,
        overflow: OverflowPolicy = "drop_oldest",
        max_age_s: float | None = None,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Load the store's records; every one is ready (or dead) and unleased.

        Args:
            store: where the records live.
            max_bytes: cap on the records' ``stored_bytes``, bytes.
            max_count: cap on the number of records.
            overflow: at a cap, ``drop_oldest`` deletes the oldest unleased records,
                ``reject_new`` refuses the new ones.
            max_age_s: records older than this (seconds since spooled) are dropped
                instead of leased; None keeps them forever.
            read_only: refuse every change (``stats``/``list`` only).
            clock: wall clock, seconds since the epoch (creation and retry times).
            monotonic: monotonic clock, seconds (lease expiry, waiting).
        """
        if overflow not in ("drop_oldest", "reject_new"):
            raise ValueError(f"overflow must be drop_oldest or reject_new, got {overflow!r}")
        self.store = store
        self.max_bytes, self.max_count = max_bytes, max_count
        self.overflow, self.max_age_s = overflow, max_age_s
        self.read_only = read_only
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.Condition()
        self._index = LeaseIndex()
        for seq, delivery in store.load_deliveries():
            self._index.add(seq, delivery)
        self._next_seq = max(self._index.highest_seq(), store.high_water_seq()) + 1

    def _require_owner(self) -> None:
        if self.read_only:
            raise SpoolError(f"spool {self.store.label} is open read-only")

    def _count_safely(self, name: str, by: int = 1) -> None:
        try:
            self.store.add_to_counter(name, by)
        except StorageWriteError:
            logger.warning("spool counter %s not updated: disk full", name)

    def _delete(self, seq: int, count: str | None = None) -> None:
        self.store.delete(seq, count=count)
        self._index.forget(seq)

    def _write_delivery(self, seq: int, delivery: DeliveryState) -> None:
        """Persist a record's delivery state; on a full disk it lives in memory only (after a restart the
        record is delivered again and deduplicated by the server: at-least-once, nothing lost)."""
        try:
            self.store.write_delivery(seq, delivery)
        except StorageWriteError as exc:
            logger.warning("spool: delivery state of seq %d kept in memory only: %s", seq, exc)

    # ------------------------------------------------------------ put

    def put(self, item: SpoolItem) -> int:
        """Store one item durably; see ``put_many``."""
        return self.put_many([item])[0]

    def put_many(self, items: Sequence[SpoolItem]) -> list[int]:
        """Store ``items`` in one transaction and return their sequence numbers.

        Returns only after the records are committed (for ``DiskStorage``: fsynced, one
        fsync for the whole group). Items without ``created_s`` get the current time.
        When the spool is at its byte or count cap, ``drop_oldest`` deletes the oldest
        records not being uploaded (counted and logged); ``reject_new`` keeps the old ones,
        stores the frames of the group that still fit (in order) and refuses the rest.

        Raises:
            SpoolFullError: under ``reject_new``, some frames did not fit (``stored`` lists the
                ones that did, each refused frame is counted), or the group alone exceeds a cap
                under ``drop_oldest`` (nothing stored).
            DiskFullError: the disk is full; nothing of the group is stored.
        """
        self._require_owner()
        if not items:
            return []
        sizes = [stored_bytes(item) for item in items]
        if self.overflow == "reject_new":
            with self._lock:
                fits = self._index.fitting_prefix(sizes, self.max_count, self.max_bytes)
                stored = self.put_many(items[:fits]) if 0 < fits < len(items) else None
            if stored is not None or fits == 0:
                self._count_safely("rejected", len(items) - fits)
                raise SpoolFullError(
                    f"spool {self.store.label} is full (caps {self.max_count} frames, {self.max_bytes} bytes; "
                    f"overflow reject_new): {len(items) - fits} of {len(items)} frame(s) refused",
                    stored=stored,
                )
        if sum(sizes) > self.max_bytes or len(items) > self.max_count:
            self._count_safely("rejected", len(items))
            raise SpoolFullError(
                f"{len(items)} frame(s) of {sum(sizes)} bytes exceed the spool caps "
                f"({self.max_count} frames, {self.max_bytes} bytes)"
            )
        now = self._clock()
        with self._lock:
            self._make_room(len(items), sum(sizes))
            seqs = list(range(self._next_seq, self._next_seq + len(items)))
            records = []
            for seq, item, size in zip(seqs, items, sizes, strict=True):
                item.created_s = item.created_s or now
                records.append((seq, item, DeliveryState(bytes=size, created_s=item.created_s)))
            try:
                self.store.insert(records)
            except StorageWriteError as exc:
                self._count_safely("rejected", len(items))
                if is_disk_full(exc):
                    raise DiskFullError(f"spool {self.store.label}: no space left to store a frame") from exc
                raise SpoolError(f"spool {self.store.label}: cannot store frame: {exc}") from exc
            self._next_seq += len(items)
            for seq, _, delivery in records:
                self._index.add(seq, delivery)  # ready now: not_before_s is 0
            self._lock.notify_all()
        return seqs

    def _make_room(self, count: int, size: int) -> None:
        index = self._index
        while len(index) and index.over_caps(count, size, self.max_count, self.max_bytes):
            if self.overflow == "reject_new":
                self._count_safely("rejected", count)
                raise SpoolFullError(
                    f"spool {self.store.label} is full ({len(index)} frames, {index.bytes} bytes; caps "
                    f"{self.max_count} frames, {self.max_bytes} bytes) and overflow is reject_new"
                )
            victim = index.oldest_unleased()
            if victim is None:
                self._count_safely("rejected")
                raise SpoolFullError(f"spool {self.store.label} is full and every frame is being uploaded")
            self._delete(victim, count="dropped")
            logger.warning("spool full: dropped the oldest frame (seq %d) to make room", victim)

    # ------------------------------------------------------------ lease / ack / nack

    def lease(self, lease_s: float = 300.0, wait_s: float = 0.0) -> SpoolRecord | None:
        """The oldest ready record whose retry time has come, leased for ``lease_s`` seconds.

        Waits up to ``wait_s`` seconds for one. Expired records (``max_age_s``) are dropped
        on the way; a record that cannot be decoded goes to the dead letters.
        """
        self._require_owner()
        deadline = self._monotonic() + wait_s
        with self._lock:
            while True:
                record = self._next_ready(lease_s)
                if record is not None or self._monotonic() >= deadline:
                    return record
                timeout = min(0.5, max(0.0, deadline - self._monotonic()))
                next_due_s = self._index.next_due_s()
                if next_due_s is not None:  # wake up when the next retry is due
                    timeout = min(timeout, max(0.005, next_due_s - self._clock()))
                self._lock.wait(timeout=timeout)

    def _next_ready(self, lease_s: float) -> SpoolRecord | None:
        index = self._index
        now_wall, now_mono = self._clock(), self._monotonic()
        index.expire_leases(now_mono)
        for seq in index.due(now_wall):
            delivery = index.deliveries[seq]
            if self.max_age_s is not None and now_wall - delivery.created_s > self.max_age_s:
                self._delete(seq, count="expired")
                logger.warning("spool: frame seq %d expired after %.0f s without delivery", seq, self.max_age_s)
                continue
            try:
                item = self.store.read_item(seq)
            except SpoolFormatError as exc:
                self._park(seq, delivery, f"cannot decode: {exc}")
                continue
            if item is None:  # should not happen; keep the index honest
                self._delete(seq)
                continue
            index.lease(seq, now_mono + lease_s)
            return SpoolRecord(seq, item, delivery.attempts, delivery.server_id, delivery.last_error)
        return None

    def ack(self, seq: int) -> None:
        """Delivered: delete the record."""
        self._require_owner()
        with self._lock:
            try:
                self._delete(seq, count="delivered")  # one commit: deleted and counted together
            except StorageWriteError as exc:  # disk full: delivered again after a restart (dedup)
                logger.warning("spool: could not delete delivered frame seq %d: %s", seq, exc)
                self._index.forget(seq)
                self._count_safely("delivered")

    def set_server_id(self, seq: int, server_id: str) -> None:
        """Remember the server's image id (a retry then only re-sends the annotation)."""
        self._require_owner()
        with self._lock:
            delivery = self._index.deliveries.get(seq)
            if delivery is not None:
                delivery.server_id = server_id
                self._write_delivery(seq, delivery)

    def nack(self, seq: int, retry_in_s: float, error: str) -> None:
        """Failed, retryable: count the attempt and make the record ready again in ``retry_in_s`` s."""
        self._require_owner()
        with self._lock:
            delivery = self._index.deliveries.get(seq)
            if delivery is None:
                return
            not_before_s = self._clock() + max(0.0, retry_in_s)
            delivery.attempts += 1
            delivery.last_error, delivery.not_before_s = error, not_before_s
            self._write_delivery(seq, delivery)
            self._index.end_lease(seq)
            self._index.schedule(seq, not_before_s)
            self._lock.notify()

    def release(self, seq: int) -> None:
        """Give a lease back without counting an attempt (shutdown)."""
        with self._lock:
            if self._index.end_lease(seq):
                delivery = self._index.deliveries.get(seq)
                if delivery is not None:
                    self._index.schedule(seq, delivery.not_before_s)
                self._lock.notify()

    def dead_letter(self, seq: int, error: str) -> None:
        """Failed permanently: park the record in the dead-letter area."""
        self._require_owner()
        with self._lock:
            delivery = self._index.deliveries.get(seq)
            if delivery is None:
                return
            self._park(seq, delivery, error)

    def _park(self, seq: int, delivery: DeliveryState, error: str) -> None:
        delivery.state, delivery.attempts, delivery.last_error = "dead", delivery.attempts + 1, error
        self._write_delivery(seq, delivery)
        self._index.end_lease(seq)
        logger.warning("spool: frame seq %d moved to dead letters: %s", seq, error)

    # ------------------------------------------------------------ admin

    def retry_dead(self, seqs: Sequence[int] | None = None) -> int:
        """Make dead records (all, or the given ones) ready again; returns how many."""
        self._require_owner()
        count = 0
        with self._lock:
            for seq in self._index.seqs("dead"):
                if seqs is None or seq in seqs:
                    delivery = self._index.deliveries[seq]
                    delivery.state, delivery.attempts, delivery.not_before_s = "ready", 0, 0.0
                    self._write_delivery(seq, delivery)
                    self._index.schedule(seq, 0.0)
                    count += 1
            self._lock.notify_all()
        return count

    def purge(self, *, dead_only: bool = True) -> int:
        """Delete dead records (or every record not being uploaded); returns how many."""
        self._require_owner()
        with self._lock:
            doomed = [s for s in self._index.seqs("dead" if dead_only else None) if not self._index.is_leased(s)]
            for seq in doomed:
                self._delete(seq)
        return len(doomed)

    def stats(self) -> SpoolStats:
        """Current counts and sizes."""
        with self._lock:
            index = self._index
            dead = index.count_in("dead")
            return SpoolStats(
                count=len(index), bytes=index.bytes, ready=len(index) - dead - index.leased_count(),
                leased=index.leased_count(), dead=dead, dropped=self.store.counter("dropped"),
                rejected=self.store.counter("rejected"), expired=self.store.counter("expired"),
                delivered=self.store.counter("delivered"),
            )  # fmt: skip

    def pending(self) -> int:
        """Records not yet delivered and not dead."""
        with self._lock:
            return self._index.count_in("ready")

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def list(self, state: str | None = None, limit: int = 100) -> list[SpoolEntry]:
        """Records in sequence order, optionally only ``ready`` or ``dead`` ones."""
        out: list[SpoolEntry] = []
        for seq in self._index.seqs(state)[:limit]:
            d = self._index.deliveries.get(seq)
            if d is None:  # deleted meanwhile (``list`` does not block the uploaders)
                continue
            entry = SpoolEntry(seq, d.state, d.attempts, d.bytes, d.created_s, d.server_id, d.last_error)
            try:
                item = self.store.read_item(seq)
            except SpoolFormatError:
                item = None
            if item is not None:
                entry.project, entry.batch_name = item.project, item.batch_name
                entry.strategy, entry.source = item.strategy, item.source
            out.append(entry)
        return out
