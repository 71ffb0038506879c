"""PredictionBatch ↔ Roboflow JSON: shapes of the reference and lossless round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import batch_from_roboflow, batch_to_roboflow


def _detections(task=TaskType.OBJECT_DETECTION):
    polygons = None
    if task is TaskType.INSTANCE_SEGMENTATION:
        polygons = [
            np.array([[10, 20], [60, 20], [60, 60]], np.float32),
            np.array([[1, 1], [2, 2], [1, 2]], np.float32),
            np.array([[5, 5], [9, 5], [9, 9]], np.float32),
        ]
    return PredictionBatch(
        task=task,
        class_names=("car", "person"),
        image_hw=np.array([[480, 640], [100, 200]], np.int32),
        time_s=np.array([0.01, 0.01]),
        inference_ids=["a", "b"],
        xyxy=np.array([[10, 20, 110, 220], [0, 0, 5, 5], [1, 2, 3, 4]], np.float32),
        confidence=np.array([0.9, 0.5, 0.3], np.float32),
        class_id=np.array([1, 0, 0], np.int32),
        frame_index=np.array([0, 0, 1], np.int32),
        polygons=polygons,
    )


def test_detection_json_has_reference_shape():
    docs = batch_to_roboflow(_detections())
    assert len(docs) == 2
    first = docs[0]
    assert first["image"] == {"width": 640, "height": 480}
    assert first["inference_id"] == "a"
    det = first["predictions"][0]
    assert det["x"] == 60.0 and det["y"] == 120.0
    assert det["width"] == 100.0 and det["height"] == 200.0
    assert det["class"] == "person" and det["class_id"] == 1
    assert isinstance(det["detection_id"], str) and len(det["detection_id"]) == 36
    assert "points" not in det and "tracker_id" not in det  # null fields omitted
    json.dumps(docs)


@pytest.mark.parametrize("task", [TaskType.OBJECT_DETECTION, TaskType.INSTANCE_SEGMENTATION])
def test_detection_round_trip_is_lossless(task):
    batch = _detections(task)
    docs = batch_to_roboflow(batch)
    back = batch_from_roboflow(json.loads(json.dumps(docs)))
    assert back.task is task
    np.testing.assert_allclose(back.xyxy, batch.xyxy, atol=1e-4)
    np.testing.assert_array_equal(back.confidence, batch.confidence)
    np.testing.assert_array_equal(back.class_id, batch.class_id)
    np.testing.assert_array_equal(back.frame_index, batch.frame_index)
    assert back.detection_ids == batch.detection_ids
    assert batch_to_roboflow(back) == docs


def test_single_label_classification_json():
    batch = PredictionBatch(
        task=TaskType.CLASSIFICATION,
        class_names=("10c", "50c", "1e"),
        image_hw=np.array([[100, 100]], np.int32),
        time_s=np.zeros(1),
        inference_ids=["x"],
        class_scores=np.array([[0.2, 0.7, 0.1]], np.float32),
    )
    doc = batch_to_roboflow(batch)[0]
    assert doc["top"] == "50c"
    assert doc["confidence"] == pytest.approx(0.7)
    assert [p["class"] for p in doc["predictions"]] == ["50c", "10c", "1e"]
    back = batch_from_roboflow([doc])
    assert back.task is TaskType.CLASSIFICATION
    assert batch_to_roboflow(back)[0] == doc


def test_multi_label_json():
    batch = PredictionBatch(
        task=TaskType.MULTI_LABEL_CLASSIFICATION,
        class_names=("cat", "dog", "bird"),
        image_hw=np.array([[416, 416]], np.int32),
        time_s=np.zeros(1),
        inference_ids=["x"],
        class_scores=np.array([[0.88, 0.51, 0.2]], np.float32),
    )
    doc = batch_to_roboflow(batch)[0]
    assert set(doc["predictions"]) == {"cat", "dog", "bird"}
    assert doc["predictions"]["dog"]["class_id"] == 1
    assert doc["predicted_classes"] == ["cat", "dog"]
    back = batch_from_roboflow([doc])
    assert back.task is TaskType.MULTI_LABEL_CLASSIFICATION
    assert batch_to_roboflow(back)[0] == doc


def test_stub_json_and_round_trip():
    batch = PredictionBatch.empty(TaskType.INSTANCE_SEGMENTATION, (), np.array([[1, 1]], np.int32))
    batch.is_stub, batch.model_id, batch.class_scores = True, "asl/0", None
    doc = batch_to_roboflow(batch)[0]
    assert doc == {"time": 0.0, "is_stub": True, "model_id": "asl/0", "task_type": "instance-segmentation"}
    assert batch_from_roboflow([doc]).is_stub


def test_mixed_stub_batch_is_refused():
    with pytest.raises(ValueError, match="stub"):
        batch_from_roboflow([{"is_stub": True}, {"predictions": []}])


def test_malformed_detection_names_the_frame():
    with pytest.raises(ValueError, match="prediction 0: malformed detection"):
        batch_from_roboflow([{"predictions": [{"x": 1, "y": 2}]}])


def test_select_frames_reindexes():
    sub = _detections().select_frames([1])
    assert sub.batch_size == 1
    np.testing.assert_array_equal(sub.frame_index, [0])
    assert sub.inference_ids == ["b"]


def test_struct_validates_shapes():
    with pytest.raises(ValueError, match="confidence"):
        PredictionBatch(
            task=TaskType.OBJECT_DETECTION,
            class_names=("a",),
            image_hw=np.zeros((1, 2), np.int32),
            time_s=np.zeros(1),
            inference_ids=["x"],
            xyxy=np.zeros((2, 4), np.float32),
            confidence=np.zeros(3, np.float32),
            class_id=np.zeros(2, np.int32),
            frame_index=np.zeros(2, np.int32),
        )
