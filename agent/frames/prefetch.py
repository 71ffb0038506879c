"""FramePrefetcher: read and decode files on a background thread, in batches.

The consumer (inference) works on batch k while the prefetcher decodes batch
k + 1. The queue is bounded, so memory stays flat; ``close()`` stops the
thread within its timeout even when the consumer stopped reading.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agent.errors import ImageError
from agent.images.decode import DEFAULT_MAX_PIXELS, MinHW, decode_image, sniff_format
from agent.runtime.threads import join_or_warn

logger = logging.getLogger(__name__)


@dataclass
class FileFrame:
    """One file's outcome: pixels, or the error that names why it failed.

    Attributes:
        path: the file.
        data: the encoded bytes (kept for upload preparation), empty on read error.
        pixels: (H, W, 3) uint8 BGR, or None when ``error`` is set.
        error: per-file failure (decode, size, I/O).
        full_hw: (height, width) of the whole image when ``pixels`` is a reduced decode, else None.
    """

    path: Path
    data: bytes = b""
    pixels: NDArray[np.uint8] | None = None
    error: ImageError | None = None
    full_hw: tuple[int, int] | None = None

    @property
    def jpeg(self) -> bytes | None:
        """``data`` when the file is a JPEG (kept on the frame for its upload), else None."""
        return self.data if sniff_format(self.data) == "jpeg" else None


@dataclass
class FrameBatchOfFiles:
    """Up to ``batch_size`` files, good and failed ones."""

    frames: list[FileFrame] = field(default_factory=list)

    @property
    def good(self) -> list[FileFrame]:
        """Frames that decoded."""
        return [f for f in self.frames if f.pixels is not None]


def load_file_frame(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, min_hw: MinHW | None = None) -> FileFrame:
    """Read and decode one file, turning every failure into a per-file error.

    ``min_hw``: decode a JPEG at the smallest DCT scale at least this large (see ``decode_image``).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileFrame(path, error=ImageError(str(path), f"cannot read file: {exc.strerror}"))
    try:
        decoded = decode_image(data, str(path), max_pixels=max_pixels, min_hw=min_hw)
    except ImageError as exc:
        return FileFrame(path, data, error=exc)
    return FileFrame(path, data, decoded.pixels, full_hw=decoded.full_hw if decoded.reduced else None)


class FramePrefetcher:
    """Iterates FrameBatchOfFiles, decoded ahead on one background thread."""

    _DONE = object()

    def __init__(
        self,
        paths: Sequence[Path],
        batch_size: int,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        queue_batches: int = 2,
        loader: Callable[[Path, int], FileFrame] = load_file_frame,
    ) -> None:
        self.paths = list(paths)
        self.loader = loader
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_batches)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="frame-prefetch", daemon=True)
        self._started = False

    def start(self) -> None:
        """Start decoding in the background (idempotent)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def __enter__(self) -> FramePrefetcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        batch = FrameBatchOfFiles()
        for path in self.paths:
            if self._stop.is_set():
                return
            frame = self.loader(path, self.max_pixels)
            frame.data = b""  # consumers need pixels only; do not hold the encoded copy in the queue
            batch.frames.append(frame)
            if len(batch.good) >= self.batch_size:
                if not self._put(batch):
                    return
                batch = FrameBatchOfFiles()
        if batch.frames and not self._put(batch):
            return
        self._put(self._DONE)

    def __iter__(self) -> Iterator[FrameBatchOfFiles]:
        self.start()
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            assert isinstance(item, FrameBatchOfFiles)
            yield item

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the background thread; waits at most ``timeout_s``."""
        self._stop.set()
        join_or_warn(self._thread, timeout_s, "frame prefetch thread")
