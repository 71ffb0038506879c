"""DecodeWorkers: decode frames handed in by other threads, at the background priority.

``SubmitFrames`` arrives on gRPC's pool threads, which also answer ``Infer`` and must keep
their normal priority (a thread cannot raise its priority again once lowered). Those
threads hand each image to these workers and wait for the result, so the decode runs at
the priority of the other threads around the model (``[agent] background_priority``)
while per-frame errors still reach the caller, in order.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future

from agent.images.decode import DecodedImage, MinHW, decode_image
from agent.runtime.thread_priority import ThreadPriority, lower_current_thread
from agent.runtime.threads import join_all_or_warn

_Job = tuple[bytes, str, "MinHW | None", "Future[DecodedImage]"]


def default_worker_count() -> int:
    """Half the cores (the model has the others), at least 1 and at most 4."""
    return max(1, min(4, len(os.sched_getaffinity(0)) // 2))


class DecodeWorkers:
    """A few threads that decode JPEG/PNG bytes for callers that must not lower their own priority."""

    def __init__(self, priority: ThreadPriority, workers: int | None = None) -> None:
        self.priority = priority
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stopped = False
        self._lock = threading.Lock()  # a job is queued before the stop sentinels or refused
        self._threads = [threading.Thread(target=self._work, name=f"decode-{i}", daemon=True)
                         for i in range(workers or default_worker_count())]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def decode(self, data: bytes, name: str, min_hw: MinHW | None = None) -> DecodedImage:
        """Decode ``data`` on a worker (see :func:`~agent.images.decode.decode_image`) and wait for it.

        Raises:
            ImageError: the bytes are not an image the agent can read (as ``decode_image``).
            RuntimeError: the workers were stopped.
        """
        future: Future[DecodedImage] = Future()
        with self._lock:
            if self._stopped:
                raise RuntimeError("the decode workers are stopped")
            self._jobs.put((data, name, min_hw, future))
        return future.result()

    def _work(self) -> None:
        lower_current_thread(self.priority)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            data, name, min_hw, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(decode_image(data, name, min_hw=min_hw))
            except BaseException as exc:  # the caller gets every failure, the worker goes on
                future.set_exception(exc)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Finish the jobs queued, then stop the threads (waits at most ``timeout_s``)."""
        with self._lock:
            self._stopped = True
            for _ in self._threads:
                self._jobs.put(None)
        self._threads = join_all_or_warn(self._threads, timeout_s)
