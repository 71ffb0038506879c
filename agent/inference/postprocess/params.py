"""Thresholds shared by the postprocessors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PostprocessParams:
    """Detection thresholds.

    Attributes:
        confidence_threshold: drop boxes scoring below this (0..1).
        iou_threshold: NMS IoU above which the lower-scoring box of a class is dropped.
        max_detections: per frame, after NMS.
        max_candidates: per batch, before NMS (highest scores kept).
    """

    confidence_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 300
    max_candidates: int = 30000

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1], got {self.confidence_threshold}")
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")
        if self.max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {self.max_detections}")
