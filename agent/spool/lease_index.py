"""LeaseIndex: the in-memory view of the queue (no I/O, no locking).

Holds every record's ``DeliveryState``, a heap of ready records ordered by retry time
then sequence number, the leases handed out and the total size. Leases live here
only, never on disk: a record leased by a process that died is simply ready again
after restart. The caller (``RecordQueue``) serialises access with its own lock and
writes every change of a delivery state to storage.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from agent.spool.records import DeliveryState


class LeaseIndex:
    """Delivery states, the ready heap and the leases of one spool.

    Times: ``not_before_s`` values and ``now_wall_s`` are wall-clock seconds since the
    epoch; lease expiries and ``now_mono_s`` are monotonic seconds.
    """

    def __init__(self) -> None:
        self.deliveries: dict[int, DeliveryState] = {}
        self.bytes = 0
        """Sum of the records' ``DeliveryState.bytes``."""
        self._ready_heap: list[tuple[float, int]] = []  # (not_before_s, seq); may hold stale entries
        self._lease_expiry_mono_s: dict[int, float] = {}

    # ------------------------------------------------------------ membership

    def add(self, seq: int, delivery: DeliveryState) -> None:
        """Track a record; a ready one is queued at its retry time."""
        self.deliveries[seq] = delivery
        self.bytes += delivery.bytes
        if delivery.state == "ready":
            heapq.heappush(self._ready_heap, (delivery.not_before_s, seq))

    def forget(self, seq: int) -> None:
        """Stop tracking a record (deleted); its lease, if any, ends."""
        delivery = self.deliveries.pop(seq, None)
        if delivery is not None:
            self.bytes -= delivery.bytes
        self._lease_expiry_mono_s.pop(seq, None)

    def __len__(self) -> int:
        return len(self.deliveries)

    def highest_seq(self) -> int:
        """The largest tracked sequence number, 0 when empty."""
        return max(self.deliveries, default=0)

    # ------------------------------------------------------------ ready heap and leases

    def expire_leases(self, now_mono_s: float) -> None:
        """Requeue the ready records whose lease ran out (a stuck or dead uploader)."""
        for seq, until in list(self._lease_expiry_mono_s.items()):
            if until < now_mono_s:
                del self._lease_expiry_mono_s[seq]
                delivery = self.deliveries.get(seq)
                if delivery is not None and delivery.state == "ready":
                    heapq.heappush(self._ready_heap, (delivery.not_before_s, seq))

    def due(self, now_wall_s: float) -> Iterator[int]:
        """Pop, oldest retry time first, the ready, unleased records due at ``now_wall_s``.

        Each yielded record is off the heap: the caller leases it (``lease``) or deletes it.
        """
        while self._ready_heap and self._ready_heap[0][0] <= now_wall_s:
            _, seq = heapq.heappop(self._ready_heap)
            delivery = self.deliveries.get(seq)
            if delivery is None or delivery.state != "ready" or seq in self._lease_expiry_mono_s:
                continue  # stale entry: deleted, dead, or leased meanwhile
            yield seq

    def lease(self, seq: int, until_mono_s: float) -> None:
        """Mark ``seq`` as handed out until the monotonic time ``until_mono_s``."""
        self._lease_expiry_mono_s[seq] = until_mono_s

    def end_lease(self, seq: int) -> bool:
        """End the lease on ``seq`` without requeueing it; True if it was leased."""
        return self._lease_expiry_mono_s.pop(seq, None) is not None

    def is_leased(self, seq: int) -> bool:
        """True while ``seq`` is handed out."""
        return seq in self._lease_expiry_mono_s

    def schedule(self, seq: int, not_before_s: float) -> None:
        """Queue ``seq`` (ready) for the wall-clock time ``not_before_s``."""
        heapq.heappush(self._ready_heap, (not_before_s, seq))

    def next_due_s(self) -> float | None:
        """Wall-clock time of the earliest queued retry (may be stale), or None."""
        return self._ready_heap[0][0] if self._ready_heap else None

    # ------------------------------------------------------------ caps and counts

    def over_caps(self, count: int, size: int, max_count: int, max_bytes: int) -> bool:
        """True when adding ``count`` records of ``size`` bytes would exceed a cap."""
        return len(self.deliveries) + count > max_count or self.bytes + size > max_bytes

    def fitting_prefix(self, sizes: Sequence[int], max_count: int, max_bytes: int) -> int:
        """How many of records of ``sizes`` bytes (in order) fit under the caps."""
        room_count = max_count - len(self.deliveries)
        room_bytes = max_bytes - self.bytes
        fits = 0
        for size in sizes:
            if fits + 1 > room_count or size > room_bytes:
                break
            fits += 1
            room_bytes -= size
        return fits

    def oldest_unleased(self) -> int | None:
        """The lowest sequence number not being uploaded (the overflow victim), or None."""
        return min((s for s in self.deliveries if s not in self._lease_expiry_mono_s), default=None)

    def leased_count(self) -> int:
        """Records handed out now."""
        return len(self._lease_expiry_mono_s)

    def count_in(self, state: str) -> int:
        """Records in ``state`` (``ready`` includes leased ones)."""
        return sum(1 for d in self.deliveries.values() if d.state == state)

    def seqs(self, state: str | None = None) -> list[int]:
        """Sequence numbers in order, all or only those in ``state``."""
        return sorted(s for s, d in self.deliveries.items() if state is None or d.state == state)
