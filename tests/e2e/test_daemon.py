"""The daemon end to end: real processes (daemon, hub), real gRPC channels, real signals.

Every wait is for a state the daemon or the hub reports, under one generous deadline;
no assertion depends on how long something took.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import cv2
import grpc
import httpx
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from agent.spool.disk_spool import DiskSpool
from tests.daemon_process import DaemonProcess, daemon_env, inbox_config, wait_until, write_toml
from tests.factories import al_config
from tests.hub_process import API_KEY, HubProcess

ALL = al_config({"name": "everything", "type": "random", "traffic_percentage": 1.0})
DEADLINE_S = 60.0  # generous: only reached when something is broken


def hub_count(hub: HubProcess, project: str = "daemon") -> int:
    path = hub.data_dir / "index.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM images WHERE project = ?", (project,)).fetchone()[0])
    finally:
        db.close()


def set_hub_config(hub: HubProcess, config: dict) -> None:
    r = httpx.post(f"{hub.url}/ws/daemon/active_learning", params={"api_key": API_KEY}, json={"config": config})
    assert r.status_code == 200, r.text


def thread_nices(pid: int) -> dict[int, int]:
    """Thread id → nice value of every thread of ``pid`` (field 19 of /proc/PID/task/TID/stat)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = int(fields[16])
    return out


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def test_folder_source_to_hub_and_config_sync(tmp_path, hub, models_dir, data_dir):
    set_hub_config(hub, ALL)
    inbox, cfg = inbox_config(tmp_path, hub.url, settle_ms=200)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().config_origin == "remote", DEADLINE_S)
        for name in ("astronaut.jpg", "rocket.jpg", "coffee.jpg"):
            shutil.copy(data_dir / name, inbox / name)
        (inbox / "partial.jpg").write_bytes((data_dir / "grace_hopper.jpg").read_bytes()[:1000])  # being written
        assert wait_until(lambda: hub_count(hub) == 3, DEADLINE_S), daemon.lines[-20:]
        # the writer finishes the file: it is then read whole
        shutil.copy(data_dir / "grace_hopper.jpg", inbox / "partial.jpg")
        assert wait_until(lambda: hub_count(hub) == 4, DEADLINE_S)
        status = client.status()
        assert status.sources[0].id == "inbox" and status.sources[0].frames == 4
        assert status.strategies[0].selected == 4
        # the threads around the model run at nice 19 (source, prepare, 2 uploaders, decode workers);
        # the main thread and the inference thread keep normal priority
        nices = thread_nices(daemon.proc.pid)
        assert nices[daemon.proc.pid] == 0
        assert sum(1 for n in nices.values() if n == 19) >= 5, nices
        assert sum(1 for n in nices.values() if n == 0) >= 2, nices
        # a config changed at the hub is applied (synced every second): collection switched off there
        off = ALL | {"enabled": False}
        set_hub_config(hub, off)
        assert wait_until(lambda: client.get_config() == off, DEADLINE_S)
        status = client.status()
        assert not status.active_learning_enabled and "enabled: false" in status.capture_reason
        # an invalid remote config keeps the previous one and is reported
        with sqlite3.connect(hub.data_dir / "index.sqlite") as db:  # bypass the hub's validation
            db.execute("UPDATE configs SET config = ?, etag = '\"x\"'", (json.dumps({"enabled": 3}),))
        assert wait_until(lambda: client.status().last_sync_result.startswith("invalid"), DEADLINE_S)
        assert client.get_config() == off
    finally:
        client.close()
        daemon.stop()
    # restart: already-processed files are not read again, a new one is
    set_hub_config(hub, ALL)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: is_enabled_from_remote(client.status()), DEADLINE_S)
        # distinct bytes (the hub counts it) and sorted after the old files: the folder
        # is polled in name order and an old file settles no later than the new one, so
        # once the new file is at the hub any old file read again was read before it
        new = tmp_path / "zzz-new.jpg"
        cv2.imwrite(str(new), cv2.flip(cv2.imread(str(data_dir / "astronaut.jpg")), 1))
        shutil.move(new, inbox / new.name)
        assert wait_until(lambda: hub_count(hub) == 5, DEADLINE_S), daemon.lines[-20:]
        status = client.status()
        assert status.sources[0].frames == 1
        assert status.strategies[0].selected == 1
    finally:
        client.close()
        daemon.stop()


