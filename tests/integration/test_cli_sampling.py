"""``framesift config``, ``sample`` and ``scan`` as a user runs them."""

from __future__ import annotations

import json
import subprocess

from tests.factories import al_config


def _run(cmd, env, *args, timeout=120):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_config_validate_valid_and_invalid(tmp_path, framesift_cmd, cli_env):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(al_config({"name": "r", "type": "random", "traffic_percentage": 0.5})))
    proc = _run(framesift_cmd, cli_env, "config", "validate", str(good))
    assert proc.returncode == 0 and proc.stdout.startswith("valid")
    assert "strategy r" in proc.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"enabled": True, "jpeg_compression_level": 0, "colour": "red"}))
    proc = _run(framesift_cmd, cli_env | {"COLUMNS": "200"}, "config", "validate", str(bad))
    assert proc.returncode == 1
    for path in (
        "$.jpeg_compression_level",
        "$.colour",
        "$.persist_predictions",
        "$.batching_strategy",
        "$.sampling_strategies",
    ):
        assert path in proc.stdout
    notjson = tmp_path / "x.json"
    notjson.write_text("{nope")
    proc = _run(framesift_cmd, cli_env, "config", "validate", str(notjson))
    assert proc.returncode == 1 and "not valid JSON" in proc.stdout


def test_config_schema(framesift_cmd, cli_env):
    proc = _run(framesift_cmd, cli_env, "config", "schema")
    schema = json.loads(proc.stdout)
    assert schema["title"] == "framesift active-learning configuration"
    assert "sampling_strategies" in schema["properties"]


