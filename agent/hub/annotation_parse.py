"""Parse an annotation file (COCO JSON, Pascal VOC XML, YOLO txt + labelmap, CreateML JSON,
Roboflow inference prediction JSON, classification labels) into :class:`ImageAnnotation`.

The format is chosen from the file name and the content, as Roboflow's annotate endpoint
does. Every refusal is an :class:`AnnotationFormatError` naming the format, the place in
the file and the reason.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from agent.config.al_config import CONTROL_CHARACTERS
from agent.hub.annotation_model import CLASSIFICATION, DETECTION, ImageAnnotation, Keypoint, Shape
from agent.hub.errors import AnnotationFormatError, HubInputError, UnsupportedError
from agent.hub.json_body import parse_json
from agent.hub.names import MAX_TEXT_CHARS

_YOLO_LINE = re.compile(r"^\s*[0-9]{1,6}(\s+-?[0-9.eE+-]+){4,}\s*$")


@dataclass(frozen=True)
class ImageContext:
    """What the parser knows about the image: its upload name and pixel size."""

    name: str
    width: int
    height: int


def parse_annotation(name: str, text: str, image: ImageContext, labelmap: Any = None,
                     project_classes: list[str] | None = None) -> ImageAnnotation:  # fmt: skip
    """Parse ``text`` (the file named ``name``) for ``image``.

    Args:
        name: the annotation file name (``?name=``); its extension picks the parser.
        text: the file's content.
        image: the stored image's name and size (YOLO coordinates are normalised to it).
        labelmap: ``{"0": "car"}`` / ``["car"]`` for index-based formats, or None.
        project_classes: the project's class list (index = class id), used by YOLO files
            without a labelmap.
    """
    try:
        return _parse(name, text, image, labelmap, project_classes)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:  # a shape no check foresaw
        raise AnnotationFormatError(f"{name}: malformed annotation ({type(exc).__name__}: {str(exc)[:120]})") from None


def _parse(name: str, text: str, image: ImageContext, labelmap: Any,
           project_classes: list[str] | None) -> ImageAnnotation:  # fmt: skip
    lower = name.lower()
    if lower.endswith((".csv", ".jsonl")):
        raise UnsupportedError(
            f"annotation format {lower.rsplit('.', 1)[-1]!r} is not supported by this hub",
            hint="send COCO JSON, Pascal VOC XML, YOLO txt, CreateML JSON or inference JSON",
        )
    if lower.endswith(".xml") or text.lstrip().startswith("<"):
        return _voc(text, image)
    if lower.endswith(".json"):
        try:
            doc = parse_json(text, name)
        except HubInputError as exc:
            raise AnnotationFormatError(exc.message) from None
        return _json_document(name, doc, image)
    return _text(name, text, image, labelmap, project_classes)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise AnnotationFormatError(f"{where}: expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise AnnotationFormatError(f"{where}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise AnnotationFormatError(f"{where}: {value!r} is not a finite number")
    return number


def _class_name(value: Any, where: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise AnnotationFormatError(f"{where}: the class must be a non-empty name")
    text = str(value).strip()
    if len(text) > MAX_TEXT_CHARS or CONTROL_CHARACTERS.search(text):  # the rule of every other hub name
        raise AnnotationFormatError(f"{where}: a class name has 1-{MAX_TEXT_CHARS} printable characters")
    return text


def _confidence(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = _number(value, where)
    if not 0.0 <= number <= 1.0:
        raise AnnotationFormatError(f"{where}: {number} is outside [0, 1]")
    return number


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnnotationFormatError(f"{where}: must be a list, got {type(value).__name__}")
    return value


def _looks_yolo(line: str) -> bool:
    """A line meant as YOLO: a class index, then four or more fields, three of them numbers. One that
    does not parse is an error, not a classification label named "0 0.5 0.5 0.1 O.1"."""
    parts = line.split()
    index = parts[0].lstrip("-") if parts else ""
    if len(parts) < 5 or not (index.isascii() and index.isdigit()):
        return False
    numeric = 0
    for part in parts[1:]:
        try:
            float(part)
            numeric += 1
        except ValueError:
            pass
    return numeric >= 3


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _keypoint_class(keypoint: dict[str, Any], where: str) -> str | None:
    name = keypoint.get("class") or keypoint.get("class_name")
    return None if name is None else _class_name(name, f"{where}.class")


def _voc(text: str, image: ImageContext) -> ImageAnnotation:
    try:
        root = ET.fromstring(text)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise AnnotationFormatError(f"Pascal VOC: not well-formed XML ({exc})") from None
    if root.tag != "annotation":
        raise AnnotationFormatError(f"Pascal VOC: root element is <{root.tag}>, expected <annotation>")
    shapes = []
    for i, obj in enumerate(root.findall("object")):
        where = f"Pascal VOC object[{i}]"
        name = _class_name(obj.findtext("name"), f"{where}/name")
        box = obj.find("bndbox")
        if box is None:
            raise AnnotationFormatError(f"{where}: no <bndbox>")
        x0, y0, x1, y1 = (_number(box.findtext(k), f"{where}/bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax"))
        if x1 < x0 or y1 < y0:
            raise AnnotationFormatError(f"{where}: xmax/ymax are smaller than xmin/ymin")
        shapes.append(Shape(name, (x0, y0, x1 - x0, y1 - y0)))
    return ImageAnnotation(DETECTION, tuple(shapes), source_format="voc")


def _json_document(name: str, doc: Any, image: ImageContext) -> ImageAnnotation:
    if isinstance(doc, dict) and "annotations" in doc and "categories" in doc:
        return _coco(doc, image)
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and "annotations" in d for d in doc):
        return _createml(doc, image)
    if isinstance(doc, dict) and "predictions" in doc:
        return _inference(doc)
    if isinstance(doc, list) and all(isinstance(x, str) for x in doc):
        return ImageAnnotation(CLASSIFICATION, labels=tuple(_class_name(x, f"{name}[{i}]") for i, x in enumerate(doc)),
                               source_format="labels")  # fmt: skip
    raise AnnotationFormatError(
        f"{name}: JSON is none of COCO (images/annotations/categories), CreateML ([{{image, annotations}}]) "
        "or Roboflow inference ({predictions: ...})"
    )


def _coco(doc: dict[str, Any], image: ImageContext) -> ImageAnnotation:
    categories = {}
    for i, cat in enumerate(_list(doc.get("categories"), "COCO categories")):
        if not isinstance(cat, dict) or not _is_id(cat.get("id")):
            raise AnnotationFormatError(f"COCO categories[{i}]: needs an id (a number or a string) and a name")
        categories[cat["id"]] = _class_name(cat.get("name"), f"COCO categories[{i}].name")
    images = [im for im in _list(doc.get("images"), "COCO images") if isinstance(im, dict)]
    image_id = None
    if len(images) == 1:
        image_id = images[0].get("id")
    else:
        stem = image.name.rsplit(".", 1)[0]
        for im in images:
            if str(im.get("file_name", "")).rsplit(".", 1)[0] in (stem, image.name):
                image_id = im.get("id")
        if images and image_id is None:  # else every image's boxes would land on this one
            raise AnnotationFormatError(f"COCO images: none of the {len(images)} is named {image.name[:80]!r} "
                                        "(file_name), so the file's boxes cannot be told apart")  # fmt: skip
    shapes = []
    annotations = doc.get("annotations")
    if not isinstance(annotations, list):
        raise AnnotationFormatError("COCO annotations: must be a list")
    for i, ann in enumerate(annotations):
        where = f"COCO annotations[{i}]"
        if not isinstance(ann, dict):
            raise AnnotationFormatError(f"{where}: must be an object")
        if ann.get("id") == 999999999:
            continue  # the SDK's placeholder for an image without annotations (its image_id is not listed)
        if images and image_id is not None and ann.get("image_id") != image_id:
            continue  # another image's (the SDK sends one file for a whole folder)
        if not _is_id(ann.get("category_id")) or ann.get("category_id") not in categories:
            raise AnnotationFormatError(f"{where}.category_id: {ann.get('category_id')!r} is not in categories")
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise AnnotationFormatError(f"{where}.bbox: expected [x, y, width, height]")
        x, y, w, h = (_number(v, f"{where}.bbox[{j}]") for j, v in enumerate(bbox))
        if w < 0 or h < 0:
            raise AnnotationFormatError(f"{where}.bbox: width and height must not be negative")
        polygon: tuple[tuple[float, float], ...] = ()
        segmentation = ann.get("segmentation")
        if isinstance(segmentation, list) and segmentation:  # a dict is RLE (crowd regions): no polygon
            if not isinstance(segmentation[0], list) or len(segmentation[0]) % 2:
                raise AnnotationFormatError(f"{where}.segmentation: expected [[x1, y1, x2, y2, ...]]")
            flat = [_number(v, f"{where}.segmentation") for v in segmentation[0]]
            polygon = tuple(zip(flat[0::2], flat[1::2], strict=False))
        raw_keypoints = ann.get("keypoints")
        keypoints: list[Any] = raw_keypoints if isinstance(raw_keypoints, list) else []
        kw = f"{where}.keypoints"
        kps = tuple(Keypoint(_number(keypoints[j], kw), _number(keypoints[j + 1], kw), None,
                             _number(keypoints[j + 2], kw)) for j in range(0, len(keypoints) - 2, 3))  # fmt: skip
        shapes.append(Shape(categories[ann["category_id"]], (x, y, w, h), polygon, kps))
    return ImageAnnotation(DETECTION, tuple(shapes), source_format="coco")


def _createml(doc: list[Any], image: ImageContext) -> ImageAnnotation:
    entry = next((d for d in doc if d.get("image") == image.name), doc[0])
    shapes = []
    for i, ann in enumerate(_list(entry.get("annotations"), "CreateML [0].annotations")):
        where = f"CreateML [0].annotations[{i}]"
        coords = ann.get("coordinates") if isinstance(ann, dict) else None
        if not isinstance(coords, dict):
            raise AnnotationFormatError(f"{where}: needs label and coordinates {{x, y, width, height}}")
        x, y, w, h = (_number(coords.get(k), f"{where}.coordinates.{k}") for k in ("x", "y", "width", "height"))
        shapes.append(Shape(_class_name(ann.get("label"), f"{where}.label"), (x - w / 2, y - h / 2, w, h)))
    return ImageAnnotation(DETECTION, tuple(shapes), source_format="createml")


def _inference(doc: dict[str, Any]) -> ImageAnnotation:
    predictions = doc["predictions"]
    if isinstance(predictions, dict):  # multi-label classification
        labels = _list(doc.get("predicted_classes"), "predicted_classes") or list(predictions)
        return ImageAnnotation(CLASSIFICATION, labels=tuple(_class_name(x, "predicted_classes") for x in labels),
                               source_format="inference")  # fmt: skip
    if not isinstance(predictions, list):
        raise AnnotationFormatError("inference JSON predictions: must be a list or an object")
    for i, p in enumerate(predictions):
        if not isinstance(p, dict):
            raise AnnotationFormatError(f"inference predictions[{i}]: must be an object")
    if "top" in doc or (predictions and all("width" not in p for p in predictions if isinstance(p, dict))):
        top = doc.get("top") or (predictions[0].get("class") if predictions else None)
        return ImageAnnotation(CLASSIFICATION, labels=(_class_name(top, "top"),), source_format="inference")
    shapes = []
    for i, p in enumerate(predictions):
        where = f"inference predictions[{i}]"
        x, y, w, h = (_number(p.get(k), f"{where}.{k}") for k in ("x", "y", "width", "height"))
        points = _list(p.get("points"), f"{where}.points")
        polygon = tuple((_number(q.get("x"), f"{where}.points"), _number(q.get("y"), f"{where}.points"))
                        for q in points if isinstance(q, dict))  # fmt: skip
        kw = f"{where}.keypoints"
        kps = tuple(Keypoint(_number(k.get("x"), kw), _number(k.get("y"), kw), _keypoint_class(k, kw),
                             _confidence(k.get("confidence"), f"{kw}.confidence"))
                    for k in _list(p.get("keypoints"), kw) if isinstance(k, dict))  # fmt: skip
        shapes.append(Shape(_class_name(p.get("class"), f"{where}.class"), (x - w / 2, y - h / 2, w, h), polygon, kps,
                            _confidence(p.get("confidence"), f"{where}.confidence")))  # fmt: skip
    return ImageAnnotation(DETECTION, tuple(shapes), source_format="inference")


def _label_text(value: Any) -> str:
    """A labelmap entry as text: YAML turns ``no``/``yes`` into booleans; a nested value stays invalid."""
    return str(value) if isinstance(value, (str, int, float, bool)) else ""


def _labelmap_names(labelmap: Any, project_classes: list[str] | None) -> dict[int, str]:
    if isinstance(labelmap, dict):
        try:
            indices = {int(k): v for k, v in labelmap.items() if str(k).isascii() and len(str(k)) <= 6}
        except ValueError:
            raise AnnotationFormatError("labelmap: keys must be class indices ('0', '1', ...)") from None
        if len(indices) != len(labelmap):
            raise AnnotationFormatError("labelmap: keys must be class indices ('0', '1', ...)")
        return {i: _label_text(v) for i, v in indices.items()}
    if isinstance(labelmap, list):
        return {i: _label_text(v) for i, v in enumerate(labelmap)}
    return dict(enumerate(project_classes or []))


def _text(name: str, text: str, image: ImageContext, labelmap: Any,
          project_classes: list[str] | None) -> ImageAnnotation:  # fmt: skip
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and all(_YOLO_LINE.match(ln) for ln in lines):
        return _yolo(lines, image, _labelmap_names(labelmap, project_classes))
    if text.strip() == "" and labelmap is not None:
        return ImageAnnotation(DETECTION, source_format="yolo")
    for n, line in enumerate(lines, 1):
        if _looks_yolo(line) and not _YOLO_LINE.match(line):
            raise AnnotationFormatError(f"{name}: YOLO line {n} is not 'class cx cy w h' in numbers: {line[:60]!r}")
    stripped = text.strip()
    if not stripped or "\n" in stripped:
        raise AnnotationFormatError(f"{name}: neither YOLO lines ('class cx cy w h') nor one classification label")
    labels = tuple(x.strip() for x in stripped.split(",") if x.strip())
    return ImageAnnotation(CLASSIFICATION, labels=labels, source_format="labels")


def _yolo(lines: list[str], image: ImageContext, names: dict[int, str]) -> ImageAnnotation:
    shapes = []
    for n, line in enumerate(lines, 1):
        parts = line.split()
        class_id = int(parts[0])
        if class_id not in names:
            raise AnnotationFormatError(f"YOLO line {n}: class index {class_id} is not in the labelmap",
                                        hint="send labelmap {'0': 'name', ...} with the annotation")  # fmt: skip
        name = _class_name(names[class_id], f"labelmap[{class_id}]")  # only the indices used are checked
        values = [_number(v, f"YOLO line {n}") for v in parts[1:]]
        if len(values) == 4:
            cx, cy, w, h = values
            box = ((cx - w / 2) * image.width, (cy - h / 2) * image.height, w * image.width, h * image.height)
            shapes.append(Shape(name, box))
        elif len(values) % 2 == 0:
            xs, ys = [v * image.width for v in values[0::2]], [v * image.height for v in values[1::2]]
            box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            shapes.append(Shape(name, box, tuple(zip(xs, ys, strict=True))))
        else:
            raise AnnotationFormatError(f"YOLO line {n}: expected 'class cx cy w h' or a polygon of x y pairs")
    return ImageAnnotation(DETECTION, tuple(shapes), source_format="yolo")
