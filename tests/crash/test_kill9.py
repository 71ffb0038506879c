"""kill -9 of the capture+drain process, and of the hub, at random moments.

The promise: every frame acknowledged by ``put`` reaches the hub exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.hub_process import HubProcess

ROOT = Path(__file__).resolve().parents[2]
CAPTURE_KILLS = 20
HUB_KILLS = 10


class Worker:
    def __init__(self, spool_dir: Path, url: str, first: int, count: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash.capture_worker", str(spool_dir), url, str(first), str(count)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        self.acked: dict[int, str] = {}
        self.drained = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if parts[:1] == ["ACK"]:
                self.acked[int(parts[1])] = parts[2]
            elif parts[:1] == ["DRAINED"]:
                self.drained.set()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._close()

    def _close(self) -> None:
        self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def finish(self, timeout_s: float) -> None:
        assert self.drained.wait(timeout_s), "worker did not drain the spool"
        self._close()


def hub_hashes(data_dir: Path) -> list[str]:
    db = sqlite3.connect(data_dir / "index.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT sha256 FROM images WHERE project = 'crash'")]
    finally:
        db.close()


def test_capture_process_killed_20_times(tmp_path):
    hub = HubProcess(tmp_path / "hub").start()
    rng = random.Random(20261121)
    acked: dict[int, str] = {}
    next_index = 0
    try:
        for _ in range(CAPTURE_KILLS):
            worker = Worker(tmp_path / "spool", hub.url, next_index, 10_000)
            time.sleep(rng.uniform(0.6, 1.6))  # start-up takes ~0.5 s: kill while putting and uploading
            worker.kill()
            acked.update(worker.acked)
            # resume from the last acknowledged frame: an in-flight one is produced again,
            # with the same bytes (as a re-read file would be)
            next_index = max(acked, default=-1) + 1
        final = Worker(tmp_path / "spool", hub.url, next_index, 5)
        final.finish(120)
        acked.update(final.acked)
    finally:
        hub.stop()
    stored = hub_hashes(tmp_path / "hub")
    assert len(stored) == len(set(stored)), "a frame reached the hub twice"
    missing = set(acked.values()) - set(stored)
    assert not missing, f"{len(missing)} acknowledged frames never reached the hub"
    assert len(acked) > CAPTURE_KILLS  # frames really flowed during the kills


def test_hub_killed_mid_upload(tmp_path):
    hub = HubProcess(tmp_path / "hub").start()
    rng = random.Random(7)
    worker = Worker(tmp_path / "spool", hub.url, 0, 400)
    try:
        for _ in range(HUB_KILLS):
            time.sleep(rng.uniform(0.1, 0.6))
            hub.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            hub.start()
        worker.finish(180)
    finally:
        worker.kill()
        hub.stop()
    stored = hub_hashes(tmp_path / "hub")
    assert len(stored) == len(set(stored))
    assert set(worker.acked.values()) <= set(stored)
    assert len(worker.acked) == 400


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_put_is_durable_without_close(tmp_path):
    """A record acknowledged by put survives SIGKILL before any close/flush."""
    code = (
        "import sys; from pathlib import Path; from agent.spool.disk_spool import DiskSpool;"
        "from tests.frames import spool_item; s = DiskSpool(Path(sys.argv[1]));"
        "[s.put(spool_item(i)) for i in range(25)]; print('ok', flush=True);"
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert proc.stdout.strip() == "ok" and proc.returncode == -signal.SIGKILL
    from agent.spool.disk_spool import DiskSpool

    spool = DiskSpool(tmp_path / "s")
    assert spool.stats().count == 25
    assert spool.lease().item.inference_id == "inf-0"
    spool.close()
