"""A newcomer's first mistakes: one clear line, a non-zero exit, and nothing created."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.cli.main import build_parser
from tests.daemon_process import DaemonProcess, write_toml
from tests.hub_process import API_KEY, HubProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(framesift_cmd, cli_env, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*framesift_cmd, *args], capture_output=True, text=True, env=cli_env, timeout=120, cwd=cwd)


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


NOT_RUNNING = "framesift: error: the framesift agent is not running (no control socket at "
# (arguments with {tmp} for the scratch dir, the one line on stderr)
TYPO_CASES = [
    (["status"], NOT_RUNNING + "{tmp}/state/control.sock)"),
    (["status", "--json"], NOT_RUNNING + "{tmp}/state/control.sock)"),
    (["ctl", "pause"], NOT_RUNNING + "{tmp}/state/control.sock)"),
    (["ctl", "--target", "unix:{tmp}/nope.sock", "spool-stats"],
     NOT_RUNNING + "{tmp}/nope.sock)"),
    (["spool", "--spool", "{tmp}/spoool", "stats"],
     "framesift: error: no spool at {tmp}/spoool (nothing was ever spooled there; the agent's is <state dir>/spool, "
     "a scan's --state-dir DIR/spool)"),
    (["spool", "--spool", "{tmp}/spoool", "list", "--dead"], "framesift: error: no spool at {tmp}/spoool (nothing"),
    (["spool", "--spool", "{tmp}/spoool", "purge", "--all"], "framesift: error: no spool at {tmp}/spoool (nothing"),
    (["spool", "stats"], "framesift: error: no spool at {tmp}/state/spool (nothing"),
    (["hub", "export", "--data", "{tmp}/hub-dta", "--project", "site", "{tmp}/dataset"],
     "framesift: error: no hub data at {tmp}/hub-dta (a hub's --data directory holds index.sqlite)"),
    (["bench", "spool", "--dir", "{tmp}/nowhere"],
     "framesift: error: --dir {tmp}/nowhere: not a directory (the filesystem to measure must exist)"),
    (["bench", "inference", "--model", "nudenet/1", "--images", "{tmp}", "--json", "{tmp}/out/report.json"],
     "framesift: error: --json {tmp}/out/report.json: its directory {tmp}/out does not exist"),
    (["bench", "pipeline", "--json", "{tmp}/out/report.json"],  # refused before minutes of measuring
     "framesift: error: --json {tmp}/out/report.json: its directory {tmp}/out does not exist"),
    (["scan", str(EXAMPLES / "frames"), "--model", "nudenet/1", "--config", str(EXAMPLES / "active_learning.json"),
      "--redis-url", "notredis"],  # no state dir, no local limit store: refused before either
     "framesift: error: invalid configuration: redis_url: not a Redis URL"),
    (["hub", "--data", "{tmp}/hub", "--database", "not-a-url", "--insecure-no-auth"],
     "framesift: error: invalid configuration: --database: not a PostgreSQL URL"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), TYPO_CASES, ids=[" ".join(c[0][:3]) for c in TYPO_CASES])
def test_a_typo_is_one_line_and_creates_nothing(tmp_path, framesift_cmd, cli_env, args, message):
    env = dict(cli_env, FRAMESIFT_STATE_DIR=str(tmp_path / "state"))
    env.pop("FRAMESIFT_CONTROL", None)
    (tmp_path / "cwd").mkdir()
    before = _tree(tmp_path)
    proc = _run(framesift_cmd, env, *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path / "cwd")
    assert proc.returncode == 1
    expected = message.format(tmp=tmp_path)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), proc.stderr
    assert proc.stdout == ""
    assert _tree(tmp_path) == before  # no state dir, no spool, no hub, no dataset


def test_output_piped_into_head_ends_quietly(tmp_path, framesift_cmd, cli_env):
    line = {"path": "a.jpg", "predictions": [], "image": {"width": 64, "height": 64}}
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(dict(line, path=f"{i}.jpg")) + "\n" for i in range(20000)))
    proc = subprocess.Popen([*framesift_cmd, "sample", "--config", str(EXAMPLES / "active_learning.json"),
                             "--predictions", str(preds), "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(60) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr


def test_native_decoder_warnings_stay_off_stderr(tmp_path, framesift_cmd, cli_env):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "truncated.png").write_bytes((EXAMPLES / "frames" / "page.png").read_bytes()[:20000])
    shutil.copy(EXAMPLES / "frames" / "coffee.jpg", folder / "coffee.jpg")
    proc = _run(framesift_cmd, cli_env, "predict", str(folder), "--model", "nudenet/1", "-o", str(tmp_path / "p.jsonl"))
    assert proc.returncode == 3  # some files failed
    assert "libpng" not in proc.stderr and "[ WARN" not in proc.stderr, proc.stderr
    assert proc.stderr.replace("\n", "").count("truncated.png") == 1  # framesift's own line (wrapped by rich), once


def test_run_warning_names_an_option_run_has(tmp_path, models_dir):
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9")
    env = {k: v for k, v in os.environ.items() if k != "FRAMESIFT_API_KEY"}
    daemon = DaemonProcess(cfg, dict(env, FRAMESIFT_MODELS_DIR=str(models_dir))).start()
    try:
        warning = [line for line in daemon.lines if "no API key" in line]
    finally:
        daemon.stop()
    assert warning and "[destination] api_key_file" in warning[0] and "--api-key-file" not in warning[0], warning
    run_options = {o for a in _subparser("run")._actions for o in a.option_strings}
    assert "--api-key-file" not in run_options  # why the warning must not suggest it


def _subparser(*names: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, (*path, name))
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, parser, action


def test_every_argument_has_help_and_shows_its_default():
    missing, hidden_defaults = [], []
    for path, parser, action in _walk(build_parser()):
        name = f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        if not (action.help or "").strip():
            missing.append(name)
            continue
        if not action.option_strings or action.required:
            continue
        shown = parser.formatter_class(prog="x")._get_help_string(action) or ""  # type: ignore[attr-defined]
        is_flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        if not is_flag and "default" not in shown:
            hidden_defaults.append(name)
    assert not missing, f"arguments without help: {missing}"
    assert not hidden_defaults, f"defaults not shown: {hidden_defaults}"
    scan_help = " ".join(_subparser("scan").format_help().split())
    assert "frames per inference batch (default: 8)" in scan_help and "(default: none)" not in scan_help
    assert "more logging (default: 0)" in " ".join(build_parser().format_help().split())


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def test_scan_resume_is_keyed_by_what_decides_a_files_fate(tmp_path, hub, framesift_cmd, cli_env):
    folder = tmp_path / "frames"
    shutil.copytree(EXAMPLES / "frames", folder)
    key = tmp_path / "key"
    key.write_text(API_KEY)
    everything = tmp_path / "everything.json"
    doc = json.loads((EXAMPLES / "active_learning.json").read_text())
    doc["sampling_strategies"] = [{"name": "all", "type": "random", "traffic_percentage": 1.0}]
    everything.write_text(json.dumps(doc))
    out = tmp_path / "selected.jsonl"

    def scan(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return _run(framesift_cmd, cli_env, "scan", str(folder), "--model", "nudenet/1", "--config", str(config),
                    "--seed", "1", "--state-dir", str(tmp_path / "state"), "--output", str(out), "--dest", hub.url,
                    "--project", "site", "--api-key-file", str(key), *extra)  # fmt: skip

    def said(proc: subprocess.CompletedProcess[str]) -> str:
        return " ".join(proc.stderr.split())  # rich wraps long lines at 80 columns off a terminal

    def lines() -> int:
        return len(out.read_text().splitlines())

    first = scan(EXAMPLES / "active_learning.json")
    assert first.returncode == 0, first.stderr
    assert "resuming" not in said(first) and lines() == 4
    same = scan(EXAMPLES / "active_learning.json")  # nothing changed: resume, nothing evaluated, output kept
    assert "resuming: 5 file(s) already scanned with this config, model, project and destination" in said(same)
    assert lines() == 4
    changed = scan(everything)  # a new config decides differently: every file is evaluated again
    assert changed.returncode == 0, changed.stderr
    assert "resuming" not in said(changed) and lines() == 4 + 5  # appended, never emptied
    assert "uploaded 1, duplicates 4" in said(changed)  # page.png is new; the hub dedups the rest
    forced = scan(everything, "--rescan")
    assert "resuming" not in said(forced) and lines() == 4 + 5 + 5
    other_project = _run(framesift_cmd, cli_env, "scan", str(folder), "--model", "nudenet/1", "--config",
                         str(everything), "--seed", "1", "--state-dir", str(tmp_path / "state"), "--output", str(out),
                         "--dest", hub.url, "--project", "site-b", "--api-key-file", str(key))  # fmt: skip
    assert "resuming" not in said(other_project) and "uploaded 5" in said(other_project)
