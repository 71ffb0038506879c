"""Find image files on disk: the folder source of ``predict`` and ``scan``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agent.images.decode import IMAGE_EXTENSIONS


def iter_image_files(paths: Iterable[Path], extensions: frozenset[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Expand files and folders (recursively) into a sorted, de-duplicated file list.

    Files named explicitly are kept whatever their extension, so that a wrong
    one is reported as an error for that file instead of silently ignored;
    inside folders only files with an image extension are taken.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
        elif path.exists() or path.is_symlink():  # a dangling link or a loop: its read fails per file
            found = [path]
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
        for p in found:
            try:
                key = p.resolve()
            except (OSError, RuntimeError):  # a symlink loop
                key = p.absolute()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out
