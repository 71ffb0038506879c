"""Lease/ack/nack, retries, dead letters, caps and overflow, expiry, reopen: one table, two spools.

Every case runs against DiskSpool and MemorySpool (the ``factory`` fixture), with
hand-moved clocks. A case is a list of steps; each step acts and checks what it says.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.errors import SpoolError, SpoolFullError
from agent.predictions.annotation import Annotation
from agent.spool.interface import Spool
from agent.spool.record_queue import RecordQueue
from agent.spool.records import SpoolItem
from tests.unit.spool.conftest import SpoolFactory

ITEM_BYTES = 1100  # 1000 bytes of JPEG + 100 bytes of annotation


def sized_item(i: int) -> SpoolItem:
    """An item of exactly ITEM_BYTES against the byte cap."""
    jpeg = b"\xff\xd8" + i.to_bytes(4, "big") + b"\0" * 994
    return SpoolItem(jpeg=jpeg, sha256=f"{i:064x}", project="p", batch_name="b", tags=("t",), strategy="s",
                     inference_id=f"inf-{i}", annotation=Annotation(f"inf-{i}.json", "x" * 100))  # fmt: skip


@dataclass(frozen=True)
class Case:
    """Spool options, the steps, and the sequence numbers left at the end."""

    name: str
    steps: list[tuple[Any, ...]]
    remaining: list[int]
    options: dict[str, Any] = field(default_factory=dict)


# Steps:
#   ("put", n, seqs)            n puts of one item each; their sequence numbers
#   ("put_many", n, seqs)       one put_many of n items
#   ("put_full", n, match)      put_many of n items raises SpoolFullError matching ``match``
#   ("lease", seq | None, {..}) lease (lease_s 10) returns seq; optional record fields to check
#   ("ack", seq) ("nack", seq, retry_in_s) ("dead", seq) ("release", seq) ("server_id", seq, id)
#   ("retry_dead", count) ("purge", count) ("purge_all", count)
#   ("wall", +s) ("mono", +s)   move a clock
#   ("stats", {..})             SpoolStats fields to check; ("pending", n); ("dead_list", seqs)
#   ("reopen",)                 close and open the same records again
CASES = [
    Case("fifo_lease_ack", [("put", 3, [1, 2, 3]), ("lease", 1), ("lease", 2), ("ack", 1),
         ("stats", {"count": 2, "leased": 1, "ready": 1, "delivered": 1, "bytes": 2 * ITEM_BYTES}),
         ("pending", 2)], [2, 3]),
    Case("group_put", [("put_many", 3, [1, 2, 3]), ("put_many", 2, [4, 5]), ("stats", {"count": 5})],
         [1, 2, 3, 4, 5]),
    Case("nack_delays_and_counts_attempts", [("put", 1, [1]), ("lease", 1), ("nack", 1, 30.0), ("lease", None),
         ("wall", 29.0), ("lease", None), ("wall", 2.0),
         ("lease", 1, {"attempts": 1, "last_error": "HTTP 503"})], [1]),
    Case("retries_in_retry_time_order", [("put", 2, [1, 2]), ("lease", 1), ("nack", 1, 10.0), ("lease", 2),
         ("nack", 2, 5.0), ("wall", 11.0), ("lease", 2), ("lease", 1)], [1, 2]),
    Case("expired_lease_is_handed_out_again", [("put", 1, [1]), ("lease", 1), ("lease", None), ("mono", 11.0),
         ("lease", 1, {"attempts": 0})], [1]),
    Case("release_does_not_count_an_attempt", [("put", 2, [1, 2]), ("lease", 1), ("release", 1),
         ("lease", 1, {"attempts": 0}), ("lease", 2)], [1, 2]),
    Case("release_of_an_unleased_record_is_a_no_op", [("put", 1, [1]), ("release", 1), ("lease", 1),
         ("lease", None)], [1]),
    Case("server_id_survives_nack", [("put", 1, [1]), ("lease", 1), ("server_id", 1, "srv-1"), ("nack", 1, 0.0),
         ("lease", 1, {"server_id": "srv-1", "attempts": 1})], [1]),
    Case("dead_letter_then_retry", [("put", 3, [1, 2, 3]), ("lease", 1), ("dead", 1), ("dead_list", [1]),
         ("stats", {"dead": 1, "ready": 2, "leased": 0}), ("pending", 2), ("retry_dead", 1),
         ("lease", 1, {"attempts": 0}), ("stats", {"dead": 0})], [1, 2, 3]),
    Case("purge_dead_only", [("put", 3, [1, 2, 3]), ("lease", 1), ("dead", 1), ("purge", 1)], [2, 3]),
    Case("purge_all_spares_leased", [("put", 3, [1, 2, 3]), ("lease", 1), ("purge_all", 2)], [1]),
    Case("drop_oldest_by_count", [("put", 5, [1, 2, 3, 4, 5]), ("stats", {"count": 3, "dropped": 2})], [3, 4, 5],
         {"max_count": 3}),
    Case("drop_oldest_spares_leased", [("put", 2, [1, 2]), ("lease", 1), ("put", 1, [3]),
         ("stats", {"dropped": 1})], [1, 3], {"max_count": 2}),
    Case("every_record_leased_rejects", [("put", 1, [1]), ("lease", 1), ("put_full", 1, "being uploaded"),
         ("stats", {"rejected": 1})], [1], {"max_count": 1}),
    Case("reject_new_keeps_old", [("put", 2, [1, 2]), ("put_full", 1, "reject_new"),
         ("stats", {"rejected": 1, "dropped": 0})], [1, 2], {"max_count": 2, "overflow": "reject_new"}),
    Case("byte_cap_drop_oldest", [("put", 3, [1, 2, 3]), ("stats", {"dropped": 1, "bytes": 2 * ITEM_BYTES})],
         [2, 3], {"max_bytes": int(2.5 * ITEM_BYTES)}),
    Case("byte_cap_reject_new", [("put", 2, [1, 2]), ("put_full", 1, "reject_new")], [1, 2],
         {"max_bytes": int(2.5 * ITEM_BYTES), "overflow": "reject_new"}),
    Case("group_over_cap_is_refused_whole", [("put_full", 3, "exceed the spool caps"), ("stats", {"rejected": 3}),
         ("put", 1, [1])], [1], {"max_count": 2}),
    Case("max_age_expires", [("put", 1, [1]), ("wall", 61.0), ("lease", None),
         ("stats", {"expired": 1, "count": 0})], [], {"max_age_s": 60.0}),
    Case("max_age_not_reached", [("put", 1, [1]), ("wall", 59.0), ("lease", 1)], [1], {"max_age_s": 60.0}),
    Case("sequence_numbers_never_reused", [("put", 2, [1, 2]), ("lease", 1), ("ack", 1), ("lease", 2), ("ack", 2),
         ("reopen",), ("put", 1, [3])], [3]),
    Case("reopen_forgets_leases_keeps_state", [("put", 3, [1, 2, 3]), ("lease", 1), ("server_id", 1, "srv-7"),
         ("lease", 2), ("dead", 2), ("reopen",), ("stats", {"count": 3, "dead": 1, "ready": 2, "leased": 0}),
         ("lease", 1, {"server_id": "srv-7"}), ("put", 1, [4])], [1, 2, 3, 4]),
    Case("reopen_keeps_retry_time", [("put", 1, [1]), ("lease", 1), ("nack", 1, 30.0), ("reopen",),
         ("lease", None), ("wall", 31.0), ("lease", 1, {"attempts": 1})], [1]),
    Case("reopen_keeps_counters", [("put", 2, [1, 2]), ("reopen",), ("stats", {"dropped": 1, "count": 1})], [2],
         {"max_count": 1}),
]  # fmt: skip


def _run(factory: SpoolFactory, case: Case) -> RecordQueue:
    spool = factory.open(**case.options)
    next_item = 0

    def items(n: int) -> list[SpoolItem]:
        nonlocal next_item
        next_item += n
        return [sized_item(i) for i in range(next_item - n, next_item)]

    for step in case.steps:
        op, *args = step
        where = f"step {step!r}"
        if op == "put":
            assert [spool.put(item) for item in items(args[0])] == args[1], where
        elif op == "put_many":
            assert spool.put_many(items(args[0])) == args[1], where
        elif op == "put_full":
            with pytest.raises(SpoolFullError, match=args[1]):
                spool.put_many(items(args[0]))
        elif op == "lease":
            record = spool.lease(lease_s=10.0)
            assert (record.seq if record else None) == args[0], where
            for name, value in (args[1] if len(args) > 1 else {}).items():
                assert getattr(record, name) == value, f"{where}: {name}"
        elif op == "ack":
            spool.ack(args[0])
        elif op == "nack":
            spool.nack(args[0], args[1], "HTTP 503")
        elif op == "dead":
            spool.dead_letter(args[0], "HTTP 400: Invalid image.")
        elif op == "release":
            spool.release(args[0])
        elif op == "server_id":
            spool.set_server_id(args[0], args[1])
        elif op == "retry_dead":
            assert spool.retry_dead() == args[0], where
        elif op == "purge":
            assert spool.purge() == args[0], where
        elif op == "purge_all":
            assert spool.purge(dead_only=False) == args[0], where
        elif op == "wall":
            factory.clocks.wall_s += args[0]
        elif op == "mono":
            factory.clocks.mono_s += args[0]
        elif op == "stats":
            stats = spool.stats()
            assert {k: getattr(stats, k) for k in args[0]} == args[0], where
        elif op == "pending":
            assert spool.pending() == args[0], where
        elif op == "dead_list":
            assert [e.seq for e in spool.list("dead")] == args[0], where
        elif op == "reopen":
            spool = factory.reopen(spool, **case.options)
        else:
            raise AssertionError(f"unknown step {op!r}")
    return spool


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_spool_semantics(factory, case):
    spool = _run(factory, case)
    assert [e.seq for e in spool.list(limit=1000)] == case.remaining
    assert spool.stats().count == len(case.remaining)


def test_leased_item_is_what_was_put(factory):
    spool = factory.open()
    item = sized_item(7)
    spool.put(item)
    record = spool.lease()
    assert record.item == item and record.item is not item  # a copy, with created_s set by put
    assert record.item.created_s == factory.clocks.wall_s == item.created_s


def test_list_shows_where_records_go(factory):
    spool = factory.open()
    spool.put_many([sized_item(0), sized_item(1)])
    spool.dead_letter(spool.lease().seq, "HTTP 400: Invalid image.")
    dead = spool.list("dead")
    assert [(e.seq, e.state, e.attempts, e.bytes, e.last_error) for e in dead] == [
        (1, "dead", 1, ITEM_BYTES, "HTTP 400: Invalid image.")
    ]
    assert (dead[0].project, dead[0].batch_name, dead[0].strategy) == ("p", "b", "s")
    assert [e.seq for e in spool.list(limit=1)] == [1]


def test_read_only_refuses_changes(factory):
    owner = factory.open()
    owner.put(sized_item(0))
    reader = factory.open(read_only=True)
    assert reader.stats().count == 1 and [e.seq for e in reader.list()] == [1]
    for change in (lambda: reader.put(sized_item(1)), reader.lease, lambda: reader.ack(1),
                   lambda: reader.nack(1, 1.0, "x"), lambda: reader.dead_letter(1, "x"),
                   lambda: reader.set_server_id(1, "s"), reader.retry_dead, reader.purge):  # fmt: skip
        with pytest.raises(SpoolError, match="read-only"):
            change()


def test_bad_overflow_policy_is_refused(factory):
    with pytest.raises(ValueError, match="drop_oldest or reject_new"):
        factory.open(overflow="drop_newest")


def test_waiting_lease_gets_a_record_put_meanwhile(factory):
    spool: Spool = factory.open(clock=time.time, monotonic=time.monotonic)
    waiting = threading.Event()
    leased = []

    def consumer() -> None:
        waiting.set()
        leased.append(spool.lease(wait_s=30.0))

    thread = threading.Thread(target=consumer)
    thread.start()
    assert waiting.wait(10)
    spool.put(sized_item(0))
    thread.join(30)
    assert not thread.is_alive() and leased[0] is not None and leased[0].seq == 1
    assert spool.lease(wait_s=0.05) is None  # nothing else: the wait ends at its deadline
