"""LeaseIndex: the pure in-memory queue view (no storage, no clocks of its own)."""

from __future__ import annotations

from agent.spool.lease_index import LeaseIndex
from agent.spool.records import DeliveryState


def test_due_orders_by_retry_time_then_sequence():
    index = LeaseIndex()
    index.add(1, DeliveryState(not_before_s=20.0, bytes=5))
    index.add(2, DeliveryState(not_before_s=10.0, bytes=5))
    index.add(3, DeliveryState(not_before_s=10.0, bytes=5))
    index.add(4, DeliveryState(state="dead", bytes=5))
    assert list(index.due(15.0)) == [2, 3]
    assert list(index.due(25.0)) == [1]  # popped ones are gone until scheduled again
    assert (len(index), index.bytes, index.count_in("ready"), index.count_in("dead")) == (4, 20, 3, 1)


def test_leases_expire_and_requeue():
    index = LeaseIndex()
    index.add(1, DeliveryState())
    assert list(index.due(0.0)) == [1]
    index.lease(1, until_mono_s=50.0)
    index.schedule(1, 0.0)  # a stale heap entry for a leased record is skipped
    assert list(index.due(0.0)) == [] and index.leased_count() == 1
    index.expire_leases(now_mono_s=49.0)
    assert index.is_leased(1)
    index.expire_leases(now_mono_s=51.0)
    assert not index.is_leased(1) and list(index.due(0.0)) == [1]


def test_caps_and_overflow_victim():
    index = LeaseIndex()
    for seq in (1, 2, 3):
        index.add(seq, DeliveryState(bytes=10))
    index.lease(1, 100.0)
    assert index.oldest_unleased() == 2
    assert index.over_caps(1, 0, max_count=3, max_bytes=100)
    assert index.over_caps(0, 71, max_count=10, max_bytes=100)
    assert not index.over_caps(0, 70, max_count=10, max_bytes=100)
    index.forget(2)
    assert (index.oldest_unleased(), index.bytes, index.is_leased(1)) == (3, 20, True)
    index.forget(1)
    assert index.leased_count() == 0 and index.seqs() == [3] and index.highest_seq() == 3
