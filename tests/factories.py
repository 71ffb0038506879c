"""Builders of PredictionBatch objects for tests."""

from __future__ import annotations

import numpy as np

from agent.predictions.batch import PredictionBatch, TaskType


def make_detections(
    frames: list[list[tuple[str, float, tuple[float, float, float, float]]]],
    task: TaskType = TaskType.OBJECT_DETECTION,
    class_names: tuple[str, ...] = ("car", "person", "dog"),
    image_hw: tuple[int, int] = (480, 640),
) -> PredictionBatch:
    """One entry per frame: a list of (class, confidence, xyxy)."""
    rows = [(f, c, conf, box) for f, dets in enumerate(frames) for (c, conf, box) in dets]
    n = len(rows)
    return PredictionBatch(
        task=task,
        class_names=class_names,
        image_hw=np.tile(np.array(image_hw, np.int32), (len(frames), 1)),
        time_s=np.zeros(len(frames)),
        inference_ids=[f"id{i}" for i in range(len(frames))],
        xyxy=np.array([r[3] for r in rows], np.float32).reshape(n, 4),
        confidence=np.array([r[2] for r in rows], np.float32),
        class_id=np.array([class_names.index(r[1]) for r in rows], np.int32),
        frame_index=np.array([r[0] for r in rows], np.int32),
        polygons=[np.zeros((3, 2), np.float32)] * n if task is TaskType.INSTANCE_SEGMENTATION else None,
        keypoints=[[]] * n if task is TaskType.KEYPOINT_DETECTION else None,
    )


def make_classification(
    scores: list[list[float]],
    class_names: tuple[str, ...] = ("cat", "dog", "bird"),
    multi_label: bool = False,
    threshold: float = 0.5,
) -> PredictionBatch:
    """One row of class confidences per frame."""
    arr = np.array(scores, np.float32).reshape(len(scores), len(class_names))
    return PredictionBatch(
        task=TaskType.MULTI_LABEL_CLASSIFICATION if multi_label else TaskType.CLASSIFICATION,
        class_names=class_names,
        image_hw=np.tile(np.array([100, 100], np.int32), (len(scores), 1)),
        time_s=np.zeros(len(scores)),
        inference_ids=[f"id{i}" for i in range(len(scores))],
        class_scores=arr,
        multilabel_threshold=threshold,
    )


def make_stub(n: int, task: TaskType = TaskType.OBJECT_DETECTION) -> PredictionBatch:
    batch = PredictionBatch.empty(task, (), np.tile(np.array([10, 10], np.int32), (n, 1)))
    batch.class_scores = None
    batch.is_stub = True
    batch.model_id = "proj/0"
    return batch


def al_config(*strategies: dict, **extra) -> dict:
    """An enabled config document around the given strategies."""
    doc = {
        "enabled": True,
        "persist_predictions": True,
        "batching_strategy": {"batches_name_prefix": "al", "recreation_interval": "daily"},
        "sampling_strategies": list(strategies),
    }
    doc.update(extra)
    return doc
