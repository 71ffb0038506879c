"""DiskSpool: the durable offline queue of frames waiting for upload (diskcache).

Durability: the diskcache database runs SQLite in WAL mode with
``synchronous=FULL`` and every value is stored *inside* the database (no side
files), so the JPEG bytes and the metadata of a record are one transaction,
fsynced before ``put`` returns. A record acknowledged by ``put`` survives a
kill -9 or a power cut.

Delivery is at-least-once: ``lease`` hands a record to one uploader; ``ack``
deletes it, ``nack`` schedules a retry, ``dead_letter`` parks it. Leases live in
memory only, so a record leased by a process that died is simply ready again
after restart. Exactly-once at the destination comes from the server's
deduplication on the SHA-256 of the bytes, which are never re-encoded.

One process owns a spool directory (an exclusive ``flock`` on ``owner.lock``);
others may open it read-only for ``stats`` and ``list``.
"""

from __future__ import annotations

import fcntl
import heapq
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import diskcache

from agent.errors import SpoolError, SpoolFullError

logger = logging.getLogger(__name__)

OverflowPolicy = Literal["drop_oldest", "reject_new"]
_REC, _META, _STAT = "rec", "meta", "stat"
BALLAST_NAME = "reserve.bin"
BALLAST_BYTES = 256 * 1024
"""Space kept aside so that a spool on a full disk can still be opened and drained."""


@dataclass
class SpoolItem:
    """What the pipeline puts into the spool (everything needed to upload later).

    Attributes:
        jpeg: final bytes, uploaded as they are.
        sha256: hex digest of ``jpeg``.
        project: destination project.
        batch_name: labeling batch.
        tags: upload tags.
        strategy: the strategy that selected the frame.
        inference_id: links image, annotation and prediction.
        annotation: {"name", "body", "content_type"} or None.
        credit: the limit credit, to give back on a server-side duplicate, or None.
        source: where the frame came from (file path, camera id).
    """

    jpeg: bytes
    sha256: str
    project: str
    batch_name: str
    tags: list[str]
    strategy: str
    inference_id: str
    annotation: dict[str, str] | None = None
    credit: dict[str, Any] | None = None
    source: str = ""
    created_s: float = 0.0


@dataclass
class SpoolRecord:
    """A leased record: the item plus its delivery state."""

    seq: int
    item: SpoolItem
    attempts: int = 0
    server_id: str | None = None
    last_error: str | None = None


@dataclass
class SpoolStats:
    """Counts and sizes (``dropped``/``expired``/``delivered`` since the spool was created)."""

    count: int = 0
    bytes: int = 0
    ready: int = 0
    leased: int = 0
    dead: int = 0
    dropped: int = 0
    rejected: int = 0
    expired: int = 0
    delivered: int = 0


@dataclass
class _Meta:
    state: str = "ready"  # ready | dead
    attempts: int = 0
    server_id: str | None = None
    last_error: str | None = None
    bytes: int = 0
    created_s: float = 0.0
    not_before_s: float = 0.0  # wall clock; survives restarts


@dataclass
class SpoolEntry:
    """One line of ``list``."""

    seq: int
    state: str
    attempts: int
    bytes: int
    created_s: float
    server_id: str | None
    last_error: str | None
    project: str = ""
    batch_name: str = ""
    strategy: str = ""
    source: str = ""


@dataclass
class _Index:
    meta: dict[int, _Meta] = field(default_factory=dict)
    heap: list[tuple[float, int]] = field(default_factory=list)  # (not_before_s, seq) of ready
    leased: dict[int, float] = field(default_factory=dict)  # seq -> lease expiry (monotonic)
    bytes: int = 0


