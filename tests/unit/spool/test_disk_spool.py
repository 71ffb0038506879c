"""DiskSpool only: ownership, read-only opening, ballast, disk-full paths, what is stored on disk."""

from __future__ import annotations

import sqlite3

import pytest

from agent.errors import DiskFullError, SpoolError
from agent.spool import storage
from agent.spool.disk_spool import DiskSpool
from agent.spool.encoding import FORMAT_VERSION, SpoolFormatError
from agent.spool.interface import StorageWriteError
from agent.spool.storage import BALLAST_BYTES, BALLAST_NAME
from tests.frames import spool_item


@pytest.fixture
def spool(tmp_path):
    s = DiskSpool(tmp_path / "spool")
    yield s
    s.close()


def test_one_owner_and_read_only_readers(tmp_path):
    s = DiskSpool(tmp_path / "s")
    with pytest.raises(SpoolError, match="in use by another framesift process"):
        DiskSpool(tmp_path / "s")
    ro = DiskSpool(tmp_path / "s", read_only=True)
    assert ro.stats().count == 0
    with pytest.raises(SpoolError, match="read-only"):
        ro.put(spool_item(0))
    ro.close()
    s.close()
    DiskSpool(tmp_path / "s").close()  # closing released the ownership


def test_ballast_is_reserved_by_the_owner_only(tmp_path):
    DiskSpool(tmp_path / "ro", read_only=True).close()
    assert not (tmp_path / "ro" / BALLAST_NAME).exists()
    DiskSpool(tmp_path / "rw").close()
    assert (tmp_path / "rw" / BALLAST_NAME).stat().st_size == BALLAST_BYTES


def _disk_full_once(monkeypatch):
    real_open = storage._open_cache
    calls = []

    def open_cache(directory):
        calls.append(directory)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real_open(directory)

    monkeypatch.setattr(storage, "_open_cache", open_cache)
    return calls


def test_disk_full_at_start_releases_the_ballast(tmp_path, monkeypatch, caplog):
    DiskSpool(tmp_path / "s").close()
    calls = _disk_full_once(monkeypatch)
    s = DiskSpool(tmp_path / "s")
    assert len(calls) == 2 and s.stats().count == 0
    assert f"released {BALLAST_BYTES} bytes of reserve" in caplog.text
    assert (tmp_path / "s" / BALLAST_NAME).exists()  # reserved again: there is room now
    s.close()


def test_disk_full_at_start_without_ballast_is_an_error(tmp_path, monkeypatch):
    DiskSpool(tmp_path / "s", read_only=True).close()  # no ballast
    _disk_full_once(monkeypatch)
    with pytest.raises(DiskFullError, match="its reserve is already spent"):
        DiskSpool(tmp_path / "s")
    DiskSpool(tmp_path / "s").close()  # the failed open released the ownership


def test_a_reader_never_spends_the_reserve(tmp_path, monkeypatch):
    DiskSpool(tmp_path / "s").close()  # the owner reserved the ballast
    _disk_full_once(monkeypatch)
    with pytest.raises(DiskFullError, match="to open it for reading"):
        DiskSpool(tmp_path / "s", read_only=True)
    assert (tmp_path / "s" / BALLAST_NAME).exists()


def test_write_failure_refuses_the_whole_group(spool, monkeypatch):
    spool.put(spool_item(0))

    def full(records):
        raise StorageWriteError("database or disk is full") from sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(spool.store, "insert", full)
    with pytest.raises(DiskFullError, match="no space left to store a frame"):
        spool.put_many([spool_item(1), spool_item(2)])
    monkeypatch.undo()
    stats = spool.stats()
    assert (stats.count, stats.rejected) == (1, 2)
    assert spool.put(spool_item(3)) == 2  # no sequence number was spent


def test_ack_that_cannot_delete_still_forgets(spool, monkeypatch):
    spool.put(spool_item(0))
    record = spool.lease()

    def full(seq, count=None):
        raise StorageWriteError("database or disk is full")

    monkeypatch.setattr(spool.store, "delete", full)
    spool.ack(record.seq)  # delivered again after a restart; the server deduplicates
    assert spool.stats().count == 0 and spool.stats().delivered == 1


def test_an_ack_is_one_commit(spool):
    """Deleting a delivered frame and counting it are one transaction: one fsync per upload, not two."""
    spool.put(spool_item(0))
    record = spool.lease()
    statements: list[str] = []
    spool.store.cache._con.set_trace_callback(statements.append)
    try:
        spool.ack(record.seq)
    finally:
        spool.store.cache._con.set_trace_callback(None)
    assert sum(s.upper().startswith("BEGIN") for s in statements) == 1
    assert spool.stats().delivered == 1 and spool.stats().count == 0


def test_stored_values_are_versioned_plain_data(spool):
    item = spool_item(0, credit=True)
    spool.put(item)
    cache = spool.storage.cache
    record, delivery = cache.get(("rec", 1)), cache.get(("meta", 1))
    assert record["v"] == delivery["v"] == FORMAT_VERSION
    assert record["annotation"] == {"name": "inf-0.json", "body": spool_item(0).annotation.body,  # type: ignore[union-attr]
                                    "content_type": "text/plain"}  # fmt: skip
    assert record["credit"] == {"strategy": "s", "batch_name": "batch-1", "keys": ["s:minutely:0"], "backend": "local"}
    assert record["tags"] == ["t1"] and record["jpeg"] == item.jpeg

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bytes))

    assert plain(record) and plain(delivery)


def test_undecodable_record_goes_to_dead_letters(spool):
    spool.put_many([spool_item(0), spool_item(1)])
    spool.storage.cache.set(("rec", 1), {"v": FORMAT_VERSION + 1})
    assert spool.lease().seq == 2
    dead = spool.list("dead")
    assert [e.seq for e in dead] == [1] and "format version" in dead[0].last_error


def test_spool_from_a_newer_release_is_refused(tmp_path):
    s = DiskSpool(tmp_path / "s")
    s.put(spool_item(0))
    s.storage.cache.set(("meta", 1), {"v": FORMAT_VERSION + 1, "state": "ready"})
    s.close()
    with pytest.raises(SpoolFormatError, match="newer framesift"):
        DiskSpool(tmp_path / "s")
    with pytest.raises(SpoolFormatError):  # the ownership was released: the same error again
        DiskSpool(tmp_path / "s")
