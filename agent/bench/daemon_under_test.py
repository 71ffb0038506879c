"""DaemonUnderTest: a hub and a ``framesift run`` in a scratch directory, for ``bench pipeline``.

The hub stands in for a remote server: it runs at ``SCHED_IDLE`` so its ingest never takes the
cores the daemon is measured on.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from agent.control.client import ControlClient

_IDLE_EXEC = (
    "import os, sys; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); os.execv(sys.argv[1], sys.argv[1:])"
)
"""``python -c`` that runs its arguments as a program at SCHED_IDLE (threads it starts inherit the policy)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stage_sums(metrics_url: str) -> dict[str, float]:
    text = httpx.get(metrics_url, timeout=5).text
    sums = {}
    for m in re.finditer(r'^framesift_stage_seconds_sum\{stage="(\w+)"\} (\S+)$', text, re.M):
        sums[m.group(1)] = float(m.group(2))
    return sums


class DaemonUnderTest:
    """A hub and a ``framesift run`` with one folder source, in a scratch directory."""

    def __init__(self, root: Path, model_id: str, batch_size: int) -> None:
        self.root = root
        self.inbox = root / "inbox"
        self.inbox.mkdir()
        self.procs: list[subprocess.Popen[str]] = []
        keys = root / "hub-keys"
        key = subprocess.run([sys.executable, "-m", "agent", "hub", "new-key", str(keys)], check=True,
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
        (root / "api-key").write_text(key + "\n")
        hub_port, self.metrics_port = _free_port(), _free_port()
        self.hub_url = f"http://127.0.0.1:{hub_port}"
        # SCHED_IDLE: the hub stands in for a remote server; its ingest must not take the daemon's cores
        hub = ["-m", "agent", "hub", "--data", str(root / "hub"), "--listen", f"127.0.0.1:{hub_port}",
               "--keys-file", str(keys)]  # fmt: skip
        self._spawn([sys.executable, "-c", _IDLE_EXEC, sys.executable, *hub], None)
        self._wait(lambda: httpx.get(f"{self.hub_url}/healthz", timeout=1).status_code == 200, "hub")
        cfg = root / "agent.toml"
        cfg.write_text(f"""[agent]
state_dir = "{root / "state"}"
[model]
id = "{model_id}"
batch_size = {batch_size}
max_delay_ms = 20
[destination]
url = "{self.hub_url}"
workspace = "bench"
project = "bench"
api_key_file = "{root / "api-key"}"
sync_interval_s = 60
[metrics]
listen = "127.0.0.1:{self.metrics_port}"
[[sources]]
type = "folder"
id = "inbox"
path = "{self.inbox}"
""")
        ready = threading.Event()
        self.daemon = self._spawn([sys.executable, "-m", "agent", "run", "--config", str(cfg)], ready)
        if not ready.wait(120):
            self.close()
            raise RuntimeError("the daemon did not become ready within 120 s")
        self.client = ControlClient(f"unix:{root / 'state' / 'control.sock'}")
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"

    def _spawn(self, argv: list[str], ready: threading.Event | None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if ready is not None and "framesift ready" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        return proc

    @staticmethod
    def _wait(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} did not start within {timeout_s:.0f} s")

    def select(self, share: float) -> None:
        """Select ``share`` of the frames (random strategy, no limits), as a local override."""
        config = {"enabled": True, "persist_predictions": True,
                  "sampling_strategies": [{"name": "bench", "type": "random", "traffic_percentage": share}],
                  "batching_strategy": {"batches_name_prefix": "bench", "recreation_interval": "never"}}  # fmt: skip
        self.client.set_config(config)

    def wait_uploaded(self, timeout_s: float = 120.0) -> None:
        """Wait until the spool is empty: the hub has ingested the previous scenario's uploads."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = self.client.spool_stats()
            if stats.ready + stats.leased == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the daemon did not upload its spool within {timeout_s:.0f} s")

    def inferred(self) -> int:
        """Frames inferred so far."""
        return int(self.client.status().frames_inferred)

    def wait_inferred(self, target: int, timeout_s: float = 300.0) -> float:
        """Poll until ``target`` frames are inferred; returns the monotonic time seen.

        Each poll (a GetStatus RPC, about 1 ms of the daemon's CPU) sleeps half the time the rest
        should take at the rate so far (10 ms at the least): a handful of polls per scenario, and
        the end is still seen within 10 ms. Polling every 20 ms instead took 4 % of the daemon's CPU.
        """
        start = time.monotonic()
        deadline, first = start + timeout_s, self.inferred()
        while time.monotonic() < deadline:
            done = self.inferred()
            if done >= target:
                return time.monotonic()
            rate = (done - first) / max(1e-3, time.monotonic() - start)
            time.sleep(min(0.5, max(0.01, 0.5 * (target - done) / rate)) if rate > 0 else 0.05)
        raise RuntimeError(f"the daemon inferred {self.inferred()} of {target} frames in {timeout_s:.0f} s")

    def close(self) -> None:
        """Stop the daemon, then the hub."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
