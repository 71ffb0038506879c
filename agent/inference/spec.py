"""ModelSpec: what a model is (task, classes, input size, pre/post-processing).

Read from the Ultralytics ONNX metadata (``names``, ``imgsz``, ``task``) when
present, overridden field by field by a sidecar manifest ``<model>.json`` next
to the model file (format in ``models/README.md``).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import ConfigError, ConfigIssue, ModelLoadError
from agent.predictions.batch import TaskType

Layout = Literal["auto", "yolov8", "yolov5", "yolov8-seg", "classification"]
Resize = Literal["letterbox", "stretch", "center_crop"]

_ULTRALYTICS_TASKS: dict[str, tuple[TaskType, Layout]] = {
    "detect": (TaskType.OBJECT_DETECTION, "yolov8"),
    "segment": (TaskType.INSTANCE_SEGMENTATION, "yolov8-seg"),
    "classify": (TaskType.CLASSIFICATION, "classification"),
}


class ModelManifest(BaseModel):
    """The sidecar manifest (``<model stem>.json``). Every field is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskType | None = Field(None, description="Roboflow task type")
    layout: Layout | None = Field(None, description="output layout; auto = guess from shapes")
    class_names: list[str] | None = Field(None, description="class names by class id")
    class_names_metadata_key: str | None = Field(
        None, description="ONNX metadata key holding newline-separated class names"
    )
    input_size: tuple[Annotated[int, Field(ge=1, le=8192)], Annotated[int, Field(ge=1, le=8192)]] | None = Field(
        None, description="[height, width], each 1-8192 pixels"
    )
    resize: Resize | None = None
    channel_order: Literal["rgb", "bgr"] | None = None
    scale: float | None = Field(None, gt=0, description="pixel multiplier, e.g. 1/255")
    mean: tuple[float, float, float] | None = Field(None, description="per channel, after scale")
    std: tuple[float, float, float] | None = Field(None, description="per channel, after scale")
    pad_value: int | None = Field(None, ge=0, le=255)
    crop_fraction: float | None = Field(None, gt=0, le=1)
    output_activation: Literal["auto", "softmax", "sigmoid", "none"] | None = None
    multilabel_threshold: float | None = Field(None, ge=0, le=1)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to pre- and post-process a model's tensors."""

    task: TaskType
    layout: Layout
    class_names: tuple[str, ...]
    input_hw: tuple[int, int]
    resize: Resize = "letterbox"
    channel_order: Literal["rgb", "bgr"] = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    pad_value: int = 114
    crop_fraction: float = 0.875
    output_activation: Literal["auto", "softmax", "sigmoid", "none"] = "auto"
    multilabel_threshold: float = 0.5


def manifest_path_for(model_path: Path) -> Path:
    """The sidecar manifest path of a model file: same folder, same stem, ``.json``."""
    return model_path.with_suffix(".json")


def load_manifest(path: Path) -> ModelManifest | None:
    """Read and validate a sidecar manifest; None when the file does not exist."""
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read model manifest: {exc}", source=str(path)) from exc
    try:
        return ModelManifest.model_validate(raw)
    except ValidationError as exc:
        issues = [
            ConfigIssue("$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                        e["msg"])
            for e in exc.errors()
        ]  # fmt: skip
        raise ConfigError(issues, source=str(path)) from exc


def _parse_names(raw: str) -> tuple[str, ...]:
    value = ast.literal_eval(raw)
    if isinstance(value, dict):
        return tuple(str(value[k]) for k in sorted(value))
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ValueError(f"unexpected names value {type(value).__name__}")


def _parse_imgsz(raw: str) -> tuple[int, int]:
    value = ast.literal_eval(raw)
    if isinstance(value, int):
        return value, value
    h, w = value
    return int(h), int(w)


def build_spec(
    model_path: Path,
    metadata: Mapping[str, str],
    input_shape: Sequence[int | str | None],
    manifest: ModelManifest | None,
) -> ModelSpec:
    """Combine ONNX metadata, the input shape and the manifest into a ModelSpec.

    Raises:
        ModelLoadError: when the task, classes or input size cannot be determined.
    """
    m = manifest or ModelManifest.model_validate({})
    task: TaskType | None = m.task
    layout: Layout | None = m.layout
    names: tuple[str, ...] | None = tuple(m.class_names) if m.class_names else None
    input_hw = m.input_size
    try:
        if "task" in metadata and metadata["task"] in _ULTRALYTICS_TASKS:
            meta_task, meta_layout = _ULTRALYTICS_TASKS[metadata["task"]]
            task = task or meta_task
            layout = layout or meta_layout
        if names is None and m.class_names_metadata_key:
            names = tuple(metadata.get(m.class_names_metadata_key, "").splitlines())
        if names is None and "names" in metadata:
            names = _parse_names(metadata["names"])
        if input_hw is None and "imgsz" in metadata:
            input_hw = _parse_imgsz(metadata["imgsz"])
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ModelLoadError(f"{model_path}: unreadable Ultralytics metadata: {exc}") from exc
    if input_hw is None and len(input_shape) == 4:
        h, w = input_shape[2], input_shape[3]
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            input_hw = (h, w)
    missing = [what for what, value in (("task", task), ("class names", names), ("input size", input_hw)) if not value]
    if missing:
        raise ModelLoadError(
            f"{model_path}: cannot determine {', '.join(missing)}: the model has no Ultralytics "
            f"metadata for it; add a sidecar manifest {manifest_path_for(model_path).name} "
            "(see models/README.md)"
        )
    assert task is not None and names is not None and input_hw is not None
    if layout is None:
        layout = "classification" if task.is_classification else "auto"
    default_resize: Resize = "center_crop" if task.is_classification else "letterbox"
    return ModelSpec(
        task=task,
        layout=layout,
        class_names=names,
        input_hw=(int(input_hw[0]), int(input_hw[1])),
        resize=m.resize or default_resize,
        channel_order=m.channel_order or "rgb",
        scale=m.scale if m.scale is not None else 1.0 / 255.0,
        mean=m.mean,
        std=m.std,
        pad_value=m.pad_value if m.pad_value is not None else 114,
        crop_fraction=m.crop_fraction or 0.875,
        output_activation=m.output_activation or "auto",
        multilabel_threshold=(m.multilabel_threshold if m.multilabel_threshold is not None else 0.5),
    )
