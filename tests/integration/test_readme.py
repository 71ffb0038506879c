"""README.md as a script: its marked shell blocks run as written, so the README cannot drift.

Every ```bash block carries a marker on the line before it:
``<!-- readme-test: run -->`` (run here, in order, with the hub port replaced by a free one),
``<!-- readme-test: skip (why) -->`` (needs root, a daemon, …; its ``framesift`` lines are still
parsed), or ``<!-- readme-test: file PATH -->`` on a JSON block that must equal that file.
Every ``framesift …`` command in the README, in blocks or inline code, must be accepted by the
argument parser (a missing required option fails here, not in a newcomer's terminal).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<marker>[^\n]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
INLINE = re.compile(r"`(framesift [^`]+)`")
PLACEHOLDER = re.compile(r"[…|\[<]|(?<![$\w])[A-Z][A-Z_]{2,}\b")  # FILE, ID_OR_PATH, [--opt], a|b, …
README_HUB = "127.0.0.1:9200"


def _blocks(lang: str) -> list[tuple[str, str]]:
    return [(m["marker"] or "", m["body"]) for m in BLOCK.finditer(README.read_text(encoding="utf-8"))
            if m["lang"] == lang]  # fmt: skip


def _commands(body: str) -> list[str]:
    """Shell lines of a block, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line.split(" #", 1)[0].strip() for line in joined.splitlines() if line.strip()]


def _framesift_argv(command: str) -> list[str] | None:
    """The arguments of a ``framesift …`` command, up to the first redirection or operator."""
    if not command.startswith("framesift ") or PLACEHOLDER.search(command):
        return None
    argv = []
    for token in shlex.split(command)[1:]:
        if token in {"&", "&&", ";", "|", ">", ">>", "2>&1"} or token.startswith((">", "2>")):
            break
        argv.append(token)
    return argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_shell_block_is_marked():
    unmarked = [body.splitlines()[0] for marker, body in _blocks("bash") if not marker]
    assert not unmarked, f"README shell blocks without a readme-test marker: {unmarked}"
    assert any(marker == "run" for marker, _ in _blocks("bash")), "the Quick start must be marked to run"


def test_every_framesift_command_parses():
    text = README.read_text(encoding="utf-8")
    commands = [c for _, body in _blocks("bash") for c in _commands(body)] + INLINE.findall(text)
    parser, checked, refused = build_parser(), 0, []
    for command in commands:
        argv = _framesift_argv(command)
        if argv is None:
            continue
        checked += 1
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                parser.parse_args(argv)
            except SystemExit as exc:
                if exc.code:
                    refused.append(f"{command}: {err.getvalue().strip().splitlines()[-1]}")
    assert checked >= 10, f"only {checked} framesift commands found in the README"
    assert not refused, "\n".join(refused)


def test_example_json_is_the_file():
    marked = [(m.split(" ", 1)[1], body) for m, body in _blocks("json") if m.startswith("file ")]
    assert marked, "the active-learning example must be marked with the file it shows"
    for path, body in marked:
        assert json.loads(body) == json.loads((ROOT / path).read_text(encoding="utf-8")), f"README differs from {path}"


def _shim(bin_dir: Path) -> None:
    """``framesift`` on PATH running this checkout with this interpreter (as ``.venv/bin/framesift`` does)."""
    bin_dir.mkdir()
    shim = bin_dir / "framesift"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m agent "$@"\n')
    shim.chmod(0o755)


def test_quick_start_runs_as_written(tmp_path, models_dir):
    """The marked blocks, in order, in a scratch copy of the repository root (examples/ linked)."""
    work = tmp_path / "clone"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    _shim(tmp_path / "bin")
    port = _free_port()
    blocks = [body for marker, body in _blocks("bash") if marker == "run"]
    script = "\n".join(body.replace(README_HUB, f"127.0.0.1:{port}") for body in blocks)
    env = dict(os.environ, PYTHONPATH=str(ROOT), FRAMESIFT_MODELS_DIR=str(models_dir),
               FRAMESIFT_STATE_DIR=str(tmp_path / "state"))  # fmt: skip
    env.pop("FRAMESIFT_API_KEY", None)
    # the README's own `export PATH=...` comes first in the script; the shim stands in for .venv/bin
    prologue = f"set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\ncd \"{work}\"\n"
    script = prologue + script.replace('export PATH="$PWD/.venv/bin:$PATH"',
                                       f'export PATH="{tmp_path / "bin"}:$PWD/.venv/bin:$PATH"')  # fmt: skip
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    selected = [json.loads(line) for line in (work / "selected.jsonl").read_text().splitlines()]
    assert sorted((Path(s["path"]).name, s["strategy"]) for s in selected) == [
        ("astronaut.jpg", "faces"), ("coffee.jpg", "background"),
        ("grace_hopper.jpg", "uncertain"), ("rocket.jpg", "background"),
    ]  # fmt: skip
    assert "uploaded 4" in output
    coco = json.loads((work / "dataset" / "annotations.coco.json").read_text())
    assert len(coco["images"]) == 4


@pytest.mark.parametrize("port_taken", [False, True])
def test_demo_script(tmp_path, models_dir, port_taken):
    """``make demo``'s script: prints the selected frames and why; a taken port is handled; last line true."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), FRAMESIFT_MODELS_DIR=str(models_dir), DEMO_DIR=str(tmp_path / "out"),
               PYTHON=sys.executable, FRAMESIFT=str(tmp_path / "bin" / "framesift"))  # fmt: skip
    _shim(tmp_path / "bin")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        env["DEMO_HUB_PORT"] = str(blocker.getsockname()[1] if port_taken else _free_port())
        result = subprocess.run(["bash", str(ROOT / "examples" / "demo.sh")], env=env, capture_output=True,
                                text=True, timeout=240)  # fmt: skip
    if port_taken:
        assert result.returncode == 1
        assert result.stderr.strip() == (f"demo: port {env['DEMO_HUB_PORT']} (DEMO_HUB_PORT) is already in use; "
                                         "free it or choose another port")  # fmt: skip
        assert not (tmp_path / "out").exists()
        return
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    lines = result.stdout.splitlines()
    assert re.search(r"grace_hopper\.jpg\s+strategy uncertain .*top: FACE_FEMALE 0\.79", result.stdout)
    assert re.search(r"coffee\.jpg\s+strategy background .*top: nothing detected", result.stdout)
    assert lines[-1].startswith("demo done: the hub has stopped")
    with socket.socket() as probe:  # ... and it has
        assert probe.connect_ex(("127.0.0.1", int(env["DEMO_HUB_PORT"]))) != 0
