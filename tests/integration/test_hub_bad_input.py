"""Malformed requests a fuzzing client sent the hub: each is a 4xx in Roboflow's error shape, never a
500, never a traceback in the hub's log, and never a change to what was already stored."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.frames import jpeg_frame
from tests.hub_process import API_KEY, HubProcess

BIG_INT = "1" * 5000  # Python's JSON parser raises ValueError beyond 4,300 digits
KEY = {"api_key": API_KEY}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub-bad-input")
    process = HubProcess(root / "data", log_path=root / "hub.log", extra_args=("--log-level", "debug")).start()
    yield process
    process.stop()
    log = (root / "hub.log").read_text(errors="replace")
    assert "Traceback" not in log and "unexpected" not in log, log[-3000:]


@pytest.fixture(scope="module")
def image_id(hub):
    """An image of project p1 with one 'car' box, the state every case must leave unchanged."""
    r = httpx.post(f"{hub.url}/dataset/p1/upload", params=KEY, files={"file": ("a.jpg", jpeg_frame(1), "image/jpeg")})
    r.raise_for_status()
    image = r.json()["id"]
    coco = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]}  # fmt: skip
    httpx.post(f"{hub.url}/dataset/p1/annotate/{image}", params={**KEY, "name": "a.json"},
               content=json.dumps(coco)).raise_for_status()  # fmt: skip
    return image


def _annotation(hub, image_id):
    return httpx.get(f"{hub.url}/framesift/p1/images/{image_id}", params=KEY).json()["image"]


def _coco(annotations, categories=None, images=None):
    return json.dumps({"images": images if images is not None else [{"id": 1, "file_name": "a.jpg"}],
                       "categories": categories if categories is not None else [{"id": 1, "name": "car"}],
                       "annotations": annotations})  # fmt: skip


ANNOTATIONS = [  # (?name=, body, content type or None, what the message says)
    ("a.json", _coco([], categories=[{"id": [1], "name": "a"}]), None, "needs an id"),
    ("a.json", _coco([], categories=5), None, "must be a list"),
    ("a.json", _coco([], images=5), None, "must be a list"),
    ("a.json", _coco([{"id": 1, "image_id": 1, "category_id": [1], "bbox": [1, 1, 2, 2]}]), None, "not in categories"),
    ("a.json", _coco([{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, -2, 2]}]), None, "negative"),
    ("a.json", _coco([{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "segmentation": [5]}]),
     None, "segmentation"),
    ("a.json", '{"annotations":[],"categories":[{"id":' + BIG_INT + ',"name":"a"}]}', None, "too many digits"),
    ("a.json", _coco([{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]}],
                     images=[{"id": 1, "file_name": "x.jpg"}, {"id": 2, "file_name": "y.jpg"}]), None,
     "none of the 2 is named 'a.jpg'"),
    ("a.json", '{"predictions":[{"x":1,"y":1,"width":2,"height":2,"class":"a\u009b2J"}]}', None,
     "printable characters"),
    ("a.json", '[{"image":"a.jpg","annotations":5}]', None, "must be a list"),
    ("a.json", '{"predictions":[1]}', None, "must be an object"),
    ("a.json", '{"predictions":{"a":{}},"predicted_classes":5}', None, "must be a list"),
    ("a.json", '{"predictions":[{"x":1,"y":1,"width":2,"height":2,"class":"a","points":5}]}', None, "must be a list"),
    ("a.json", '{"predictions":[{"x":1,"y":1,"width":2,"height":2,"class":"a","keypoints":7}]}', None,
     "must be a list"),
    ("a.json", '{"predictions":[{"x":1,"y":1,"width":2,"height":2,"class":"a","confidence":5}]}', None, "[0, 1]"),
    ("a.json", '{"predictions":[{"x":1,"y":1,"width":2,"height":2,"class":"' + "c" * 300 + '"}]}', None,
     "printable characters"),
    ("a.txt", BIG_INT + " 0.5 0.5 0.1 0.1", None, "YOLO line 1"),
    ("a.txt", "0 0.5 0.5 0.1 O.1", None, "YOLO line 1"),
    ("a.txt", "0 nan 0.5 0.1 0.1", None, "YOLO line 1"),
    ("a.txt", json.dumps({"annotationFile": "0 .5 .5 .1 .1", "labelmap": {"0": ""}}), "application/json",
     "non-empty name"),
    ("a.txt", '{"annotationFile":"0 .5 .5 .1 .1","labelmap":{"0":' + BIG_INT + "}}", "application/json",
     "too many digits"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "content_type", "says"), ANNOTATIONS,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(ANNOTATIONS)])  # fmt: skip
def test_a_malformed_annotation_is_400_and_keeps_the_stored_one(hub, image_id, name, body, content_type, says):
    before = _annotation(hub, image_id)
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(f"{hub.url}/dataset/p1/annotate/{image_id}", params={**KEY, "name": name, "overwrite": "true"},
                   content=body, headers=headers)  # fmt: skip
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert says in error["message"] and error["type"] in ("InvalidAnnotationException", "InvalidParameterException")
    assert _annotation(hub, image_id) == before
    assert httpx.get(f"{hub.url}/framesift/p1", params=KEY).json()["project"]["classes"].keys() <= {"car"}


def _upload(hub, project="p1", files=True, **params):
    return httpx.post(f"{hub.url}/dataset/{project}/upload", params={**KEY, **params},
                      files={"file": ("b.jpg", jpeg_frame(9), "image/jpeg")} if files else None)  # fmt: skip


REQUESTS = [  # (what, request, status)
    ("metadata, huge integer", lambda h: _upload(h, metadata='{"a":' + BIG_INT + "}"), 400),
    ("metadata, Infinity", lambda h: _upload(h, metadata='{"a":Infinity}'), 400),
    ("metadata, 1e999", lambda h: _upload(h, metadata='{"a":1e999}'), 400),
    ("sequence_number, superscript two", lambda h: _upload(h, sequence_number="\u00b2"), 400),
    ("sequence_number, Arabic digits", lambda h: _upload(h, sequence_number="\u0661\u0662"), 400),
    ("inference_id, control characters", lambda h: _upload(h, inference_id="\x01" * 50), 400),
    ("hosted image, unterminated IPv6 host", lambda h: _upload(h, files=False, image="http://[::1"), 400),
    ("hosted image, 300-character host label", lambda h: _upload(h, files=False, image=f"http://{'a' * 300}.com/"),
     400),
    ("project with a trailing newline", lambda h: _upload(h, project="nl%0A"), 400),
    ("config of a project with a NUL", lambda h: httpx.get(f"{h.url}/framesift/a%00b/active_learning", params=KEY),
     400),
    ("projects of a bad workspace", lambda h: httpx.post(f"{h.url}/%E2%98%83/projects", params=KEY,
                                                         json={"name": "q1"}), 400),
    ("project type, huge integer", lambda h: httpx.post(f"{h.url}/framesift/projects", params=KEY,
                                                        content='{"name":"x","type":' + BIG_INT + "}"), 400),
    ("metadata route, huge integer", lambda h: httpx.post(f"{h.url}/framesift/images/x/metadata", params=KEY,
                                                          content='{"metadata":{"a":' + BIG_INT + "}}"), 400),
    ("metadata route, metadata 0", lambda h: httpx.post(f"{h.url}/framesift/images/x/metadata", params=KEY,
                                                        json={"metadata": 0}), 400),
    ("metadata route, addTags 0", lambda h: httpx.post(f"{h.url}/framesift/images/x/metadata", params=KEY,
                                                       json={"addTags": 0}), 400),
]  # fmt: skip


@pytest.mark.parametrize(("what", "request_", "status"), REQUESTS, ids=[c[0] for c in REQUESTS])
def test_a_malformed_request_is_a_4xx_in_roboflows_shape(hub, image_id, what, request_, status):
    r = request_(hub)
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) >= {"message", "type"}


def test_the_sdks_coco_placeholder_and_other_images_annotations_are_accepted(hub):
    """roboflow's folder upload sends one COCO file per image: an image without boxes gets a placeholder
    annotation (id 999999999) of an image the file does not list; a file may also carry other images'."""
    r = httpx.post(f"{hub.url}/dataset/p3/upload", params=KEY, files={"file": ("e.jpg", jpeg_frame(4), "image/jpeg")})
    image = r.json()["id"]
    placeholder = {"id": 999999999, "image_id": 999999999, "category_id": 999999999, "bbox": [0, 0, 1, 1],
                   "area": 1, "segmentation": [], "iscrowd": 0}  # fmt: skip
    other = {"id": 2, "image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2]}
    for boxes in ([placeholder], [other]):
        body = _coco(boxes, images=[{"id": 1, "file_name": "e.jpg"}])
        answer = httpx.post(f"{hub.url}/dataset/p3/annotate/{image}", params={**KEY, "name": "e.json",
                            "overwrite": "true"}, content=body)  # fmt: skip
        assert answer.status_code == 200, answer.text
        stored = _annotation_of(hub, "p3", image)
        assert stored["annotation"]["format"] == "coco" and stored["labels"] == []  # annotated, no box


def _annotation_of(hub, project, image_id):
    return httpx.get(f"{hub.url}/framesift/{project}/images/{image_id}", params=KEY).json()["image"]


def test_health_checks_may_use_head(hub):
    assert httpx.head(f"{hub.url}/healthz").status_code == 200
