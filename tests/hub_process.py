"""Run the real hub (``python -m agent hub``) on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import kill_process, stop_process
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-key-123"


class HubProcess:
    """A hub subprocess; ``start`` / ``kill`` / ``stop`` may be called repeatedly.

    ``database``/``blobs`` select the PostgreSQL engine; ``log_path`` captures stdout+stderr.
    """

    def __init__(self, data_dir: Path, port: int | None = None, max_upload_mb: float = 25.0,
                 database: str | None = None, blobs: Path | None = None, log_path: Path | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keys_file = data_dir.parent / f"{data_dir.name}-keys"
        self.keys_file.write_text(API_KEY + "\n")
        self.max_upload_mb = max_upload_mb
        self.database = database
        self.blobs = blobs
        self.log_path = log_path
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "agent", "hub", "--data", str(self.data_dir), "--listen",
                f"127.0.0.1:{self.port}", "--keys-file", str(self.keys_file), "--max-upload-mb", str(self.max_upload_mb),  # noqa: E501
                *self.extra_args]  # fmt: skip
        if self.database:
            args += ["--database", self.database]
        if self.blobs:
            args += ["--blobs", str(self.blobs)]
        return args

    def start(self) -> HubProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(self.command(), env=env, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.log_path:
                out.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("hub exited at start")
            time.sleep(0.1)
        raise RuntimeError("hub did not start")

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc, 10)
