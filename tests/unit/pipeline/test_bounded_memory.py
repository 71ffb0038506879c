"""Bounded memory: batcher queues bounded in bytes, unselected pixels released, progress in groups."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent.errors import DiskFullError
from agent.frames.frame import Frame
from agent.frames.scan_progress import ScanProgress
from agent.pipeline.batcher import DynamicBatcher
from agent.spool.memory_spool import MemorySpool
from tests.unit.pipeline.test_stage import config, frames, stage_for


def frame(i: int, nbytes: int) -> Frame:
    return Frame("cam", f"f{i}", np.zeros((1, nbytes // 3, 3), np.uint8))


@pytest.mark.parametrize(
    ("policy", "sizes", "accepted", "dropped", "waiting"),
    [
        ("block", [300, 300, 300], [True, True, False], 0, 2),  # 900 > 700 bytes: the third waits (refused)
        ("drop_oldest", [300, 300, 300], [True, True, True], 1, 2),  # the oldest goes to make room
        ("block", [900], [True], 0, 1),  # one frame larger than the bound still passes an empty queue
    ],
)
def test_source_queue_is_bounded_in_bytes(policy, sizes, accepted, dropped, waiting):
    drops: list[tuple[str, str]] = []
    batcher = DynamicBatcher(8, 1000, on_drop=lambda s, r: drops.append((s, r)))
    batcher.register("cam", 100, policy, max_bytes=700)
    got = [batcher.put(frame(i, n), timeout_s=0.05) for i, n in enumerate(sizes)]
    assert got == accepted
    assert batcher.stats()["cam"] == (sum(accepted), dropped, waiting)
    assert len(drops) == dropped
    batcher.next_batch(threading.Event(), idle_wait_s=0.05)  # takes everything (max_delay aside: stop is unset)


def test_unselected_pixels_are_released_and_nothing_is_decided_before_commit(tmp_path, limits):
    progress = ScanProgress(tmp_path / "progress", group_files=1)
    spool = MemorySpool()
    cfg = config(sampling_strategies=[{"name": "all", "type": "random", "traffic_percentage": 1.0,
                                       "limits": [{"type": "daily", "value": 1}]}])  # fmt: skip
    stage = stage_for(limits, spool, cfg, progress=progress)
    batch = frames(3, tmp_path)
    result = stage.select_batch(batch)
    assert list(result.selected_images) == [0]  # the daily cap of 1: one frame selected
    assert batch[0].image.size and batch[1].image.size == 0 and batch[2].image.size == 0
    assert spool.stats().count == 0 and not any(progress.is_done(f.origin_path) for f in batch)
    stage.commit(result)
    assert spool.stats().count == 1 and all(progress.is_done(f.origin_path) for f in batch)
    assert result.selected_images == {} and set(result.stage_s) >= {"infer", "sample", "prepare", "spool"}
    progress.close()


def test_progress_is_committed_in_groups_and_pending_files_count_as_done(tmp_path):
    files = []
    for i in range(5):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(b"x" * (i + 1))
        files.append(path)
    progress = ScanProgress(tmp_path / "p", group_files=3, group_delay_ms=60_000)
    progress.mark_done(files[:2])
    assert progress.commits == 0 and progress.is_done(files[0])  # pending in memory, already done
    progress.mark_done(files[2:3])
    assert progress.commits == 1  # the group of 3 was written in one transaction
    progress.mark_done(files[3:])
    progress.close()  # close writes what is pending
    reopened = ScanProgress(tmp_path / "p")
    assert all(reopened.is_done(f) for f in files)
    reopened.close()


def test_a_full_disk_while_committing_progress_is_a_disk_full_error(tmp_path, monkeypatch):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x")
    progress = ScanProgress(tmp_path / "p", group_files=1)

    def full(*args, **kwargs):
        import sqlite3

        raise sqlite3.OperationalError("database or disk is full")

    cache = progress._open() if hasattr(progress, "_open") else progress.cache
    monkeypatch.setattr(cache, "set", full)
    with pytest.raises(DiskFullError, match=r"scan progress.*no space left"):
        progress.mark_done([path])
    monkeypatch.undo()
    progress.close()


@pytest.fixture
def limits(tmp_path):
    from agent.limits.local_store import LocalLimitStore

    store = LocalLimitStore(tmp_path / "limits", "proj")
    yield store
    store.close()
