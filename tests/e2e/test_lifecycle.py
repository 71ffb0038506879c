"""Daemon lifecycle: SIGHUP reload, systemd notify + watchdog, metrics endpoint."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

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
        errors: list[Exception] = []
        calls = [0]
        stop = threading.Event()

        def hammer() -> None:  # control calls all through the reload: none may fail
            while not stop.is_set():
                try:
                    client.status()
                    client.get_config()
                    client.set_config(None)  # refused while the old agent stops, unless calls wait
                    calls[0] += 1
                except Exception as exc:
                    errors.append(exc)

        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        cfg.write_text(cfg.read_text().replace('id = "first/0"', 'id = "second/0"'))
        daemon.signal(signal.SIGHUP)
        assert wait_until(lambda: _model(client) == "second/0", 20)
        assert wait_until(lambda: any("SIGHUP: reloading" in ln for ln in daemon.lines), 10)
        stop.set()
        thread.join(10)
        assert not errors, errors[:3]
        assert calls[0] > 0
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
            while not any(m.startswith("STATUS=capture") for m in messages) or messages[-1] != "WATCHDOG=1":
                messages.append(sock.recv(4096).decode())
            ready = messages.index("READY=1")
            # the model load ran with systemd's timeout extended, then READY, the state in words, pings
            assert messages[0] == "STATUS=loading model x/0"
            assert any(m.startswith("EXTEND_TIMEOUT_USEC=") for m in messages[:ready])
            assert next(m for m in messages[ready:] if m.startswith("STATUS=")).startswith(
                "STATUS=capture on; destination "
            )
            assert "WATCHDOG=1" in messages[ready:]
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


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param(
            '[control]\nlisten = "tcp:127.0.0.1:7777"\n',
            "$.control.tls_cert: required to listen on TCP",
            id="tcp-without-tls",
        ),
        pytest.param('[model]\nid = "nope/3"\n', "$.model.id: model nope/3: no ", id="missing-model"),
        pytest.param(
            '[metrics]\nlisten = "localhost"\n', "$.metrics.listen: 'localhost' is not HOST:PORT", id="metrics-address"
        ),
        pytest.param(
            '[active_learning]\nconfig_file = "/nonexistent/al.json"\n',
            "$.active_learning.config_file ($): cannot read file",
            id="missing-al-config",
        ),
    ],
)
@pytest.mark.parametrize("check", [True, False], ids=["check", "run"])
def test_run_check_refuses_what_run_refuses(tmp_path, models_dir, toml, expected, check):
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n{toml}')
    args = [sys.executable, "-m", "agent", "run", "--config", str(cfg), *(["--check"] if check else [])]
    proc = subprocess.run(args, capture_output=True, text=True, env=daemon_env(models_dir), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "state" / "spool").exists()  # refused before anything was created
