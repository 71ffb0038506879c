"""The uploader against a loopback fake that answers like the Roboflow API."""

from __future__ import annotations

import time

import pytest

from agent.spool.disk_spool import DiskSpool
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions
from tests.fake_roboflow import FakeRoboflow
from tests.frames import spool_item

FAST = UploaderOptions(concurrency=1, backoff_base_s=0.01, backoff_cap_s=0.05, offline_after_failures=50)


@pytest.fixture
def spool(tmp_path):
    s = DiskSpool(tmp_path / "spool")
    yield s
    s.close()


def run_until_drained(spool, url, options=FAST, timeout_s=10.0, timeout_http_s=5.0):
    duplicates = []
    client = UploadClient(url, "k", timeout_s=timeout_http_s)
    uploader = Uploader(spool, client, options, on_duplicate=duplicates.append, seed=1)
    uploader.start()
    try:
        assert uploader.drain(timeout_s), spool.stats()
    finally:
        uploader.stop()
        client.close()
    return uploader, duplicates


def test_success_uploads_then_annotates(spool):
    with FakeRoboflow() as fake:
        spool.put(spool_item(0))
        uploader, _ = run_until_drained(spool, fake.url)
    assert [k for k, _ in fake.requests] == ["upload", "annotate"]
    assert "prediction=true" in fake.requests[1][1] and "name=inf-0.json" in fake.requests[1][1]
    assert uploader.counters.counts["uploaded"] == 1 and spool.stats().delivered == 1


def test_duplicate_returns_credit_and_409_is_done(spool):
    with FakeRoboflow() as fake:
        fake.then("upload", 200, {"duplicate": True, "id": "old"})
        fake.then("annotate", 409, {"error": {"message": "Image was already annotated"}})
        spool.put(spool_item(0))
        uploader, duplicates = run_until_drained(spool, fake.url)
    assert len(duplicates) == 1 and uploader.counters.counts["duplicate"] == 1
    assert spool.stats().count == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, {"error": "Unknown error"}, id="string-error"),
        pytest.param(502, "<html><title>502 Bad Gateway</title></html>", id="html"),
        pytest.param(503, {"error": {"message": "maintenance"}}, id="dict-error"),
    ],
)
def test_transient_errors_are_retried(spool, status, body):
    with FakeRoboflow() as fake:
        fake.then("upload", status, body).then("upload", status, body)
        spool.put(spool_item(0))
        uploader, _ = run_until_drained(spool, fake.url)
    assert [k for k, _ in fake.requests] == ["upload", "upload", "upload", "annotate"]
    assert uploader.counters.counts["retry"] == 2


def test_429_retry_after_is_honoured(spool):
    with FakeRoboflow() as fake:
        fake.then("upload", 429, {"error": "rate limited"}, {"Retry-After": "1"})
        spool.put(spool_item(0))
        t0 = time.monotonic()
        run_until_drained(spool, fake.url)
        assert time.monotonic() - t0 >= 0.95


def test_permanent_error_goes_to_dead_letters(spool):
    with FakeRoboflow() as fake:
        fake.then("upload", 400, {"error": {"message": "Invalid image.", "type": "InvalidImageException"}})
        spool.put_many([spool_item(0), spool_item(1)])
        uploader, _ = run_until_drained(spool, fake.url)
    dead = spool.list("dead")
    assert len(dead) == 1 and "Invalid image." in dead[0].last_error
    assert uploader.counters.counts["uploaded"] == 1


def test_annotation_failure_retries_only_the_annotation(spool):
    with FakeRoboflow() as fake:
        fake.then("annotate", 500, {"error": "boom"})
        spool.put(spool_item(0))
        run_until_drained(spool, fake.url)
    assert [k for k, _ in fake.requests] == ["upload", "annotate", "annotate"]


def test_slow_reply_times_out_and_is_retried(spool):
    with FakeRoboflow() as fake:
        fake.then("upload", 200, {"success": True, "id": "x"}, delay_s=1.5)
        spool.put(spool_item(0))
        uploader, _ = run_until_drained(spool, fake.url, timeout_http_s=0.5)
    assert uploader.counters.counts["retry"] >= 1
    assert spool.stats().delivered == 1


def test_bytes_are_never_reencoded(spool):
    item = spool_item(0)
    with FakeRoboflow() as fake:
        fake.then("upload", 503, {"error": "x"})
        spool.put(item)
        run_until_drained(spool, fake.url)
    assert item.sha256 in fake.images  # the retried upload carried the same bytes
