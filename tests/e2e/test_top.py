"""``framesift top`` against a real agent, in a pseudo-terminal, ended with Ctrl-C like an operator would."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import sys
import termios
import time

import pytest

from tests.daemon_process import ROOT, DaemonProcess, daemon_env, wait_until, write_toml

EXAMPLES = ROOT / "examples"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")


@pytest.fixture
def agent_with_inbox(tmp_path, models_dir):
    inbox, state = tmp_path / "inbox", tmp_path / "state"
    inbox.mkdir()
    state.mkdir()
    shutil.copy(EXAMPLES / "active_learning.json", state / "al-override.json")
    sources = f'[[sources]]\ntype = "folder"\nid = "inbox"\npath = "{inbox}"\nsettle_ms = 50\n'
    cfg = write_toml(tmp_path / "agent.toml", state_dir=state, hub_url="http://127.0.0.1:9", sources=sources)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    try:
        for photo in sorted((EXAMPLES / "frames").iterdir()):
            shutil.copy(photo, inbox / photo.name)
        yield daemon, state
    finally:
        daemon.stop()


def _spawn_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    pid, master = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal, so ^C becomes SIGINT
        os.execve(sys.executable, [sys.executable, *argv], env)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 140, 0, 0))
    return pid, master


def _read_until(master: int, screen: bytearray, predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate(ANSI.sub(b"", bytes(screen)).decode(errors="replace")):
            return True
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                screen.extend(os.read(master, 65536))
            except OSError:  # the child closed the terminal
                break
    return bool(predicate(ANSI.sub(b"", bytes(screen)).decode(errors="replace")))


def _wait_exit(pid: int, timeout_s: float) -> int | None:
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def test_top_shows_the_live_agent_and_exits_on_ctrl_c(agent_with_inbox):
    daemon, state = agent_with_inbox
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().frames_inferred >= 5, 60), "the agent did not infer the photos"
    finally:
        client.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="140", LINES="50")
    pid, master = _spawn_in_pty(["-m", "agent", "top", "--target", f"unix:{state / 'control.sock'}",
                                 "--interval-s", "0.5"], env)  # fmt: skip
    screen, code = bytearray(), None
    try:
        shown = _read_until(master, screen, lambda text: all(
            part in text for part in ("nudenet/1", "inbox", "folder", "frames/s", "uncertain", "faces",
                                      "background", "spool:", "destination", "config local-override", "selected")
        ), 30)  # fmt: skip
        text = ANSI.sub(b"", bytes(screen)).decode(errors="replace")
        assert shown, text[-3000:]
        assert re.search(r"inbox\s*│\s*folder\s*│\s*\w+\s*│\s*5\s*│", text), text[-3000:]
        refreshes = text.count("Ctrl-C to exit")
        assert _read_until(master, screen, lambda t: t.count("Ctrl-C to exit") > refreshes + 1, 10), "no refresh"
        os.write(master, b"\x03")  # Ctrl-C through the terminal, as a person would
        code = _wait_exit(pid, 10)
        _read_until(master, screen, lambda t: False, 0.5)
        text = ANSI.sub(b"", bytes(screen)).decode(errors="replace")
        assert code == 0, text[-2000:]
        assert "Traceback" not in text and "KeyboardInterrupt" not in text
    finally:
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def test_top_without_an_agent_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), FRAMESIFT_STATE_DIR=str(tmp_path / "state"))
    pid, master = _spawn_in_pty(["-m", "agent", "top"], env)
    screen = bytearray()
    try:
        code = _wait_exit(pid, 20)
        _read_until(master, screen, lambda t: False, 0.5)
    finally:
        os.close(master)
    text = ANSI.sub(b"", bytes(screen)).decode(errors="replace").strip()
    assert code == 1
    socket_path = tmp_path / "state" / "control.sock"
    assert text == f"framesift: error: the framesift agent is not running (no control socket at {socket_path})"
    assert not (tmp_path / "state").exists()


def test_status_json_prints_every_field(agent_with_inbox, framesift_cmd, cli_env):
    """Zero and false fields too (proto3 would drop them): a script can rely on every key."""
    import json
    import subprocess

    from agent.control.v1 import control_pb2 as pb

    _, state = agent_with_inbox
    proc = subprocess.run([*framesift_cmd, "status", "--json", "--target", f"unix:{state / 'control.sock'}"],
                          capture_output=True, text=True, env=cli_env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert set(status) == {f.name for f in pb.Status.DESCRIPTOR.fields}
    assert status["capture_paused"] is False
    assert set(status["spool"]) == {f.name for f in pb.SpoolStats.DESCRIPTOR.fields}
