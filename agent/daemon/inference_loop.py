"""InferenceLoop: the pipeline thread (batch → infer → select → prepare → spool) and its watchdog.

The loop reads the current model and selector once per batch, so a model hot swap
or a config change applies between batches without dropping frames. A batch that
does not finish within ``stuck_timeout_s`` is reported; the loop is restarted on a
fresh runner (the stuck thread is abandoned: Python cannot kill it, and its result
is discarded by generation number).

With ``prepare`` a look-ahead thread takes the next batch from the batcher and
preprocesses it while the model runs the current one, then hands it over through a
one-batch slot; it takes a batch only once the slot is empty, so at most two prepared
inputs exist (one running, one waiting) — what the model's two look-ahead buffers allow.
The inference thread then does only the model call, postprocessing and sampling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher
from agent.runtime.thread_priority import ThreadPriority, lower_current_thread
from agent.runtime.threads import join_or_warn

logger = logging.getLogger(__name__)


@dataclass
class LoopHealth:
    """Heartbeat of the loop (monotonic seconds)."""

    last_progress: float
    batch_started: float | None = None
    batches: int = 0
    frames: int = 0
    last_latency_s: float = 0.0
    stuck_restarts: int = 0


class InferenceLoop:
    """Runs ``process(frames)`` on every batch the batcher hands out."""

    def __init__(self, batcher: DynamicBatcher, process: Callable[..., object], *,
                 stuck_timeout_s: float = 60.0, on_stuck: Callable[[], None] | None = None,
                 prepare: Callable[[list[Frame]], object] | None = None,
                 prepare_priority: ThreadPriority = ThreadPriority.NORMAL) -> None:  # fmt: skip
        """
        Args:
            process: ``process(frames)``, or with ``prepare`` ``process(frames, prepared)``.
            prepare: preprocesses a batch on the look-ahead thread (its result, maybe None, goes to
                ``process``); None: no look-ahead thread.
            prepare_priority: the look-ahead thread's scheduling priority.
        """
        self.batcher = batcher
        self.process = process
        self.prepare = prepare
        self.prepare_priority = prepare_priority
        self._slot: tuple[list[Frame], object] | None = None  # a prepared batch waiting for the model
        self._slot_changed = threading.Condition()
        self._look_ahead: threading.Thread | None = None
        self.stuck_timeout_s = stuck_timeout_s
        self.on_stuck = on_stuck
        self.health = LoopHealth(time.monotonic())
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._watchdog = threading.Thread(target=self._watch, name="inference-watchdog", daemon=True)

    def start(self) -> None:
        """Start the loop, its look-ahead thread (with ``prepare``) and its watchdog."""
        if self.prepare is not None:
            self._look_ahead = threading.Thread(target=self._prepare_ahead, name="inference-look-ahead", daemon=True)
            self._look_ahead.start()
        self._spawn()
        self._watchdog.start()

    def _prepare_ahead(self) -> None:
        assert self.prepare is not None
        lower_current_thread(self.prepare_priority)
        while not self._stop.is_set():
            with self._slot_changed:
                if self._slot is not None:  # the previous batch still waits: its input buffer is in use
                    self._slot_changed.wait(0.5)
                    continue
            frames = self.batcher.next_batch(self._stop, idle_wait_s=0.5)
            if not frames:
                continue
            prepared: object = None
            try:
                prepared = self.prepare(frames)
            except Exception:  # the inference thread preprocesses the batch itself
                logger.exception("preprocessing a batch of %d frames ahead failed", len(frames))
            with self._slot_changed:
                self._slot = (frames, prepared)
                self._slot_changed.notify_all()

    def _take_prepared(self, timeout_s: float) -> tuple[list[Frame], object] | None:
        with self._slot_changed:
            if self._slot is None:
                self._slot_changed.wait(timeout_s)
            item, self._slot = self._slot, None
            if item is not None:
                self._slot_changed.notify_all()
            return item

    def take_pending(self) -> list[Frame]:
        """Frames taken from the batcher but not yet processed (after :meth:`stop`: to drain them)."""
        with self._slot_changed:
            item, self._slot = self._slot, None
        return item[0] if item is not None else []

    def _spawn(self) -> None:
        self._generation += 1
        gen = self._generation
        self._thread = threading.Thread(target=self._run, args=(gen,), name=f"inference-{gen}", daemon=True)
        self._thread.start()

    def _run(self, generation: int) -> None:
        while not self._stop.is_set() and generation == self._generation:
            prepared: object = None
            if self.prepare is None:
                frames = self.batcher.next_batch(self._stop, idle_wait_s=0.5)
            else:
                item = self._take_prepared(timeout_s=0.5)
                frames, prepared = item if item is not None else ([], None)
            if not frames:
                self.health.last_progress = time.monotonic()  # idle is healthy
                continue
            self.run_batch(frames, generation, prepared)

    def run_batch(self, frames: list[Frame], generation: int | None = None, prepared: object = None) -> None:
        """Process one batch, keeping the heartbeat (also used by the shutdown drain)."""
        started = time.monotonic()
        self.health.batch_started = started
        try:
            if self.prepare is None:
                self.process(frames)
            else:
                self.process(frames, prepared)
        except Exception:  # one bad batch must not stop the agent
            logger.exception("batch of %d frames failed", len(frames))
        if generation is not None and generation != self._generation:
            return  # abandoned after being declared stuck
        done = time.monotonic()
        self.health.batch_started = None
        self.health.last_progress = done
        self.health.batches += 1
        self.health.frames += len(frames)
        self.health.last_latency_s = done - started

    def healthy(self) -> bool:
        """True while batches complete (or there is nothing to do)."""
        started = self.health.batch_started
        return started is None or time.monotonic() - started < self.stuck_timeout_s

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self.stuck_timeout_s / 4)):
            if not self.healthy():
                self.health.stuck_restarts += 1
                logger.error("inference stuck for more than %.0f s: restarting the runner", self.stuck_timeout_s)
                self.health.batch_started = None
                if self.on_stuck is not None:
                    self.on_stuck()
                self._spawn()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the batch in flight (waits at most ``timeout_s``); :meth:`take_pending` has what is left."""
        self._stop.set()
        with self._slot_changed:
            self._slot_changed.notify_all()
        join_or_warn(self._look_ahead, 2.0, "inference look-ahead")
        join_or_warn(self._thread, timeout_s, "inference loop")
        join_or_warn(self._watchdog, 2.0, "inference watchdog")
