"""PrepareQueue: commits selected batches (resize + JPEG + spool + mark done) off the model's thread.

The inference loop hands each batch's :class:`~agent.pipeline.stage.StageResult` (inferred,
sampled, limit credits taken) to ``put``; one worker thread runs ``commit`` on each, in order.
The queue is bounded in batches *and* in held pixel bytes: when it is full ``put`` blocks
(backpressure on the model, and through the batcher on the sources), so memory stays bounded
whatever the selection rate.

Nothing is lost: a batch is decided only once ``commit`` has spooled its selected frames and
marked its files done. ``stop`` commits everything still queued before returning (SIGTERM);
after a kill -9 the files of uncommitted batches are simply read again at the next start
(they were never marked done), and frames already spooled are not duplicated at the
destination (the server deduplicates by SHA-256).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from agent.errors import DiskFullError
from agent.pipeline.stage_result import StageResult
from agent.runtime.thread_priority import ThreadPriority, lower_current_thread
from agent.runtime.threads import join_or_warn

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCHES = 4
DEFAULT_MAX_BYTES = 48 * 1024 * 1024  # about 17 decoded 1280×720 frames


class PrepareQueue:
    """A bounded FIFO of selected batches and the one thread that commits them."""

    def __init__(
        self,
        commit: Callable[[StageResult], object],
        *,
        max_batches: int = DEFAULT_MAX_BATCHES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_idle: Callable[[], None] | None = None,
        priority: ThreadPriority = ThreadPriority.NORMAL,
    ) -> None:
        """
        Args:
            commit: prepares, spools and marks done one batch (``BatchStage.commit``); must not raise
                for a full spool (an exception is logged and the batch counted as failed).
            max_batches: batches waiting at most (the one being committed not counted).
            max_bytes: pixel bytes waiting at most; a single batch larger than this is still accepted
                when the queue is empty (it could never fit otherwise).
            on_idle: called by the worker when the queue runs empty (e.g. flush grouped progress).
            priority: the worker's scheduling priority (it encodes JPEGs beside the model).
        """
        if max_batches < 1 or max_bytes < 1:
            raise ValueError("max_batches and max_bytes must be >= 1")
        self._commit = commit
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self._on_idle = on_idle
        self._priority = priority
        self._queue: deque[StageResult] = deque()
        self._bytes = 0
        self._busy_frames = 0  # frames of the batch being committed
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.failed_batches = 0
        self._thread = threading.Thread(target=self._run, name="prepare", daemon=True)

    def start(self) -> None:
        """Start the worker."""
        self._thread.start()

    @property
    def frames_pending(self) -> int:
        """Frames accepted from the model and not yet decided (queued or being committed)."""
        with self._cond:
            return self._busy_frames + sum(len(r.frames) for r in self._queue)

    @property
    def bytes_pending(self) -> int:
        """Pixel bytes waiting in the queue."""
        with self._cond:
            return self._bytes

    def put(self, result: StageResult, timeout_s: float | None = None) -> bool:
        """Queue one batch for commit; blocks while the queue is full.

        Returns False when ``timeout_s`` passed (or the queue was stopped) before there was room;
        the caller then still owns the batch (``commit`` it itself).
        """
        size = result.held_bytes
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._queue and (len(self._queue) >= self.max_batches or self._bytes + size > self.max_bytes):
                if self._stop.is_set():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.5 if remaining is None else min(0.5, remaining))
            if self._stop.is_set() and not self._thread.is_alive():
                return False
            self._queue.append(result)
            self._bytes += size
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        lower_current_thread(self._priority)
        idle_done = True
        while True:
            result: StageResult | None = None
            with self._cond:
                if self._queue:
                    result = self._queue.popleft()
                    self._bytes -= result.held_bytes
                    self._busy_frames = len(result.frames)
                    self._cond.notify_all()
                elif self._stop.is_set():
                    return
                elif idle_done:
                    self._cond.wait(0.2)
                    continue
            if result is None:
                self._idle()  # once per burst, outside the lock
                idle_done = True
                continue
            idle_done = False
            try:
                self._commit(result)
            except Exception:  # one bad batch must not stop the stage; its files are read again later
                self.failed_batches += 1
                logger.exception("committing a batch of %d frame(s) failed", len(result.frames))
            finally:
                with self._cond:
                    self._busy_frames = 0
                    self._cond.notify_all()

    def _idle(self) -> None:
        if self._on_idle is not None:
            try:
                self._on_idle()
            except DiskFullError as exc:  # progress not recorded: files are read again later, not lost
                logger.warning("prepare stage: %s", exc)
            except Exception:
                logger.exception("prepare stage: idle hook failed")

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until every queued batch is committed; False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._busy_frames:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(0.2, remaining))
        return True

    def stop(self, timeout_s: float = 5.0) -> int:
        """Commit what is queued (within ``timeout_s``), then stop the worker.

        Returns the frames left uncommitted (their files are read again at the next start).
        """
        self.wait_empty(timeout_s)
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
        join_or_warn(self._thread, max(0.1, timeout_s / 4), "prepare stage")
        with self._cond:
            left = self._busy_frames + sum(len(r.frames) for r in self._queue)
        self._idle()
        return left
