"""FolderSource keeps the scan's promise: a file is finished only once its batch is decided."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.frames.scan_progress import ScanProgress
from agent.pipeline.batcher import DynamicBatcher
from agent.sources.folder import FolderSource
from tests.unit.sources.conftest import DATA, wait_for


def start_source(folder: Path, batcher: DynamicBatcher, progress: ScanProgress) -> FolderSource:
    batcher.register("f", 8, "block")
    source = FolderSource("f", batcher, folder, progress, poll_interval_s=0.01, settle_ms=0)
    source.start()
    return source


def test_queued_file_is_not_finished_and_not_offered_twice(tmp_path, progress):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((DATA / "rocket.jpg").read_bytes())
    batcher = DynamicBatcher(4, 0)
    source = start_source(folder, batcher, progress)
    try:
        wait_for(lambda: batcher.pending() == 1)
        batch = batcher.next_batch(threading.Event(), idle_wait_s=0.1)
        assert [f.origin_path for f in batch] == [folder / "a.jpg"]
        assert not progress.is_done(folder / "a.jpg")  # queued is not decided
        # a later file proves later polls ran: they saw a.jpg in flight and did not offer it again
        (folder / "b.jpg").write_bytes((DATA / "rocket.jpg").read_bytes())
        wait_for(lambda: batcher.pending() == 1)
        batch = batcher.next_batch(threading.Event(), idle_wait_s=0.1)
        assert [f.origin_path for f in batch] == [folder / "b.jpg"]
        assert source.status.frames == 2
    finally:
        source.stop(2.0)


def test_a_restart_offers_what_was_queued_but_not_decided(tmp_path, progress):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes((DATA / "rocket.jpg").read_bytes())
    first = DynamicBatcher(4, 0)
    source = start_source(folder, first, progress)
    wait_for(lambda: first.pending() == 2)
    source.stop(2.0)
    progress.mark_done([folder / "a.jpg"])  # a's batch was decided; b's never ran (killed)
    second = DynamicBatcher(4, 0)
    source = start_source(folder, second, progress)
    try:
        wait_for(lambda: second.pending() == 1)
        batch = second.next_batch(threading.Event(), idle_wait_s=0.1)
        assert [f.origin_path for f in batch] == [folder / "b.jpg"]
    finally:
        source.stop(2.0)


def test_undecodable_file_is_finished_at_once(tmp_path, progress):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.jpg").write_bytes(b"not an image")
    batcher = DynamicBatcher(4, 0)
    source = start_source(folder, batcher, progress)
    try:
        wait_for(lambda: progress.is_done(folder / "bad.jpg"))
        assert batcher.pending() == 0 and "bad.jpg" in source.status.last_error
    finally:
        source.stop(2.0)


@pytest.mark.parametrize(
    ("name", "min_hw", "image_hw", "full_hw", "keeps_bytes"),
    [
        pytest.param("rocket.jpg", (160, 160), (161, 240), (427, 640), True, id="jpeg-reduced-keeps-its-bytes"),
        pytest.param("rocket.jpg", None, (427, 640), None, True, id="no-model-size-full-decode-keeps-its-bytes"),
        pytest.param("page.png", (16, 16), None, None, False, id="png-always-full"),
    ],
)
def test_decode_min_hw_reduces_jpegs_for_the_model_and_jpegs_keep_their_bytes(
    tmp_path, progress, name, min_hw, image_hw, full_hw, keeps_bytes
):
    folder = tmp_path / "in"
    folder.mkdir()
    data = (DATA / name).read_bytes()
    (folder / name).write_bytes(data)
    batcher = DynamicBatcher(4, 0)
    batcher.register("f", 8, "block")
    source = FolderSource("f", batcher, folder, progress, poll_interval_s=0.01, settle_ms=0,
                          decode_min_hw=lambda: min_hw)  # fmt: skip
    source.start()
    try:
        wait_for(lambda: batcher.pending() == 1)
        (frame,) = batcher.next_batch(threading.Event(), idle_wait_s=0.1)
    finally:
        source.stop(2.0)
    if image_hw is not None:
        assert frame.image.shape[:2] == image_hw
    assert frame.full_hw == full_hw
    assert (frame.encoded == data) if keeps_bytes else frame.encoded is None
