"""Frame preparation: size arithmetic, JPEG, annotation in the JPEG's pixel frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
import simplejpeg

from agent.prepare.encode import fit_size, prepare_frame
from tests.factories import make_classification, make_detections, make_stub


@pytest.mark.parametrize(
    ("hw", "max_hw", "expected"),
    [
        ((128, 128), [32, 16], (16, 16)),
        ((1080, 4000), [2080, 2080], (561, 2080)),  # anisotropic after int() truncation
        ((100, 200), [1000, 1000], (100, 200)),  # never upscale
        ((100, 200), None, (100, 200)),
        ((600, 512), [480, 640], (480, 409)),
    ],
)
def test_fit_size(hw, max_hw, expected):
    assert fit_size(*hw, max_hw) == expected


def test_detection_annotation_is_in_the_jpeg_frame():
    image = np.zeros((480, 640, 3), np.uint8)
    batch = make_detections([[("car", 0.9, (64.0, 48.0, 128.0, 96.0))]], image_hw=(480, 640))
    out = prepare_frame(image, batch, 0, max_image_size=[240, 320], jpeg_quality=80, persist_predictions=True)
    assert (out.width, out.height) == (320, 240)
    assert simplejpeg.decode_jpeg_header(out.jpeg)[:2] == (240, 320)
    doc = json.loads(out.annotation.body)
    assert doc["image"] == {"width": 320, "height": 240}
    det = doc["predictions"][0]
    assert (det["x"], det["y"], det["width"], det["height"]) == (48.0, 36.0, 32.0, 24.0)
    assert out.annotation.name.endswith(".json")
    assert len(out.sha256) == 64


def test_classification_and_multilabel_annotations():
    image = np.zeros((50, 50, 3), np.uint8)
    single = prepare_frame(image, make_classification([[0.1, 0.8, 0.1]]), 0, max_image_size=None,
                           jpeg_quality=90, persist_predictions=True)  # fmt: skip
    assert single.annotation.body == "dog" and single.annotation.name.endswith(".txt")
    multi = prepare_frame(image, make_classification([[0.9, 0.2, 0.7]], multi_label=True), 0,
                          max_image_size=None, jpeg_quality=90, persist_predictions=True)  # fmt: skip
    assert multi.annotation.body == "cat,bird"


@pytest.mark.parametrize(
    ("batch", "persist"),
    [
        pytest.param(make_stub(1), True, id="stub"),
        pytest.param(make_detections([[("car", 0.9, (0.0, 0.0, 5.0, 5.0))]]), False, id="persist-false"),
        pytest.param(make_detections([[]]), True, id="no-detections"),
    ],
)
def test_no_annotation(batch, persist):
    image = np.zeros((20, 20, 3), np.uint8)
    out = prepare_frame(image, batch, 0, max_image_size=None, jpeg_quality=90, persist_predictions=persist)
    assert out.annotation is None


def test_same_input_same_bytes():
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    batch = make_stub(1)
    a = prepare_frame(image, batch, 0, max_image_size=None, jpeg_quality=75, persist_predictions=False)
    b = prepare_frame(image, batch, 0, max_image_size=None, jpeg_quality=75, persist_predictions=False)
    assert a.jpeg == b.jpeg and a.sha256 == b.sha256


def test_jpeg_uses_420_chroma_subsampling_like_the_reference():
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    out = prepare_frame(image, make_stub(1), 0, max_image_size=None, jpeg_quality=95, persist_predictions=False)
    assert simplejpeg.decode_jpeg_header(out.jpeg)[3] == "420"
