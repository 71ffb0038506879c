"""kill -9 of the daemon while inferred frames wait in the prepare stage (not yet spooled).

The promise: a file is decided only once its selected frames are spooled, so every file
dropped into the folder reaches the hub after a restart, the uncommitted ones read again.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3

import httpx
import numpy as np
import simplejpeg

from tests.daemon_process import DaemonProcess, daemon_env, wait_until, write_toml
from tests.factories import al_config
from tests.hub_process import HubProcess

ALL = al_config({"name": "everything", "type": "random", "traffic_percentage": 1.0})
FILES = 48
DEADLINE_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_count(hub: HubProcess) -> int:
    path = hub.data_dir / "index.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM images WHERE project = 'daemon'").fetchone()[0])


def pending(metrics_url: str) -> float:
    try:
        text = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return 0.0
    match = re.search(r"^framesift_prepare_pending_frames (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_kill9_while_frames_wait_in_the_prepare_stage(tmp_path, models_dir):
    hub = HubProcess(tmp_path / "hub")  # down at first: spooled frames stay in the spool
    inbox, staging = tmp_path / "inbox", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    port = free_port()
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url,
                     metrics=f"127.0.0.1:{port}", sources=f"""
[[sources]]
type = "folder"
id = "inbox"
path = "{inbox}"
""")  # fmt: skip
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "al-override.json").write_text(json.dumps(ALL))
    rng = np.random.default_rng(7)
    for i in range(FILES):  # noisy 720p frames: slow to encode, so the prepare stage has a queue
        image = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
        (staging / f"f{i:03d}.jpg").write_bytes(simplejpeg.encode_jpeg(image, quality=90, colorspace="BGR"))
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    try:
        for path in sorted(staging.iterdir()):
            path.rename(inbox / path.name)
        assert wait_until(lambda: pending(metrics_url) > 0, DEADLINE_S, interval_s=0.005), daemon.lines[-20:]
    finally:
        daemon.kill()  # SIGKILL with inferred frames not yet spooled
    hub.start()
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    try:
        assert wait_until(lambda: hub_count(hub) == FILES, DEADLINE_S), daemon.lines[-20:]
    finally:
        daemon.stop()
        hub.stop()
    assert hub_count(hub) == FILES  # each file exactly once (the hub deduplicates a re-read frame)
