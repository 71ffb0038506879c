"""A hub data directory written by the first release (schema and file layout as it wrote them) is upgraded."""

from __future__ import annotations

import json
import sqlite3

import cv2
import httpx
import numpy as np

from tests.hub_process import API_KEY, HubProcess

V1_SCHEMA = [
    """CREATE TABLE images (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, batch TEXT NOT NULL, name TEXT NOT NULL,
  sha256 TEXT NOT NULL, tags TEXT NOT NULL, inference_id TEXT, created REAL NOT NULL,
  path TEXT NOT NULL, annotation_path TEXT, prediction INTEGER NOT NULL DEFAULT 0,
  UNIQUE (project, sha256))""",
    """CREATE TABLE configs (
  workspace TEXT NOT NULL, project TEXT NOT NULL, config TEXT NOT NULL, etag TEXT NOT NULL,
  updated REAL NOT NULL, PRIMARY KEY (workspace, project))""",
]


def write_v1(data, rows):
    """rows: (id, batch, image bytes, annotation text or None); everything stored as .jpg, as v1 did."""
    db = sqlite3.connect(data / "index.sqlite")
    for statement in V1_SCHEMA:
        db.execute(statement)
    for n, (image_id, batch, content, annotation) in enumerate(rows):
        rel = f"projects/site/{batch}/{image_id}.jpg"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(content)
        ann = None
        if annotation is not None:
            ann = f"projects/site/{batch}/{image_id}.json"
            (data / ann).write_text(annotation)
        db.execute("INSERT INTO images VALUES (?, 'site', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (image_id, batch, f"{image_id}.jpg", f"{n:064x}", json.dumps(["t1"]), f"inf-{n}", 1000.0 + n,
                    rel, ann, 1))  # fmt: skip
    db.execute("INSERT INTO configs VALUES ('default', 'site', '{\"enabled\": false}', '\"e\"', 1.0)")
    db.commit()
    db.close()


def test_a_first_release_data_directory_is_upgraded(tmp_path):
    data = tmp_path / "hub"
    data.mkdir()
    png = cv2.imencode(".png", np.full((40, 60, 3), 200, np.uint8))[1].tobytes()
    jpg = cv2.imencode(".jpg", np.full((30, 50, 3), 50, np.uint8))[1].tobytes()
    prediction = {"predictions": [{"x": 20, "y": 15, "width": 10, "height": 8, "class": "car",
                                   "confidence": 0.4}], "image": {"width": 60, "height": 40}}  # fmt: skip
    write_v1(data, [("a1", "b1", png, json.dumps(prediction)), ("a2", "b1", jpg, None), ("a3", "b2", b"junk", None)])
    hub = HubProcess(data).start()
    try:
        project = httpx.get(f"{hub.url}/framesift/site", params={"api_key": API_KEY}, timeout=10).json()["project"]
        assert project["images"] == 2 and project["classes"] == {"car": 1}  # the junk row is reported, skipped
        batches = httpx.get(f"{hub.url}/framesift/site/batches", params={"api_key": API_KEY}, timeout=10).json()
        assert {b["name"]: b["images"] for b in batches["batches"]} == {"b1": 2}
    finally:
        hub.stop()
    db = sqlite3.connect(data / "index.sqlite")
    formats = sorted(row[0] for row in db.execute("SELECT format FROM images"))
    db.close()
    assert formats == ["jpeg", "png"]  # the real format, not v1's .jpg
    hub = HubProcess(data).start()  # a second start does not import again
    try:
        project = httpx.get(f"{hub.url}/framesift/site", params={"api_key": API_KEY}, timeout=10).json()["project"]
        assert project["images"] == 2
    finally:
        hub.stop()
