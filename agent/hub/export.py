"""Export a hub project as a training dataset from the one annotation model.

* ``coco``: ``images/`` + ``annotations.coco.json`` (``info``, ``licenses``, ``categories`` with
  ids = project class id + 1, stable across exports; ``bbox``, ``area``, ``segmentation`` for
  polygons, ``keypoints`` when present; ``extra`` carries split, batch, tags, metadata);
* ``yolo``: ``images/`` + ``labels/*.txt`` (class ids from the project's class list, never
  renumbered by appearance; polygons as YOLO-seg lines) + ``data.yaml`` with every class;
* ``classification``: ``<split>/<label>/<image>`` folders (a multi-label image in each).

Filters: batch, split, tag, review state (of the upload: unannotated/predicted/annotated) and
review decision made in the web app (``state``: approved/rejected/pending; approved images are
written with their corrected annotation). ``split_ratios`` (train, valid, test) re-splits the
selection, stably (images ordered by a hash of their id), into ``train/``, ``valid/`` and
``test/`` sub-datasets of the same format. A bad record (missing blob, corrupt annotation, a
class the project does not know) is reported and skipped; the export goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.hub.annotation_model import CLASSIFICATION, ImageAnnotation, Shape
from agent.hub.blobs import EXTENSIONS
from agent.hub.store import HubStore, StoredImage

FORMATS = ("coco", "yolo", "classification")
REVIEW_STATES = ("unannotated", "predicted", "annotated")
DECISIONS = ("approved", "rejected", "pending")
SPLIT_NAMES = ("train", "valid", "test")


@dataclass
class ExportReport:
    """What an export wrote and what it skipped (``skipped``: "image id: reason")."""

    images: int = 0
    annotations: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExportFilter:
    """Which images to export (None = any)."""

    batch: str | None = None
    split: str | None = None
    tag: str | None = None
    review: str | None = None
    state: str | None = None


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    """``"70,20,10"`` (percent or fractions) → normalised (train, valid, test); ValueError when unusable."""
    from agent.hub.errors import HubInputError

    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise HubInputError(f"split {text[:40]!r} must be three numbers train,valid,test (e.g. 70,20,10)") from None
    if len(values) != 3 or min(values) < 0 or sum(values) <= 0 or not all(math.isfinite(v) for v in values):
        raise HubInputError(f"split {text[:40]!r} must be three non-negative numbers train,valid,test, not all 0")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def _assign_splits(images: list[StoredImage], ratios: tuple[float, float, float]) -> dict[str, list[StoredImage]]:
    ordered = sorted(images, key=lambda i: hashlib.sha256(i.id.encode()).hexdigest())
    n_train = round(len(ordered) * ratios[0])
    n_valid = round(len(ordered) * ratios[1]) if ratios[2] > 0 else len(ordered) - n_train
    cut = (n_train, min(len(ordered), n_train + n_valid))
    return {"train": ordered[: cut[0]], "valid": ordered[cut[0] : cut[1]], "test": ordered[cut[1] :]}


def _decided(store: HubStore, project: str, images: list[StoredImage], state: str) -> list[StoredImage]:
    """Images with the web app's review decision ``state``, carrying the corrected annotation."""
    from agent.hub.web.review_store import ReviewStore

    if state not in DECISIONS:
        raise ValueError(f"unknown review decision {state!r}; use one of {DECISIONS}")
    reviews = ReviewStore(store.engine).reviews(project)
    out = []
    for image in images:
        review = reviews.get(image.id)
        if (review.state if review else "pending") != state:
            continue
        if review is not None and review.annotation_json is not None:
            image = dataclasses.replace(image, annotation_model=review.annotation_json, annotation_name="review")
        out.append(image)
    return out


def _file_name(image: StoredImage) -> str:
    return f"{image.id}.{EXTENSIONS.get(image.format, 'bin')}"


def _model(image: StoredImage) -> ImageAnnotation | None:
    return ImageAnnotation.from_json(image.annotation_model) if image.annotation_model else None


def _coco_annotation(shape: Shape, ann_id: int, image_no: int, category: int) -> dict[str, Any]:
    x, y, w, h = shape.box
    ann: dict[str, Any] = {"id": ann_id, "image_id": image_no, "category_id": category, "bbox": [x, y, w, h],
                           "area": w * h, "iscrowd": 0, "segmentation": []}  # fmt: skip
    if shape.polygon:
        ann["segmentation"] = [[c for point in shape.polygon for c in point]]
    if shape.keypoints:
        ann["keypoints"] = [v for k in shape.keypoints for v in (k.x, k.y, 2)]
        ann["num_keypoints"] = len(shape.keypoints)
    if shape.confidence is not None:
        ann["score"] = shape.confidence
    return ann