def test_a_project_without_a_server_config_keeps_capturing(tmp_path, hub, models_dir):
    """The hub has no config for the project: the agent says so and keeps its own (here the default)."""
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().last_sync_result == "no-config", DEADLINE_S)
        status = client.status()
        assert status.config_origin == "default" and status.active_learning_enabled
        assert status.config_reason.startswith("the server has no config for this project")
        assert status.capture_reason == ""
        set_hub_config(hub, ALL)  # configured at the hub later: the agent follows it
        assert wait_until(lambda: is_enabled_from_remote(client.status()), DEADLINE_S)
        assert client.status().config_reason == "the server's config for this project"
    finally:
        client.close()
        daemon.stop()


def is_enabled_from_remote(status) -> bool:
    return status.config_origin == "remote" and status.active_learning_enabled


def test_hub_down_at_start_uses_last_good_config(tmp_path, hub, models_dir):
    set_hub_config(hub, ALL)
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    assert wait_until(lambda: client.status().config_origin == "remote", DEADLINE_S)
    client.close()
    daemon.stop()
    hub.stop()
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().last_sync_result.startswith("offline"), DEADLINE_S)
        status = client.status()
        assert status.config_origin == "last-good" and status.active_learning_enabled
        assert client.get_config()["sampling_strategies"][0]["name"] == "everything"
    finally:
        client.close()
        daemon.stop()


def _frames(data_dir, n):
    photos = [(data_dir / p).read_bytes() for p in ("astronaut.jpg", "rocket.jpg", "coffee.jpg", "grace_hopper.jpg")]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = cv2.imdecode(np.frombuffer(photos[i % 4], np.uint8), cv2.IMREAD_COLOR)
        image = np.clip(image.astype(np.int16) + rng.integers(-20, 20), 0, 255).astype(np.uint8)  # distinct bytes
        out.append((cv2.imencode(".jpg", image)[1].tobytes(), "host-app", f"f{i}"))
    return out


def test_kill9_then_restart_loses_nothing(tmp_path, models_dir, data_dir):
    hub = HubProcess(tmp_path / "hub")  # down while frames are selected
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "al-override.json").write_text(json.dumps(ALL))
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    reply = client.submit_frames(_frames(data_dir, 12))
    assert reply.accepted == 12
    assert wait_until(lambda: client.status().spool.count == 12, DEADLINE_S)
    client.close()
    daemon.kill()  # SIGKILL with 12 frames selected and not uploaded
    hub.start()
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    try:
        assert wait_until(lambda: hub_count(hub) == 12, DEADLINE_S)
    finally:
        daemon.stop()
        hub.stop()


def test_sigterm_drains_into_the_spool(tmp_path, models_dir, data_dir):
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "al-override.json").write_text(json.dumps(ALL))
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    assert client.submit_frames(_frames(data_dir, 20)).accepted == 20
    client.close()
    daemon.signal(signal.SIGTERM)  # at once: frames are still queued / in flight
    assert daemon.wait(DEADLINE_S) == 0
    spool = DiskSpool(tmp_path / "state" / "spool", read_only=True)
    try:
        assert spool.stats().count == 20  # every accepted frame was selected and spooled
    finally:
        spool.close()


