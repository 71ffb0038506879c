"""Convert a PredictionBatch to and from the Roboflow inference JSON.

The JSON shapes are those of the Roboflow inference server (null fields
omitted, ``class_name`` spelled ``class``, boxes centre-based in original
pixels). Conversion happens only at the edges (files, upload, gRPC); inside
the agent predictions stay as arrays.

Documented extra fields (framesift): a detection whose model kept per-box class
scores carries ``runner_up_class``, ``runner_up_class_id`` and
``runner_up_confidence`` (the second-best class and its score), so that
``framesift sample`` can replay margin-based strategies. Readers that do not know
them ignore them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.predictions.batch import PredictionBatch, TaskType

JsonDict = dict[str, Any]


def stub_json(model_id: str, task: TaskType, time_s: float) -> JsonDict:
    """The stub prediction of the reference for ``project/0`` models."""
    return {"time": time_s, "is_stub": True, "model_id": model_id, "task_type": task.value}


def batch_to_roboflow(batch: PredictionBatch) -> list[JsonDict]:
    """Return one Roboflow prediction dict per frame of ``batch``."""
    if batch.is_stub:
        return [stub_json(batch.model_id, batch.task, float(t)) for t in batch.time_s]
    docs: list[JsonDict] = []
    for frame in range(batch.batch_size):
        h, w = (int(v) for v in batch.image_hw[frame])
        doc: JsonDict = {
            "inference_id": batch.inference_ids[frame],
            "time": float(batch.time_s[frame]),
            "image": {"width": w, "height": h},
        }
        if batch.task.is_detection:
            doc["predictions"] = _frame_detections(batch, frame)
        elif batch.task is TaskType.CLASSIFICATION:
            doc.update(_single_label(batch, frame))
        else:
            doc.update(_multi_label(batch, frame))
        docs.append(doc)
    return docs


def _frame_detections(batch: PredictionBatch, frame: int) -> list[JsonDict]:
    ids = batch.ensure_detection_ids()
    rows = batch.frame_rows(frame)
    out: list[JsonDict] = []
    boxes = batch.xyxy[rows].astype(np.float64)
    conf = batch.confidence[rows].astype(np.float64)
    cls = batch.class_id[rows]
    for k, row in enumerate(rows):
        x0, y0, x1, y1 = boxes[k]
        det: JsonDict = {
            "x": (x0 + x1) / 2.0,
            "y": (y0 + y1) / 2.0,
            "width": x1 - x0,
            "height": y1 - y0,
            "confidence": float(conf[k]),
            "class": batch.class_names[int(cls[k])],
            "class_id": int(cls[k]),
            "detection_id": ids[row],
        }
        if batch.runner_up_class_id is not None and batch.runner_up_confidence is not None:
            runner = int(batch.runner_up_class_id[row])
            runner_conf = float(batch.runner_up_confidence[row])
            if runner >= 0 and runner_conf == runner_conf:  # known (not -1, not NaN)
                det |= {"runner_up_class": batch.class_names[runner], "runner_up_class_id": runner,
                        "runner_up_confidence": runner_conf}  # fmt: skip
        if batch.polygons is not None:
            poly = batch.polygons[row].astype(np.float64)
            det["points"] = [{"x": float(x), "y": float(y)} for x, y in poly]
        if batch.keypoints is not None:
            det["keypoints"] = batch.keypoints[row]
        out.append(det)
    return out


def _single_label(batch: PredictionBatch, frame: int) -> JsonDict:
    assert batch.class_scores is not None
    scores = batch.class_scores[frame].astype(np.float64)
    order = np.argsort(-scores, kind="stable")
    preds = [{"class": batch.class_names[i], "class_id": int(i), "confidence": float(scores[i])} for i in order]
    if not preds:
        return {"predictions": []}
    return {"predictions": preds, "top": preds[0]["class"], "confidence": preds[0]["confidence"]}


def _multi_label(batch: PredictionBatch, frame: int) -> JsonDict:
    assert batch.class_scores is not None
    scores = batch.class_scores[frame].astype(np.float64)
    predicted = multilabel_predicted_mask(batch)[frame]
    preds = {batch.class_names[i]: {"confidence": float(scores[i]), "class_id": int(i)} for i in range(len(scores))}
    chosen = [batch.class_names[i] for i in np.flatnonzero(predicted)]
    return {"predictions": preds, "predicted_classes": chosen}


def multilabel_predicted_mask(batch: PredictionBatch) -> np.ndarray:
    """(B, C) bool: the classes each frame predicts (multi-label)."""
    if batch.predicted_mask is not None:
        return batch.predicted_mask
    assert batch.class_scores is not None
    return batch.class_scores >= batch.multilabel_threshold


def infer_task(doc: JsonDict) -> TaskType:
    """Guess the task type of one Roboflow prediction dict."""
    if doc.get("is_stub"):
        return TaskType(doc.get("task_type", TaskType.OBJECT_DETECTION.value))
    preds = doc.get("predictions")
    if isinstance(preds, dict):
        return TaskType.MULTI_LABEL_CLASSIFICATION
    if "top" in doc:
        return TaskType.CLASSIFICATION
    if isinstance(preds, list) and preds:
        first = preds[0]
        if "points" in first:
            return TaskType.INSTANCE_SEGMENTATION
        if "keypoints" in first:
            return TaskType.KEYPOINT_DETECTION
        if "x" not in first and "confidence" in first:
            return TaskType.CLASSIFICATION
    return TaskType.OBJECT_DETECTION


class _ClassTable:
    """Assigns class ids: the JSON's ``class_id`` where given, else first-seen order."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.by_name: dict[str, int] = {n: i for i, n in enumerate(names)}

    def id_for(self, name: str, class_id: Any) -> int:
        if name in self.by_name:
            return self.by_name[name]
        if isinstance(class_id, int) and class_id >= 0 and class_id not in self.by_name.values():
            new_id = class_id
        else:
            new_id = max(self.by_name.values(), default=-1) + 1
        self.by_name[name] = new_id
        return new_id

    def names(self) -> tuple[str, ...]:
        size = max(self.by_name.values(), default=-1) + 1
        out = [f"class_{i}" for i in range(size)]
        for name, i in self.by_name.items():
            out[i] = name
        return tuple(out)


