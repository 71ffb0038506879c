"""A full disk degrades, never crashes: on a real 3 MB tmpfs (root only; skipped with the reason otherwise)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.spool.disk_spool import DiskSpool
from agent.spool.storage import BALLAST_NAME
from tests.daemon_process import DaemonProcess, daemon_env, folder_source, wait_until, write_toml
from tests.e2e.test_daemon import ALL, hub_count, set_hub_config
from tests.frames import spool_item
from tests.hub_process import API_KEY, HubProcess


def fill(mount: Path) -> Path:
    """Write zeros until the filesystem refuses; returns the filler file."""
    filler = mount / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def test_a_full_disk_degrades_and_drains(tiny_fs, tmp_path, hub, data_dir, models_dir, framesift_cmd, cli_env):
    state = tiny_fs / "state"
    spool = DiskSpool(state / "spool")
    spool.put_many([spool_item(i) for i in range(5)])  # accepted before the disk filled up
    spool.close()
    filler = fill(tiny_fs)
    key = tmp_path / "key"
    key.write_text(API_KEY)

    # a read-only look says why it cannot open and leaves the reserve alone
    stats = subprocess.run([*framesift_cmd, "spool", "--spool", str(state / "spool"), "stats"],
                           capture_output=True, text=True, env=cli_env, timeout=60)  # fmt: skip
    assert stats.returncode == 1 and "no space left on the device" in stats.stderr, stats.stderr
    assert "Traceback" not in stats.stderr and (state / "spool" / BALLAST_NAME).exists()

    # scan starts on the full disk: new frames cannot be kept (counted), the spooled ones drain
    cfg = tmp_path / "al.json"
    cfg.write_text(json.dumps(ALL))
    scan = subprocess.run(
        [*framesift_cmd, "scan", str(data_dir), "--model", "nudenet/1", "--config", str(cfg), "--state-dir",
         str(state), "--output", str(tmp_path / "sel.jsonl"), "--dest", hub.url, "--project", "daemon",
         "--api-key-file", str(key), "--drain-timeout", "60", "--no-progress"],
        capture_output=True, text=True, env=cli_env, timeout=180,
    )  # fmt: skip
    message = " ".join(scan.stderr.split())
    assert scan.returncode == 4, scan.stderr[-3000:]
    assert "Traceback" not in scan.stderr, scan.stderr[-5000:]
    assert "(5 disk_full)" in message and "uploaded 5" in message
    assert hub_count(hub, "proj") == 5  # the frames spooled before the disk filled

    # the daemon starts on the still-full disk, and captures again once space is freed
    set_hub_config(hub, ALL)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    toml = write_toml(
        tmp_path / "agent.toml", state_dir=state, hub_url=hub.url, sources=folder_source(inbox, settle_ms=100)
    )
    daemon = DaemonProcess(toml, daemon_env(models_dir)).start(timeout_s=60)
    client = daemon.client()
    try:
        shutil.copy(data_dir / "rocket.jpg", inbox / "a.jpg")  # the same bytes as an uploaded photo
        assert wait_until(lambda: client.status().frames_inferred >= 1, 60)
        filler.unlink()  # space comes back
        cv2 = pytest.importorskip("cv2")
        fresh = tmp_path / "b.jpg"
        cv2.imwrite(str(fresh), cv2.flip(cv2.imread(str(data_dir / "coffee.jpg")), 0))
        shutil.move(fresh, inbox / "b.jpg")
        assert wait_until(lambda: hub_count(hub) >= 1, 60), "".join(
            line for line in daemon.lines if "304 Not Modified" not in line
        )[-4000:]
        assert "Traceback" not in "".join(daemon.lines)
    finally:
        client.close()
        daemon.stop()
