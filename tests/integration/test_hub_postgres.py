"""Two hub processes on one real PostgreSQL and one blob directory: the database enforces uniqueness."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.frames import jpeg_frame
from tests.hub_process import API_KEY, ROOT, HubProcess
from tests.postgres_server import postgres_server


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    base = tmp_path_factory.mktemp("pghub")
    with postgres_server(base / "pg") as url:
        hubs = [HubProcess(base / f"hub{i}", database=url, blobs=base / "blobs").start() for i in range(2)]
        try:
            yield hubs, url, base
        finally:
            for hub in hubs:
                hub.stop()


def test_two_replicas_never_store_a_duplicate(replicas):
    hubs, url, _ = replicas
    frames = [jpeg_frame(i) for i in range(20)]

    def send(n):
        hub = hubs[n % 2]
        r = httpx.post(f"{hub.url}/dataset/shared/upload", params={"api_key": API_KEY, "batch": f"b{n % 3}"},
                       files={"file": ("f.jpg", frames[n % 20], "image/jpeg")}, timeout=30)  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(160)))
    ids = {a["id"] for a in answers}
    assert len(ids) == 20 and sum(1 for a in answers if a.get("success")) == 20
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT sha256 FROM images WHERE project = 'shared'").fetchall()
    assert len(rows) == len({r[0] for r in rows}) == 20
    batches = httpx.get(f"{hubs[1].url}/ws/shared/batches", params={"api_key": API_KEY}).json()["batches"]
    assert sum(b["images"] for b in batches) == 20


def test_concurrent_annotations_one_wins_without_overwrite(replicas):
    hubs, _, _ = replicas
    r = httpx.post(f"{hubs[0].url}/dataset/ann/upload", params={"api_key": API_KEY},
                   files={"file": ("a.jpg", jpeg_frame(999), "image/jpeg")})  # fmt: skip
    image_id = r.json()["id"]

    def annotate(n):
        body = f'{{"predictions": [{{"x": 5, "y": 5, "width": 2, "height": 2, "class": "c{n}"}}]}}'
        return httpx.post(f"{hubs[n % 2].url}/dataset/ann/annotate/{image_id}",
                          params={"api_key": API_KEY, "name": "a.json"}, content=body, timeout=30).status_code  # fmt: skip  # noqa: E501

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(annotate, range(16)))
    assert codes.count(200) == 1 and codes.count(409) == 15


def test_class_ids_are_unique_under_concurrent_replicas(replicas):
    hubs, _, _ = replicas

    def upload_and_annotate(n):
        hub = hubs[n % 2]
        r = httpx.post(f"{hub.url}/dataset/cls/upload", params={"api_key": API_KEY},
                       files={"file": ("a.jpg", jpeg_frame(5000 + n), "image/jpeg")}, timeout=30)  # fmt: skip
        body = "".join(f'{{"x": 5, "y": 5, "width": 2, "height": 2, "class": "k{(n + j) % 6}"}},' for j in range(3))
        return httpx.post(f"{hub.url}/dataset/cls/annotate/{r.json()['id']}", params={"api_key": API_KEY, "name": "a.json"},  # noqa: E501
                          content='{"predictions": [' + body.rstrip(",") + "]}", timeout=30).status_code  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(upload_and_annotate, range(24))) == {200}
    classes = httpx.get(f"{hubs[0].url}/ws/cls", params={"api_key": API_KEY}).json()["project"]["classes"]
    assert sorted(classes) == [f"k{i}" for i in range(6)]


def test_export_from_postgres(replicas, tmp_path):
    _, url, base = replicas
    proc = subprocess.run([sys.executable, "-m", "agent", "hub", "export", str(tmp_path / "out"), "--database", url,
                           "--blobs", str(base / "blobs"), "--project", "shared", "--format", "yolo"],
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "out" / "images").glob("*.jpg"))) == 20