def test_video_file_source(tmp_path, models_dir, data_dir):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    base = cv2.resize(cv2.imread(str(data_dir / "astronaut.jpg")), (320, 240))
    for i in range(30):
        writer.write(np.roll(base, i * 3, axis=1))
    writer.release()
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9", sources=f"""
[[sources]]
type = "video"
id = "clip"
path = "{video}"
every_nth = 3
queue_size = 64
""")  # fmt: skip
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().frames_inferred == 10, DEADLINE_S), client.status()
        src = client.status().sources[0]
        assert (src.kind, src.state, src.frames) == ("video", "finished", 10)
    finally:
        client.close()
        daemon.stop()


def test_tcp_without_tls_is_refused(tmp_path, models_dir):
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9",
                     model="x/0", control='[control]\nlisten = "tcp:127.0.0.1:0"')  # fmt: skip
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start(expect_ready=False)
    assert daemon.wait(DEADLINE_S) != 0
    text = "".join(daemon.lines)
    assert "$.control.tls_cert" in text and "$.control.token_file" in text


def test_health_and_reflection(tmp_path, models_dir):
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9", model="x/0")
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    channel = grpc.insecure_channel(f"unix:{tmp_path / 'state' / 'control.sock'}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "framesift.control.v1.Control"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # List is advertised (reflection lists the Health service) and works
        listed = health.List(health_pb2.HealthListRequest(), timeout=5)
        assert {name: st.status for name, st in listed.statuses.items()} == {
            "": health_pb2.HealthCheckResponse.SERVING,
            "framesift.control.v1.Control": health_pb2.HealthCheckResponse.SERVING,
        }
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=5)  # fmt: skip
        names = {s.name for r in responses for s in r.list_services_response.service}
        assert {"framesift.control.v1.Control", "grpc.health.v1.Health"} <= names
        mode = (tmp_path / "state" / "control.sock").stat().st_mode & 0o777
        assert mode == 0o660
    finally:
        channel.close()
        daemon.stop()


def test_ctl_resume_says_why_capture_is_still_off(tmp_path, hub, models_dir, framesift_cmd):
    set_hub_config(hub, ALL | {"enabled": False})  # switched off at the server, deliberately
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    target = f"unix:{tmp_path / 'state' / 'control.sock'}"
    try:
        assert wait_until(lambda: client.status().config_origin == "remote", DEADLINE_S)
        proc = subprocess.run([*framesift_cmd, "ctl", "--target", target, "resume"], capture_output=True,
                              text=True, env=daemon.env, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == ("resumed, but capture is still off: the active-learning config in force "
                                       "(remote) has enabled: false")  # fmt: skip
    finally:
        client.close()
        daemon.stop()


def test_the_agent_names_itself_to_the_hub(tmp_path, hub, models_dir):
    """Config sync and uploads carry ``X-Framesift-Agent``: the hub's Fleet page lists the agent."""
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url=hub.url)
    cfg.write_text(cfg.read_text().replace("[agent]\n", '[agent]\nid = "yard-cam-3"\n'))
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().last_sync_result != "never", DEADLINE_S)

        def agents() -> list[tuple]:
            with sqlite3.connect(hub.data_dir / "index.sqlite") as db:
                return db.execute("SELECT * FROM agents").fetchall()

        assert wait_until(lambda: any("yard-cam-3" in row for row in agents()), DEADLINE_S), agents()
    finally:
        client.close()
        daemon.stop()


def test_a_video_file_loses_no_frame(tmp_path, models_dir):
    """A file is finite: when the model is slower than the reader, the reader waits (live streams drop)."""
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    rng = np.random.default_rng(1)
    for _ in range(120):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    cfg = write_toml(tmp_path / "agent.toml", state_dir=tmp_path / "state", hub_url="http://127.0.0.1:9", sources=f"""
[[sources]]
type = "video"
id = "clip"
path = "{video}"
queue_size = 2
""")  # fmt: skip
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().sources[0].state == "finished", DEADLINE_S)
        assert wait_until(lambda: client.status().frames_inferred == 120, DEADLINE_S), client.status()
        status = client.status()
        assert status.sources[0].frames == 120 and status.sources[0].dropped == 0
        assert dict(status.dropped_by_reason) == {} and status.frames_dropped == 0
    finally:
        client.close()
        daemon.stop()


def test_status_shows_limits_and_the_spool_age(tmp_path, hub, models_dir, data_dir):
    capped = al_config({"name": "capped", "type": "random", "traffic_percentage": 1.0,
                        "limits": [{"type": "daily", "value": 50}, {"type": "minutely", "value": 10}]})  # fmt: skip
    set_hub_config(hub, capped)
    inbox, cfg = inbox_config(tmp_path, hub.url)
    daemon = DaemonProcess(cfg, daemon_env(models_dir)).start()
    client = daemon.client()
    try:
        assert wait_until(lambda: client.status().config_origin == "remote", DEADLINE_S)
        hub.stop()  # frames wait in the spool
        for name in ("astronaut.jpg", "rocket.jpg"):
            shutil.copy(data_dir / name, inbox / name)
        assert wait_until(lambda: client.status().spool.count == 2, DEADLINE_S)
        status = client.status()
        limits = {(lim.strategy, lim.window): (lim.used, lim.cap) for lim in status.limits}
        assert limits[("capped", "daily")] == (2, 50) and limits[("capped", "minutely")] == (2, 10)
        assert status.spool_oldest_age_s >= 0
    finally:
        client.close()
        daemon.stop()
