"""Uploader.deliver against a MemorySpool and a scripted client: no threads, no HTTP, fake clocks."""

from __future__ import annotations

from collections import deque

import pytest

from agent.errors import UploadRejectedError, UploadServerError, UploadTransportError
from agent.limits.store import Credit
from agent.predictions.annotation import Annotation
from agent.spool.memory_spool import MemorySpool
from agent.spool.records import SpoolRecord
from agent.upload.client import UploadResult
from agent.upload.worker import Uploader, UploaderOptions
from tests.frames import spool_item


class ScriptedClient:
    """Answers ``upload_image`` / ``annotate`` from scripts (an exception or a value), recording calls."""

    def __init__(self) -> None:
        self.uploads: deque[object] = deque()
        self.annotations: deque[object] = deque()
        self.calls: list[tuple[str, object]] = []

    def upload_image(self, project, jpeg, *, name, batch, tags=(), inference_id=None):
        self.calls.append(("upload", (project, name, batch, tuple(tags), inference_id)))
        answer = self.uploads.popleft() if self.uploads else UploadResult(f"id-{inference_id}", duplicate=False)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def annotate(self, project, image_id, *, name, body, content_type="text/plain"):
        self.calls.append(("annotate", (image_id, Annotation(name, body, content_type))))
        answer = self.annotations.popleft() if self.annotations else True
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def wall():
    return [1000.0]


@pytest.fixture
def spool(wall):
    return MemorySpool(clock=lambda: wall[0])


@pytest.fixture
def client():
    return ScriptedClient()


def make_uploader(spool, client, duplicates=None):
    options = UploaderOptions(concurrency=1, backoff_base_s=1.0, backoff_cap_s=4.0, offline_after_failures=50)
    return Uploader(spool, client, options, on_duplicate=None if duplicates is None else duplicates.append, seed=1)


def test_upload_then_annotate_then_ack(spool, client):
    spool.put(spool_item(0))
    uploader = make_uploader(spool, client)
    uploader.deliver(spool.lease())
    assert client.calls == [
        ("upload", ("proj", "inf-0.jpg", "batch-1", ("t1",), "inf-0")),
        ("annotate", ("id-inf-0", spool_item(0).annotation)),
    ]
    assert spool.stats().count == 0 and spool.stats().delivered == 1
    assert uploader.counters.counts["uploaded"] == 1


def test_duplicate_gives_the_typed_credit_back(spool, client):
    client.uploads.append(UploadResult("old", duplicate=True))
    spool.put(spool_item(0, credit=True))
    duplicates: list[SpoolRecord] = []
    make_uploader(spool, client, duplicates).deliver(spool.lease())
    assert [r.item.credit for r in duplicates] == [Credit("s", "batch-1", ("s:minutely:0",), "local")]
    assert client.calls[1][0] == "annotate" and spool.stats().count == 0


def test_known_server_id_only_reannotates(spool, client, wall):
    client.annotations.append(UploadServerError("HTTP 503", status_code=503))
    spool.put(spool_item(0))
    uploader = make_uploader(spool, client)
    uploader.deliver(spool.lease())  # uploaded; the annotation failed and is retried later
    wall[0] += 4.001  # past the largest jittered delay (backoff_cap_s)
    record = spool.lease()
    assert record.server_id == "id-inf-0" and record.attempts == 1
    uploader.deliver(record)
    assert [kind for kind, _ in client.calls] == ["upload", "annotate", "annotate"]
    assert spool.stats().count == 0


@pytest.mark.parametrize(
    ("error", "min_delay_s"),
    [
        pytest.param(UploadTransportError("connection refused"), 0.0, id="transport"),
        pytest.param(UploadServerError("HTTP 429", status_code=429, retry_after_s=7.0), 7.0, id="retry-after"),
    ],
)
def test_retryable_failure_is_retried_after_the_delay(spool, client, wall, error, min_delay_s):
    client.uploads.append(error)
    spool.put(spool_item(0))
    uploader = make_uploader(spool, client)
    uploader.deliver(spool.lease())
    assert uploader.counters.counts["retry"] == 1 and spool.stats().ready == 1
    wall[0] += min_delay_s - 0.001
    if min_delay_s > 0:
        assert spool.lease() is None  # Retry-After is honoured
    wall[0] += 4.0 + 0.002  # past the largest jittered delay (backoff_cap_s)
    record = spool.lease()
    assert record.attempts == 1 and record.last_error == str(error)


def test_permanent_failure_goes_to_dead_letters(spool, client):
    client.uploads.append(UploadRejectedError("HTTP 400: Invalid image.", status_code=400))
    spool.put_many([spool_item(0), spool_item(1)])
    uploader = make_uploader(spool, client)
    uploader.deliver(spool.lease())
    uploader.deliver(spool.lease())
    assert [(e.seq, e.last_error) for e in spool.list("dead")] == [(1, "HTTP 400: Invalid image.")]
    assert spool.pending() == 0 and uploader.counters.counts["dead"] == 1
    assert uploader.link.online