class DiskSpool:
    """A bounded, durable, crash-safe queue of SpoolItems."""

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
        if overflow not in ("drop_oldest", "reject_new"):
            raise ValueError(f"overflow must be drop_oldest or reject_new, got {overflow!r}")
        self.directory = directory
        self.max_bytes, self.max_count = max_bytes, max_count
        self.overflow, self.max_age_s = overflow, max_age_s
        self.read_only = read_only
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.Condition()
        self._lock_file: int | None = None
        directory.mkdir(parents=True, exist_ok=True)
        if not read_only:
            self._take_ownership()
        try:
            self.cache = self._open_cache()
        except sqlite3.OperationalError as exc:
            # a full disk must not keep the agent from draining its queue: free the
            # ballast reserved for this moment and try once more
            ballast = directory / BALLAST_NAME
            if "full" not in str(exc) or not ballast.exists():
                raise SpoolError(f"spool {directory}: cannot open: {exc}") from exc
            ballast.unlink()
            logger.warning("spool %s: disk full at start; released %d bytes of reserve", directory,
                           BALLAST_BYTES)  # fmt: skip
            self.cache = self._open_cache()
        if not read_only:
            self._reserve_ballast()
        self._index = _Index()
        self._load_index()
        self._next_seq = max(max(self._index.meta, default=0), self._stat("seq")) + 1

    def _open_cache(self) -> diskcache.Cache:
        return diskcache.Cache(
            str(self.directory / "queue"),
            timeout=60,
            sqlite_synchronous=2,  # FULL: fsync at every commit
            sqlite_journal_mode="wal",
            disk_min_file_size=2**31,  # values inline: one transaction holds bytes + metadata
            size_limit=2**62,
            eviction_policy="none",
            cull_limit=0,
            statistics=0,
        )

    def _reserve_ballast(self) -> None:
        ballast = self.directory / BALLAST_NAME
        if ballast.exists():
            return
        try:
            with ballast.open("wb") as fh:
                fh.write(b"\0" * BALLAST_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            ballast.unlink(missing_ok=True)  # no room now; reserved again at the next start

    # ------------------------------------------------------------ ownership / index

    def _take_ownership(self) -> None:
        path = self.directory / "owner.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool {self.directory} is in use by another framesift process; stop it, or use "
                "`framesift ctl spool …` to act through the running agent"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_file = fd

    def _load_index(self) -> None:
        for key in list(self.cache.iterkeys()):
            if isinstance(key, tuple) and key[0] == _META:
                raw = self.cache.get(key)
                if raw is None:
                    continue
                meta = _Meta(**raw)
                self._index.meta[key[1]] = meta
                self._index.bytes += meta.bytes
                if meta.state == "ready":
                    self._index.heap.append((meta.not_before_s, key[1]))
        heapq.heapify(self._index.heap)

    def _require_owner(self) -> None:
        if self.read_only:
            raise SpoolError(f"spool {self.directory} is open read-only")

    # ------------------------------------------------------------ counters

    def _bump(self, name: str, by: int = 1) -> None:
        self.cache.incr((_STAT, name), by, default=0)

    def _stat(self, name: str) -> int:
        return int(self.cache.get((_STAT, name), 0))

    # ------------------------------------------------------------ put

    def put(self, item: SpoolItem) -> int:
        """Store one item durably; see ``put_many``."""
        return self.put_many([item])[0]

    def put_many(self, items: list[SpoolItem]) -> list[int]:
        """Store ``items`` durably, in one transaction, and return their sequence numbers.

        Returns only after the records are committed and fsynced (one fsync for the whole
        group: the pipeline puts the frames selected from one inference batch together).
        When the spool is at its byte or count cap, ``drop_oldest`` deletes the oldest
        records not being uploaded (counted and logged); ``reject_new`` raises
        SpoolFullError and keeps the old ones.

        Raises:
            SpoolFullError: cap reached under ``reject_new``, an item alone exceeds the
                byte cap, or the disk is full. Nothing of the group is stored then.
        """
        self._require_owner()
        sizes = [len(i.jpeg) + len(i.annotation["body"] if i.annotation else "") for i in items]
        if sum(sizes) > self.max_bytes or len(items) > self.max_count:
            self._bump_safely("rejected", len(items))
            raise SpoolFullError(
                f"{len(items)} frame(s) of {sum(sizes)} bytes exceed the spool caps "
                f"({self.max_count} frames, {self.max_bytes} bytes)"
            )
        now = self._clock()
        with self._lock:
            self._make_room(len(items), sum(sizes))
            seqs = list(range(self._next_seq, self._next_seq + len(items)))
            metas = []
            try:
                with self.cache.transact():
                    for seq, item, size in zip(seqs, items, sizes, strict=True):
                        item.created_s = item.created_s or now
                        meta = _Meta(bytes=size, created_s=item.created_s)
                        self.cache.set((_REC, seq), asdict(item))
                        self.cache.set((_META, seq), asdict(meta))
                        metas.append(meta)
                    self.cache.set((_STAT, "seq"), seqs[-1])  # high-water mark: never reuse
            except sqlite3.OperationalError as exc:
                self._bump_safely("rejected", len(items))
                raise SpoolFullError(f"spool {self.directory}: cannot store frame: {exc}") from exc
            self._next_seq += len(items)
            for seq, meta in zip(seqs, metas, strict=True):
                self._index.meta[seq] = meta
                self._index.bytes += meta.bytes
                heapq.heappush(self._index.heap, (0.0, seq))
            self._lock.notify_all()
        return seqs

    def _bump_safely(self, name: str, by: int = 1) -> None:
        try:
            self._bump(name, by)
        except sqlite3.OperationalError:
            logger.warning("spool counter %s not updated: disk full", name)

    def _make_room(self, count: int, size: int) -> None:
        idx = self._index
        while idx.meta and (len(idx.meta) + count > self.max_count or idx.bytes + size > self.max_bytes):
            if self.overflow == "reject_new":
                self._bump_safely("rejected")
                raise SpoolFullError(
                    f"spool {self.directory} is full ({len(idx.meta)} frames, {idx.bytes} bytes; caps "
                    f"{self.max_count} frames, {self.max_bytes} bytes) and overflow is reject_new"
                )
            victim = next((s for s in sorted(idx.meta) if s not in idx.leased), None)
            if victim is None:
                self._bump_safely("rejected")
                raise SpoolFullError(f"spool {self.directory} is full and every frame is being uploaded")
            self._delete(victim)
            self._bump_safely("dropped")
            logger.warning("spool full: dropped the oldest frame (seq %d) to make room", victim)

    def _delete(self, seq: int) -> None:
        with self.cache.transact():
            self.cache.delete((_REC, seq))
            self.cache.delete((_META, seq))
        self._forget(seq)

    def _forget(self, seq: int) -> None:
        meta = self._index.meta.pop(seq, None)
        if meta is not None:
            self._index.bytes -= meta.bytes
        self._index.leased.pop(seq, None)

    # ------------------------------------------------------------ lease / ack / nack

    def lease(self, lease_s: float = 300.0, wait_s: float = 0.0) -> SpoolRecord | None:
        """The oldest ready record whose retry time has come, leased for ``lease_s``.

        Waits up to ``wait_s`` for one. Expired records (``max_age_s``) are dropped on the way.
        """
        self._require_owner()
        deadline = self._monotonic() + wait_s
        with self._lock:
            while True:
                record = self._next_ready(lease_s)
                if record is not None or self._monotonic() >= deadline:
                    return record
                timeout = min(0.5, max(0.0, deadline - self._monotonic()))
                if self._index.heap:  # wake up when the next retry is due
                    timeout = min(timeout, max(0.005, self._index.heap[0][0] - self._clock()))
                self._lock.wait(timeout=timeout)

    def _next_ready(self, lease_s: float) -> SpoolRecord | None:
        idx = self._index
        now_wall, now_mono = self._clock(), self._monotonic()
        for seq, until in list(idx.leased.items()):  # a stuck uploader's lease runs out
            if until < now_mono:
                del idx.leased[seq]
                meta = idx.meta.get(seq)
                if meta is not None and meta.state == "ready":
                    heapq.heappush(idx.heap, (meta.not_before_s, seq))
        while idx.heap and idx.heap[0][0] <= now_wall:
            _, seq = heapq.heappop(idx.heap)
            meta = idx.meta.get(seq)
            if meta is None or meta.state != "ready" or seq in idx.leased:
                continue
            if self.max_age_s is not None and now_wall - meta.created_s > self.max_age_s:
                self._delete(seq)
                self._bump_safely("expired")
                logger.warning("spool: frame seq %d expired after %.0f s without delivery", seq, self.max_age_s)
                continue
            raw = self.cache.get((_REC, seq))
            if raw is None:  # should not happen; keep the index honest
                self._delete(seq)
                continue
            idx.leased[seq] = now_mono + lease_s
            return SpoolRecord(seq, SpoolItem(**raw), meta.attempts, meta.server_id, meta.last_error)
        return None

    def ack(self, seq: int) -> None:
        """Delivered: delete the record."""
        self._require_owner()
        with self._lock:
            try:
                self._delete(seq)
            except sqlite3.OperationalError as exc:  # disk full: delivered again after a restart (dedup)
                logger.warning("spool: could not delete delivered frame seq %d: %s", seq, exc)
                self._forget(seq)
            self._bump_safely("delivered")

    def _update_meta(self, seq: int, **changes: Any) -> _Meta | None:
        meta = self._index.meta.get(seq)
        if meta is None:
            return None
        for key, value in changes.items():
            setattr(meta, key, value)
        self.cache.set((_META, seq), asdict(meta))
        return meta

    def set_server_id(self, seq: int, server_id: str) -> None:
        """Remember the server's image id (a retry then only re-sends the annotation)."""
        self._require_owner()
        with self._lock:
            self._update_meta(seq, server_id=server_id)

    def nack(self, seq: int, retry_in_s: float, error: str) -> None:
        """Failed, retryable: count the attempt and make the record ready again later."""
        self._require_owner()
        with self._lock:
            meta = self._index.meta.get(seq)
            if meta is None:
                return
            not_before = self._clock() + max(0.0, retry_in_s)
            self._update_meta(seq, attempts=meta.attempts + 1, last_error=error, not_before_s=not_before)
            self._index.leased.pop(seq, None)
            heapq.heappush(self._index.heap, (not_before, seq))
            self._lock.notify()

    def release(self, seq: int) -> None:
        """Give a lease back without counting an attempt (shutdown)."""
        with self._lock:
            if self._index.leased.pop(seq, None) is not None:
                meta = self._index.meta.get(seq)
                if meta is not None:
                    heapq.heappush(self._index.heap, (meta.not_before_s, seq))
                self._lock.notify()

    def dead_letter(self, seq: int, error: str) -> None:
        """Failed permanently: park the record in the dead-letter area."""
        self._require_owner()
        with self._lock:
            meta = self._index.meta.get(seq)
            if meta is None:
                return
            self._update_meta(seq, state="dead", attempts=meta.attempts + 1, last_error=error)
            self._index.leased.pop(seq, None)
        logger.warning("spool: frame seq %d moved to dead letters: %s", seq, error)

    # ------------------------------------------------------------ admin

    def retry_dead(self, seqs: list[int] | None = None) -> int:
        """Make dead records (all, or the given ones) ready again; returns how many."""
        self._require_owner()
        count = 0
        with self._lock:
            for seq, meta in list(self._index.meta.items()):
                if meta.state == "dead" and (seqs is None or seq in seqs):
                    self._update_meta(seq, state="ready", attempts=0, not_before_s=0.0)
                    heapq.heappush(self._index.heap, (0.0, seq))
                    count += 1
            self._lock.notify_all()
        return count

    def purge(self, *, dead_only: bool = True) -> int:
        """Delete dead records (or every record not being uploaded); returns how many."""
        self._require_owner()
        with self._lock:
            doomed = [
                s
                for s, m in self._index.meta.items()
                if (m.state == "dead" or not dead_only) and s not in self._index.leased
            ]
            for seq in doomed:
                self._delete(seq)
        return len(doomed)

    def list(self, state: str | None = None, limit: int = 100) -> list[SpoolEntry]:
        """Records in sequence order, optionally only ``ready`` or ``dead`` ones."""
        out: list[SpoolEntry] = []
        for seq in sorted(self._index.meta):
            meta = self._index.meta[seq]
            if state is not None and meta.state != state:
                continue
            raw = self.cache.get((_REC, seq)) or {}
            out.append(SpoolEntry(seq, meta.state, meta.attempts, meta.bytes, meta.created_s,
                                  meta.server_id, meta.last_error, raw.get("project", ""),
                                  raw.get("batch_name", ""), raw.get("strategy", ""),
                                  raw.get("source", "")))  # fmt: skip
            if len(out) >= limit:
                break
        return out

    def stats(self) -> SpoolStats:
        """Current counts and sizes."""
        with self._lock:
            idx = self._index
            dead = sum(1 for m in idx.meta.values() if m.state == "dead")
            return SpoolStats(
                count=len(idx.meta), bytes=idx.bytes, ready=len(idx.meta) - dead - len(idx.leased),
                leased=len(idx.leased), dead=dead, dropped=self._stat("dropped"),
                rejected=self._stat("rejected"), expired=self._stat("expired"),
                delivered=self._stat("delivered"),
            )  # fmt: skip

    def pending(self) -> int:
        """Records not yet delivered and not dead."""
        with self._lock:
            return sum(1 for m in self._index.meta.values() if m.state == "ready")

    def close(self) -> None:
        """Close the database and release ownership."""
        self.cache.close()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            os.close(self._lock_file)
            self._lock_file = None
