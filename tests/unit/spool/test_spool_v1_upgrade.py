"""A spool written by the previous release (format v1) drains after an upgrade.

``tests/data/spool_v1/queue/cache.db`` was written by release dd5c4aa (see
``make_spool_v1.py`` next to it): five records, one dead-lettered, one with a server
id, one nacked once. It is opened with today's DiskSpool and drained through the real
Uploader into a loopback fake of the Roboflow API.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from agent.limits.store import Credit
from agent.predictions.annotation import Annotation
from agent.spool.disk_spool import DiskSpool
from agent.spool.records import SpoolRecord
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions
from tests.fake_roboflow import FakeRoboflow

V1_SPOOL = Path(__file__).resolve().parents[2] / "data" / "spool_v1"
OPTIONS = UploaderOptions(concurrency=1, backoff_base_s=0.01, backoff_cap_s=0.05, offline_after_failures=50)


def v1_credit(i: int, backend: str = "local") -> Credit:
    return Credit(f"strategy-{i}", "v1-batch", (f"fs:strategy-{i}:minutely", f"fs:strategy-{i}:daily"), backend)


def v1_annotation(i: int) -> Annotation:
    return Annotation(f"v1-{i}.json", f'{{"predictions": [{{"x": {i}}}]}}', "application/json")


class RecordingClient(UploadClient):
    """The real client, remembering what it was asked to annotate."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.annotated: list[tuple[str, Annotation]] = []

    def annotate(self, project, image_id, *, name, body, content_type="text/plain"):
        self.annotated.append((image_id, Annotation(name, body, content_type)))
        return super().annotate(project, image_id, name=name, body=body, content_type=content_type)


@pytest.fixture
def v1_spool(tmp_path):
    directory = tmp_path / "spool"
    shutil.copytree(V1_SPOOL / "queue", directory / "queue")
    spool = DiskSpool(directory)
    yield spool
    spool.close()


def drain(spool, client, duplicates, events):
    uploader = Uploader(spool, client, OPTIONS, on_duplicate=duplicates.append,
                        on_event=lambda kind, record, detail: events.append((kind, record)), seed=1)  # fmt: skip
    uploader.start()
    try:
        assert uploader.drain(60), spool.stats()
    finally:
        uploader.stop()


def test_v1_records_decode_typed(v1_spool):
    stats = v1_spool.stats()
    assert (stats.count, stats.ready, stats.dead) == (5, 4, 1)
    dead = v1_spool.list("dead")
    assert [(e.seq, e.attempts, e.last_error, e.source) for e in dead] == [
        (3, 1, "HTTP 400: Invalid image.", "/frames/3.jpg")
    ]
    records = [v1_spool.lease() for _ in range(4)]
    assert [r.seq for r in records] == [1, 2, 4, 5]
    first, second, fourth, fifth = records
    assert first.item.annotation == v1_annotation(1) and first.item.credit == v1_credit(1)
    assert first.item.tags == ("site-a", "t1") and first.item.created_s == 1_700_000_001.0
    assert hashlib.sha256(first.item.jpeg).hexdigest() == first.item.sha256
    assert second.item.annotation is None and second.item.credit is None
    assert fourth.server_id == "server-4" and fourth.item.credit == v1_credit(4)
    assert (fifth.attempts, fifth.last_error) == (1, "HTTP 503")
    assert v1_spool.put(records[0].item) == 6  # the v1 high-water sequence number is honoured


def test_v1_spool_drains_through_the_uploader(v1_spool):
    duplicates: list[SpoolRecord] = []
    events: list[tuple[str, SpoolRecord]] = []
    with FakeRoboflow() as fake:
        fake.then("upload", 200, {"duplicate": True, "id": "old-1"})  # record 1 is already there
        client = RecordingClient(fake.url, "k", timeout_s=5)
        try:
            drain(v1_spool, client, duplicates, events)
            assert [e.seq for e in v1_spool.list()] == [3]  # only the dead letter is left
            assert v1_spool.retry_dead() == 1
            drain(v1_spool, client, duplicates, events)
        finally:
            client.close()
    # the duplicate gives its typed credit back, exactly as it was spooled by v1
    assert [(r.seq, r.item.credit) for r in duplicates] == [(1, v1_credit(1))]
    delivered = {record.seq: record for kind, record in events}
    assert [(kind, r.seq) for kind, r in events] == [
        ("duplicate", 1), ("uploaded", 2), ("uploaded", 4), ("uploaded", 5), ("uploaded", 3)]  # fmt: skip
    assert delivered[3].item.credit == v1_credit(3, backend="redis")
    # record 4 only re-sent its annotation; record 2 had none
    assert [k for k, _ in fake.requests] == ["upload", "annotate", "upload", "annotate", "upload", "annotate",
                                             "upload", "annotate"]  # fmt: skip
    assert client.annotated == [("old-1", v1_annotation(1)), ("server-4", v1_annotation(4)),
                                (delivered[5].server_id, v1_annotation(5)),
                                (delivered[3].server_id, v1_annotation(3))]  # fmt: skip
    assert "tag=site-a" in fake.requests[0][1] and "batch=v1-batch" in fake.requests[0][1]
    assert {delivered[s].item.sha256 for s in (2, 3, 5)} <= set(fake.images)  # the bytes arrived unchanged
    assert v1_spool.stats().count == 0 and v1_spool.stats().delivered == 5
