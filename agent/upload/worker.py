"""Uploader: threads that drain the spool into the destination.

For each leased record: upload the JPEG (unless the server id is already known),
remember the id durably, attach the annotation, acknowledge. A duplicate answer
means the bytes are already there: the limit credit is given back and the
annotation is still attached (409 = it already was), so a crash between upload
and annotate never loses the annotation. Retryable failures are retried with
exponential backoff and full jitter, honouring ``Retry-After``; permanent ones go
to the dead-letter area.

The link's state is shared by every worker (``agent.upload.link``): a server's
pause (429/5xx, ``Retry-After``) holds every worker; after
``offline_after_failures`` connection failures in a row the link is offline and
one worker probes with backoff; a refused key (401/403) keeps the frames in the
spool and probes slowly. The first success brings everyone back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.errors import UploadError, UploadRejectedError, UploadServerError
from agent.runtime.thread_priority import ThreadPriority, lower_current_thread
from agent.runtime.threads import join_all_or_warn
from agent.spool.interface import Spool
from agent.spool.records import SpoolRecord
from agent.upload.client import UploadClient
from agent.upload.link import LinkMonitor, full_jitter_s

AUTH_STATUS = frozenset({401, 403})
"""Answers that mean the key is wrong: the frames are kept, not dead-lettered."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploaderOptions:
    """Tuning of the uploader.

    Attributes:
        concurrency: worker threads (parallel uploads).
        backoff_base_s: first retry delay bound.
        backoff_cap_s: largest retry delay.
        max_bytes_per_s: bandwidth cap for metered links (None = unlimited).
        lease_s: how long a record may be in flight before another worker may take it.
        offline_after_failures: consecutive failures that mark the link offline.
        thread_priority: the workers' scheduling priority.
    """

    concurrency: int = 2
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    max_bytes_per_s: float | None = None
    lease_s: float = 300.0
    offline_after_failures: int = 3
    thread_priority: ThreadPriority = ThreadPriority.NORMAL


class ByteRateLimiter:
    """Token bucket over bytes, shared by the workers."""

    def __init__(self, bytes_per_s: float, burst_bytes: float | None = None) -> None:
        self.rate = bytes_per_s
        self.capacity = burst_bytes or bytes_per_s
        self.tokens = self.capacity
        self.last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, n: int, stop: threading.Event) -> None:
        """Block until ``n`` bytes may be sent (or ``stop`` is set)."""
        while not stop.is_set():
            with self._lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= min(n, self.capacity):
                    self.tokens -= n  # may go negative for frames larger than the burst
                    return
                wait = (min(n, self.capacity) - self.tokens) / self.rate
            stop.wait(min(wait, 0.5))