def batch_from_roboflow(
    docs: Sequence[JsonDict],
    task: TaskType | None = None,
    class_names: Sequence[str] = (),
) -> PredictionBatch:
    """Build one PredictionBatch from B Roboflow prediction dicts of the same task.

    Raises:
        ValueError: when a dict does not have the shape its task requires, or when
            stub and non-stub predictions are mixed.
    """
    if not docs:
        raise ValueError("batch_from_roboflow needs at least one prediction")
    stubs = [bool(d.get("is_stub")) for d in docs]
    if any(stubs) and not all(stubs):
        raise ValueError("stub and non-stub predictions cannot share a batch")
    task = task or infer_task(docs[0])
    b = len(docs)
    hw = np.zeros((b, 2), np.int32)
    times = np.array([float(d.get("time", 0.0)) for d in docs], np.float64)
    ids = [str(d.get("inference_id") or uuid.uuid4()) for d in docs]
    for i, d in enumerate(docs):
        image = d.get("image") or {}
        hw[i] = (int(image.get("height", 0)), int(image.get("width", 0)))
    if all(stubs):
        return PredictionBatch(
            task=task, class_names=tuple(class_names), image_hw=hw, time_s=times,
            inference_ids=ids, is_stub=True, model_id=str(docs[0].get("model_id", "")),
        )  # fmt: skip
    table = _ClassTable(class_names)
    frames = _FrameColumns(hw, times, ids)
    if task.is_detection:
        return _detections_from(docs, task, table, frames)
    return _classification_from(docs, task, table, frames)


@dataclass(frozen=True)
class _FrameColumns:
    """Per-frame fields shared by every task: (B, 2) image sizes, (B,) times, B inference ids."""

    hw: np.ndarray
    times: np.ndarray
    ids: list[str]


