"""The hub as a real process on loopback: auth, traversal, size limit, malformed input, config."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from tests.frames import jpeg_frame
from tests.hub_process import API_KEY, HubProcess


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    process = HubProcess(tmp_path_factory.mktemp("hub") / "data", max_upload_mb=0.5).start()
    yield process
    process.stop()


def upload(hub, project="p1", key=API_KEY, data=None, **params):
    data = data if data is not None else jpeg_frame(1)
    return httpx.post(
        f"{hub.url}/dataset/{project}/upload",
        params={"api_key": key, **params},
        files={"file": ("a.jpg", data, "image/jpeg")},
        data={"name": "a.jpg"},
        timeout=10,
    )


def image_rows(hub):
    db = sqlite3.connect(hub.data_dir / "index.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    finally:
        db.close()


def files_on_disk(hub):
    return sorted(p for p in (hub.data_dir / "projects").rglob("*") if p.is_file()) if (
        hub.data_dir / "projects").exists() else []  # fmt: skip


def test_upload_dedup_annotate(hub):
    first = upload(hub, data=jpeg_frame(100), batch="day 1", tag=["cam-a", "night"])
    assert first.status_code == 200 and first.json()["success"] is True
    again = upload(hub, data=jpeg_frame(100), batch="day 1")
    assert again.json() == {"duplicate": True, "id": first.json()["id"]}
    image_id = first.json()["id"]
    url = f"{hub.url}/dataset/p1/annotate/{image_id}"
    ok = httpx.post(url, params={"api_key": API_KEY, "name": f"{image_id}.json", "prediction": "true"},
                    content=b'{"predictions": []}', headers={"content-type": "text/plain"})  # fmt: skip
    assert ok.json() == {"success": True}
    second = httpx.post(url, params={"api_key": API_KEY, "name": "x.json"}, content=b"{}")
    assert second.status_code == 409
    envelope = httpx.post(url, params={"api_key": API_KEY, "name": "x.json", "overwrite": "true"},
                          json={"annotationFile": '{"predictions": []}', "labelmap": None})  # fmt: skip
    assert envelope.status_code == 200
    missing = httpx.post(f"{hub.url}/dataset/p1/annotate/nope", params={"api_key": API_KEY, "name": "x.json"},
                         content=b"{}")  # fmt: skip
    assert missing.status_code == 404
    batches = httpx.get(f"{hub.url}/ws/p1/batches", params={"api_key": API_KEY}).json()["batches"]
    assert batches[0]["name"] == "day 1" and batches[0]["images"] == 1


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_wrong_key_is_401_and_nothing_stored(hub, key):
    before = image_rows(hub)
    params = {} if key is None else {"api_key": key}
    r = httpx.post(f"{hub.url}/dataset/p1/upload", params=params,
                   files={"file": ("a.jpg", jpeg_frame(7), "image/jpeg")})  # fmt: skip
    assert r.status_code == 401 and "error" in r.json()
    assert httpx.get(f"{hub.url}/ws/p1/active_learning", params=params).status_code == 401
    assert image_rows(hub) == before


@pytest.mark.parametrize(
    ("project", "batch"),
    [
        ("..", None),
        ("p1", "../../etc"),
        ("p1", "a/b"),
        ("%2e%2e", None),
        ("p1", ".hidden"),
        ("p1", "x" * 101),
    ],
)
def test_traversal_attempts_are_refused(hub, project, batch):
    before_rows, before_files = image_rows(hub), files_on_disk(hub)
    params = {"batch": batch} if batch is not None else {}
    r = upload(hub, project=project, data=jpeg_frame(55), **params)
    assert r.status_code in (400, 404)
    assert image_rows(hub) == before_rows and files_on_disk(hub) == before_files
    assert not list(hub.data_dir.parent.glob("etc*"))


def test_oversized_upload_is_413(hub):
    before = image_rows(hub)
    r = upload(hub, data=b"\xff\xd8\xff" + b"\0" * 700_000)
    assert r.status_code == 413
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
def test_malformed_multipart_is_400(hub, body, headers):
    before = image_rows(hub)
    r = httpx.post(f"{hub.url}/dataset/p1/upload", params={"api_key": API_KEY}, content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    assert image_rows(hub) == before


def test_non_image_is_refused(hub):
    r = upload(hub, data=b"just text")
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid image."


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
