"""``bench batcher`` and ``bench daemon``: batching latency, idle cost, cold start."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.bench.process_stats import process_cpu_s, rss_mb
from agent.frames.frame import Frame
from agent.pipeline.batcher import DynamicBatcher


@dataclass
class BatcherBenchResult:
    """Added latency (enqueue → batch handed out) over all frames."""

    streams: int
    fps: float
    max_delay_ms: float
    frames: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_batch: float


def run_batcher_bench(streams: int = 4, fps: float = 15.0, max_delay_ms: float = 20.0, seconds: float = 6.0,
                      max_batch_size: int = 8) -> BatcherBenchResult:  # fmt: skip
    """``streams`` producer threads at ``fps`` each; a consumer that takes batches at once."""
    batcher = DynamicBatcher(max_batch_size, max_delay_ms)
    image = np.zeros((4, 4, 3), np.uint8)
    stop = threading.Event()
    waits: list[float] = []
    sizes: list[int] = []

    def produce(k: int) -> None:
        period = 1.0 / fps
        next_t = time.monotonic() + k * period / streams  # streams not in phase
        n = 0
        while not stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            batcher.put(Frame(f"cam{k}", f"cam{k}#{n}", image))
            n += 1
            next_t += period

    def consume() -> None:
        while not stop.is_set():
            batch = batcher.next_batch(stop, idle_wait_s=0.1)
            now = time.monotonic()
            waits.extend(now - f.enqueued_mono for f in batch)
            if batch:
                sizes.append(len(batch))

    threads = [threading.Thread(target=produce, args=(k,), daemon=True) for k in range(streams)]
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in [*threads, consumer]:
        t.join(2)
    arr = np.asarray(waits) * 1000
    return BatcherBenchResult(streams, fps, max_delay_ms, len(arr), float(np.percentile(arr, 50)),
                              float(np.percentile(arr, 99)), float(arr.max()), float(np.mean(sizes)))  # fmt: skip


@dataclass
class DaemonBenchResult:
    """Cold start and idle cost of ``framesift run``."""

    model_id: str
    ready_s: float
    idle_cpu_percent: float
    rss_mb: float


def run_daemon_bench(model_id: str, idle_s: float = 10.0) -> DaemonBenchResult:
    """Start ``framesift run`` with ``model_id``, time READY, then measure idle CPU and RSS."""
    with tempfile.TemporaryDirectory(prefix="framesift-bench-daemon-") as tmp:
        cfg = Path(tmp) / "agent.toml"
        cfg.write_text(
            f'[agent]\nstate_dir = "{tmp}/state"\n[model]\nid = "{model_id}"\n'
            '[destination]\nurl = "http://127.0.0.1:9"\nsync_interval_s = 60\n'
            '[metrics]\nlisten = ""\n'
        )
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(cfg)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ))  # fmt: skip
        assert proc.stdout is not None
        ready_s = -1.0
        for line in proc.stdout:
            if "framesift ready" in line:
                ready_s = time.monotonic() - t0
                break
        threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
        try:
            if ready_s < 0:
                raise RuntimeError("daemon did not become ready")
            time.sleep(2.0)  # let the first config sync and warm-up settle
            cpu0, w0 = process_cpu_s(proc.pid), time.monotonic()
            time.sleep(idle_s)
            cpu1, w1 = process_cpu_s(proc.pid), time.monotonic()
            cpu = (cpu1 - cpu0) / (w1 - w0) * 100
            rss = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(15)
    return DaemonBenchResult(model_id, ready_s, cpu, rss)
