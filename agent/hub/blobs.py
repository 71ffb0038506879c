"""Content-addressed blob directory: image bytes stored once under their SHA-256.

Layout: ``<root>/<sha[:2]>/<sha>.<ext>`` where ``ext`` is the image's real format
(``jpg``, ``png``, ``bmp``, ``tiff``, ``webp``). The path is derived from the digest only,
so no user-supplied name ever reaches the filesystem. Several hub processes may share the
directory: a write is atomic (temporary file, fsync, rename) and writing the same content
twice is harmless.
"""

from __future__ import annotations

import errno
import logging
import time
from pathlib import Path

from agent.hub.errors import InsufficientStorageError
from agent.runtime.atomic_file import write_atomic

logger = logging.getLogger(__name__)

EXTENSIONS = {"jpeg": "jpg", "png": "png", "bmp": "bmp", "tiff": "tiff", "webp": "webp"}
TEMP_PREFIX = ".tmp-"


class BlobStore:
    """Image bytes by digest under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def relative_path(self, sha256: str, fmt: str) -> str:
        """``ab/abcdef….png`` for a digest and a format name."""
        return f"{sha256[:2]}/{sha256}.{EXTENSIONS[fmt]}"

    def path(self, relative: str) -> Path:
        """Absolute path of a stored blob."""
        return self.root / relative

    def put(self, sha256: str, fmt: str, data: bytes) -> str:
        """Store ``data`` (whose digest is ``sha256``); returns its relative path.

        Raises:
            InsufficientStorageError: the disk is full (nothing is left behind).
        """
        relative = self.relative_path(sha256, fmt)
        target = self.root / relative
        if target.exists() and target.stat().st_size == len(data):
            return relative
        try:
            write_atomic(target, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorageError("the hub's image storage is full; the image was not stored",
                                               hint="free disk space on the hub, then retry") from None  # fmt: skip
            raise
        return relative

    def remove_orphaned_temp_files(self, min_age_s: float) -> int:
        """Delete temporary files left by a crash that are older than ``min_age_s``; returns how many."""
        now = time.time()
        removed = 0
        for tmp in self.root.rglob(f"{TEMP_PREFIX}*"):
            try:
                if now - tmp.stat().st_mtime >= min_age_s:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        if removed:
            logger.info("removed %d orphaned temporary file(s) under %s", removed, self.root)
        return removed
