"""The API key appears in no log line: the daemon at debug level and ``scan -vv`` against a real hub."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.daemon_process import DaemonProcess, daemon_env, inbox_config, wait_until
from tests.e2e.test_daemon import ALL, hub_count, set_hub_config
from tests.hub_process import API_KEY, HubProcess


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def test_the_key_is_in_no_output_of_daemon_or_scan(tmp_path, hub, models_dir, data_dir, framesift_cmd, cli_env):
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    set_hub_config(hub, ALL)
    inbox, cfg = inbox_config(tmp_path, hub.url)
    text = cfg.read_text().replace('log_level = "info"', 'log_level = "debug"')
    cfg.write_text(text.replace('project = "daemon"', f'project = "daemon"\napi_key_file = "{key_file}"'))
    env = daemon_env(models_dir)
    env.pop("FRAMESIFT_API_KEY")  # the key comes from the file only
    daemon = DaemonProcess(cfg, env).start()
    try:
        shutil.copy(data_dir / "astronaut.jpg", inbox / "a.jpg")
        assert wait_until(lambda: hub_count(hub) == 1, 60), "".join(daemon.lines[-20:])
    finally:
        daemon.stop()
    daemon_output = "".join(daemon.lines)
    scan_env = {k: v for k, v in cli_env.items() if k != "FRAMESIFT_API_KEY"}
    al = tmp_path / "al.json"
    al.write_text(json.dumps(ALL))
    scan = subprocess.run(
        [*framesift_cmd, "-vv", "scan", str(data_dir), "--model", "nudenet/1", "--config", str(al),
         "--state-dir", str(tmp_path / "scan-state"), "--output", str(tmp_path / "sel.jsonl"),
         "--dest", hub.url, "--project", "scan", "--api-key-file", str(key_file)],
        capture_output=True, text=True, env=scan_env, timeout=180,
    )  # fmt: skip
    assert scan.returncode == 0, scan.stderr[-2000:]
    combined = daemon_output + scan.stdout + scan.stderr
    # the requests were logged (so the test can fail) …
    assert "HTTP Request: POST" in combined and "api_key=***" in combined
    assert "DEBUG" in daemon_output
    # … and the key is nowhere
    assert API_KEY not in combined
    assert API_KEY.encode() not in combined.encode()
