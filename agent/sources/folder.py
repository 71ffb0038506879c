"""FolderSource: watch a folder for new image files.

New files are picked up by polling (works on every filesystem, including network
mounts where inotify does not). A file is read only once its size and mtime have
not changed for ``settle_ms`` (a file still being copied is never read half-way).
A file is recorded as finished in the state directory once its batch has been
decided and the frames selected from it are spooled (the pipeline's stage does
that, as for ``scan``), so a restart neither reprocesses it nor loses it when the
agent stopped before its batch ran. Files that fail to decode are recorded at once
(and logged once).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from agent.frames.frame import Frame
from agent.frames.prefetch import load_file_frame
from agent.frames.scan_progress import ScanProgress
from agent.images.decode import IMAGE_EXTENSIONS
from agent.pipeline.batcher import DynamicBatcher
from agent.sources.base import SourceThread

logger = logging.getLogger(__name__)


class FolderSource(SourceThread):
    """Polls ``path`` (recursively) every ``poll_interval_s``."""

    kind = "folder"

    def __init__(self, source_id: str, batcher: DynamicBatcher, path: Path, progress: ScanProgress, *,
                 poll_interval_s: float = 1.0, settle_ms: float = 500.0) -> None:  # fmt: skip
        super().__init__(source_id, batcher)
        self.path = path
        self.progress = progress
        self.poll_interval_s = poll_interval_s
        self.settle_s = settle_ms / 1000.0
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, stable since)
        self._in_flight: set[Path] = set()  # handed to the batcher, not yet decided

    def run_loop(self) -> None:
        """Poll until stopped."""
        while not self.stop_event.is_set():
            if not self.path.is_dir():
                self.status.last_error = f"{self.path} is not a directory"
            else:
                self._poll()
            self.stop_event.wait(self.poll_interval_s)

    def _poll(self) -> None:
        now = time.monotonic()
        for path in sorted(self.path.rglob("*")):
            if self.stop_event.is_set():
                return
            if path.suffix.lower() not in IMAGE_EXTENSIONS or path.name.startswith("."):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            if path in self._in_flight:
                if self.progress.is_done(path):
                    self._in_flight.discard(path)
                continue
            sig = (st.st_size, st.st_mtime_ns)
            prev = self._seen.get(path)
            if prev is None or prev[:2] != sig:
                self._seen[path] = (*sig, now)
                continue
            if now - prev[2] < self.settle_s or self.progress.is_done(path):
                continue
            self._emit(path)

    def _emit(self, path: Path) -> None:
        frame = load_file_frame(path)
        self._seen.pop(path, None)
        if frame.pixels is None:
            logger.warning("folder %s: skipped %s", self.id, frame.error)
            self.status.last_error = str(frame.error)
            self.progress.mark_done([path])
        elif self.offer(Frame(self.id, str(path), frame.pixels, origin_path=path)):
            self._in_flight.add(path)
            self.status.frames += 1
        # else: stopping before the queue had room; the file is read again at the next start
