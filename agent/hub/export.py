"""Export a hub project (or one batch) as a training dataset: COCO or YOLO.

Detection/segmentation annotations (Roboflow prediction JSON, in the image's pixel
frame) become COCO ``annotations`` (bbox, and polygon ``segmentation`` when there are
points) or YOLO label files (``class cx cy w h`` normalised, ``data.yaml`` names).
Classification annotations (``.txt``) go to ``classification.csv`` (image, labels).
Images without annotation are exported too (as negatives).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import simplejpeg

from agent.hub.storage import HubStorage, StoredImage


def _prediction(storage: HubStorage, image: StoredImage) -> tuple[dict[str, Any] | None, str | None]:
    if not image.annotation_path:
        return None, None
    path = storage.data_dir / image.annotation_path
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return None, None
        return (doc if isinstance(doc, dict) else None), None
    return None, text.strip()


def _size(path: Path) -> tuple[int, int]:
    height, width, _, _ = simplejpeg.decode_jpeg_header(path.read_bytes())
    return int(width), int(height)


def export_dataset(storage: HubStorage, project: str, fmt: str, dest: Path, batch: str | None = None) -> int:
    """Write the dataset into ``dest``; returns the number of images."""
    images = storage.images(project, batch)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "images").mkdir(exist_ok=True)
    classes: dict[str, int] = {}
    coco: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    labels_rows: list[tuple[str, str]] = []
    if fmt == "yolo":
        (dest / "labels").mkdir(exist_ok=True)
    for n, image in enumerate(images, 1):
        src = storage.data_dir / image.path
        file_name = f"{image.id}.jpg"
        shutil.copyfile(src, dest / "images" / file_name)
        width, height = _size(src)
        doc, text = _prediction(storage, image)
        if text is not None:
            labels_rows.append((file_name, text))
        detections = (doc or {}).get("predictions") or []
        coco["images"].append({"id": n, "file_name": file_name, "width": width, "height": height,
                               "extra": {"batch": image.batch, "tags": image.tags}})  # fmt: skip
        lines = []
        for det in detections if isinstance(detections, list) else []:
            cid = classes.setdefault(str(det["class"]), len(classes))
            x, y, w, h = (float(det[k]) for k in ("x", "y", "width", "height"))
            ann: dict[str, Any] = {"id": len(coco["annotations"]) + 1, "image_id": n, "category_id": cid,
                                   "bbox": [x - w / 2, y - h / 2, w, h], "area": w * h, "iscrowd": 0}  # fmt: skip
            if det.get("points"):
                ann["segmentation"] = [[c for p in det["points"] for c in (p["x"], p["y"])]]
            coco["annotations"].append(ann)
            lines.append(f"{cid} {x / width:.6f} {y / height:.6f} {w / width:.6f} {h / height:.6f}")
        if fmt == "yolo":
            (dest / "labels" / f"{image.id}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    names = sorted(classes, key=classes.__getitem__)
    if fmt == "coco":
        coco["categories"] = [{"id": i, "name": name} for i, name in enumerate(names)]
        (dest / "annotations.coco.json").write_text(json.dumps(coco))
    else:
        yaml = "path: .\ntrain: images\nval: images\nnames:\n" + "".join(
            f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(names)
        )
        (dest / "data.yaml").write_text(yaml)
    if labels_rows:
        with (dest / "classification.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["image", "labels"])
            writer.writerows(labels_rows)
    return len(images)
