"""FolderSource with filesystem events: a completed file is read at once, a file being written is not."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.frames.scan_progress import ScanProgress
from agent.pipeline.batcher import DynamicBatcher
from agent.sources.folder import FolderSource
from agent.sources.inotify_watch import InotifyWatch
from tests.unit.sources.conftest import DATA, wait_for

PHOTO = (DATA / "rocket.jpg").read_bytes()


def start(folder: Path, batcher: DynamicBatcher, progress: ScanProgress, use_events: bool) -> FolderSource:
    batcher.register("f", 8, "block")
    # a poll only every 60 s and a 60 s settle: only events can deliver a file within the test
    source = FolderSource("f", batcher, folder, progress, poll_interval_s=60, settle_ms=60_000, use_events=use_events)
    source.start()
    return source


@pytest.fixture
def watched(tmp_path, progress) -> Iterator[tuple[Path, DynamicBatcher, FolderSource]]:
    """An empty folder ``in`` watched with events (only events can deliver within a test), first poll done."""
    folder = tmp_path / "in"
    folder.mkdir()
    batcher = DynamicBatcher(4, 0)
    source = start(folder, batcher, progress, use_events=True)
    try:
        wait_for(lambda: source.events_active)
        time.sleep(0.1)  # the first poll (of an empty folder) is done
        yield folder, batcher, source
    finally:
        source.stop(2.0)


def taken(batcher: DynamicBatcher) -> list[str]:
    return [Path(f.frame_id).name for f in batcher.next_batch(threading.Event(), idle_wait_s=0.1)]


@pytest.mark.parametrize("how", ["rename-into", "write-and-close", "into-a-new-subfolder"])
def test_a_completed_file_is_read_without_waiting_for_a_poll(tmp_path, watched, how):
    folder, batcher, _ = watched
    if how == "rename-into":
        staged = tmp_path / "a.jpg"
        staged.write_bytes(PHOTO)
        staged.rename(folder / "a.jpg")
    elif how == "write-and-close":
        (folder / "a.jpg").write_bytes(PHOTO)
    else:
        (folder / "sub").mkdir()
        time.sleep(0.3)  # the new folder is watched
        (folder / "sub" / "a.jpg").write_bytes(PHOTO)
    wait_for(lambda: batcher.pending() == 1)
    assert taken(batcher) == ["a.jpg"]


def test_a_file_still_open_for_writing_is_not_read_until_closed(watched):
    folder, batcher, source = watched
    with open(folder / "b.jpg", "wb") as writer:
        writer.write(PHOTO[:1000])
        writer.flush()
        os.fsync(writer.fileno())
        time.sleep(0.5)
        assert batcher.pending() == 0  # half-written: no event, and the settle time is far away
        writer.write(PHOTO[1000:])
    wait_for(lambda: batcher.pending() == 1)
    assert taken(batcher) == ["b.jpg"]
    assert source.status.last_error == ""  # read whole, not as a truncated JPEG


def test_without_events_the_folder_is_polled(tmp_path, progress):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "c.jpg").write_bytes(PHOTO)
    batcher = DynamicBatcher(4, 0)
    batcher.register("f", 8, "block")
    source = FolderSource("f", batcher, folder, progress, poll_interval_s=0.02, settle_ms=0, use_events=False)
    source.start()
    try:
        wait_for(lambda: batcher.pending() == 1)
        assert not source.events_active and taken(batcher) == ["c.jpg"]
    finally:
        source.stop(2.0)


def test_inotify_reports_only_completed_files(tmp_path):
    watch = InotifyWatch(tmp_path)
    try:
        (tmp_path / "done.jpg").write_bytes(b"x")
        handle = (tmp_path / "open.jpg").open("wb")
        handle.write(b"y")
        handle.flush()
        got = watch.read(1.0)
        assert [p.name for p in got] == ["done.jpg"]
        handle.close()
        assert [p.name for p in watch.read(1.0)] == ["open.jpg"]
    finally:
        watch.close()


def test_a_new_file_under_the_name_of_one_still_in_flight_is_read_again(tmp_path, watched):
    """A camera that reuses names: the first a.jpg is queued (not decided) when a different a.jpg replaces it."""
    folder, batcher, _ = watched
    for version, data in enumerate((PHOTO, PHOTO + b"\0" * 16)):  # JPEG decoders ignore trailing bytes
        staged = tmp_path / f"a-{version}.jpg"
        staged.write_bytes(data)
        staged.rename(folder / "a.jpg")
        wait_for(lambda: batcher.pending() == 1)
        assert taken(batcher) == ["a.jpg"]


def test_files_removed_from_the_folder_are_forgotten(tmp_path, progress):
    """A folder whose files are rotated away keeps the source's memory flat."""
    folder = tmp_path / "in"
    folder.mkdir()
    batcher = DynamicBatcher(8, 0)
    batcher.register("f", 8, "block")
    source = FolderSource("f", batcher, folder, progress, poll_interval_s=0.05, settle_ms=0, use_events=False)
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(PHOTO)
    source.start()
    try:
        wait_for(lambda: batcher.pending() == 3)
        frames = batcher.next_batch(threading.Event(), idle_wait_s=0.1)
        progress.mark_done([f.origin_path for f in frames if f.origin_path is not None])
        progress.flush()
        wait_for(lambda: len(source._done) == 3)
        for i in range(3):
            (folder / f"{i}.jpg").unlink()
        wait_for(lambda: not source._done and not source._in_flight and not source._seen)
    finally:
        source.stop(2.0)
