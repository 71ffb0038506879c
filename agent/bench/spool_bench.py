"""``bench spool``: durable put vs raw write+fsync, drain rate to a hub, memory over 10,000 frames.

Every number is measured in the same run as its baseline.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.spool.disk_spool import DiskSpool
from agent.spool.records import SpoolItem
from agent.upload.client import UploadClient
from agent.upload.worker import Uploader, UploaderOptions


def current_rss_mb() -> float:
    """Resident set size now (Linux /proc), MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def _item(i: int, payload: bytes) -> SpoolItem:
    data = b"\xff\xd8\xff\xe0" + i.to_bytes(8, "little") + payload[12:]
    return SpoolItem(jpeg=data, sha256=hashlib.sha256(data).hexdigest(), project="bench", batch_name="b",
                     tags=(), strategy="s", inference_id=f"bench-{i}")  # fmt: skip


@dataclass
class SpoolBenchResult:
    """All measurements of one run."""

    frame_bytes: int
    raw_ms: float
    put_ms: float
    put_group_ms: float
    group: int
    drain_fps: float = 0.0
    drain_frames: int = 0
    rss_mb: list[float] = field(default_factory=list)

    @property
    def put_ratio(self) -> float:
        """raw time / put time (≥ 1 means put is as fast as raw write+fsync)."""
        return self.raw_ms / self.put_ms

    @property
    def group_ratio(self) -> float:
        """raw time / grouped put time per frame."""
        return self.raw_ms / self.put_group_ms


def measure_put(directory: Path, frame_bytes: int = 100_000, frames: int = 300, group: int = 8) -> SpoolBenchResult:
    """Interleaved rounds of raw write+fsync, single put and grouped put, same bytes."""
    payload = os.urandom(frame_bytes)
    raw_dir = directory / "raw"
    raw_dir.mkdir(parents=True)
    spool = DiskSpool(directory / "spool", max_bytes=2**40, max_count=10**7)
    raw_t = put_t = grp_t = 0.0
    n = 0
    rounds = max(1, frames // (group * 3))
    for r in range(rounds):
        t = time.perf_counter()
        for k in range(group):
            fd = os.open(raw_dir / f"{r}-{k}", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, payload)
            os.fsync(fd)
            os.close(fd)
        raw_t += time.perf_counter() - t
        t = time.perf_counter()
        for k in range(group):
            spool.put(_item(n + k, payload))
        put_t += time.perf_counter() - t
        t = time.perf_counter()
        spool.put_many([_item(n + group + k, payload) for k in range(group)])
        grp_t += time.perf_counter() - t
        n += 2 * group
    spool.close()
    per = rounds * group
    return SpoolBenchResult(frame_bytes, raw_t / per * 1000, put_t / per * 1000, grp_t / per * 1000, group)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_drain(directory: Path, frames: int = 600, frame_bytes: int = 50_000, connections: int = 4) -> float:
    """Frames per second from spool to a hub subprocess over loopback."""
    port = _free_port()
    hub = subprocess.Popen(
        [sys.executable, "-m", "agent", "hub", "--insecure-no-auth", "--data", str(directory / "hub"),
         "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        spool = DiskSpool(directory / "drain-spool", max_bytes=2**40, max_count=10**7)
        payload = os.urandom(frame_bytes)
        for start in range(0, frames, 50):
            spool.put_many([_item(i, payload) for i in range(start, min(frames, start + 50))])
        client = UploadClient(url, "bench", max_connections=connections)
        uploader = Uploader(spool, client, UploaderOptions(concurrency=connections))
        t = time.perf_counter()
        uploader.start()
        if not uploader.drain(300):
            raise RuntimeError("drain did not finish")
        elapsed = time.perf_counter() - t
        uploader.stop()
        client.close()
        spool.close()
        return frames / elapsed
    finally:
        hub.terminate()
        hub.wait(10)


def measure_memory(directory: Path, frames: int = 10_000, frame_bytes: int = 20_000) -> list[float]:
    """RSS (MiB) after every 1,000 frames of put → lease → ack."""
    spool = DiskSpool(directory / "mem-spool", max_bytes=2**40, max_count=10**7)
    payload = os.urandom(frame_bytes)
    samples = [current_rss_mb()]
    for i in range(frames):
        spool.put(_item(i, payload))
        record = spool.lease()
        assert record is not None
        spool.ack(record.seq)
        if (i + 1) % 1000 == 0:
            samples.append(current_rss_mb())
    spool.close()
    return samples


def run_spool_bench(work_dir: Path | None = None, drain: bool = True) -> SpoolBenchResult:
    """Everything, in a temporary directory on the same filesystem as ``work_dir``."""
    with tempfile.TemporaryDirectory(prefix="framesift-bench-", dir=work_dir) as tmp:
        root = Path(tmp)
        result = measure_put(root)
        if drain:
            result.drain_frames = 600
            result.drain_fps = measure_drain(root, result.drain_frames)
        result.rss_mb = measure_memory(root)
    return result
