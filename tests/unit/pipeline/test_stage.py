"""BatchStage: infer → select → prepare → spool for one batch, with a stub model and an in-memory spool."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from agent.config.al_config import validate_al_config
from agent.config.snapshot import ConfigSnapshot, StaticConfig
from agent.errors import AgentUnavailableError
from agent.frames.frame import Frame
from agent.frames.scan_progress import ScanProgress
from agent.inference.model import StubModel
from agent.limits.local_store import LocalLimitStore
from agent.limits.store import Credit
from agent.pipeline.stage import BatchStage, StageResult
from agent.predictions.batch import TaskType
from agent.spool.memory_spool import MemorySpool

EVERYTHING = {
    "enabled": True,
    "persist_predictions": True,
    "sampling_strategies": [{"name": "all", "type": "random", "traffic_percentage": 1.0,
                             "limits": [{"type": "daily", "value": 3}]}],
    "batching_strategy": {"batches_name_prefix": "b", "recreation_interval": "never"},
}  # fmt: skip


def config(**changes: object) -> StaticConfig:
    return StaticConfig.of(validate_al_config(EVERYTHING | changes))


@dataclass
class MutableConfig:
    current: ConfigSnapshot


class Recorder:
    def __init__(self) -> None:
        self.results: list[StageResult] = []

    def batch_done(self, result: StageResult) -> None:
        self.results.append(result)


def frames(n: int, folder: Path | None = None) -> list[Frame]:
    out = []
    for i in range(n):
        image = np.full((48, 64, 3), 10 * i, np.uint8)
        path = None
        if folder is not None:
            path = folder / f"{i}.jpg"
            path.write_bytes(b"x" * (i + 1))
        out.append(Frame("cam", f"f{i}", image, origin_path=path))
    return out


@pytest.fixture
def limits(tmp_path):
    store = LocalLimitStore(tmp_path / "limits", "proj")
    yield store
    store.close()


def stage_for(limits, spool, cfg=None, **kwargs) -> BatchStage:
    model = StubModel("proj/0", TaskType.OBJECT_DETECTION, max_batch=8)
    return BatchStage(model, cfg or config(), limits, spool, project="proj", seed=0, **kwargs)


def test_selected_frames_are_spooled_typed(limits):
    spool = MemorySpool()
    recorder = Recorder()
    result = stage_for(limits, spool, observer=recorder).process(frames(2))
    assert result.batch is not None and result.decision is not None
    assert len(result.seqs) == 2 and result.dropped == 0
    assert recorder.results == [result]
    record = spool.lease()
    assert record is not None
    item = record.item
    assert item.project == "proj" and item.batch_name == "b" and item.source == "cam"
    assert isinstance(item.credit, Credit) and item.credit.strategy == "all"
    assert isinstance(item.tags, tuple)
    assert item.jpeg[:2] == b"\xff\xd8"


def test_limits_cap_the_selection(limits):
    spool = MemorySpool()
    result = stage_for(limits, spool).process(frames(5))
    assert len(result.seqs) == 3 and result.limited_strategy == 2


def test_full_spool_keeps_what_fits_gives_credits_back_and_counts_drops(limits):
    spool = MemorySpool(max_count=1, overflow="reject_new")
    stage = stage_for(limits, spool)
    result = stage.process(frames(3))
    assert len(result.seqs) == 1 and result.drops == [("cam", "spool_full")] * 2  # filled up to the cap
    assert spool.stats().rejected == 2  # counted per frame
    # the two refused frames' credits came back: two more frames fit the daily cap of 3
    again = stage_for(limits, MemorySpool()).process(frames(3))
    assert len(again.seqs) == 2


def test_duplicate_gives_the_credit_back(limits):
    spool = MemorySpool()
    stage = stage_for(limits, spool)
    stage.process(frames(3))
    assert len(stage.process(frames(1)).seqs) == 0  # cap reached
    record = spool.lease()
    assert record is not None
    stage.on_duplicate(record)
    assert len(stage.process(frames(1)).seqs) == 1


@pytest.mark.parametrize(
    ("capture", "enabled", "spooled"),
    [(True, True, 2), (False, True, 0), (True, False, 0)],
)
def test_capture_switches(limits, capture, enabled, spooled):
    spool = MemorySpool()
    stage = stage_for(limits, spool, cfg=config(enabled=enabled), capture_enabled=lambda: capture)
    result = stage.process(frames(2))
    assert result.batch is not None  # inference goes on either way
    assert len(result.seqs) == spooled
    assert (result.decision is not None) == (capture and enabled)


def test_files_are_marked_done_only_after_their_batch(tmp_path, limits):
    progress = ScanProgress(tmp_path / "progress")
    try:
        batch = frames(2, tmp_path)
        paths = [f.origin_path for f in batch]
        assert not any(progress.is_done(p) for p in paths)

        class CheckDuringPut(MemorySpool):
            def put_many(self, items):  # the spool commit happens before the files are marked done
                assert not any(progress.is_done(p) for p in paths)
                return super().put_many(items)

        stage_for(limits, CheckDuringPut(), progress=progress).process(batch)
        assert all(progress.is_done(p) for p in paths)
    finally:
        progress.close()


def test_no_model_drops_frames_but_finishes_them(tmp_path, limits):
    progress = ScanProgress(tmp_path / "progress")
    try:
        stage = stage_for(limits, MemorySpool(), progress=progress)
        assert stage.swap_model(None) is not None
        batch = frames(1, tmp_path)
        result = stage.process(batch)
        assert result.batch is None and result.decision is None
        assert progress.is_done(batch[0].origin_path)
        with pytest.raises(AgentUnavailableError):
            stage.infer_one(batch[0].image, "grpc", submit=True)
    finally:
        progress.close()


def test_config_change_rebuilds_the_selector_and_keeps_counters(limits):
    source = MutableConfig(config().current)
    stage = stage_for(limits, MemorySpool(), cfg=source)
    stage.process(frames(1))
    first = stage.selector
    assert stage.stats.selected["all"] == 1
    other = validate_al_config(EVERYTHING | {"target_project": "elsewhere"})
    source.current = replace(source.current, config=other, version=source.current.version + 1)
    result = stage.process(frames(1))
    assert stage.selector is not first and stage.project == "elsewhere"
    assert stage.stats.selected["all"] == 2
    assert len(result.seqs) == 1


def test_infer_one_submit_spools(limits):
    spool = MemorySpool()
    stage = stage_for(limits, spool)
    image = frames(1)[0].image
    assert stage.infer_one(image, "grpc", submit=False).seqs == []
    result = stage.infer_one(image, "grpc", submit=True)
    assert len(result.seqs) == 1 and spool.stats().count == 1


def test_infer_one_tells_the_observer_like_a_batch(limits):
    """An Infer call shows in the metrics and events: the observer gets its result, decode time included."""
    recorder = Recorder()
    stage = stage_for(limits, MemorySpool(), observer=recorder)
    image = frames(1)[0].image
    only = stage.infer_one(image, "grpc", submit=False, decode_s=0.004)
    submitted = stage.infer_one(image, "grpc", submit=True)
    assert recorder.results == [only, submitted]
    assert only.frames[0].decode_s == 0.004 and only.batch is not None
    assert only.on_request and not only.sampling_asked and only.decision is None
    assert submitted.sampling_asked and submitted.decision is not None and submitted.committed


def test_static_config_wraps_a_validated_config():
    snap = config().current
    assert snap.origin == "file" and snap.config.enabled
