"""InotifyWatch: Linux filesystem events for a folder tree, through libc (no extra package).

Only the two events that mean "this file is complete" are reported: ``IN_CLOSE_WRITE``
(a writer closed the file) and ``IN_MOVED_TO`` (a file was renamed into the tree, the
atomic-publish pattern). New subdirectories are watched as they appear. Where inotify is
not available (not Linux, no libc symbol, the watch limit reached) ``open`` raises
``OSError`` and the folder source keeps polling; on network filesystems events for remote
writers never arrive, which the source's periodic poll covers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def _libc() -> ctypes.CDLL:
    name = ctypes.util.find_library("c")
    if name is None:
        raise OSError("inotify: libc not found")
    lib = ctypes.CDLL(name, use_errno=True)
    if not hasattr(lib, "inotify_init1"):
        raise OSError("inotify: not available on this system")
    return lib


class InotifyWatch:
    """Completed-file events under ``root`` (recursive). Not thread-safe: one reader thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._libc = _libc()
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd: int | None = fd
        self._dirs: dict[int, Path] = {}
        self.overflowed = False  # events were lost: the caller should poll the tree once
        self._add_tree(root)

    def _add(self, directory: Path) -> None:
        assert self._fd is not None
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
        self._dirs[wd] = directory

    def _add_tree(self, root: Path) -> None:
        self._add(root)
        for current, subdirs, _ in os.walk(root):
            for name in subdirs:
                if not name.startswith("."):
                    self._add(Path(current) / name)

    def read(self, timeout_s: float) -> list[Path]:
        """Files completed since the last call (waits up to ``timeout_s`` for the first event)."""
        if self._fd is None:
            return []
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout_s))
        if not ready:
            return []
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return []
        out: list[Path] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                self.overflowed = True
                continue
            directory = self._dirs.get(wd)
            if directory is None or not raw:
                continue
            path = directory / os.fsdecode(raw)
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO) and not path.name.startswith("."):
                    try:
                        self._add_tree(path)
                    except OSError:
                        self.overflowed = True  # could not watch it: let a poll find its files
                    self.overflowed = True  # files written before the watch existed: poll once
                continue
            if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                out.append(path)
        return out

    def close(self) -> None:
        """Release the inotify descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
