"""NMS and YOLO head decoding, including empty inputs."""

from __future__ import annotations

import numpy as np
import pytest

from agent.errors import ModelOutputError
from agent.inference.postprocess.nms import nms_batched
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.postprocess.yolo import decode_yolo, guess_layout, to_original_pixels


def test_nms_empty():
    keep = nms_batched(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.5)
    assert keep.shape == (0,)


def test_nms_is_class_and_frame_aware():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    groups = np.array([0, 0, 1, 2], np.int64)  # box 1 overlaps box 0 in the same group
    keep = nms_batched(boxes, scores, groups, 0.5)
    assert sorted(keep.tolist()) == [0, 2, 3]


def _v8_output(boxes_cxcywh, class_scores, n_total=10):
    nc = class_scores.shape[1]
    out = np.zeros((1, 4 + nc, n_total), np.float32)
    out[0, :4, : len(boxes_cxcywh)] = np.asarray(boxes_cxcywh, np.float32).T
    out[0, 4:, : len(boxes_cxcywh)] = class_scores.T
    return out


def test_decode_yolov8_thresholds_and_nms():
    out = _v8_output(
        [[50, 50, 20, 20], [51, 50, 20, 20], [10, 10, 4, 4]], np.array([[0.9, 0.1], [0.8, 0.1], [0.05, 0.2]])
    )
    cand = decode_yolo(out, "yolov8", 2, PostprocessParams(confidence_threshold=0.25))
    assert len(cand.confidence) == 1
    np.testing.assert_allclose(cand.xyxy[0], [40, 40, 60, 60])
    assert cand.class_id[0] == 0


def test_decode_no_candidates():
    out = np.zeros((3, 6, 100), np.float32)
    cand = decode_yolo(out, "yolov8", 2, PostprocessParams())
    assert cand.xyxy.shape == (0, 4) and cand.frame_index.shape == (0,)


def test_max_detections_per_frame():
    n = 50
    boxes = [[i * 30 + 10, 10, 8, 8] for i in range(n)]
    out = _v8_output(boxes, np.full((n, 1), 0.9), n_total=n)
    out = np.concatenate([out, out])
    cand = decode_yolo(out, "yolov8", 1, PostprocessParams(max_detections=7))
    assert np.bincount(cand.frame_index).tolist() == [7, 7]


def test_guess_layout():
    assert guess_layout((1, 84, 8400), 80) == "yolov8"
    assert guess_layout((1, 25200, 85), 80) == "yolov5"
    with pytest.raises(ModelOutputError, match="neither"):
        guess_layout((1, 7, 7), 80)


def test_boxes_map_back_through_letterbox():
    # 640x480 frame letterboxed into 320x320: scale 0.5, pad_y 40
    transforms = np.array([[0.5, 0.5, 0.0, 40.0]], np.float32)
    xyxy = np.array([[10, 50, 110, 150]], np.float32)
    out = to_original_pixels(xyxy, np.array([0], np.int32), transforms, np.array([[480, 640]], np.int32))
    np.testing.assert_allclose(out, [[20, 20, 220, 220]])


def test_params_validate():
    with pytest.raises(ValueError, match="confidence_threshold"):
        PostprocessParams(confidence_threshold=1.5)
