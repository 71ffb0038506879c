"""VideoSource: video files and RTSP/HTTP streams through OpenCV.

Streams reconnect with exponential backoff (capped) when they fail or end; files
end (or loop). ``fps`` caps the rate handed to the batcher; ``every_nth`` keeps
one frame in N. Frame ids are ``<source>#<n>`` with n counting decoded frames.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2

from agent.errors import SourceFailedError
from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher
from agent.sources.base import SourceThread

logger = logging.getLogger(__name__)


class VideoSource(SourceThread):
    """Reads ``uri`` (a file path or rtsp://, http://… URL)."""

    kind = "video"

    def __init__(self, source_id: str, batcher: DynamicBatcher, uri: str, *, fps: float = 0.0,
                 every_nth: int = 1, loop: bool = False, reconnect_max_s: float = 30.0) -> None:  # fmt: skip
        super().__init__(source_id, batcher)
        self.uri = uri
        self.is_stream = "://" in uri
        self.finite = not self.is_stream  # a file waits for room; a live stream drops its oldest frame
        self.kind = "stream" if self.is_stream else "video"
        self.status.kind = self.kind
        self.fps = fps
        self.every_nth = max(1, every_nth)
        self.loop = loop
        self.reconnect_max_s = reconnect_max_s

    def run_loop(self) -> None:
        """Open, read, reconnect until stopped (or the file ends)."""
        failures = 0
        decoded = 0
        while not self.stop_event.is_set():
            cap = cv2.VideoCapture(self.uri)
            if not cap.isOpened():
                cap.release()
                if not self.is_stream:
                    why = "no such file" if not Path(self.uri).exists() else "OpenCV cannot decode it"
                    raise SourceFailedError(f"cannot open video file {self.uri}: {why}")
                failures += 1
                self._wait_reconnect(failures, "cannot open stream")
                continue
            self.status.state, failures = "running", 0
            next_due = 0.0
            while not self.stop_event.is_set():
                ok, image = cap.read()
                if not ok or image is None:
                    break
                decoded += 1
                if (decoded - 1) % self.every_nth:
                    continue
                now = time.monotonic()
                if self.fps > 0:
                    if now < next_due:
                        if not self.is_stream:  # a file has no real time: pace it
                            self.stop_event.wait(next_due - now)
                        else:
                            continue
                    next_due = max(now, next_due) + 1.0 / self.fps
                if not self.offer(Frame(self.id, f"{self.id}#{decoded}", image)):
                    break  # stopping
                self.status.frames += 1
            cap.release()
            if self.stop_event.is_set():
                return
            if not self.is_stream and not self.loop:
                return
            if self.is_stream:
                failures += 1
                self._wait_reconnect(failures, "stream ended or failed")

    def _wait_reconnect(self, failures: int, why: str) -> None:
        delay = min(self.reconnect_max_s, 0.5 * 2 ** min(failures - 1, 10))
        self.status.state, self.status.last_error = "reconnecting", why
        logger.warning("source %s: %s; reconnecting in %.1f s", self.id, why, delay)
        self.stop_event.wait(delay)
