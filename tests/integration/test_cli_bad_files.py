"""Files that are not what an option expects (binary secrets, corrupt databases, a bad TLS pair, odd
prediction lines): one line naming the file and what is wrong, never a traceback or the file's content."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BINARY = b"\xff\xfe\x00S3cret\x81binary"


def _run(framesift_cmd, cli_env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*framesift_cmd, *args], capture_output=True, text=True, env=cli_env, timeout=120)


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


SECRET_FILE_CASES = [  # (arguments, with {secret} for the binary file and {tmp} for the scratch dir, the line says)
    (["status", "--target", "unix:{tmp}/none.sock", "--token-file", "{secret}"], "--token-file: {secret} is not UTF-8"),
    (["hub", "--data", "{tmp}/hub", "--keys-file", "{secret}"], "--keys-file: {secret} is not UTF-8"),
    (["scan", str(EXAMPLES / "frames"), "--model", "nudenet/1", "--config", str(EXAMPLES / "active_learning.json"),
      "--state-dir", "{tmp}/state", "--dest", "http://127.0.0.1:9", "--api-key-file", "{secret}"],
     "api_key_file: {secret} is not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "says"), SECRET_FILE_CASES, ids=[c[0][0] for c in SECRET_FILE_CASES])
def test_a_binary_secret_file_is_named_not_shown(tmp_path, framesift_cmd, cli_env, args, says):
    secret = tmp_path / "secret"
    secret.write_bytes(BINARY)
    env = {k: v for k, v in cli_env.items() if k not in ("FRAMESIFT_API_KEY", "FRAMESIFT_CONTROL_TOKEN")}
    line = _one_line(_run(framesift_cmd, env, *[a.format(tmp=tmp_path, secret=secret) for a in args]))
    assert says.format(secret=secret) in line and "S3cret" not in line


def test_a_corrupt_spool_or_limit_store_is_one_line_and_kept(tmp_path, framesift_cmd, cli_env):
    queue = tmp_path / "spool" / "queue"
    queue.mkdir(parents=True)
    (queue / "cache.db").write_bytes(BINARY * 300)
    line = _one_line(_run(framesift_cmd, cli_env, "spool", "--spool", str(tmp_path / "spool"), "stats"))
    assert f"spool {tmp_path / 'spool'}: its database {queue} is unreadable" in line and "move" in line
    limits = tmp_path / "state" / "limits"
    limits.mkdir(parents=True)
    (limits / "cache.db").write_bytes(BINARY * 300)
    line = _one_line(
        _run(
            framesift_cmd,
            cli_env,
            "scan",
            str(EXAMPLES / "frames"),
            "--model",
            "nudenet/1",
            "--config",
            str(EXAMPLES / "active_learning.json"),
            "--state-dir",
            str(tmp_path / "state"),
        )
    )
    assert f"limit store {limits} is unreadable" in line
    assert (queue / "cache.db").read_bytes() == BINARY * 300 and (limits / "cache.db").read_bytes() == BINARY * 300


def test_run_check_finds_a_bad_tls_pair_a_binary_token_and_a_missing_video(tmp_path, framesift_cmd, cli_env):
    token = tmp_path / "token"
    token.write_bytes(BINARY)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n[control]\nlisten = "tcp:127.0.0.1:17443"\n'
                   f'tls_cert = "{cfg}"\ntls_key = "{cfg}"\ntoken_file = "{token}"\n'
                   f'[[sources]]\ntype = "video"\nid = "cam"\npath = "{tmp_path / "gone.mp4"}"\n')  # fmt: skip
    line = _one_line(_run(framesift_cmd, cli_env, "run", "--check", "--config", str(cfg)))
    assert "$.control.tls_cert: " in line and "not a PEM certificate and its matching private key" in line
    assert f"$.control.token_file: {token} is not UTF-8" in line and "S3cret" not in line
    assert f"$.sources[0].path: {tmp_path / 'gone.mp4'}: no such video file" in line


def test_sample_skips_lines_it_cannot_read_and_says_which(tmp_path, framesift_cmd, cli_env):
    good = {"predictions": [{"x": 5, "y": 5, "width": 4, "height": 4, "class": "car", "confidence": 0.4}],
            "image": {"width": 64, "height": 64}}  # fmt: skip
    odd = {**good, "path": "odd", "predictions": [{**good["predictions"][0], "points": "x"}]}
    lines = [json.dumps(good).encode(), b"\xff\xfe not utf-8", b"[" * 100_000, json.dumps(odd).encode(),
             b'{"predicted_classes": 5, "predictions": {"a": {"confidence": 0.5}}}', b"[1, 2]"]  # fmt: skip
    for path, field, value in (("nan", "confidence", "NaN"), ("neg", "width", -4)):
        bad = {**good, "path": path, "predictions": [{**good["predictions"][0], field: value}]}
        lines.append(json.dumps(bad).encode())
    preds = tmp_path / "preds.jsonl"
    preds.write_bytes(b"\n".join(lines) + b"\n")
    proc = _run(framesift_cmd, cli_env, "sample", "--config", str(EXAMPLES / "active_learning.json"),
                "--predictions", str(preds), "--seed", "1")  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"{preds}:2: skipped, not JSON" in proc.stderr and f"{preds}:3: skipped, not JSON" in proc.stderr
    assert f"{preds}:6: skipped, not a prediction object" in proc.stderr
    assert "odd: skipped, malformed prediction" in proc.stderr  # points: "x"
    assert "preds.jsonl:5: skipped, malformed prediction" in proc.stderr  # predicted_classes: 5
    assert "nan: skipped, malformed prediction" in proc.stderr and "neg: skipped, malformed prediction" in proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["path"] == "preds.jsonl:1"  # the good line was evaluated


def test_sample_with_two_tasks_in_one_chunk_skips_them_without_a_traceback(tmp_path, framesift_cmd, cli_env):
    detection = {"predictions": [{"x": 5, "y": 5, "width": 4, "height": 4, "class": "car", "confidence": 0.4}],
                 "image": {"width": 64, "height": 64}}  # fmt: skip
    classification = {"predictions": {"cat": {"confidence": 0.9}}, "predicted_classes": ["cat"]}
    preds = tmp_path / "mixed.jsonl"
    preds.write_text(json.dumps(detection) + "\n" + json.dumps(classification) + "\n")
    proc = _run(framesift_cmd, cli_env, "sample", "--config", str(EXAMPLES / "active_learning.json"),
                "--predictions", str(preds))  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
