"""Reduced decodes for the model, full size for uploads: boxes stay in the original image's pixels.

Real photos (tests/data) through the real YOLOv8n model (nudenet/1, 320×320 letterbox):
boxes predicted on a DCT-scaled decode and mapped back match the boxes of a full decode,
and the selected frame is uploaded at its own resolution (or ``max_image_size``) with the
annotation in the uploaded JPEG's pixel frame.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import simplejpeg

from agent.config.al_config import validate_al_config
from agent.config.snapshot import StaticConfig
from agent.frames.frame import Frame
from agent.frames.full_resolution import DecodeSizePolicy, inference_min_hw, restore_full_resolution
from agent.images.decode import FitInside, decode_image
from agent.inference.model import StubModel, VisionModel
from agent.limits.local_store import LocalLimitStore
from agent.pipeline.stage import BatchStage
from agent.predictions.batch import TaskType
from agent.spool.memory_spool import MemorySpool
from tests.factories import make_detections

MODEL_PIXELS_TOLERANCE = 2.5
"""How far (in the model's 320×320 input pixels) a box may move between a reduced and a full decode.

Any shrink before the letterbox moves the boxes about as much: on grace_hopper.jpg an OpenCV
INTER_LINEAR pre-shrink to 5/8 moves them 2.4 model pixels, the DCT-scaled decode 2.5."""


BORDERLINE_CONFIDENCE = 0.30
"""Detections below this are compared only when far from the 0.25 threshold: above it."""


def everything(**changes: object) -> StaticConfig:
    doc = {"enabled": True, "persist_predictions": True,
           "sampling_strategies": [{"name": "all", "type": "random", "traffic_percentage": 1.0}],
           "batching_strategy": {"batches_name_prefix": "b", "recreation_interval": "never"}}  # fmt: skip
    return StaticConfig.of(validate_al_config(doc | changes))


@pytest.fixture(scope="module")
def model(models_dir) -> VisionModel:
    return VisionModel(models_dir / "nudenet" / "1" / "model.onnx", max_batch=4)


@pytest.fixture
def limits(tmp_path):
    store = LocalLimitStore(tmp_path / "limits", "proj")
    yield store
    store.close()


def _photo(data_dir, name: str) -> bytes:
    data = (data_dir / name.removesuffix("@2x").removesuffix("@720p")).read_bytes()
    if name.endswith("@2x"):  # a larger real photo: the model's decode is a 3/8 one
        full = decode_image(data).pixels
        big = cv2.resize(full, (full.shape[1] * 2, full.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
        data = simplejpeg.encode_jpeg(big, quality=92, colorspace="BGR")
    if name.endswith("@720p"):  # a camera-shaped 1280x720 frame: the model's letterbox decode is a 1/4 one
        full = decode_image(data).pixels
        wide = cv2.resize(full, (1280, 720), interpolation=cv2.INTER_CUBIC)
        data = simplejpeg.encode_jpeg(wide, quality=90, colorspace="BGR", colorsubsampling="420")
    return data


def _reduced_frame(data: bytes, min_hw: tuple[int, int] | None, frame_id: str = "f") -> Frame:
    decoded = decode_image(data, frame_id, min_hw=min_hw)
    assert decoded.reduced
    return Frame("cam", frame_id, decoded.pixels, encoded=data, full_hw=decoded.full_hw)


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.jpg", "grace_hopper.jpg@2x", "astronaut.jpg@720p"])
def test_boxes_from_a_reduced_decode_match_a_full_decode(model, data_dir, name):
    data = _photo(data_dir, name)
    full = decode_image(data).pixels
    frame = _reduced_frame(data, inference_min_hw(model))
    assert frame.image.shape[0] < full.shape[0]

    expected = model.predict([full])
    got = restore_full_resolution(model.predict([frame.image]), [frame])

    assert got.image_hw.tolist() == [list(full.shape[:2])]
    # a detection within 0.05 of the 0.25 threshold may fall either side with any pre-shrink
    # (astronaut@720p: a second class at 0.27 on the full decode, 0.24 on both the 1/2 and 1/4 decodes)
    keep_expected, keep_got = expected.confidence >= BORDERLINE_CONFIDENCE, got.confidence >= BORDERLINE_CONFIDENCE
    assert keep_expected.sum() >= 1, "the photo must have something to detect"
    assert got.class_id[keep_got].tolist() == expected.class_id[keep_expected].tolist()
    model_scale = min(320 / full.shape[0], 320 / full.shape[1])  # letterbox: original px → model px
    assert np.abs(got.xyxy[keep_got] - expected.xyxy[keep_expected]).max() * model_scale <= MODEL_PIXELS_TOLERANCE
    assert np.abs(got.confidence[keep_got] - expected.confidence[keep_expected]).max() < 0.05


@pytest.mark.parametrize(("max_image_size", "upload_hw"), [(None, (1200, 1024)), ([300, 300], (300, 256))])
def test_a_selected_reduced_frame_is_uploaded_at_its_size_with_the_annotation_in_the_jpeg_frame(
    model, data_dir, limits, max_image_size, upload_hw
):
    data = _photo(data_dir, "grace_hopper.jpg@2x")  # 1200x1024, the model sees a 3/8 decode (450x384)
    spool = MemorySpool()
    stage = BatchStage(model, everything(max_image_size=max_image_size), limits, spool, project="proj", seed=0)
    frame = _reduced_frame(data, inference_min_hw(model))
    assert frame.image.shape[:2] == (450, 384)

    result = stage.select_batch([frame])
    assert result.batch is not None and result.held_bytes >= len(data)
    boxes_full = result.batch.xyxy.copy()  # in the 1200x1024 photo's pixels
    stage.commit(result)

    record = spool.lease()
    assert record is not None
    assert simplejpeg.decode_jpeg_header(record.item.jpeg)[:2] == upload_hw
    assert frame.encoded is None, "the encoded bytes are released once the frame is spooled"
    assert record.item.annotation is not None
    doc = json.loads(record.item.annotation.body)
    assert doc["image"] == {"width": upload_hw[1], "height": upload_hw[0]}
    scale = upload_hw[0] / 1200
    for det, box in zip(doc["predictions"], boxes_full, strict=True):
        x0, y0, x1, y1 = (box * scale).tolist()
        assert det["x"] == pytest.approx((x0 + x1) / 2, abs=0.5)
        assert det["y"] == pytest.approx((y0 + y1) / 2, abs=0.5)
        assert det["width"] == pytest.approx(x1 - x0, abs=0.5)
        assert det["height"] == pytest.approx(y1 - y0, abs=0.5)
    if max_image_size is None:  # full size: the photo's own pixels, not the model's decode upscaled
        uploaded = simplejpeg.decode_jpeg(record.item.jpeg, colorspace="BGR").astype(int)
        photo = decode_image(data).pixels
        upscaled = cv2.resize(frame_pixels_for_model(data, model), (1024, 1200), interpolation=cv2.INTER_CUBIC)
        assert np.abs(uploaded - photo).mean() < 0.5 * np.abs(upscaled.astype(int) - photo).mean()


def frame_pixels_for_model(data: bytes, model: VisionModel) -> np.ndarray:
    return decode_image(data, min_hw=inference_min_hw(model)).pixels


def test_unselected_frames_release_their_bytes_and_the_infer_path_maps_back(model, data_dir, limits):
    data = _photo(data_dir, "grace_hopper.jpg@2x")
    never = [{"name": "none", "type": "random", "traffic_percentage": 0.0}]
    stage = BatchStage(model, everything(sampling_strategies=never), limits, MemorySpool(), project="proj")
    frame = _reduced_frame(data, inference_min_hw(model))
    result = stage.select_batch([frame])
    assert result.decision is not None and not result.decision.selections
    assert frame.encoded is None and frame.image.size == 0 and result.held_bytes == 0

    reduced = decode_image(data, min_hw=inference_min_hw(model))
    one = stage.infer_one(reduced.pixels, "grpc", submit=False, encoded=data, full_hw=reduced.full_hw)
    assert one.batch is not None and one.batch.image_hw.tolist() == [[1200, 1024]]
    assert one.batch.xyxy[:, 2].max() > 600, "boxes are in the 1200x1024 photo, not the 450x384 decode"


def test_restore_full_resolution_scales_only_reduced_frames():
    batch = make_detections([[("car", 0.9, (10.0, 20.0, 30.0, 40.0))], [("dog", 0.8, (10.0, 20.0, 30.0, 40.0))]],
                            task=TaskType.INSTANCE_SEGMENTATION, image_hw=(100, 200))  # fmt: skip
    batch.polygons = [np.array([[10.0, 20.0], [30.0, 40.0]], np.float32)] * 2
    reduced = Frame("cam", "a", np.zeros((100, 200, 3), np.uint8), encoded=b"jpeg", full_hw=(400, 600))
    full = Frame("cam", "b", np.zeros((100, 200, 3), np.uint8))
    out = restore_full_resolution(batch, [reduced, full])
    assert out.image_hw.tolist() == [[400, 600], [100, 200]]
    assert out.xyxy.tolist() == [[30.0, 80.0, 90.0, 160.0], [10.0, 20.0, 30.0, 40.0]]  # x by 3, y by 4
    assert out.polygons is not None
    assert out.polygons[0].tolist() == [[30.0, 80.0], [90.0, 160.0]]
    assert out.polygons[1].tolist() == [[10.0, 20.0], [30.0, 40.0]]


def test_restore_full_resolution_scales_keypoints_and_tells_the_stub_the_full_size():
    batch = make_detections([[("car", 0.9, (10.0, 20.0, 30.0, 40.0))]], task=TaskType.KEYPOINT_DETECTION,
                            image_hw=(100, 200))  # fmt: skip
    batch.keypoints = [[{"x": 5.0, "y": 6.0, "class": "nose"}, {"class": "hidden"}]]
    frame = Frame("cam", "a", np.zeros((100, 200, 3), np.uint8), encoded=b"jpeg", full_hw=(200, 400))
    out = restore_full_resolution(batch, [frame])
    assert out.keypoints == [[{"x": 10.0, "y": 12.0, "class": "nose"}, {"class": "hidden"}]]

    stub = StubModel("proj/0").predict([frame.image])
    assert restore_full_resolution(stub, [frame]).image_hw.tolist() == [[200, 400]]


@pytest.mark.parametrize(
    ("batches", "reduced"),
    [
        pytest.param([], True, id="start-reduced"),
        pytest.param([(1, 20)] * 20, True, id="5-percent-decoded-again"),
        pytest.param([(8, 8)] * 4, False, id="everything-decoded-again-full-decode"),
        pytest.param([(8, 8)] * 10 + [(0, 8)] * 10, True, id="back-to-reduced-when-second-decodes-stop"),
    ],
)
def test_decode_size_policy_decodes_at_full_size_while_most_frames_are_decoded_again(model, batches, reduced):
    policy = DecodeSizePolicy()
    for redecoded, frames in batches:
        policy.observe_frames(frames)
        for _ in range(redecoded):
            policy.observe_redecode()
    assert policy.min_hw(model) == (FitInside(320, 320) if reduced else None)
    assert policy.min_hw(StubModel("proj/0")) is None and policy.min_hw(None) is None


@pytest.mark.parametrize(("passthrough", "stays_reduced"), [(False, False), (True, True)])
def test_the_stage_switches_to_full_decodes_when_every_frame_is_decoded_again(model, data_dir, limits, passthrough,
                                                                             stays_reduced):  # fmt: skip
    """Everything selected: full decodes, unless the selected JPEGs are uploaded as they are (no second decode)."""
    data = _photo(data_dir, "astronaut.jpg")
    stage = BatchStage(model, everything(), limits, MemorySpool(), project="proj", seed=0, jpeg_passthrough=passthrough)
    assert stage.decode_min_hw() == FitInside(320, 320)
    for i in range(4):
        stage.process([_reduced_frame(data, stage.decode_min_hw() or FitInside(320, 320), f"f{i}")])
    assert (stage.decode_min_hw() == FitInside(320, 320)) is stays_reduced


@pytest.mark.parametrize(
    ("changes", "as_is"),
    [
        pytest.param({}, True, id="fits-and-quality-92-at-most-95"),
        pytest.param({"jpeg_compression_level": 80}, False, id="the-config-asks-for-smaller-files"),
        pytest.param({"max_image_size": [600, 600]}, False, id="needs-a-resize"),
    ],
)
def test_a_selected_jpeg_is_uploaded_as_its_own_bytes_when_nothing_asks_for_a_re_encode(
    model, data_dir, limits, changes, as_is
):
    data = _photo(data_dir, "grace_hopper.jpg@2x")  # 1200x1024, quality 92, no metadata
    spool = MemorySpool()
    stage = BatchStage(model, everything(**changes), limits, spool, project="proj", seed=0)
    stage.process([_reduced_frame(data, inference_min_hw(model))])
    record = spool.lease()
    assert record is not None
    assert (record.item.jpeg == data) is as_is
    assert record.item.annotation is not None
    doc = json.loads(record.item.annotation.body)
    expected_hw = simplejpeg.decode_jpeg_header(record.item.jpeg)[:2]
    assert (doc["image"]["height"], doc["image"]["width"]) == expected_hw
