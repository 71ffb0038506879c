"""PredictionBatch: the predictions of a whole batch as parallel numpy arrays.

One object per batch of B frames. Detections of all frames are flattened into
N rows whose ``frame_index`` says which frame each belongs to (the
``supervision.Detections`` model), so strategies reduce over frames with
``np.bincount`` / ``np.maximum.at`` instead of looping.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray


class TaskType(str, Enum):
    """Task types, spelled as the Roboflow API spells them."""

    OBJECT_DETECTION = "object-detection"
    INSTANCE_SEGMENTATION = "instance-segmentation"
    KEYPOINT_DETECTION = "keypoint-detection"
    CLASSIFICATION = "classification"
    MULTI_LABEL_CLASSIFICATION = "multi-label-classification"

    @property
    def is_detection(self) -> bool:
        """True for tasks whose predictions are boxes."""
        return self in _DETECTION_TASKS

    @property
    def is_classification(self) -> bool:
        """True for single- and multi-label classification."""
        return not self.is_detection


_DETECTION_TASKS = frozenset({TaskType.OBJECT_DETECTION, TaskType.INSTANCE_SEGMENTATION, TaskType.KEYPOINT_DETECTION})


def _f32(shape: tuple[int, ...]) -> NDArray[np.float32]:
    return np.zeros(shape, dtype=np.float32)


@dataclass
class PredictionBatch:
    """Predictions of B frames.

    Attributes:
        task: the model's task type.
        class_names: class names indexed by class id.
        image_hw: (B, 2) int32, original height and width of each frame.
        time_s: (B,) float64, inference time attributed to each frame (seconds).
        inference_ids: B strings (uuid4) identifying each frame's inference.
        xyxy: (N, 4) float32 boxes in original-image pixels (detection tasks).
        confidence: (N,) float32 box confidence in [0, 1].
        class_id: (N,) int32 class index into ``class_names``.
        frame_index: (N,) int32 frame each detection belongs to, in [0, B).
        detection_ids: N uuid4 strings, created on first use (``ensure_detection_ids``).
        polygons: N arrays of shape (K_i, 2) float32 (x, y) in original pixels, or None.
        keypoints: N lists of Roboflow keypoint dicts, or None.
        class_scores: (B, C) float32 per-class confidence (classification tasks); NaN marks a
            class absent from a frame's prediction (only when read from partial JSON).
        multilabel_threshold: a class is "predicted" in multi-label mode at or above this.
        predicted_mask: (B, C) bool, the predicted classes of a multi-label model when they
            were given explicitly (``predicted_classes`` in JSON); else derived from the threshold.
        is_stub: True for the stub model ``project/0``: no predictions at all.
        model_id: id of the model that produced the predictions.
        frame_ids: optional B strings given by the caller (file path, stream frame number).
        runner_up_class_id: (N,) int32 second-best class of each box (-1: none or unknown),
            or None when the producer did not keep per-box class scores.
        runner_up_confidence: (N,) float32 its score (NaN: unknown), or None likewise.
    """

    task: TaskType
    class_names: tuple[str, ...]
    image_hw: NDArray[np.int32]
    time_s: NDArray[np.float64]
    inference_ids: list[str]
    xyxy: NDArray[np.float32] = field(default_factory=lambda: _f32((0, 4)))
    confidence: NDArray[np.float32] = field(default_factory=lambda: _f32((0,)))
    class_id: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    frame_index: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    detection_ids: list[str] | None = None
    polygons: list[NDArray[np.float32]] | None = None
    keypoints: list[list[dict[str, Any]]] | None = None
    class_scores: NDArray[np.float32] | None = None
    multilabel_threshold: float = 0.5
    predicted_mask: NDArray[np.bool_] | None = None
    is_stub: bool = False
    model_id: str = ""
    frame_ids: list[str] | None = None
    runner_up_class_id: NDArray[np.int32] | None = None
    runner_up_confidence: NDArray[np.float32] | None = None
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        b = len(self.image_hw)
        n = len(self.xyxy)
        checks = [
            (self.image_hw.shape == (b, 2), f"image_hw must be (B, 2), got {self.image_hw.shape}"),
            (self.time_s.shape == (b,), f"time_s must be ({b},), got {self.time_s.shape}"),
            (len(self.inference_ids) == b, f"inference_ids must have {b} items"),
            (self.xyxy.shape == (n, 4), f"xyxy must be (N, 4), got {self.xyxy.shape}"),
            (self.confidence.shape == (n,), f"confidence must be ({n},)"),
            (self.class_id.shape == (n,), f"class_id must be ({n},)"),
            (self.frame_index.shape == (n,), f"frame_index must be ({n},)"),
            (self.polygons is None or len(self.polygons) == n, f"polygons must have {n} items"),
            (self.keypoints is None or len(self.keypoints) == n, f"keypoints must have {n} items"),
            (
                self.class_scores is None or self.class_scores.shape[0] == b,
                "class_scores must be (B, C)",
            ),
            (
                (self.runner_up_class_id is None) == (self.runner_up_confidence is None),
                "runner_up_class_id and runner_up_confidence come together",
            ),
            (
                self.runner_up_class_id is None or self.runner_up_class_id.shape == (n,),
                f"runner_up_class_id must be ({n},)",
            ),
            (
                self.runner_up_confidence is None or self.runner_up_confidence.shape == (n,),
                f"runner_up_confidence must be ({n},)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"PredictionBatch: {message}")

    @property
    def batch_size(self) -> int:
        """Number of frames B."""
        return len(self.image_hw)

    @property
    def num_detections(self) -> int:
        """Number of detection rows N over the whole batch."""
        return len(self.xyxy)

    def detections_per_frame(self) -> NDArray[np.int64]:
        """(B,) int64 count of detections in each frame."""
        return np.bincount(self.frame_index, minlength=self.batch_size)

    def box_area(self) -> NDArray[np.float32]:
        """(N,) float32 area of each box in px²."""
        wh = self.xyxy[:, 2:4] - self.xyxy[:, 0:2]
        return (wh[:, 0] * wh[:, 1]).astype(np.float32)

    def confidence_f64(self) -> NDArray[np.float64]:
        """(N,) float64 confidences, computed once (strategies compare in float64)."""
        if "conf64" not in self._derived:
            self._derived["conf64"] = self.confidence.astype(np.float64)
        out: NDArray[np.float64] = self._derived["conf64"]
        return out

    def box_area_f64(self) -> NDArray[np.float64]:
        """(N,) float64 box areas in px² (width × height as the JSON states them)."""
        if "area64" not in self._derived:
            xyxy = self.xyxy.astype(np.float64)
            self._derived["area64"] = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
        out: NDArray[np.float64] = self._derived["area64"]
        return out

    def frame_bounds(self) -> tuple[NDArray[np.intp], NDArray[np.bool_]] | None:
        """(starts (B,), empty (B,)) of each frame's rows when rows are grouped by frame.

        None when ``frame_index`` is not sorted. ``starts`` are clipped to N so they
        can feed ``np.add.reduceat`` on an array padded with one trailing zero.
        """
        if "bounds" not in self._derived:
            fi = self.frame_index
            if len(fi) > 1 and bool(np.any(fi[1:] < fi[:-1])):
                self._derived["bounds"] = None
            else:
                frames = np.arange(self.batch_size)
                starts = np.searchsorted(fi, frames, side="left")
                ends = np.searchsorted(fi, frames, side="right")
                self._derived["bounds"] = (starts, starts == ends)
        bounds: tuple[NDArray[np.intp], NDArray[np.bool_]] | None = self._derived["bounds"]
        return bounds

    def ensure_detection_ids(self) -> list[str]:
        """Return the N detection ids, creating uuid4 ids on first use."""
        if self.detection_ids is None:
            self.detection_ids = [str(uuid.uuid4()) for _ in range(self.num_detections)]
        return self.detection_ids

    def frame_rows(self, frame: int) -> NDArray[np.intp]:
        """Row indices of the detections of one frame."""
        return np.flatnonzero(self.frame_index == frame)

    @classmethod
    def empty(cls, task: TaskType, class_names: tuple[str, ...], image_hw: NDArray[np.int32]) -> PredictionBatch:
        """A batch with no detections (and zero class scores for classification)."""
        b = len(image_hw)
        scores = _f32((b, len(class_names))) if task.is_classification else None
        return cls(
            task=task,
            class_names=class_names,
            image_hw=np.asarray(image_hw, dtype=np.int32).reshape(b, 2),
            time_s=np.zeros(b, np.float64),
            inference_ids=[str(uuid.uuid4()) for _ in range(b)],
            class_scores=scores,
        )

    def select_frames(self, frames: NDArray[np.intp] | list[int]) -> PredictionBatch:
        """A new batch holding only the given frames, re-indexed 0..len(frames)-1."""
        frames_arr = np.asarray(frames, dtype=np.intp)
        remap = np.full(self.batch_size, -1, dtype=np.int64)
        remap[frames_arr] = np.arange(len(frames_arr))
        keep = np.flatnonzero(remap[self.frame_index] >= 0)
        det_ids = self.ensure_detection_ids()
        return PredictionBatch(
            task=self.task,
            class_names=self.class_names,
            image_hw=self.image_hw[frames_arr],
            time_s=self.time_s[frames_arr],
            inference_ids=[self.inference_ids[i] for i in frames_arr],
            xyxy=self.xyxy[keep],
            confidence=self.confidence[keep],
            class_id=self.class_id[keep],
            frame_index=remap[self.frame_index[keep]].astype(np.int32),
            detection_ids=[det_ids[i] for i in keep],
            polygons=None if self.polygons is None else [self.polygons[i] for i in keep],
            keypoints=None if self.keypoints is None else [self.keypoints[i] for i in keep],
            class_scores=None if self.class_scores is None else self.class_scores[frames_arr],
            multilabel_threshold=self.multilabel_threshold,
            predicted_mask=None if self.predicted_mask is None else self.predicted_mask[frames_arr],
            is_stub=self.is_stub,
            model_id=self.model_id,
            frame_ids=None if self.frame_ids is None else [self.frame_ids[i] for i in frames_arr],
            runner_up_class_id=None if self.runner_up_class_id is None else self.runner_up_class_id[keep],
            runner_up_confidence=None if self.runner_up_confidence is None else self.runner_up_confidence[keep],
        )
