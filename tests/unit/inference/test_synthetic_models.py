"""Exotic output layouts on synthetic ONNX graphs with known outputs."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from agent.errors import (
    DependencyError,
    ModelLoadError,
    ModelNotFoundError,
    ProviderUnavailableError,
)
from agent.inference.model import StubModel, VisionModel
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.registry import ModelRegistry
from agent.inference.runner import RunnerOptions, import_onnxruntime, resolve_providers
from agent.predictions.batch import TaskType
from agent.predictions.roboflow_json import batch_to_roboflow
from tests.synthetic_models import build_constant_model

FRAME = np.zeros((128, 256, 3), np.uint8)  # letterboxed into 64x64: scale 0.25, pad_y 16


def test_yolov5_layout(tmp_path):
    nc = 3
    out = np.zeros((20, 5 + nc), np.float32)
    out[0] = [32, 32, 16, 8, 0.9, 0.1, 0.9, 0.0]  # class 1, conf 0.81
    out[1] = [32, 32, 16, 8, 0.2, 0.1, 0.9, 0.0]  # objectness too low
    path = build_constant_model(
        tmp_path / "v5.onnx",
        {"output0": out},
        manifest={"task": "object-detection", "layout": "yolov5", "class_names": ["a", "b", "c"]},
    )
    model = VisionModel(path, max_batch=4)
    batch = model.predict([FRAME, FRAME])
    assert batch.num_detections == 2
    np.testing.assert_allclose(batch.confidence, [0.81, 0.81], atol=1e-5)
    # model box (24, 28, 40, 36) → original ((x - 0) / 0.25, (y - 16) / 0.25)
    np.testing.assert_allclose(batch.xyxy[0], [96, 48, 160, 80], atol=1e-3)
    doc = batch_to_roboflow(batch)[0]
    assert doc["predictions"][0]["class"] == "b"


def test_yolov5_is_guessed_from_shape(tmp_path):
    out = np.zeros((20, 6), np.float32)
    out[0] = [32, 32, 16, 8, 0.9, 0.9]
    path = build_constant_model(
        tmp_path / "v5.onnx", {"output0": out}, manifest={"task": "object-detection", "class_names": ["a"]}
    )
    assert VisionModel(path).predict([FRAME]).num_detections == 1


def test_yolov8_seg_polygons(tmp_path):
    nc, nm, mh, mw = 2, 1, 16, 16
    head = np.zeros((4 + nc + nm, 30), np.float32)
    head[:, 0] = [32, 32, 32, 32, 0.95, 0.0, 1.0]  # box 16..48 in model px, class 0, coeff 1
    protos = np.full((nm, mh, mw), -10.0, np.float32)
    protos[0, 6:10, 6:10] = 10.0  # mask square: proto px 6..10 → model px 24..40
    path = build_constant_model(
        tmp_path / "seg.onnx",
        {"output0": head, "output1": protos},
        metadata={"task": "segment", "names": "{0: 'cell', 1: 'dust'}", "imgsz": "[64, 64]"},
    )
    model = VisionModel(path)
    assert model.spec.task is TaskType.INSTANCE_SEGMENTATION
    batch = model.predict([FRAME])
    assert batch.num_detections == 1 and batch.polygons is not None
    poly = batch.polygons[0]
    # model px 24..40 → original x (24/0.25=96 .. 160), y ((24-16)/0.25=32 .. 96)
    assert poly[:, 0].min() == pytest.approx(96, abs=8) and poly[:, 0].max() == pytest.approx(160, abs=8)
    assert poly[:, 1].min() == pytest.approx(32, abs=8) and poly[:, 1].max() == pytest.approx(96, abs=8)
    doc = batch_to_roboflow(batch)[0]
    assert doc["predictions"][0]["class"] == "cell" and len(doc["predictions"][0]["points"]) >= 4


def test_multi_label_sigmoid(tmp_path):
    logits = np.array([3.0, -3.0, 0.5], np.float32)
    path = build_constant_model(
        tmp_path / "ml.onnx",
        {"logits": logits},
        input_hw=(32, 32),
        manifest={"task": "multi-label-classification", "class_names": ["cat", "dog", "bird"]},
    )
    doc = batch_to_roboflow(VisionModel(path).predict([FRAME]))[0]
    assert doc["predicted_classes"] == ["cat", "bird"]
    assert doc["predictions"]["dog"]["confidence"] == pytest.approx(1 / (1 + np.exp(3.0)), rel=1e-4)


def test_single_label_softmax_of_logits(tmp_path):
    logits = np.array([1.0, 2.0, 0.0], np.float32)
    path = build_constant_model(
        tmp_path / "cls.onnx",
        {"logits": logits},
        input_hw=(32, 32),
        manifest={"task": "classification", "class_names": ["a", "b", "c"]},
    )
    doc = batch_to_roboflow(VisionModel(path).predict([FRAME]))[0]
    expected = np.exp(logits) / np.exp(logits).sum()
    assert doc["top"] == "b" and doc["confidence"] == pytest.approx(float(expected[1]), rel=1e-5)


def test_static_batch_of_one_is_split(tmp_path):
    logits = np.array([0.1, 0.9], np.float32)
    path = build_constant_model(
        tmp_path / "static.onnx",
        {"logits": logits},
        batch=1,
        input_hw=(32, 32),
        manifest={"task": "classification", "class_names": ["a", "b"]},
    )
    model = VisionModel(path, max_batch=8)
    assert model.runner.static_batch == 1
    batch = model.predict([FRAME] * 5)
    assert batch.class_scores is not None and batch.class_scores.shape == (5, 2)


def test_missing_metadata_asks_for_manifest(tmp_path):
    path = build_constant_model(tmp_path / "bare.onnx", {"o": np.zeros(3, np.float32)})
    with pytest.raises(ModelLoadError, match=r"bare\.json"):
        VisionModel(path)


def test_wrong_output_layout_is_a_model_output_error(tmp_path):
    from agent.errors import ModelOutputError

    path = build_constant_model(
        tmp_path / "odd.onnx",
        {"o": np.zeros((7, 7), np.float32)},
        manifest={"task": "object-detection", "class_names": ["a"]},
    )
    with pytest.raises(ModelOutputError, match="neither YOLOv8"):
        VisionModel(path).predict([FRAME])


def test_bad_manifest_names_the_field(tmp_path):
    from agent.errors import ConfigError

    path = build_constant_model(
        tmp_path / "m.onnx",
        {"o": np.zeros(3, np.float32)},
        manifest={"task": "classification", "class_names": ["a"], "pad_value": 999},
    )
    with pytest.raises(ConfigError, match=r"\$\.pad_value"):
        VisionModel(path)


def test_requesting_unavailable_provider():
    with pytest.raises(ProviderUnavailableError, match=r"not available.*onnxruntime-gpu"):
        resolve_providers(["cuda"], ["CPUExecutionProvider"])
    assert resolve_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert resolve_providers(["trt", "cpu"], ["TensorrtExecutionProvider", "CPUExecutionProvider"]) == [
        "TensorrtExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_unavailable_provider_at_load(tmp_path):
    path = build_constant_model(
        tmp_path / "c.onnx",
        {"o": np.zeros(2, np.float32)},
        manifest={"task": "classification", "class_names": ["a", "b"]},
    )
    with pytest.raises(ProviderUnavailableError):
        VisionModel(path, runner_options=RunnerOptions(providers=["tensorrt"]))


def test_missing_onnxruntime_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(DependencyError, match=r"framesift\[cpu\].*onnxruntime-gpu"):
        import_onnxruntime()


def test_registry_resolution(tmp_path):
    registry = ModelRegistry(tmp_path)
    stub = registry.load("my-project/0")
    assert isinstance(stub, StubModel)
    doc = batch_to_roboflow(stub.predict([FRAME]))[0]
    assert doc["is_stub"] is True and doc["model_id"] == "my-project/0"
    assert set(doc) == {"time", "is_stub", "model_id", "task_type"}
    with pytest.raises(ModelNotFoundError, match=r"no .*my-project/3/model.onnx"):
        registry.resolve("my-project/3")
    with pytest.raises(ModelNotFoundError, match="project/version"):
        registry.resolve("not a model")
    target = tmp_path / "p" / "2" / "model.onnx"
    build_constant_model(
        target, {"o": np.zeros(2, np.float32)}, manifest={"task": "classification", "class_names": ["a", "b"]}
    )
    assert [r.model_id for r in registry.list()] == ["p/2"]
    assert registry.load("p/2", params=PostprocessParams()).model_id == "p/2"
