"""Preprocessing ahead: a batch prepared while the previous one runs predicts exactly what ``predict`` does."""

from __future__ import annotations

import numpy as np
import pytest

from agent.frames.frame import Frame
from agent.images.decode import decode_image
from agent.inference.model import StubModel, VisionModel
from agent.pipeline.stage import BatchStage
from agent.spool.memory_spool import MemorySpool
from tests.unit.pipeline.test_reduced_decode import everything


@pytest.fixture(scope="module")
def model(models_dir) -> VisionModel:
    return VisionModel(models_dir / "nudenet" / "1" / "model.onnx", max_batch=2)


@pytest.fixture(scope="module")
def photos(data_dir) -> list[np.ndarray]:
    return [decode_image((data_dir / name).read_bytes()).pixels
            for name in ("astronaut.jpg", "grace_hopper.jpg", "coffee.jpg", "rocket.jpg")]  # fmt: skip


def _same(a, b) -> None:
    assert a.class_id.tolist() == b.class_id.tolist()
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.confidence, b.confidence)


def test_two_inputs_prepared_ahead_both_stay_valid_until_run(model, photos):
    """One running, one waiting: the second preparation must not overwrite the first's buffer."""
    first = model.prepare_input(photos[:2])
    second = model.prepare_input(photos[2:])
    assert first is not None and second is not None
    assert not np.shares_memory(first.tensor, second.tensor)
    _same(model.predict_prepared(first), model.predict(photos[:2]))
    _same(model.predict_prepared(second), model.predict(photos[2:]))
    assert model.prepare_input(photos * 2) is None  # more than a batch: predict preprocesses itself


def test_the_stage_uses_an_input_prepared_for_the_model_in_use(model, photos, tmp_path):
    from agent.limits.local_store import LocalLimitStore

    limits = LocalLimitStore(tmp_path / "limits", "proj")
    try:
        stage = BatchStage(model, everything(), limits, MemorySpool(), project="proj", seed=0)
        frames = [Frame("cam", f"f{i}", image.copy()) for i, image in enumerate(photos[:2])]
        prepared = stage.prepare_input(frames)
        assert prepared is not None
        expected = model.predict(photos[:2])
        got = stage.select_batch(frames, prepared)
        assert got.batch is not None and got.batch.frame_ids == ["f0", "f1"]
        _same(got.batch, expected)
        assert got.stage_s["preprocess"] == prepared.preprocess_s

        stale = stage.prepare_input([Frame("cam", "g", photos[2].copy())])
        stage.swap_model(StubModel("proj/0"))  # a hot swap between preparing and running
        result = stage.select_batch([Frame("cam", "g", photos[2].copy())], stale)
        assert result.batch is not None and result.batch.is_stub  # the stale input was not used
    finally:
        limits.close()
