"""Run ``framesift run`` as a real process for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent.control.client import ControlClient
from tests.processes import kill_process, stop_process

ROOT = Path(__file__).resolve().parent.parent


def write_toml(
    path: Path,
    *,
    state_dir: Path,
    hub_url: str,
    model: str = "nudenet/1",
    sync_s: float = 1.0,
    sources: str = "",
    control: str = "",
    extra: str = "",
    metrics: str = "",
) -> Path:
    path.write_text(f"""
[agent]
state_dir = "{state_dir}"
log_level = "info"
[model]
id = "{model}"
batch_size = 4
max_delay_ms = 20
[destination]
url = "{hub_url}"
workspace = "ws"
project = "daemon"
sync_interval_s = {sync_s}
backoff_cap_s = 1
[metrics]
listen = "{metrics}"
{control}
{extra}
{sources}
""")
    return path


def folder_source(path: Path, source_id: str = "inbox", poll_interval_s: float = 0.2, settle_ms: float = 100) -> str:
    """The ``[[sources]]`` block of a watched folder (for ``write_toml(sources=...)``)."""
    return (f'\n[[sources]]\ntype = "folder"\nid = "{source_id}"\npath = "{path}"\n'
            f"poll_interval_s = {poll_interval_s}\nsettle_ms = {settle_ms}\n")  # fmt: skip


def inbox_config(tmp_path: Path, hub_url: str, settle_ms: float = 100) -> tuple[Path, Path]:
    """A watched folder ``tmp_path/inbox`` and ``tmp_path/agent.toml`` (state in ``tmp_path/state``) reading it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub_url,
                        sources=folder_source(inbox, settle_ms=settle_ms))  # fmt: skip
    return inbox, config


class DaemonProcess:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.config = config
        self.env = dict(env, PYTHONPATH=str(ROOT))
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.ready = threading.Event()

    def start(self, timeout_s: float = 30.0, expect_ready: bool = True) -> DaemonProcess:
        self.ready.clear()
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if expect_ready and not self.ready.wait(timeout_s):
            self.kill()
            raise RuntimeError("daemon not ready:\n" + "".join(self.lines[-30:]))
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "framesift ready" in line:
                self.ready.set()
        self.proc.stdout.close()

    def client(self, target: str | None = None, **kw) -> ControlClient:
        state = self._state_dir()
        return ControlClient(target or f"unix:{state / 'control.sock'}", **kw)

    def _state_dir(self) -> Path:
        for line in self.config.read_text().splitlines():
            if line.startswith("state_dir"):
                return Path(line.split("=", 1)[1].strip().strip('"'))
        raise AssertionError("no state_dir")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc, 15)


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def daemon_env(models_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FRAMESIFT_MODELS_DIR"] = str(models_dir)
    env["FRAMESIFT_API_KEY"] = "test-key-123"
    return env
