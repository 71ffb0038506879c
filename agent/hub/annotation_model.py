"""The hub's one annotation form: every accepted file format is parsed into it, stored once
(as JSON) and every export is written from it.

Coordinates are in the stored image's pixels, origin top-left. A box is
``(x_min, y_min, width, height)`` as float64 values; a polygon or a keypoint list is a
tuple of ``(x, y)`` float pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DETECTION = "detection"
CLASSIFICATION = "classification"


@dataclass(frozen=True)
class Keypoint:
    """One keypoint of a shape: pixel position, optional name and visibility/confidence."""

    x: float
    y: float
    name: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Shape:
    """One object: its class, a box, and optionally a polygon and keypoints.

    Attributes:
        class_name: the class, as named in the project's class list.
        box: (x_min, y_min, width, height) in pixels.
        polygon: outline vertices ((x, y), ...) in pixels; empty for a plain box.
        keypoints: keypoints in pixels; empty when the format has none.
        confidence: model confidence in [0, 1] for predictions, else None.
    """

    class_name: str
    box: tuple[float, float, float, float]
    polygon: tuple[tuple[float, float], ...] = ()
    keypoints: tuple[Keypoint, ...] = ()
    confidence: float | None = None


@dataclass(frozen=True)
class ImageAnnotation:
    """The annotation of one image.

    Attributes:
        kind: ``"detection"`` (shapes) or ``"classification"`` (labels).
        shapes: the objects (detection).
        labels: class names (classification; several for multi-label).
        source_format: the format it was parsed from (``coco``, ``voc``, ``yolo``, ...).
    """

    kind: str
    shapes: tuple[Shape, ...] = ()
    labels: tuple[str, ...] = ()
    source_format: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def class_names(self) -> list[str]:
        """The class names used, in first-seen order, each once."""
        names = [s.class_name for s in self.shapes] + list(self.labels)
        return list(dict.fromkeys(names))

    def to_json(self) -> str:
        """Serialise for storage."""
        return json.dumps({
            "kind": self.kind, "source_format": self.source_format, "labels": list(self.labels),
            "shapes": [{"class": s.class_name, "box": list(s.box), "polygon": [list(p) for p in s.polygon],
                        "keypoints": [[k.x, k.y, k.name, k.confidence] for k in s.keypoints],
                        "confidence": s.confidence} for s in self.shapes],
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> ImageAnnotation:
        """Inverse of :meth:`to_json`; raises ValueError/KeyError/TypeError on a corrupt record."""
        doc = json.loads(text)
        shapes = tuple(
            Shape(
                class_name=str(s["class"]),
                box=(float(s["box"][0]), float(s["box"][1]), float(s["box"][2]), float(s["box"][3])),
                polygon=tuple((float(p[0]), float(p[1])) for p in s["polygon"]),
                keypoints=tuple(Keypoint(float(k[0]), float(k[1]), k[2], k[3]) for k in s["keypoints"]),
                confidence=s["confidence"],
            )
            for s in doc["shapes"]
        )
        return cls(kind=str(doc["kind"]), shapes=shapes, labels=tuple(str(x) for x in doc["labels"]),
                   source_format=str(doc.get("source_format", "")))  # fmt: skip
