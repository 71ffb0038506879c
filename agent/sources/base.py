"""Source threads: each reads frames and puts them into the batcher until stopped."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from agent.errors import FramesiftError
from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher
from agent.runtime.thread_priority import ThreadPriority, lower_current_thread
from agent.runtime.threads import join_or_warn

logger = logging.getLogger(__name__)


@dataclass
class SourceState:
    """What ``GetStatus`` reports about a source."""

    id: str
    kind: str
    state: str = "starting"
    frames: int = 0
    last_error: str = ""


class SourceThread:
    """Base: owns a thread with a stop event; subclasses implement ``run_loop``."""

    kind = "source"
    finite = True
    """Files (a folder, a video file) must never lose a frame: their queue blocks the reader.
    Live streams are not finite: their queue drops the oldest frame (counted)."""

    def __init__(self, source_id: str, batcher: DynamicBatcher) -> None:
        self.id = source_id
        self.batcher = batcher
        self.status = SourceState(source_id, self.kind)
        self.stop_event = threading.Event()
        self.priority = ThreadPriority.NORMAL
        """Set before ``start``: the reading/decoding thread's priority (the daemon lowers it)."""
        self._thread = threading.Thread(target=self._main, name=f"source-{source_id}", daemon=True)

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def _main(self) -> None:
        lower_current_thread(self.priority)
        try:
            self.status.state = "running"
            self.run_loop()
            if self.status.state == "running":
                self.status.state = "finished"
        except (FramesiftError, OSError) as exc:  # expected: one line says what and why
            logger.error("source %s stopped: %s", self.id, exc)
            self.status.state, self.status.last_error = "error", str(exc)
        except Exception as exc:  # a source must never take the agent down; a bug keeps its traceback
            logger.exception("source %s failed", self.id)
            self.status.state, self.status.last_error = "error", str(exc)

    def offer(self, frame: Frame) -> bool:
        """Hand a frame to the batcher: a finite source waits for room (until stopped), a live one never waits.

        Returns False only when stopping before the frame was accepted.
        """
        if not self.finite:
            return self.batcher.put(frame)
        while not self.stop_event.is_set():
            if self.batcher.put(frame, timeout_s=0.5):
                return True
        return False

    def run_loop(self) -> None:
        """Read until ``stop_event`` is set."""
        raise NotImplementedError

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to stop and wait at most ``timeout_s``."""
        self.stop_event.set()
        join_or_warn(self._thread, timeout_s, f"source {self.id}")
