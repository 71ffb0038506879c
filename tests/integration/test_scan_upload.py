"""``framesift scan --dest`` into a real hub; resume; export; the SDK-named function."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from agent.sdk import active_learning, conditionals_to_config
from tests.factories import al_config
from tests.hub_process import API_KEY, HubProcess


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def hub_images(hub, project):
    db = sqlite3.connect(hub.data_dir / "index.sqlite")
    try:
        return db.execute("SELECT sha256, tags, annotation_path FROM images WHERE project = ?", (project,)).fetchall()
    finally:
        db.close()


def test_scan_uploads_resumes_and_exports(tmp_path, data_dir, hub, framesift_cmd, cli_env):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        for name in ("astronaut.jpg", "grace_hopper.jpg", "rocket.jpg", "coffee.jpg"):
            shutil.copy(data_dir / name, folder / f"{i}-{name}")
    cfg = tmp_path / "al.json"
    cfg.write_text(json.dumps(al_config(
        {"name": "faces", "type": "detections_number_based", "probability": 1.0, "more_than": 0,
         "selected_class_names": ["FACE_FEMALE"]},
        {"name": "rest", "type": "random", "traffic_percentage": 1.0},
        max_image_size=[256, 256],
    )))  # fmt: skip
    key = tmp_path / "key"
    key.write_text(API_KEY)
    args = [*framesift_cmd, "scan", str(folder), "--model", "nudenet/1", "--config", str(cfg),
            "--state-dir", str(tmp_path / "state"), "--output", str(tmp_path / "sel.jsonl"),
            "--dest", hub.url, "--project", "site", "--api-key-file", str(key), "--batch-size", "4"]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, env=cli_env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    rows = hub_images(hub, "site")
    # 12 files, 4 distinct photos: identical bytes dedup at the hub (credits given back)
    assert len(rows) == 4
    assert "duplicates 8" in proc.stderr and "uploaded 4" in proc.stderr
    annotated = [r for r in rows if r[2]]
    assert len(annotated) == 2  # the two photos with faces carry a draft annotation
    assert API_KEY not in proc.stderr + proc.stdout
    # a second run resumes: nothing is re-read, nothing re-uploaded
    again = subprocess.run(args, capture_output=True, text=True, env=cli_env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "12 file(s) already scanned" in again.stderr
    assert len(hub_images(hub, "site")) == 4
    export = tmp_path / "coco"
    proc = subprocess.run([*framesift_cmd, "hub", "export", str(export), "--data", str(hub.data_dir),
                           "--project", "site", "--format", "coco"], capture_output=True, text=True,
                          env=cli_env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    coco = json.loads((export / "annotations.coco.json").read_text())
    assert len(coco["images"]) == 4 and len(coco["annotations"]) >= 2
    for args, says in (
        ([str(export), "--project", "site"], f"{export} is not empty (--force writes into it anyway)"),
        ([str(tmp_path / "other"), "--project", "sight"], "no project 'sight' in this hub"),
    ):
        again = subprocess.run([*framesift_cmd, "hub", "export", "--data", str(hub.data_dir), *args],
                               capture_output=True, text=True, env=cli_env, timeout=60)  # fmt: skip
        assert again.returncode == 1 and says in again.stderr, again.stderr  # an earlier export is never overwritten
    assert json.loads((export / "annotations.coco.json").read_text()) == coco and not (tmp_path / "other").exists()
    assert coco["categories"][0]["name"] == "FACE_FEMALE"
    yolo = tmp_path / "yolo"
    subprocess.run([*framesift_cmd, "hub", "export", str(yolo), "--data", str(hub.data_dir),
                    "--project", "site", "--format", "yolo"], check=True, env=cli_env, timeout=60)  # fmt: skip
    labels = [p.read_text() for p in (yolo / "labels").glob("*.txt")]
    assert sum(1 for t in labels if t.strip()) == 2 and (yolo / "data.yaml").exists()


def test_sdk_named_function(tmp_path, data_dir, hub, models_dir, capsys):
    results = active_learning(
        raw_data_location=str(data_dir), raw_data_extension=".jpg",
        inference_endpoint=["nudenet", 1], upload_destination="sdk-proj",
        conditionals={"required_objects_count": 1, "confidence_interval": [50, 100],
                      "target_classes": ["FACE_FEMALE"], "required_class_variance_count": 1},
        use_localhost=True, local_server=hub.url + "/", api_key=API_KEY, models_dir=models_dir,
        state_dir=tmp_path / "state",
    )  # fmt: skip
    assert sorted(r["image"].rsplit("/", 1)[1] for r in results) == [
        "astronaut.jpg",
        "coffee.jpg",
        "grace_hopper.jpg",
        "rocket.jpg",
    ]
    assert len(hub_images(hub, "sdk-proj")) == 2
    assert "image uploaded" in capsys.readouterr().out


def test_conditionals_translation():
    cfg = conditionals_to_config({"minimum_size_requirement": 100, "maximum_size_requirement": float("inf"),
                                  "confidence_interval": (0, 60)}, "b")  # fmt: skip
    strategy = cfg["sampling_strategies"][0]
    assert strategy["type"] == "sdk_conditionals" and strategy["confidence_interval"] == [0, 60]
    assert "maximum_size_requirement" not in strategy


def test_sdk_function_counts_limits_in_redis_like_the_daemon(tmp_path, data_dir, hub, models_dir):
    """The SDK function is built by the same assembly: its limit credits land in the shared Redis store."""
    from datetime import datetime, timezone

    from agent.limits.redis_store import RedisLimitStore
    from tests.redis_server import redis_server

    with redis_server(tmp_path / "redis") as url:
        active_learning(
            raw_data_location=str(data_dir), raw_data_extension=".jpg",
            inference_endpoint=["nudenet", 1], upload_destination="shared",
            conditionals={"required_objects_count": 1, "target_classes": ["FACE_FEMALE"]},
            use_localhost=True, local_server=hub.url + "/", api_key=API_KEY, models_dir=models_dir,
            state_dir=tmp_path / "state", redis_url=url, batch_size=4,
        )  # fmt: skip
        store = RedisLimitStore(url, "shared")
        try:
            assert store.usage("sdk_conditionals", datetime.now(timezone.utc))["daily"] == 2
        finally:
            store.close()
    assert len(hub_images(hub, "shared")) == 2


@pytest.mark.parametrize("wrong", ["key", "port"])
def test_scan_exits_4_when_frames_are_not_delivered(tmp_path, data_dir, hub, framesift_cmd, cli_env, wrong):
    """A rejected key or an unreachable destination: the frames stay spooled and scan says so (exit 4)."""
    cfg = tmp_path / "al.json"
    cfg.write_text(json.dumps(al_config({"name": "all", "type": "random", "traffic_percentage": 1.0})))
    key = tmp_path / "key"
    key.write_text("not-the-key" if wrong == "key" else API_KEY)
    dest = hub.url if wrong == "key" else "http://127.0.0.1:9"
    proc = subprocess.run(
        [*framesift_cmd, "scan", str(data_dir / "rocket.jpg"), str(data_dir / "coffee.jpg"), "--model", "nudenet/1",
         "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--output", str(tmp_path / "sel.jsonl"),
         "--dest", dest, "--project", "site", "--api-key-file", str(key), "--drain-timeout", "3"],
        capture_output=True, text=True, env=cli_env, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 4, proc.stderr[-2000:]
    message = " ".join(proc.stderr.split())
    assert "not delivered: 0 frame(s) dead-lettered" in message and "2 still spooled" in message
    assert (
        ("destination unauthorized" in message)
        if wrong == "key"
        else ("destination offline" in message or "destination online" in message)
    )
    assert "not-the-key" not in proc.stderr
