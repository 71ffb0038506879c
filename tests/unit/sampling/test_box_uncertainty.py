"""detection_uncertainty: box entropy / margin aggregated per frame; runner-up class kept end to end."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.al_config import validate_al_config
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.postprocess.yolo import decode_yolo, runner_up_batch
from agent.predictions.batch import TaskType
from agent.predictions.roboflow_json import batch_from_roboflow, batch_to_roboflow
from agent.sampling.box_uncertainty import box_entropy_batch, box_margin_uncertainty_batch
from agent.sampling.engine import SamplingEngine
from tests.factories import al_config, make_classification, make_detections, make_stub

BOX = (0.0, 0.0, 10.0, 10.0)
FRAMES = [
    [("car", 0.5, BOX)],  # entropy 1.0
    [("car", 0.95, BOX), ("car", 0.97, BOX)],  # both sure: entropy ~0.29, ~0.19
    [],  # no boxes: never matches
    [("person", 0.9, BOX), ("person", 0.6, BOX), ("dog", 0.65, BOX)],  # one unsure-ish, mixed
]


def run(strategy: dict, batch) -> list[bool]:
    doc = al_config({"name": "u", "type": "detection_uncertainty", **strategy})
    return SamplingEngine(validate_al_config(doc), seed=0).evaluate(batch)[:, 0].tolist()


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([0.5], [1.0], id="half"),
        pytest.param([0.0, 1.0], [0.0, 0.0], id="sure"),
        pytest.param([0.9], [0.4689955935892812], id="0.9"),
    ],
)
def test_box_entropy(confidence, expected):
    np.testing.assert_allclose(box_entropy_batch(np.array(confidence, np.float64)), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("top", "runner", "expected"),
    [
        pytest.param([], [], [], id="empty"),
        pytest.param([0.6, 0.9], [0.55, 0.1], [0.95, 0.2], id="known"),
        pytest.param([0.6], [np.nan], [0.4], id="unknown-is-zero"),
        pytest.param([0.6], None, [0.4], id="no-runner-arrays"),
    ],
)
def test_box_margin_uncertainty(top, runner, expected):
    r = None if runner is None else np.array(runner, np.float64)
    np.testing.assert_allclose(box_margin_uncertainty_batch(np.array(top, np.float64), r), expected, atol=1e-7)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"measure": "entropy", "threshold": 0.9}, [True, False, False, True], id="max"),
        pytest.param({"measure": "entropy", "threshold": 0.99}, [True, False, False, False], id="max-high"),
        pytest.param(
            {"measure": "entropy", "aggregate": "mean", "threshold": 0.8}, [True, False, False, False], id="mean"
        ),
        pytest.param(
            {"measure": "entropy", "aggregate": "mean", "threshold": 0.75}, [True, False, False, True], id="mean-lower"
        ),
        pytest.param(
            {"measure": "entropy", "aggregate": "count_above", "threshold": 0.9, "minimum_boxes": 2},
            [False, False, False, True],
            id="count",
        ),
        pytest.param(
            {"measure": "entropy", "threshold": 0.9, "selected_class_names": ["dog"]},
            [False, False, False, True],
            id="class-filter",
        ),
        pytest.param(
            {"measure": "entropy", "threshold": 0.9, "selected_class_names": ["car"]},
            [True, False, False, False],
            id="class-filter-car",
        ),
        pytest.param({"measure": "entropy", "threshold": 0.0, "probability": 0.0}, [False] * 4, id="p0"),
        pytest.param({"measure": "margin", "threshold": 0.35}, [True, False, False, True], id="margin-no-runner"),
    ],
)
@pytest.mark.parametrize("task", [TaskType.OBJECT_DETECTION, TaskType.INSTANCE_SEGMENTATION])
def test_detection_uncertainty(params, expected, task):
    assert run(params, make_detections(FRAMES, task)) == expected


def test_margin_uses_the_runner_up_class_score():
    batch = make_detections([[("car", 0.6, BOX)], [("car", 0.6, BOX)]])
    batch.runner_up_class_id = np.array([1, 1], np.int32)
    batch.runner_up_confidence = np.array([0.58, 0.05], np.float32)
    # margins 0.02 and 0.55 -> uncertainty 0.98 and 0.45
    assert run({"measure": "margin", "threshold": 0.9}, batch) == [True, False]


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param(make_stub(2, TaskType.OBJECT_DETECTION), id="stub"),
        pytest.param(make_classification([[0.5, 0.5, 0.0]]), id="classification"),
        pytest.param(make_detections([[], []]), id="no-boxes"),
    ],
)
def test_detection_uncertainty_matches_nothing_without_boxes(batch):
    assert not any(run({"measure": "entropy", "threshold": 0.0}, batch))


def test_runner_up_from_yolov8_head_and_through_json():
    # one frame, 3 boxes, 3 classes: (B, 4 + nc, N)
    scores = np.array([[0.7, 0.65, 0.0], [0.1, 0.8, 0.0], [0.0, 0.0, 0.9]], np.float32)  # (N, nc)
    boxes = np.array([[50, 50, 20, 20], [150, 150, 20, 20], [250, 250, 20, 20]], np.float32)
    head = np.concatenate([boxes, scores], axis=1).T[None]  # (1, 7, 3)
    cand = decode_yolo(head, "yolov8", 3, PostprocessParams(confidence_threshold=0.25))
    by_top = dict(
        zip(
            cand.class_id.tolist(),
            zip(cand.runner_up_class_id.tolist(), cand.runner_up_confidence.tolist(), strict=True),
            strict=True,
        )
    )
    assert by_top[0][0] == 1 and by_top[0][1] == pytest.approx(0.65)
    assert by_top[1][0] == 0 and by_top[1][1] == pytest.approx(0.1)
    batch = make_detections([[("car", 0.7, BOX), ("person", 0.8, BOX)]])
    batch.runner_up_class_id = np.array([1, -1], np.int32)
    batch.runner_up_confidence = np.array([0.65, 0.0], np.float32)
    doc = batch_to_roboflow(batch)[0]
    first, second = doc["predictions"]
    assert (first["runner_up_class"], first["runner_up_class_id"]) == ("person", 1)
    assert first["runner_up_confidence"] == pytest.approx(0.65)
    assert "runner_up_class" not in second  # none: the field is left out
    back = batch_from_roboflow([doc])
    assert back.runner_up_class_id.tolist() == [1, -1]
    assert back.runner_up_confidence[0] == pytest.approx(0.65) and np.isnan(back.runner_up_confidence[1])
    assert (
        batch_from_roboflow(
            [{"predictions": [{"x": 1, "y": 1, "width": 2, "height": 2, "confidence": 0.5, "class": "a"}]}]
        ).runner_up_confidence
        is None
    )


def test_runner_up_one_class_model():
    ids, conf = runner_up_batch(np.array([[0.9]], np.float32), np.array([0]))
    assert ids.tolist() == [-1] and conf.tolist() == [0.0]


def test_malformed_runner_up_is_a_clear_error():
    det = {"x": 1, "y": 1, "width": 2, "height": 2, "confidence": 0.5, "class": "a", "runner_up_class": "b"}
    with pytest.raises(ValueError, match="runner_up_class without a numeric runner_up_confidence"):
        batch_from_roboflow([{"predictions": [det]}])
