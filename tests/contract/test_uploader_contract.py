"""The uploader against a loopback fake that answers like the Roboflow API."""

from __future__ import annotations

import threading

import pytest

from agent.limits.store import Credit
from agent.spool.disk_spool import DiskSpool
from agent.spool.records import SpoolRecord
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions
from tests.fake_roboflow import FakeRoboflow
from tests.frames import spool_item

FAST = UploaderOptions(concurrency=1, backoff_base_s=0.01, backoff_cap_s=0.05, offline_after_failures=50)
DRAIN_DEADLINE_S = 30.0  # generous: drain() polls a condition, it does not sleep a fixed time


@pytest.fixture
def spool(tmp_path):
    s = DiskSpool(tmp_path / "spool")
    yield s
    s.close()


def run_until_drained(spool, url, options=FAST, timeout_s=DRAIN_DEADLINE_S, timeout_http_s=5.0):
    duplicates: list[SpoolRecord] = []
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
        spool.put(spool_item(0, credit=True))
        uploader, duplicates = run_until_drained(spool, fake.url)
    assert [r.item.credit for r in duplicates] == [Credit("s", "batch-1", ("s:minutely:0",), "local")]
    assert uploader.counters.counts["duplicate"] == 1
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


class NackRecorder:
    """The spool, with every ``nack`` recorded and signalled (the Uploader only needs the Protocol)."""

    def __init__(self, spool):
        self.spool = spool
        self.nacks = []
        self.nacked = threading.Event()

    def nack(self, seq, retry_in_s, error):
        self.spool.nack(seq, retry_in_s, error)
        self.nacks.append(retry_in_s)
        self.nacked.set()

    def __getattr__(self, name):
        return getattr(self.spool, name)


def test_429_retry_after_is_honoured(tmp_path):
    wall = [1_000_000.0]  # the spool's wall clock, moved by the test
    spool = DiskSpool(tmp_path / "spool", clock=lambda: wall[0])
    recorder = NackRecorder(spool)
    with FakeRoboflow() as fake:
        fake.then("upload", 429, {"error": "rate limited"}, {"Retry-After": "7"})
        spool.put(spool_item(0))
        client = UploadClient(fake.url, "k", timeout_s=5.0)
        uploader = Uploader(recorder, client, FAST, seed=1, monotonic=lambda: wall[0])  # the link's pause too
        uploader.start()
        try:
            assert recorder.nacked.wait(DRAIN_DEADLINE_S)
            assert recorder.nacks[0] >= 7.0  # Retry-After wins over the 0.05 s backoff cap
            wall[0] += 6.9
            assert spool.lease() is None and [k for k, _ in fake.requests] == ["upload"]  # not due yet
            wall[0] += recorder.nacks[0]
            assert uploader.drain(DRAIN_DEADLINE_S), spool.stats()
        finally:
            uploader.stop()
            client.close()
            spool.close()
    assert [k for k, _ in fake.requests] == ["upload", "upload", "annotate"]


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


def test_duplicate_without_an_id_is_delivered(spool):
    """Roboflow may answer ``{"duplicate": true}`` with no id: delivered, credit back, nothing to annotate."""
    with FakeRoboflow() as fake:
        fake.then("upload", 200, {"duplicate": True})
        spool.put(spool_item(0, credit=True))
        uploader, duplicates = run_until_drained(spool, fake.url)
    assert [k for k, _ in fake.requests] == ["upload"]
    assert len(duplicates) == 1 and spool.stats().dead == 0 and spool.stats().delivered == 1
    assert uploader.counters.counts["duplicate"] == 1


class SteppedClock:
    """The link's monotonic clock, moved by the test; counts reads (a worker waiting reads it)."""

    def __init__(self) -> None:
        self.now, self.reads = 1000.0, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def polled(self, times: int = 6) -> None:
        start = self.reads
        for _ in range(600):
            if self.reads >= start + times:
                return
            threading.Event().wait(0.05)
        raise AssertionError("no worker polled the link")


def test_a_server_pause_applies_to_every_worker(tmp_path):
    """After a 503 with Retry-After, no worker sends anything until the pause is over."""
    clock = SteppedClock()
    spool = DiskSpool(tmp_path / "spool", clock=lambda: 1_000_000.0 + clock.now)  # retry times move with it
    recorder = NackRecorder(spool)
    options = UploaderOptions(concurrency=4, backoff_base_s=0.01, backoff_cap_s=0.05, offline_after_failures=50)
    with FakeRoboflow() as fake:
        fake.then("upload", 503, {"error": "maintenance"}, {"Retry-After": "30"})
        spool.put(spool_item(0))
        client = UploadClient(fake.url, "k", timeout_s=5.0)
        uploader = Uploader(recorder, client, options, seed=1, monotonic=clock)
        uploader.start()
        try:
            assert recorder.nacked.wait(DRAIN_DEADLINE_S)
            spool.put_many([spool_item(i) for i in (1, 2, 3)])  # work for the idle workers
            clock.polled()  # the workers looked at the link while it was paused …
            assert [k for k, _ in fake.requests] == ["upload"]  # … and sent nothing
            assert uploader.link.describe().startswith("paused for 30 s")
            clock.now += 30.0
            assert uploader.drain(DRAIN_DEADLINE_S), spool.stats()
        finally:
            uploader.stop()
            client.close()
            spool.close()
    assert [k for k, _ in fake.requests].count("upload") == 5  # the refused one, then all four


def test_a_refused_key_keeps_the_frames_and_probes_until_it_works(tmp_path):
    clock = SteppedClock()
    spool = DiskSpool(tmp_path / "spool")
    events: list[str] = []
    with FakeRoboflow() as fake:
        fake.then("upload", 401, {"error": {"message": "This API key does not exist", "type": "OAuthException"}})
        fake.then("upload", 403, {"error": "forbidden"})
        spool.put_many([spool_item(0), spool_item(1)])
        client = UploadClient(fake.url, "rotated-key", timeout_s=5.0)
        uploader = Uploader(spool, client, FAST, seed=1, monotonic=clock,
                            on_event=lambda kind, record, detail: events.append(kind))  # fmt: skip
        uploader.start()
        try:
            for expected in (1, 2):
                for _ in range(600):
                    if events.count("unauthorized") >= expected:
                        break
                    threading.Event().wait(0.05)
                assert events.count("unauthorized") == expected
                assert not uploader.link.online and uploader.link.describe().startswith("unauthorized: ")
                assert spool.stats().dead == 0 and spool.stats().count == 2  # nothing dead-lettered
                clock.polled()
                assert len(fake.requests) == expected  # one slow probe at a time
                clock.now = uploader.link.next_probe
            assert uploader.drain(DRAIN_DEADLINE_S), spool.stats()  # the key works again
        finally:
            uploader.stop()
            client.close()
            spool.close()
    assert uploader.link.online and "rotated-key" not in " ".join(events)
