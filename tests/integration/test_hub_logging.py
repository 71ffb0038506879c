"""The API key appears in no log line of a hub at debug level (uvicorn's access log included)."""

from __future__ import annotations

import httpx

from tests.frames import jpeg_frame
from tests.hub_process import API_KEY, HubProcess


def test_api_key_never_logged_at_debug(tmp_path):
    log = tmp_path / "hub.log"
    hub = HubProcess(tmp_path / "data", log_path=log, extra_args=("--log-level", "debug")).start()
    wrong = "wrong-key-Zq81"
    try:
        httpx.post(f"{hub.url}/dataset/p/upload", params={"api_key": API_KEY}, files={"file": ("a.jpg", jpeg_frame(1))})
        httpx.post(f"{hub.url}/dataset/p/upload", params={"api_key": wrong}, files={"file": ("a.jpg", jpeg_frame(2))})
        httpx.get(f"{hub.url}/nope/a/b/c/d", params={"api_key": API_KEY})
        httpx.post(f"{hub.url}/ws/p/active_learning", params={"api_key": API_KEY}, content=b"[" * 100)
        bad = httpx.post(f"{hub.url}/", params={"api_key": wrong})
        assert API_KEY not in bad.text and wrong not in bad.text
    finally:
        hub.stop()
    text = log.read_text()
    assert "POST /dataset/p/upload" in text and "api_key=***" in text  # the access log did run
    assert API_KEY not in text and wrong not in text
