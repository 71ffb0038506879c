"""Offline, disk full: the spool keeps its cap, capture keeps running, nothing is corrupted."""

from __future__ import annotations

import pytest

from agent.errors import DiskFullError, SpoolFullError
from agent.spool.disk_spool import DiskSpool
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions
from tests.frames import spool_item
from tests.hub_process import API_KEY, HubProcess

OPTIONS = UploaderOptions(concurrency=2, backoff_base_s=0.05, backoff_cap_s=0.3, offline_after_failures=2)


@pytest.mark.parametrize("policy", ["drop_oldest", "reject_new"])
def test_hub_down_then_back(tmp_path, policy):
    hub = HubProcess(tmp_path / "hub")  # not started: the destination is down
    spool = DiskSpool(tmp_path / "spool", max_count=200, overflow=policy)
    client = UploadClient(hub.url, API_KEY, timeout_s=2)
    uploader = Uploader(spool, client, OPTIONS, seed=3)
    uploader.start()
    accepted, refused = [], 0
    try:
        for i in range(500):
            try:
                spool.put(spool_item(i, project="off"))
                accepted.append(i)
            except SpoolFullError:
                refused += 1
            assert spool.stats().count <= 200
        stats = spool.stats()
        assert uploader.link.online is False
        if policy == "drop_oldest":
            assert stats.dropped == 300 and refused == 0
            survivors = {e.seq for e in spool.list(limit=1000)}
            assert survivors == set(range(301, 501))  # the newest 200
        else:
            assert stats.rejected == 300 and refused == 300
            assert {e.seq for e in spool.list(limit=1000)} == set(range(1, 201))  # the oldest kept
        hub.start()
        assert uploader.drain(90), spool.stats()
        assert spool.stats().count == 0 and spool.stats().delivered == 200
    finally:
        uploader.stop()
        client.close()
        spool.close()
        hub.stop()
    import sqlite3

    db = sqlite3.connect(tmp_path / "hub" / "index.sqlite")
    assert db.execute("SELECT COUNT(*) FROM images WHERE project = 'off'").fetchone()[0] == 200
    db.close()


def test_disk_full_on_tiny_filesystem(tiny_fs):
    spool = DiskSpool(tiny_fs / "spool", max_bytes=10**9)  # the byte cap never triggers: the disk does
    stored, full = 0, 0
    for i in range(400):  # ~400 x 12 KB frames into 3 MB
        try:
            spool.put(spool_item(i, size=96))
            stored += 1
        except DiskFullError as exc:
            full += 1
            assert "no space left" in str(exc)
    assert stored > 0 and full > 0
    count = spool.stats().count
    spool.close()
    reopened = DiskSpool(tiny_fs / "spool")  # not corrupted: every stored frame is readable
    assert reopened.stats().count == count == stored
    seen = 0
    while (record := reopened.lease()) is not None:
        assert record.item.jpeg.startswith(b"\xff\xd8")
        reopened.ack(record.seq)
        seen += 1
    assert seen == stored
    reopened.close()


def test_byte_cap_as_quota(tmp_path):
    """Where no tmpfs can be mounted, the byte cap is the quota: capture never crashes."""
    spool = DiskSpool(tmp_path / "spool", max_bytes=200_000, overflow="drop_oldest")
    for i in range(300):
        spool.put(spool_item(i, size=64))
    stats = spool.stats()
    assert stats.bytes <= 200_000 and stats.dropped > 0
    assert stats.count + stats.dropped == 300
    spool.close()