def test_sample_dry_run_is_reproducible(tmp_path, framesift_cmd, cli_env):
    preds = tmp_path / "preds.jsonl"
    lines = []
    for i in range(200):
        conf = 0.3 + (i % 10) * 0.05
        lines.append(
            {
                "path": f"f{i}.jpg",
                "time": 0.01,
                "image": {"width": 100, "height": 100},
                "predictions": [
                    {
                        "x": 50,
                        "y": 50,
                        "width": 10,
                        "height": 10,
                        "confidence": conf,
                        "class": "car",
                        "class_id": 0,
                    }
                ]
                * (i % 4),
            }
        )
    lines.append({"path": "broken.jpg", "error": "file is empty (0 bytes)"})
    preds.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    cfg = tmp_path / "al.json"
    cfg.write_text(json.dumps(al_config(
        {"name": "ctt", "type": "close_to_threshold", "threshold": 0.5, "epsilon": 0.06, "probability": 1.0},
        {"name": "many", "type": "detections_number_based", "probability": 1.0, "more_than": 2,
         "limits": [{"type": "minutely", "value": 5}]},
        {"name": "rnd", "type": "random", "traffic_percentage": 0.3},
    )))  # fmt: skip
    outs = []
    for _ in range(2):
        out = tmp_path / f"decisions{len(outs)}.jsonl"
        proc = _run(framesift_cmd, cli_env, "sample", "--config", str(cfg), "--predictions", str(preds),
                    "--seed", "7", "--output", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    decisions = [json.loads(x) for x in outs[0].splitlines()]
    assert len(decisions) == 200
    assert "ctt" in decisions[3]["matched"]  # 3 detections at 0.45
    many = [d for d in decisions if d["selected"] == "many"]
    assert len(many) == 5  # minutely limit
    assert "skipped lines" in proc.stderr and "ctt" in proc.stderr


def test_scan_selects_frames(tmp_path, data_dir, framesift_cmd, cli_env):
    cfg = tmp_path / "al.json"
    cfg.write_text(json.dumps(al_config(
        {"name": "faces", "type": "detections_number_based", "probability": 1.0, "more_than": 0,
         "selected_class_names": ["FACE_FEMALE", "FACE_MALE"], "tags": ["face"]},
    )))  # fmt: skip
    out = tmp_path / "selected.jsonl"
    proc = _run(framesift_cmd, cli_env, "scan", str(data_dir), "--model", "nudenet/1", "--config", str(cfg),
                "--state-dir", str(tmp_path / "state"), "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    selected = [json.loads(x) for x in out.read_text().splitlines()]
    names = sorted(s["path"].rsplit("/", 1)[1] for s in selected)
    assert names == ["astronaut.jpg", "grace_hopper.jpg"]
    assert selected[0]["tags"] == ["face", "nudenet-1"] and selected[0]["strategy"] == "faces"


EXTENDED = {
    "name": "unsure",
    "type": "detection_uncertainty",
    "measure": "margin",
    "aggregate": "max",
    "threshold": 0.9,
    "limits": [{"type": "hourly", "value": 6}],
    "framesift": {
        "pacing": {"window": "hourly", "burst": 1},
        "class_quota": {"window": "hourly", "shares": {"dog": 0.5}},
    },
}


def _margin_preds(path, count=120):
    """Every 3rd frame shows a dog; every frame's box is unsure (runner-up close to the top score)."""
    lines = []
    for i in range(count):
        name = "dog" if i % 3 == 0 else "car"
        det = {"x": 50, "y": 50, "width": 10, "height": 10, "confidence": 0.6, "class": name,
               "runner_up_class": "cat", "runner_up_class_id": 9, "runner_up_confidence": 0.55}  # fmt: skip
        lines.append({"path": f"f{i}.jpg", "image": {"width": 100, "height": 100}, "predictions": [det]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_extensions_validate_summary_and_errors(tmp_path, framesift_cmd, cli_env):
    good = tmp_path / "ext.json"
    good.write_text(json.dumps(al_config(EXTENDED)))
    proc = _run(framesift_cmd, cli_env | {"COLUMNS": "250"}, "config", "validate", str(good))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "paced 6/h (burst 1)" in proc.stdout and "dog 50%" in proc.stdout
    bad_strategy = EXTENDED | {"limits": [], "framesift": {"pacing": {"burst": 0}, "colour": 1}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(al_config(bad_strategy)))
    proc = _run(framesift_cmd, cli_env | {"COLUMNS": "250"}, "config", "validate", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert "$.sampling_strategies[0].framesift.pacing.burst" in proc.stdout
    assert "$.sampling_strategies[0].framesift.colour: unknown key" in proc.stdout
    bad.write_text(json.dumps(al_config(EXTENDED | {"limits": []})))
    proc = _run(framesift_cmd, cli_env | {"COLUMNS": "250"}, "config", "validate", str(bad))
    assert "$.sampling_strategies[0].framesift.pacing.window" in proc.stdout
    assert "$.sampling_strategies[0].framesift.class_quota.window" in proc.stdout


def test_sample_replays_uncertainty_pacing_and_quota(tmp_path, framesift_cmd, cli_env):
    cfg = tmp_path / "ext.json"
    cfg.write_text(json.dumps(al_config(EXTENDED)))
    preds = tmp_path / "preds.jsonl"
    _margin_preds(preds)
    out = tmp_path / "out.jsonl"
    # 120 frames one minute apart = 2 hours; hourly cap 6, paced: one credit every 10 minutes
    proc = _run(framesift_cmd, cli_env | {"COLUMNS": "200"}, "sample", "--config", str(cfg), "--predictions",
                str(preds), "--frame-interval-s", "60", "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["matched"] == ["unsure"] for r in rows)  # margin 0.05 -> uncertainty 0.95
    picked = [i for i, r in enumerate(rows) if r["selected"]]
    assert 10 <= len(picked) <= 13 and max(picked) > 100  # spread over both hours, not the first minutes
    assert {rows[i]["quota_class"] for i in picked} <= {"dog", "(other)"}
    assert "paced out" in proc.stderr and "class quota charged" in proc.stderr
    proc = _run(framesift_cmd, cli_env, "sample", "--config", str(cfg), "--predictions", str(preds),
                "--output", str(out))  # fmt: skip
    assert sum(1 for line in out.read_text().splitlines() if json.loads(line)["selected"]) == 1  # same instant
