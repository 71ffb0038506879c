"""The hub as a real process on loopback: auth, names, size limits, malformed input, config, fidelity."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import httpx
import numpy as np
import pytest

from tests.frames import jpeg_frame
from tests.hub_process import API_KEY, HubProcess


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data = tmp_path_factory.mktemp("hub") / "data"
    (data / "blobs" / "ab").mkdir(parents=True)
    (data / "blobs" / "ab" / ".tmp-orphan").write_bytes(b"half a file")  # a crash left it
    process = HubProcess(data, max_upload_mb=0.5, extra_args=("--hosted-images", "any")).start()  # loopback fetches
    yield process
    process.stop()


def upload(hub, project="p1", key=API_KEY, data=None, name="a.jpg", **params):
    data = data if data is not None else jpeg_frame(1)
    return httpx.post(f"{hub.url}/dataset/{project}/upload", params={"api_key": key, **params},
                      files={"file": (name, data, "image/jpeg")}, data={"name": name}, timeout=10)  # fmt: skip


def image_rows(hub):
    db = sqlite3.connect(hub.data_dir / "index.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    finally:
        db.close()


def files_outside_blobs(hub):
    return sorted(p for p in hub.data_dir.rglob("*") if p.is_file() and "blobs" not in p.parts
                  and not p.name.startswith("index.sqlite"))  # fmt: skip


def png_bytes(seed):
    pixels = np.random.default_rng(seed).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    return cv2.imencode(".png", pixels)[1].tobytes()


def test_orphaned_temp_files_are_removed_at_start(hub):
    assert not list((hub.data_dir / "blobs").rglob(".tmp-*"))


def test_upload_dedup_annotate(hub):
    first = upload(hub, data=jpeg_frame(100), batch="day 1", tag=["cam-a", "night"])
    assert first.status_code == 200 and first.json()["success"] is True
    again = upload(hub, data=jpeg_frame(100), batch="day 2")
    assert again.json() == {"duplicate": True, "id": first.json()["id"]}
    image_id = first.json()["id"]
    url = f"{hub.url}/dataset/p1/annotate/{image_id}"
    body = b'{"predictions": [{"x": 5, "y": 5, "width": 4, "height": 4, "class": "car", "confidence": 0.9}]}'
    ok = httpx.post(url, params={"api_key": API_KEY, "name": f"{image_id}.json", "prediction": "true"},
                    content=body, headers={"content-type": "text/plain"})  # fmt: skip
    assert ok.json() == {"success": True}
    second = httpx.post(url, params={"api_key": API_KEY, "name": "x.json"}, content=body)
    assert second.status_code == 409 and "already annotated" in second.json()["error"]["message"]
    envelope = httpx.post(url, params={"api_key": API_KEY, "name": "x.json", "overwrite": "true"},
                          json={"annotationFile": body.decode(), "labelmap": None})  # fmt: skip
    assert envelope.status_code == 200
    missing = httpx.post(f"{hub.url}/dataset/p1/annotate/nope", params={"api_key": API_KEY, "name": "x.json"},
                         content=body)  # fmt: skip
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Image not found in dataset."
    batches = httpx.get(f"{hub.url}/ws/p1/batches", params={"api_key": API_KEY}).json()["batches"]
    assert batches[0]["name"] == "day 1" and batches[0]["images"] == 1  # the duplicate kept its first batch


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/dataset/p1/upload"), ("GET", "/ws/p1/active_learning"), ("POST", "/"), ("GET", "/ws"),
     ("GET", "/ws/p1"), ("GET", "/ws/p1/batches"), ("POST", "/ws/images/x/metadata")],
)  # fmt: skip
@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_wrong_key_is_401_and_nothing_stored(hub, method, path, key):
    before = image_rows(hub)
    params = {} if key is None else {"api_key": key}
    r = httpx.request(method, f"{hub.url}{path}", params=params, files={"file": ("a.jpg", jpeg_frame(7))}
                      if path.endswith("upload") else None)  # fmt: skip
    assert r.status_code == 401 and r.json()["error"]["type"] == "UnauthorizedError"
    assert image_rows(hub) == before


def test_without_a_key_the_root_page_shows_nothing(hub):
    upload(hub, project="secret-project", data=jpeg_frame(3), batch="secret-batch")
    page = httpx.get(f"{hub.url}/").text
    assert "secret" not in page and "p1" not in page and "<table" not in page
    assert httpx.get(f"{hub.url}/", params={"api_key": API_KEY}).json() == {"workspace": "framesift"}


ODD_BATCH_NAMES = ["edge & co #1", "../../etc", "a/b", ".hidden", "Ünïcode batch", "x" * 255]


@pytest.mark.parametrize("batch", ODD_BATCH_NAMES)
def test_roboflow_names_are_accepted_and_cannot_escape(hub, batch):
    # a distinct frame per name: the same pixels would be a duplicate, answered with the first upload's batch
    r = upload(hub, data=jpeg_frame(2000 + ODD_BATCH_NAMES.index(batch)), batch=batch, tag=["with space", "ok"])
    assert r.status_code == 200, r.text
    doc = httpx.get(f"{hub.url}/ws/p1/images/{r.json()['id']}", params={"api_key": API_KEY}).json()["image"]
    assert doc["batch"]["name"] == batch and doc["tags"] == ["with space", "ok"]
    assert files_outside_blobs(hub) == [] and not list(hub.data_dir.parent.glob("etc*"))


@pytest.mark.parametrize(("project", "batch"), [("..", None), ("%2e%2e", None), ("p1", "x" * 256), ("p1", "a\nb")])
def test_bad_names_are_refused(hub, project, batch):
    before = image_rows(hub)
    r = upload(hub, project=project, data=jpeg_frame(55), **({"batch": batch} if batch else {}))
    assert r.status_code in (400, 404, 405) and "error" in r.json()
    assert image_rows(hub) == before


def test_oversized_upload_is_413_with_or_without_content_length(hub):
    before = image_rows(hub)
    assert upload(hub, data=b"\xff\xd8\xff" + b"\0" * 700_000).status_code == 413

    def chunks():
        for _ in range(80):
            yield b"\0" * 10_000

    r = httpx.post(f"{hub.url}/dataset/p1/upload", params={"api_key": API_KEY}, content=chunks(),
                   headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeException"
    assert image_rows(hub) == before


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
         {"content-type": "multipart/form-data; boundary=xyz"}),
        (b"not multipart at all", {"content-type": "multipart/form-data"}),
        (b"name=a.jpg", {"content-type": "application/x-www-form-urlencoded"}),
    ],
)  # fmt: skip
def test_malformed_bodies_are_400(hub, body, headers):
    before = image_rows(hub)
    r = httpx.post(f"{hub.url}/dataset/p1/upload", params={"api_key": API_KEY}, content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) >= {"message", "type"}
    assert image_rows(hub) == before


def test_non_image_is_refused(hub):
    r = upload(hub, data=b"just text")
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid image."


def test_png_is_kept_byte_for_byte_with_split_metadata_sequence(hub):
    data = png_bytes(1)
    r = httpx.post(f"{hub.url}/dataset/fid/upload",
                   params={"api_key": API_KEY, "batch": "b", "sequence_number": 3, "sequence_size": 10},
                   files={"file": ("f.png", data, "image/png")},
                   data={"name": "f.png", "split": "valid", "metadata": json.dumps({"camera": "c1", "n": 2})})  # fmt: skip  # noqa: E501
    image_id = r.json()["id"]
    doc = httpx.get(f"{hub.url}/ws/fid/images/{image_id}", params={"api_key": API_KEY}).json()["image"]
    assert (doc["name"], doc["split"], doc["format"]) == ("f.png", "valid", "png")
    assert doc["metadata"] == {"camera": "c1", "n": 2}
    assert (doc["sequence_number"], doc["sequence_size"]) == (3, 10)
    original = httpx.get(doc["urls"]["original"], params={"api_key": API_KEY})
    assert original.content == data and original.headers["content-type"] == "image/png"
    assert list((hub.data_dir / "blobs").rglob(f"{doc['hash']}.png"))
    meta = httpx.post(f"{hub.url}/ws/images/{image_id}/metadata", params={"api_key": API_KEY},
                      json={"metadata": {"reviewed": True}, "removeMetadata": ["n"], "addTags": ["checked x"]})  # fmt: skip  # noqa: E501
    assert meta.json() == {"success": True}
    doc = httpx.get(f"{hub.url}/ws/fid/images/{image_id}", params={"api_key": API_KEY}).json()["image"]
    assert doc["metadata"] == {"camera": "c1", "reviewed": True} and doc["tags"] == ["checked x"]


def test_base64_body_and_hosted_url_uploads(hub):
    data = png_bytes(2)
    r = httpx.post(
        f"{hub.url}/dataset/forms/upload",
        params={"api_key": API_KEY, "name": "b64.png", "split": "test"},
        content=base64.b64encode(data),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json()["success"], r.text
    hosted = png_bytes(3)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status = 200 if self.path == "/img.png" else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(hosted if status == 200 else b"no")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ok = httpx.post(f"{hub.url}/dataset/forms/upload", params={"api_key": API_KEY, "image": f"{base}/img.png",
                                                                  "name": "hosted.png"})  # fmt: skip
        assert ok.status_code == 200 and ok.json()["success"], ok.text
        doc = httpx.get(f"{hub.url}/ws/forms/images/{ok.json()['id']}", params={"api_key": API_KEY}).json()["image"]
        assert doc["name"] == "hosted.png" and doc["size_bytes"] == len(hosted)
        missing = httpx.post(f"{hub.url}/dataset/forms/upload", params={"api_key": API_KEY, "image": f"{base}/x"})
        assert missing.status_code == 400 and "Could not fetch image URL" in missing.json()["error"]["message"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    down = httpx.post(f"{hub.url}/dataset/forms/upload", params={"api_key": API_KEY, "image": base + "/img.png"})
    assert down.status_code == 502 and down.json()["error"]["retryable"] is True


@pytest.mark.parametrize(("path", "method"), [("/nope/a/b/c/d", "GET"), ("/healthz", "POST")])
def test_unknown_routes_answer_roboflow_errors(hub, path, method):
    r = httpx.request(method, f"{hub.url}{path}", params={"api_key": API_KEY})
    assert r.status_code in (404, 405) and set(r.json()) == {"error"} and r.json()["error"]["message"]


def test_config_with_etag(hub):
    url = f"{hub.url}/ws/proj/active_learning"
    assert httpx.get(url, params={"api_key": API_KEY}).json() == {"enabled": False}
    bad = httpx.post(url, params={"api_key": API_KEY}, json={"config": {"enabled": True, "x": 1}})
    assert bad.status_code == 400
    assert {"$.x", "$.persist_predictions"} <= {i["path"] for i in bad.json()["error"]["issues"]}
    config = {"enabled": False, "tags": ["a"]}
    assert httpx.post(url, params={"api_key": API_KEY}, json={"config": config}).status_code == 200
    got = httpx.get(url, params={"api_key": API_KEY})
    assert got.json() == config and got.headers["etag"]
    cached = httpx.get(url, params={"api_key": API_KEY}, headers={"If-None-Match": got.headers["etag"]})
    assert cached.status_code == 304
    assert json.loads(httpx.get(f"{hub.url}/ws/proj/jobs", params={"api_key": API_KEY}).text) == {"jobs": []}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"config": ' + b"[" * 5000 + b"]" * 5000 + b"}", "$"),
        (b'{"config": {"enabled": true, "max_image_size": [18446744073709551616, 10]}}', "$.max_image_size[0]"),
        (b'{"config": {"enabled": true, "jpeg_compression_level": ' + b"9" * 5000 + b"}}", "$.jpeg_compression_level"),
        (b'{"config": {"enabled": true, "jpeg_compression_level": NaN}}', "$.jpeg_compression_level"),
        (b'{"config": {"enabled": true, "tags": ["\xff\xfe"]}}', "$"),
        (b'{"config": {"enabled": true, "limits": {"a": {"b": ' + b"1" * 30 + b"}}}}", "$.limits.a.b"),
    ],
    ids=["deep", "2^64", "5000-digits", "NaN", "non-utf8", "nested-huge"],
)
def test_hostile_config_bodies_are_400_with_a_path(hub, body, path):
    r = httpx.post(f"{hub.url}/ws/proj/active_learning", params={"api_key": API_KEY}, content=body,
                   headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400, r.text
    assert path in [i["path"] for i in r.json()["error"]["issues"]]


@pytest.mark.parametrize(("policy", "expected"), [
    (None, "127.0.0.1 is a private, loopback or reserved address"),
    ("off", "hosted-image uploads are turned off on this hub"),
])  # fmt: skip
def test_hosted_urls_are_fetched_from_public_addresses_only(tmp_path, policy, expected):
    """By default the hub refuses to fetch from its own network (it would probe it for anyone with a key)."""
    args = ("--hosted-images", policy) if policy else ()
    hub = HubProcess(tmp_path / "hub", extra_args=args).start()
    try:
        r = httpx.post(f"{hub.url}/dataset/forms/upload", timeout=10,
                       params={"api_key": API_KEY, "image": f"{hub.url}/healthz", "name": "x.png"})  # fmt: skip
        assert r.status_code == 400 and expected in r.json()["error"]["message"], r.text
    finally:
        hub.stop()
