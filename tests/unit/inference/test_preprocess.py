"""Preprocessor: the letterbox written straight into the tensor equals converting the padded canvas, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.inference.preprocess import Preprocessor
from agent.inference.spec import ModelSpec
from agent.predictions.batch import TaskType


def spec(**kwargs) -> ModelSpec:
    return ModelSpec(TaskType.OBJECT_DETECTION, "yolov8", ("a",), (320, 320), **kwargs)


def reference_letterbox(image: np.ndarray, s: ModelSpec) -> tuple[np.ndarray, list[float]]:
    """The padded uint8 canvas, then every pixel converted: what the model must see."""
    h, w = s.input_hw
    ih, iw = image.shape[:2]
    r = min(h / ih, w / iw)
    nw, nh = max(1, round(iw * r)), max(1, round(ih * r))
    left, top = (w - nw) // 2, (h - nh) // 2
    canvas = np.full((h, w, 3), s.pad_value, np.uint8)
    canvas[top : top + nh, left : left + nw] = (
        image if (nw, nh) == (iw, ih) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    )
    if s.channel_order == "rgb":
        canvas = canvas[:, :, ::-1]
    mean = np.asarray(s.mean or (0.0, 0.0, 0.0), np.float32)
    std = np.asarray(s.std or (1.0, 1.0, 1.0), np.float32)
    alpha = (s.scale / std).astype(np.float32).reshape(3, 1, 1)
    beta = (mean / std).astype(np.float32).reshape(3, 1, 1)
    tensor = canvas.transpose(2, 0, 1) * alpha
    if np.any(beta != 0) or np.any(alpha != alpha[0]):
        tensor = tensor - beta
    return tensor.astype(np.float32), [nw / iw, nh / ih, left, top]


@pytest.mark.parametrize(
    ("hw", "model_spec"),
    [
        ((180, 320), spec()),  # a 1/4 decode of 1280x720: copied, bands above and below
        ((720, 1280), spec()),  # resized
        ((1280, 720), spec(channel_order="bgr")),  # portrait: bands left and right
        ((320, 320), spec()),  # no padding at all
        ((50, 100), spec(pad_value=0)),  # upscaled
        ((333, 517), spec(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))),  # normalised, odd sizes
    ],
)
def test_letterbox_matches_the_padded_canvas(hw, model_spec):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(2)]
    pre = Preprocessor(model_spec, max_batch=2)
    pre([rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)] * 2)  # the buffer is reused: no stale padding
    tensor, transforms = pre(images)
    for i, image in enumerate(images):
        expected, transform = reference_letterbox(image, model_spec)
        assert np.array_equal(tensor[i], expected)
        assert transforms[i].tolist() == pytest.approx(transform)
