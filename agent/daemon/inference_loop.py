"""InferenceLoop: the pipeline thread (batch → infer → select → prepare → spool) and its watchdog.

The loop reads the current model and selector once per batch, so a model hot swap
or a config change applies between batches without dropping frames. A batch that
does not finish within ``stuck_timeout_s`` is reported; the loop is restarted on a
fresh runner (the stuck thread is abandoned: Python cannot kill it, and its result
is discarded by generation number).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher
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

    def __init__(self, batcher: DynamicBatcher, process: Callable[[list[Frame]], object], *,
                 stuck_timeout_s: float = 60.0, on_stuck: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.batcher = batcher
        self.process = process
        self.stuck_timeout_s = stuck_timeout_s
        self.on_stuck = on_stuck
        self.health = LoopHealth(time.monotonic())
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._watchdog = threading.Thread(target=self._watch, name="inference-watchdog", daemon=True)

    def start(self) -> None:
        """Start the loop and its watchdog."""
        self._spawn()
        self._watchdog.start()

    def _spawn(self) -> None:
        self._generation += 1
        gen = self._generation
        self._thread = threading.Thread(target=self._run, args=(gen,), name=f"inference-{gen}", daemon=True)
        self._thread.start()

    def _run(self, generation: int) -> None:
        while not self._stop.is_set() and generation == self._generation:
            frames = self.batcher.next_batch(self._stop, idle_wait_s=0.5)
            if generation != self._generation:
                return
            if not frames:
                self.health.last_progress = time.monotonic()  # idle is healthy
                continue
            self.run_batch(frames, generation)

    def run_batch(self, frames: list[Frame], generation: int | None = None) -> None:
        """Process one batch, keeping the heartbeat (also used by the shutdown drain)."""
        started = time.monotonic()
        self.health.batch_started = started
        try:
            self.process(frames)
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
        """Stop after the batch in flight (waits at most ``timeout_s``)."""
        self._stop.set()
        join_or_warn(self._thread, timeout_s, "inference loop")
        join_or_warn(self._watchdog, 2.0, "inference watchdog")
