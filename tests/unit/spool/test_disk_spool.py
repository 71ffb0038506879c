"""DiskSpool: lease/ack/nack, dead letters, caps and policies, reopen, ownership."""

from __future__ import annotations

import pytest

from agent.errors import SpoolError, SpoolFullError
from agent.spool.disk_spool import DiskSpool
from tests.frames import spool_item


@pytest.fixture
def spool(tmp_path):
    s = DiskSpool(tmp_path / "spool")
    yield s
    s.close()


def test_fifo_lease_ack(spool):
    seqs = spool.put_many([spool_item(i) for i in range(3)])
    assert seqs == [1, 2, 3]
    first = spool.lease()
    assert first.seq == 1 and first.item.inference_id == "inf-0"
    second = spool.lease()
    assert second.seq == 2  # the first is leased
    spool.ack(first.seq)
    stats = spool.stats()
    assert (stats.count, stats.leased, stats.ready, stats.delivered) == (2, 1, 1, 1)


def test_nack_delays_and_counts_attempts(spool):
    clock = [1000.0]
    spool._clock = lambda: clock[0]
    seq = spool.put(spool_item(0))
    spool.nack(spool.lease().seq, 30.0, "HTTP 503")
    assert spool.lease() is None
    clock[0] += 31
    again = spool.lease()
    assert again.seq == seq and again.attempts == 1 and again.last_error == "HTTP 503"


def test_dead_letters_list_retry_purge(spool):
    spool.put_many([spool_item(i) for i in range(3)])
    spool.dead_letter(spool.lease().seq, "HTTP 400: Invalid image.")
    assert [e.seq for e in spool.list("dead")] == [1]
    assert spool.list("dead")[0].last_error.startswith("HTTP 400")
    assert spool.retry_dead() == 1
    assert spool.stats().dead == 0
    spool.dead_letter(spool.lease().seq, "again")
    assert spool.purge() == 1 and spool.stats().count == 2


def test_drop_oldest_policy(tmp_path):
    s = DiskSpool(tmp_path / "s", max_count=3)
    for i in range(5):
        s.put(spool_item(i))
    stats = s.stats()
    assert stats.count == 3 and stats.dropped == 2
    assert [e.seq for e in s.list()] == [3, 4, 5]
    s.close()


def test_byte_cap_and_reject_new(tmp_path):
    one = len(spool_item(0).jpeg) + len(spool_item(0).annotation["body"])
    s = DiskSpool(tmp_path / "s", max_bytes=int(one * 2.5), overflow="reject_new")
    s.put(spool_item(0))
    s.put(spool_item(1))
    with pytest.raises(SpoolFullError, match="reject_new"):
        s.put(spool_item(2))
    stats = s.stats()
    assert stats.count == 2 and stats.rejected == 1
    assert [e.seq for e in s.list()] == [1, 2]  # old data kept
    s.close()


def test_max_age_expires(tmp_path):
    clock = [0.0]
    s = DiskSpool(tmp_path / "s", max_age_s=60, clock=lambda: clock[0])
    s.put(spool_item(0))
    clock[0] = 61
    assert s.lease() is None and s.stats().expired == 1
    s.close()


def test_state_survives_reopen_and_leases_do_not(tmp_path):
    s = DiskSpool(tmp_path / "s")
    s.put_many([spool_item(i) for i in range(3)])
    leased = s.lease()
    s.set_server_id(leased.seq, "server-7")
    s.dead_letter(s.lease().seq, "bad")
    s.close()
    s = DiskSpool(tmp_path / "s")
    stats = s.stats()
    assert (stats.count, stats.dead, stats.ready) == (3, 1, 2)
    again = s.lease()
    assert again.seq == leased.seq and again.server_id == "server-7"  # annotation-only retry
    assert s.put(spool_item(9)) == 4  # sequence numbers are never reused
    s.close()


def test_one_owner(tmp_path):
    s = DiskSpool(tmp_path / "s")
    with pytest.raises(SpoolError, match="in use by another framesift process"):
        DiskSpool(tmp_path / "s")
    ro = DiskSpool(tmp_path / "s", read_only=True)
    assert ro.stats().count == 0
    with pytest.raises(SpoolError, match="read-only"):
        ro.put(spool_item(0))
    ro.close()
    s.close()


def test_expired_lease_is_handed_out_again(tmp_path):
    mono = [0.0]
    s = DiskSpool(tmp_path / "s", monotonic=lambda: mono[0])
    s.put(spool_item(0))
    assert s.lease(lease_s=10).seq == 1
    assert s.lease(lease_s=10) is None
    mono[0] = 11
    assert s.lease(lease_s=10).seq == 1
    s.close()