def _yolo_line(shape: Shape, class_id: int, width: int, height: int) -> str:
    if shape.polygon:
        coords = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in shape.polygon)
        return f"{class_id} {coords}"
    x, y, w, h = shape.box
    return f"{class_id} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}"


def export_dataset(store: HubStore, project: str, fmt: str, dest: Path, selection: ExportFilter | None = None,
                   split_ratios: tuple[float, float, float] | None = None) -> ExportReport:  # fmt: skip
    """Write the dataset into ``dest`` (``dest/train|valid|test`` with ``split_ratios``); returns the report."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {FORMATS}")
    sel = selection or ExportFilter()
    images = store.images(project, sel.batch, sel.split, sel.tag, sel.review)
    if sel.state is not None:
        images = _decided(store, project, images, sel.state)
    if split_ratios is None:
        return _write_dataset(store, project, fmt, dest, images)
    report = ExportReport()
    for split, part in _assign_splits(images, split_ratios).items():
        part = [dataclasses.replace(i, split=split) for i in part]
        one = _write_dataset(store, project, fmt, dest / split, part)
        report.images += one.images
        report.annotations += one.annotations
        report.skipped += one.skipped
    if fmt == "yolo":
        names = "".join(f"  {i}: {json.dumps(n)}\n" for i, n in enumerate(store.classes(project)))
        (dest / "data.yaml").write_text(f"path: .\ntrain: train/images\nval: valid/images\ntest: test/images\n"
                                        f"nc: {len(store.classes(project))}\nnames:\n{names}")  # fmt: skip
    return report


def _write_dataset(store: HubStore, project: str, fmt: str, dest: Path, images: list[StoredImage]) -> ExportReport:
    classes = store.classes(project)
    class_ids = {name: i for i, name in enumerate(classes)}
    report = ExportReport()
    dest.mkdir(parents=True, exist_ok=True)
    coco: dict[str, Any] = {
        "info": {"description": f"framesift hub export of {project}", "version": "1.0", "year": time.gmtime().tm_year,
                 "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "licenses": [{"id": 1, "name": "unspecified", "url": ""}],
        "categories": [{"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(classes)],
        "images": [], "annotations": [],
    }  # fmt: skip
    if fmt != "classification":
        (dest / "images").mkdir(exist_ok=True)
    if fmt == "yolo":
        (dest / "labels").mkdir(exist_ok=True)
    for image in images:
        try:
            _export_one(store, image, fmt, dest, class_ids, coco, report)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.skipped.append(f"{image.id}: {type(exc).__name__}: {str(exc)[:200]}")
    if fmt == "coco":
        (dest / "annotations.coco.json").write_text(json.dumps(coco))
    elif fmt == "yolo":
        names = "".join(f"  {i}: {json.dumps(n)}\n" for i, n in enumerate(classes))
        (dest / "data.yaml").write_text(f"path: .\ntrain: images\nval: images\nnc: {len(classes)}\nnames:\n{names}")
    return report


def _export_one(store: HubStore, image: StoredImage, fmt: str, dest: Path, class_ids: dict[str, int],
                coco: dict[str, Any], report: ExportReport) -> None:  # fmt: skip
    src = store.blobs.path(image.blob)
    if not src.is_file():
        raise FileNotFoundError(f"stored image {image.blob} is missing")
    model = _model(image)
    unknown = [c for c in (model.class_names() if model else []) if c not in class_ids]
    if unknown:
        raise KeyError(f"classes {unknown} are not in the project's class list")
    name = _file_name(image)
    if fmt == "classification":
        labels = list(model.labels) if model and model.kind == CLASSIFICATION else []
        for label in labels or ["_unlabeled"]:
            folder = dest / image.split / label.replace("/", "_")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / name)
        report.images += 1
        report.annotations += len(labels)
        return
    shapes = model.shapes if model else ()
    if fmt == "coco":
        number = len(coco["images"]) + 1
        anns = [_coco_annotation(s, len(coco["annotations"]) + i + 1, number, class_ids[s.class_name] + 1)
                for i, s in enumerate(shapes)]  # fmt: skip
        entry = {"id": number, "file_name": name, "width": image.width, "height": image.height, "license": 1,
                 "extra": {"name": image.name, "split": image.split, "batch": image.batch, "tags": image.tags,
                           "metadata": image.metadata, "review": image.review_state}}  # fmt: skip
        shutil.copyfile(src, dest / "images" / name)
        coco["images"].append(entry)
        coco["annotations"].extend(anns)
    else:
        lines = [_yolo_line(s, class_ids[s.class_name], image.width, image.height) for s in shapes]
        shutil.copyfile(src, dest / "images" / name)
        (dest / "labels" / f"{image.id}.txt").write_text("".join(line + "\n" for line in lines))
    report.images += 1
    report.annotations += len(shapes)