def _detections_from(
    docs: Sequence[JsonDict], task: TaskType, table: _ClassTable, frames: _FrameColumns
) -> PredictionBatch:
    rows: list[tuple[float, float, float, float, float, int, int]] = []
    det_ids: list[str] = []
    polygons: list[np.ndarray] = []
    keypoints: list[list[JsonDict]] = []
    runners: list[tuple[int, float]] = []
    for frame, doc in enumerate(docs):
        preds = doc.get("predictions", [])
        if not isinstance(preds, list):
            raise ValueError(f"prediction {frame}: 'predictions' must be a list for {task.value}")
        for det in preds:
            try:
                x, y = float(det["x"]), float(det["y"])
                w, h = float(det["width"]), float(det["height"])
                conf = float(det["confidence"])
                name = str(det["class"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"prediction {frame}: malformed detection {str(det)[:200]}") from exc
            if not (math.isfinite(x + y) and 0 <= w < math.inf and 0 <= h < math.inf and 0 <= conf <= 1):
                raise ValueError(f"prediction {frame}: a box needs finite x, y, width/height >= 0 and a "
                                 f"confidence in [0, 1]: {str(det)[:200]}")  # fmt: skip
            cid = table.id_for(name, det.get("class_id"))
            rows.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2, conf, cid, frame))
            det_ids.append(str(det.get("detection_id") or uuid.uuid4()))
            runners.append(_runner_up(det, table, frame))
            pts = det.get("points") or []
            polygons.append(np.array([[p["x"], p["y"]] for p in pts], np.float32).reshape(-1, 2))
            keypoints.append(list(det.get("keypoints") or []))
    arr = np.array(rows, np.float64).reshape(-1, 7)
    has_runner = any(r[0] >= 0 for r in runners)
    runner_arr = np.array(runners, np.float64).reshape(-1, 2)
    return PredictionBatch(
        task=task,
        class_names=table.names(),
        image_hw=frames.hw,
        time_s=frames.times,
        inference_ids=frames.ids,
        xyxy=arr[:, 0:4].astype(np.float32),
        confidence=arr[:, 4].astype(np.float32),
        class_id=arr[:, 5].astype(np.int32),
        frame_index=arr[:, 6].astype(np.int32),
        detection_ids=det_ids,
        polygons=polygons if task is TaskType.INSTANCE_SEGMENTATION else None,
        keypoints=keypoints if task is TaskType.KEYPOINT_DETECTION else None,
        runner_up_class_id=runner_arr[:, 0].astype(np.int32) if has_runner else None,
        runner_up_confidence=runner_arr[:, 1].astype(np.float32) if has_runner else None,
    )


def _runner_up(det: JsonDict, table: _ClassTable, frame: int) -> tuple[int, float]:
    """(class id, score) of a detection's documented runner-up fields; (-1, NaN) when absent."""
    name = det.get("runner_up_class")
    if name is None:
        return -1, float("nan")
    try:
        conf = float(det["runner_up_confidence"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"prediction {frame}: runner_up_class without a numeric runner_up_confidence") from exc
    return table.id_for(str(name), det.get("runner_up_class_id")), conf


def _classification_from(
    docs: Sequence[JsonDict], task: TaskType, table: _ClassTable, frames: _FrameColumns
) -> PredictionBatch:
    entries: list[list[tuple[int, float]]] = []
    predicted: list[list[int]] = []
    for frame, doc in enumerate(docs):
        preds = doc.get("predictions", [])
        items: list[tuple[str, Any, Any]]
        if isinstance(preds, dict):
            items = [(str(k), v.get("class_id"), v.get("confidence")) for k, v in preds.items()]
        elif isinstance(preds, list):
            items = [(str(p.get("class")), p.get("class_id"), p.get("confidence")) for p in preds]
        else:
            raise ValueError(f"prediction {frame}: 'predictions' must be a list or a dict")
        try:
            entries.append([(table.id_for(n, cid), float(c)) for n, cid, c in items])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"prediction {frame}: malformed class confidence") from exc
        if "top" in doc and isinstance(doc.get("confidence"), int | float):
            top_id = table.id_for(str(doc["top"]), None)
            if all(cid != top_id for cid, _ in entries[-1]):
                entries[-1].append((top_id, float(doc["confidence"])))
        chosen = doc.get("predicted_classes") or []
        predicted.append([table.id_for(str(n), None) for n in chosen])
    names = table.names()
    # classes a frame's JSON does not list stay NaN ("absent"), not 0
    scores = np.full((len(docs), len(names)), np.nan, np.float32)
    mask = np.zeros((len(docs), len(names)), bool)
    for frame, (pairs, chosen_ids) in enumerate(zip(entries, predicted, strict=True)):
        for cid, conf in pairs:
            scores[frame, cid] = conf
        mask[frame, chosen_ids] = True
    return PredictionBatch(
        task=task,
        class_names=names,
        image_hw=frames.hw,
        time_s=frames.times,
        inference_ids=frames.ids,
        class_scores=scores,
        predicted_mask=mask if task is TaskType.MULTI_LABEL_CLASSIFICATION else None,
    )