@dataclass
class UploadCounters:
    """Outcomes since start."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Uploader:
    """Drains a Spool (``DiskSpool``, or ``MemorySpool`` in tests) through an UploadClient
    with N worker threads."""

    def __init__(
        self,
        spool: Spool,
        client: UploadClient,
        options: UploaderOptions | None = None,
        *,
        on_duplicate: Callable[[SpoolRecord], None] | None = None,
        on_event: Callable[[str, SpoolRecord, str], None] | None = None,
        seed: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``monotonic`` drives the link's pauses and probes (tests move it by hand)."""
        self.spool = spool
        self.client = client
        self.options = options or UploaderOptions()
        self.on_duplicate = on_duplicate
        self.on_event = on_event
        self.rng = random.Random(seed)
        self.link = LinkMonitor(self.rng, backoff_base_s=self.options.backoff_base_s,
                                backoff_cap_s=self.options.backoff_cap_s,
                                offline_after_failures=self.options.offline_after_failures,
                                monotonic=monotonic)  # fmt: skip
        self.counters = UploadCounters()
        self._limiter = ByteRateLimiter(self.options.max_bytes_per_s) if self.options.max_bytes_per_s else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker threads."""
        self._stop.clear()
        for i in range(self.options.concurrency):
            thread = threading.Thread(target=self._work, name=f"uploader-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the workers; a record in flight is released (retried at next start)."""
        self._stop.set()
        self._threads = join_all_or_warn(self._threads, timeout_s)

    def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is pending (or only dead letters remain); True if drained."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._busy_lock:
                busy = self._busy
            if self.spool.pending() == 0 and busy == 0:
                return True
            time.sleep(0.05)
        return False

    def _work(self) -> None:
        lower_current_thread(self.options.thread_priority)
        while not self._stop.is_set():
            if not self.link.wait_turn(self._stop):
                return
            record = self.spool.lease(self.options.lease_s, wait_s=0.5)
            if record is None:
                self.link.probe_skipped()
                continue
            if self.link.paused():  # another worker's answer paused the link while this one waited
                self.spool.release(record.seq)
                continue
            with self._busy_lock:
                self._busy += 1
            try:
                self.deliver(record)
            except Exception:  # a bug or a local failure must not end this worker: the record waits
                logger.exception("delivering seq %d failed unexpectedly; it is retried later", record.seq)
                self.spool.release(record.seq)
                self._stop.wait(self.options.backoff_base_s)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def _emit(self, kind: str, record: SpoolRecord, detail: str = "") -> None:
        with self.counters.lock:  # several worker threads report outcomes
            self.counters.counts[kind] += 1
        if self.on_event is not None:
            self.on_event(kind, record, detail)

    def deliver(self, record: SpoolRecord) -> None:
        """Deliver one leased record; ack, nack or dead-letter it."""
        item = record.item
        try:
            duplicate = False
            if record.server_id is None:
                if self._limiter is not None:
                    self._limiter.acquire(len(item.jpeg), self._stop)
                result = self.client.upload_image(
                    item.project, item.jpeg, name=f"{item.inference_id}.jpg", batch=item.batch_name,
                    tags=item.tags, inference_id=item.inference_id,
                )  # fmt: skip
                record.server_id, duplicate = result.image_id or None, result.duplicate
                if result.image_id:
                    self.spool.set_server_id(record.seq, result.image_id)
            annotation, server_id = item.annotation, record.server_id
            if annotation is not None and server_id is None:
                logger.info("seq %d: the server reported a duplicate without its id; the draft annotation "
                            "cannot be attached", record.seq)  # fmt: skip
            elif annotation is not None and server_id is not None:
                self.client.annotate(item.project, server_id, name=annotation.name, body=annotation.body,
                                     content_type=annotation.content_type)  # fmt: skip
        except UploadError as exc:
            self._failed(record, exc)
            return
        self.spool.ack(record.seq)
        self.link.success()
        if duplicate:
            self._emit("duplicate", record, record.server_id or "")
            if self.on_duplicate is not None:
                self.on_duplicate(record)
        else:
            self._emit("uploaded", record, record.server_id or "")

    def _failed(self, record: SpoolRecord, exc: UploadError) -> None:
        """Retryable: back off (the whole link when the server asked); rejected key: keep the frame and
        pause the link; any other refusal: dead letter."""
        if isinstance(exc, UploadRejectedError) and exc.status_code in AUTH_STATUS:
            self.link.unauthorized(str(exc))
            self.spool.nack(record.seq, 0.0, str(exc))  # the frame stays; the link decides when to try again
            self._emit("unauthorized", record, str(exc))
            return
        if not exc.retryable:
            self.spool.dead_letter(record.seq, str(exc))
            self.link.success()  # the server answered: the link works
            self._emit("dead", record, str(exc))
            return
        retry_after = exc.retry_after_s if isinstance(exc, UploadServerError) else None
        delay = full_jitter_s(record.attempts, self.options.backoff_base_s, self.options.backoff_cap_s, self.rng)
        delay = max(delay, retry_after or 0.0)
        if isinstance(exc, UploadServerError):  # the server answered and asked for a pause: all of us wait
            self.link.server_busy(delay, f"HTTP {exc.status_code}")
        else:
            self.link.unreachable(str(exc))
        self.spool.nack(record.seq, delay, str(exc))
        self._emit("retry", record, str(exc))
        logger.info("upload of seq %d failed (%s); retry in %.1f s", record.seq, exc, delay)
