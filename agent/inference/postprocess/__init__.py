"""Postprocessors: raw model outputs of a batch → PredictionBatch.

``postprocess_batch`` dispatches on the spec's layout through ``DECODERS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.errors import ModelOutputError
from agent.inference.postprocess.classification import class_confidences
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.postprocess.segmentation import masks_to_polygons
from agent.inference.postprocess.yolo import decode_yolo, guess_layout, to_original_pixels
from agent.inference.spec import ModelSpec
from agent.predictions.batch import PredictionBatch, TaskType


@dataclass(frozen=True)
class RawBatch:
    """What a decoder gets for one batch of B frames.

    Attributes:
        outputs: the model's raw outputs, batch first.
        transforms: (B, 4) float32 ``[scale_x, scale_y, pad_x, pad_y]`` from preprocessing.
        image_hw: (B, 2) int32 original height, width.
    """

    outputs: list[NDArray[Any]]
    transforms: NDArray[np.float32]
    image_hw: NDArray[np.int32]


Decoder = Callable[[ModelSpec, RawBatch, PostprocessParams], PredictionBatch]


def _new_batch(spec: ModelSpec, raw: RawBatch, **kw: Any) -> PredictionBatch:
    b = len(raw.image_hw)
    return PredictionBatch(
        task=spec.task,
        class_names=spec.class_names,
        image_hw=raw.image_hw,
        time_s=np.zeros(b, np.float64),
        inference_ids=[str(uuid.uuid4()) for _ in range(b)],
        multilabel_threshold=spec.multilabel_threshold,
        **kw,
    )


def decode_detection(spec: ModelSpec, raw: RawBatch, params: PostprocessParams) -> PredictionBatch:
    """YOLOv8 / YOLOv5 detection heads (first output)."""
    nc = len(spec.class_names)
    head = raw.outputs[0]
    layout = spec.layout if spec.layout != "auto" else guess_layout(head.shape, nc)
    cand = decode_yolo(head, layout, nc, params)
    xyxy = to_original_pixels(cand.xyxy, cand.frame_index, raw.transforms, raw.image_hw)
    return _new_batch(spec, raw, xyxy=xyxy, confidence=cand.confidence,
                      class_id=cand.class_id, frame_index=cand.frame_index,
                      runner_up_class_id=cand.runner_up_class_id,
                      runner_up_confidence=cand.runner_up_confidence)  # fmt: skip


def decode_segmentation(spec: ModelSpec, raw: RawBatch, params: PostprocessParams) -> PredictionBatch:
    """YOLOv8-seg: output0 (B, 4+nc+nm, N) and prototypes (B, nm, mh, mw)."""
    if len(raw.outputs) < 2:
        raise ModelOutputError(
            f"segmentation model must have 2 outputs (boxes, mask prototypes), got {len(raw.outputs)}"
        )
    head, protos = raw.outputs[0], raw.outputs[1]
    if protos.ndim != 4:
        raise ModelOutputError(f"mask prototypes must be 4-D (B, nm, mh, mw), got {protos.shape}")
    nc = len(spec.class_names)
    nm = protos.shape[1]
    layout = "yolov8" if spec.layout in ("auto", "yolov8-seg") else spec.layout
    cand = decode_yolo(head, layout, nc, params, num_extra=nm)
    polygons = masks_to_polygons(cand.extra, protos, cand.frame_index, cand.xyxy,
                                 spec.input_hw, raw.transforms, raw.image_hw)  # fmt: skip
    xyxy = to_original_pixels(cand.xyxy, cand.frame_index, raw.transforms, raw.image_hw)
    return _new_batch(spec, raw, xyxy=xyxy, confidence=cand.confidence,
                      class_id=cand.class_id, frame_index=cand.frame_index,
                      polygons=polygons, runner_up_class_id=cand.runner_up_class_id,
                      runner_up_confidence=cand.runner_up_confidence)  # fmt: skip


def decode_classification(spec: ModelSpec, raw: RawBatch, params: PostprocessParams) -> PredictionBatch:
    """Single-label (softmax) or multi-label (sigmoid) classification."""
    multi = spec.task is TaskType.MULTI_LABEL_CLASSIFICATION
    scores = class_confidences(raw.outputs[0], len(spec.class_names), spec.output_activation, multi)
    return _new_batch(spec, raw, class_scores=scores)


DECODERS: dict[str, Decoder] = {
    "auto": decode_detection,
    "yolov8": decode_detection,
    "yolov5": decode_detection,
    "yolov8-seg": decode_segmentation,
    "classification": decode_classification,
}


def postprocess_batch(
    spec: ModelSpec,
    outputs: list[NDArray[Any]],
    transforms: NDArray[np.float32],
    image_hw: NDArray[np.int32],
    params: PostprocessParams,
) -> PredictionBatch:
    """Decode the raw outputs of one batch with the decoder of ``spec.layout``."""
    decoder = DECODERS.get(spec.layout)
    if decoder is None:
        raise ModelOutputError(f"no decoder for layout {spec.layout!r}")
    if spec.task is TaskType.INSTANCE_SEGMENTATION and spec.layout in ("auto", "yolov8"):
        decoder = decode_segmentation
    return decoder(spec, RawBatch(outputs, transforms, image_hw), params)
