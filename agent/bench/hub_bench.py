"""``framesift bench hub``: concurrent uploaders (image + annotation) through hub processes.

Scenarios: the SQLite default (one hub process) and, with ``--database``, two hub processes
on one PostgreSQL sharing a blob directory (round-robin, as behind a load balancer). After
each run the store is read back: every frame must be there exactly once (by SHA-256).
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import simplejpeg

from agent.runtime.threads import join_all_or_warn


@dataclass(frozen=True)
class HubBenchResult:
    """One scenario: throughput, latency percentiles (upload + annotate), loss and duplicates."""

    scenario: str
    frames: int
    seconds: float
    uploads_per_s: float
    p50_ms: float
    p99_ms: float
    lost: int
    duplicated: int
    errors: int


def _frames(count: int, seed: int) -> list[bytes]:
    """``count`` distinct small JPEGs (uint8 noise, 48 x 64 x 3)."""
    rng = np.random.default_rng(seed)
    return [simplejpeg.encode_jpeg(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), quality=80)
            for _ in range(count)]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_hub(data: Path, database: str | None, blobs: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    args = [sys.executable, "-m", "agent", "hub", "--data", str(data), "--listen", f"127.0.0.1:{port}",
            "--insecure-no-auth"]  # fmt: skip
    if database:
        args += ["--database", database, "--blobs", str(blobs)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("hub did not start")


def _drive(urls: list[str], frames: list[bytes], uploaders: int, project: str) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    cursor = iter(range(len(frames)))

    def work() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    n = next(cursor, None)
                if n is None:
                    return
                url = urls[n % len(urls)]
                t0 = time.perf_counter()
                try:
                    r = client.post(f"{url}/dataset/{project}/upload", params={"api_key": "bench", "batch": "bench"},
                                    files={"file": (f"f{n}.jpg", frames[n], "image/jpeg")})  # fmt: skip
                    body = (f'{{"predictions": [{{"x": 20, "y": 20, "width": 10, "height": 8, "class": "c{n % 5}",'
                            f' "confidence": 0.5}}]}}')  # fmt: skip
                    a = client.post(f"{url}/dataset/{project}/annotate/{r.json()['id']}",
                                    params={"api_key": "bench", "name": f"f{n}.json"}, content=body)  # fmt: skip
                    ok = r.status_code == 200 and a.status_code == 200
                except (httpx.HTTPError, ValueError, KeyError):
                    ok = False
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    errors[0] += 0 if ok else 1

    threads = [threading.Thread(target=work, name=f"bench-uploader-{i}", daemon=True) for i in range(uploaders)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    join_all_or_warn(threads, 600)
    return latencies, errors[0], time.perf_counter() - t0


def run_scenario(name: str, frames: list[bytes], uploaders: int, database: str | None, replicas: int) -> HubBenchResult:
    """Start the hub(s), upload every frame with its annotation, read the store back."""
    from agent.hub.store import open_store

    with tempfile.TemporaryDirectory(prefix="framesift-hub-bench-") as tmp:
        root = Path(tmp)
        started = [_start_hub(root / f"hub{i}", database, root / "blobs") for i in range(replicas)]
        try:
            project = f"bench-{time.time_ns()}"
            latencies, errors, seconds = _drive([u for _, u in started], frames, uploaders, project)
        finally:
            for proc, _ in started:
                proc.terminate()
                proc.wait(15)
        store = open_store(root / "hub0", database, root / "blobs")
        try:
            stored = store.sha256s(project)
        finally:
            store.close()
    expected = {hashlib.sha256(f).hexdigest() for f in frames}
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return HubBenchResult(name, len(frames), seconds, len(frames) / seconds, float(np.percentile(ms, 50)),
                          float(np.percentile(ms, 99)), len(expected - set(stored)), len(stored) - len(set(stored)),
                          errors)  # fmt: skip


def run_hub_bench(frames: int, uploaders: int, database: str | None) -> list[HubBenchResult]:
    """The SQLite default, then (with ``database``) two replicas on PostgreSQL."""
    data = _frames(frames, seed=11)
    results = [run_scenario("sqlite, 1 hub", data, uploaders, None, 1)]
    if database:
        results.append(run_scenario("postgresql, 2 hubs", data, uploaders, database, 2))
    return results
