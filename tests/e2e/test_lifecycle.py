"""Daemon lifecycle: SIGHUP reload, systemd notify + watchdog, metrics endpoint."""

from __future__ import annotations

import signal
import socket

import httpx

from tests.daemon_process import DaemonProcess, daemon_env, wait_until, write_toml
from tests.redis_server import free_port


def test_sighup_reloads_and_keeps_running_on_bad_toml(tmp_path, models_dir):
    """With metrics on (the default): the reload keeps the process, the socket and the endpoint up."""
    port = free_port()
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9",
                     model="first/0", metrics=f"127.0.0.1:{port}")  # fmt: skip
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    try:
        client = daemon.client()
        assert client.status().model_id == "first/0"
        assert "framesift_frames_inferred" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        cfg.write_text(cfg.read_text().replace('id = "first/0"', 'id = "second/0"'))
        daemon.signal(signal.SIGHUP)
        assert wait_until(lambda: _model(client) == "second/0", 20)
        assert daemon.proc.poll() is None
        assert "framesift_frames_inferred" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        cfg.write_text(cfg.read_text() + "\n[model]\nbroken = \n")
        daemon.signal(signal.SIGHUP)
        assert wait_until(lambda: any("keeping the running configuration" in ln for ln in daemon.lines), 10)
        assert client.status().model_id == "second/0"
        client.close()
    finally:
        daemon.stop()


def _model(client) -> str | None:
    try:
        return client.status().model_id
    except Exception:
        return None


def test_systemd_ready_watchdog_and_metrics(tmp_path, models_dir):
    port = free_port()
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9",
                     model="x/0", metrics=f"127.0.0.1:{port}")  # fmt: skip
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(15)
        env = daemon_env(models_dir) | {"NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "1000000"}
        daemon = DaemonProcess(cfg, env)
        try:
            daemon.start()
            messages = []
            while not any("WATCHDOG=1" in m for m in messages):
                messages.append(sock.recv(4096).decode())
            assert messages[0].startswith("READY=1")
            body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            for name in ("framesift_frames_inferred_total", "framesift_spool_bytes",
                         "framesift_batch_seconds_bucket", "framesift_config_sync_age_seconds"):  # fmt: skip
                assert name in body
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(15) == 0
            while not any("STOPPING=1" in m for m in messages):
                messages.append(sock.recv(4096).decode())
        finally:
            daemon.stop()
