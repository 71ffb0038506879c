"""FolderSource: watch a folder for new image files.

New files are picked up from filesystem events where the kernel offers them
(inotify: a file closed after writing or renamed into the tree is complete and is
read at once) and by polling every ``poll_interval_s`` (files present at start,
network mounts whose remote writers send no events, a lost event queue). A polled
file is read only once its size and mtime have not changed for ``settle_ms`` (a
file still being copied is never read half-way).
A file is recorded as finished in the state directory once its batch has been
decided and the frames selected from it are spooled (the pipeline's stage does
that, as for ``scan``), so a restart neither reprocesses it nor loses it when the
agent stopped before its batch ran. Files that fail to decode are recorded at once
(and logged once). With ``decode_min_hw`` a JPEG is decoded for the model at a reduced
DCT scale and its bytes ride along on the frame, so only selected frames are decoded
at full size (in the prepare stage).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from agent.errors import DiskFullError
from agent.frames.frame import Frame
from agent.frames.prefetch import load_file_frame
from agent.frames.scan_progress import ScanProgress
from agent.images.decode import IMAGE_EXTENSIONS, MinHW
from agent.pipeline.batcher import DynamicBatcher
from agent.sources.base import SourceThread
from agent.sources.inotify_watch import InotifyWatch

logger = logging.getLogger(__name__)


class FolderSource(SourceThread):
    """Watches ``path`` (recursively): events when available, and a poll every ``poll_interval_s``."""

    kind = "folder"

    def __init__(self, source_id: str, batcher: DynamicBatcher, path: Path, progress: ScanProgress, *,
                 poll_interval_s: float = 1.0, settle_ms: float = 500.0, use_events: bool = True,
                 decode_min_hw: Callable[[], MinHW | None] = lambda: None) -> None:  # fmt: skip
        """
        Args:
            decode_min_hw: read before each file: the (height, width) the model needs at least
                (``BatchStage.decode_min_hw``), or None to decode at full size.
        """
        super().__init__(source_id, batcher)
        self.path = path
        self.progress = progress
        self.poll_interval_s = poll_interval_s
        self.settle_s = settle_ms / 1000.0
        self.use_events = use_events
        self.decode_min_hw = decode_min_hw
        self.events_active = False  # True while inotify events are being received
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, stable since)
        self._in_flight: dict[Path, tuple[int, int]] = {}  # handed to the batcher, not yet decided: (size, mtime_ns)
        self._done: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) known finished
        # the three maps hold files present at the last poll only: a file removed is forgotten there,
        # so a folder whose files are rotated keeps flat memory, and a new file under an old name is read

    def run_loop(self) -> None:
        """Read events and poll until stopped (each wait at most 0.2 s, so ``stop`` is prompt)."""
        watch = self._open_watch()
        next_poll = 0.0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if watch is None and self.use_events and self.path.is_dir():
                    watch = self._open_watch()
                if now >= next_poll or (watch is not None and watch.overflowed):
                    if watch is not None:
                        watch.overflowed = False
                    if not self.path.is_dir():
                        self.status.last_error = f"{self.path} is not a directory"
                    else:
                        self._poll()
                    next_poll = time.monotonic() + self.poll_interval_s
                wait_s = min(0.2, max(0.0, next_poll - time.monotonic()))
                if watch is None:
                    self.stop_event.wait(wait_s)
                    continue
                for path in watch.read(wait_s):
                    if self.stop_event.is_set():
                        break
                    self._on_complete(path)
        finally:
            if watch is not None:
                watch.close()
            self.events_active = False

    def _open_watch(self) -> InotifyWatch | None:
        if not self.use_events or not self.path.is_dir():
            return None
        try:
            watch = InotifyWatch(self.path)
        except OSError as exc:
            logger.info("folder %s: no filesystem events (%s); polling every %.1f s", self.id, exc,
                        self.poll_interval_s)  # fmt: skip
            self.use_events = False
            return None
        self.events_active = True
        return watch

    def _on_complete(self, path: Path) -> None:
        """A file was closed after writing or renamed into the tree: it is settled."""
        if path.suffix.lower() not in IMAGE_EXTENSIONS or path.name.startswith("."):
            return
        try:
            st = path.stat()
        except OSError:
            return
        sig = (st.st_size, st.st_mtime_ns)
        if self._in_flight.get(path) == sig or self._done.get(path) == sig or self.progress.is_done(path):
            return  # this version is queued or finished (a different one under the same name is new)
        self._emit(path, sig)

    def _poll(self) -> None:
        now = time.monotonic()
        present: set[Path] = set()
        for path in sorted(self.path.rglob("*")):
            if self.stop_event.is_set():
                return
            if path.suffix.lower() not in IMAGE_EXTENSIONS or path.name.startswith("."):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            present.add(path)
            if self._in_flight.get(path) == sig:
                if self.progress.is_done(path):
                    del self._in_flight[path]
                    self._done[path] = sig
                continue
            if self._done.get(path) == sig:
                continue
            prev = self._seen.get(path)
            if prev is None or prev[:2] != sig:
                self._seen[path] = (*sig, now)
                continue
            if now - prev[2] < self.settle_s:
                continue
            if self.progress.is_done(path):
                self._done[path] = sig
                self._seen.pop(path, None)
                continue
            self._emit(path, sig)
        if not self.stop_event.is_set():  # a complete listing: forget the files that are gone
            for known in (self._seen, self._in_flight, self._done):
                for gone in known.keys() - present:
                    del known[gone]

    def _emit(self, path: Path, sig: tuple[int, int]) -> None:
        t0 = time.perf_counter()
        frame = load_file_frame(path, min_hw=self.decode_min_hw())
        decode_s = time.perf_counter() - t0
        self._seen.pop(path, None)
        if frame.pixels is None:
            logger.warning("folder %s: skipped %s", self.id, frame.error)
            self.status.last_error = str(frame.error)
            try:
                self.progress.mark_done([path])
            except DiskFullError as exc:  # recorded later; the file is skipped again after a restart
                logger.warning("folder %s: %s", self.id, exc)
        elif self.offer(Frame(self.id, str(path), frame.pixels, origin_path=path, decode_s=decode_s,
                              encoded=frame.jpeg, full_hw=frame.full_hw)):  # fmt: skip
            self._in_flight[path] = sig
            self.status.frames += 1
        # else: stopping before the queue had room; the file is read again at the next start
