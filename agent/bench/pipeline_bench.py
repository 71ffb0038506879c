"""``bench pipeline``: the real daemon end to end against bare onnxruntime, measured in the same run.

One hub (loopback) and one ``framesift run`` (folder source, metrics endpoint) are started;
then, ``runs`` times, interleaved:

* **bare**: this process loads the model with the daemon's ``[model]`` settings (same session
  options, batch size) and times ``OnnxRunner.run`` on a ready (B, 3, H, W) tensor right before
  and right after each scenario (their mean is the scenario's baseline, so a machine that drifts
  faster or slower during a run is charged to neither side), and on a batch of one; it also
  records the CPU seconds onnxruntime used (its cores per frame);
* **folder 5 % / 100 %**: ``frames`` distinct 1280×720 JPEGs, new ones for every scenario (the hub
  must ingest, not answer "duplicate"), are renamed into the watched folder (inotify
  ``IN_MOVED_TO``); throughput = frames / (first rename → last frame inferred);
* **SubmitFrames**: the same JPEGs streamed over the Unix socket at 5 % selection;
* **Infer**: p50 of single-frame ``Infer`` RPCs vs the p50 of bare batch-1 runs interleaved with
  them (one bare run, one call, …); where a call's time goes comes from the daemon's stage timers
  (mean per call), the rest being gRPC, the servicer and the JSON reply. Its floor on this machine
  is bare batch-1 + the JPEG decode + the round trip of a plain gRPC server whose handler takes as
  long as the model (:mod:`agent.bench.rpc_floor`): what no daemon that decodes the request can beat.

The hub stands in for a remote server: it runs at ``SCHED_IDLE`` (its ingest must not take the
cores the daemon is measured on), and every scenario starts once the daemon's spool is empty (the
previous scenario's uploads are not charged to the next one). The daemon's own upload work is
measured. Progress is polled sparingly (each GetStatus costs the daemon CPU).

Stage costs per inferred frame come from the daemon's ``framesift_stage_seconds`` histograms.
The CPU-bound ceiling of a scenario is ``min(1, cores / daemon_cpu × bare_s)`` per frame: what the
ratio could be if every core were busy all the time with the daemon's work (``daemon_cpu`` = the
daemon process's CPU seconds per frame from the first file to the last upload, every thread and
stage; ``bare_s`` = bare wall seconds per frame). Stage timers are wall time per frame and, for
the background threads, include the time they yield to the model, so they show where frames wait,
not what they cost. The JPEGs are camera-like (4:2:0, as every camera and the reference's
``cv2.imencode`` write them) unless ``subsampling="444"``, whose noisy chroma makes entropy
decoding about 60 % dearer.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import simplejpeg

from agent.bench.daemon_under_test import DaemonUnderTest, stage_sums
from agent.bench.process_stats import process_cpu_s, rss_mb
from agent.bench.rpc_floor import rpc_overhead_ms
from agent.config.agent_settings import ModelSection
from agent.inference.loading import load_model
from agent.inference.model import VisionModel

STAGES = ("decode", "preprocess", "infer", "postprocess", "sample", "prepare", "spool")


@dataclass
class ScenarioRun:
    """One measurement of one scenario (daemon and its same-run bare baseline)."""

    name: str
    daemon_fps: float
    bare_fps: float
    stage_ms: dict[str, float] = field(default_factory=dict)  # per inferred frame
    ceiling: float = 1.0
    cpu_ms: float = 0.0  # the daemon's CPU per frame (all threads, every stage, uploads included)
    ort_cpu_ms: float = 0.0  # bare onnxruntime's CPU per frame

    @property
    def ratio(self) -> float:
        """daemon / bare throughput."""
        return self.daemon_fps / self.bare_fps if self.bare_fps else 0.0


@dataclass
class PipelineBenchReport:
    """Every run of every scenario, the Infer latencies and the daemon's peak RSS."""

    frames: int
    batch_size: int
    cores: int
    subsampling: str = "420"
    runs: list[list[ScenarioRun]] = field(default_factory=list)
    infer_p50_ms: list[float] = field(default_factory=list)
    bare1_p50_ms: list[float] = field(default_factory=list)
    infer_parts_ms: list[dict[str, float]] = field(default_factory=list)  # mean per call: stage → ms, and "rpc"
    rpc_floor_ms: list[float] = field(default_factory=list)  # a plain gRPC round trip around an equal handler
    peak_rss_mb: float = 0.0
    idle_rss_mb: float = 0.0

    def infer_floor_ms(self, run: int) -> float:
        """Bare batch-1 + the request's decode + the plain gRPC round trip, in run ``run``."""
        decode = self.infer_parts_ms[run].get("decode", 0.0) if run < len(self.infer_parts_ms) else 0.0
        rpc = self.rpc_floor_ms[run] if run < len(self.rpc_floor_ms) else 0.0
        return self.bare1_p50_ms[run] + decode + rpc


def make_jpegs(count: int, width: int = 1280, height: int = 720, seed: int = 0,
               subsampling: str = "420") -> list[bytes]:  # fmt: skip
    """``count`` distinct JPEGs (quality 85): a smooth scene with a few shapes, shifted and noised per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 255 // width), (yy * 255 // height), ((xx + yy) * 127 // (width + height))], -1)
    base = base.astype(np.uint8)
    out = []
    for i in range(count):
        image = np.roll(base, (i * 7) % width, axis=1)
        x, y = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        image[y : y + 160, x : x + 120] = rng.integers(0, 255, 3, dtype=np.uint8)
        image = image + rng.integers(0, 6, (height, width, 1), dtype=np.uint8)  # distinct bytes
        out.append(simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=85, colorspace="BGR",
                                          colorsubsampling=subsampling))  # fmt: skip
    return out


class BareBaseline:
    """Bare onnxruntime with the daemon's model settings, in this process."""

    def __init__(self, section: ModelSection, models_dir: Path | None) -> None:
        model = load_model(section, models_dir)
        if not isinstance(model, VisionModel):
            raise ValueError(f"bench pipeline needs an ONNX model, {section.id!r} is the stub model")
        self.model = model
        h, w = model.spec.input_hw
        rng = np.random.default_rng(1)
        self.batch = rng.random((section.batch_size, 3, h, w), dtype=np.float32)
        self.single = self.batch[:1].copy()

    def throughput(self, frames: int) -> tuple[float, float]:
        """(frames/s, onnxruntime core-seconds per frame) over about ``frames`` frames."""
        b = self.batch.shape[0]
        n = max(2, frames // b)
        self.model.runner.run(self.batch)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            self.model.runner.run(self.batch)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return n * b / wall, cpu / (n * b)


def _stage_ms(before: dict[str, float], after: dict[str, float], frames: int) -> dict[str, float]:
    return {s: (after.get(s, 0.0) - before.get(s, 0.0)) * 1000 / frames for s in STAGES}


def _ceiling(daemon_cpu_s: float, frames: int, bare_fps: float, cores: int) -> float:
    """What the ratio could be with every core busy all the time on the daemon's measured CPU work per frame."""
    per_frame_s = daemon_cpu_s / frames
    return min(1.0, cores / per_frame_s / bare_fps) if per_frame_s > 0 else 1.0


def run_pipeline_bench(model_id: str, *, frames: int = 400, runs: int = 5, batch_size: int = 8,
                       infer_calls: int = 40, models_dir: Path | None = None, subsampling: str = "420",
                       progress: Callable[[str], None] = lambda _: None) -> PipelineBenchReport:  # fmt: skip
    """Measure every scenario ``runs`` times against the bare baseline of the same run."""
    cores = len(os.sched_getaffinity(0))
    report = PipelineBenchReport(frames, batch_size, cores, subsampling)
    progress(f"every scenario gets {frames} new distinct 1280x720 JPEGs ({subsampling})")
    seeds = iter(range(1_000_000))

    def fresh() -> list[bytes]:  # new pixels per scenario: the hub never answers "duplicate"
        return make_jpegs(frames, seed=next(seeds), subsampling=subsampling)

    bare = BareBaseline(ModelSection(id=model_id, batch_size=batch_size), models_dir)
    with tempfile.TemporaryDirectory(prefix="framesift-bench-pipeline-") as tmp:
        root = Path(tmp)
        daemon = DaemonUnderTest(root, model_id, batch_size)
        try:
            time.sleep(1.0)
            report.idle_rss_mb = rss_mb(daemon.daemon.pid, "VmRSS")
            staging = root / "staging"
            staging.mkdir()
            for run in range(runs):
                rows: list[ScenarioRun] = []
                for name, share in (("folder, 5 % selected", 0.05), ("folder, 100 % selected", 1.0)):
                    rows.append(_folder_scenario(daemon, bare, fresh(), staging, f"r{run}-{share}", name, share,
                                                 cores))  # fmt: skip
                    progress(f"run {run + 1}: {name}: {rows[-1].ratio:.2f}x bare")
                jpegs = fresh()
                rows.append(_submit_scenario(daemon, bare, jpegs, run, cores))
                progress(f"run {run + 1}: SubmitFrames: {rows[-1].ratio:.2f}x bare")
                daemon.wait_uploaded()
                infer = _infer_latency(daemon, bare, jpegs, infer_calls)
                report.infer_p50_ms.append(infer.p50_ms)
                report.bare1_p50_ms.append(infer.bare1_p50_ms)
                report.infer_parts_ms.append(infer.parts_ms)
                report.rpc_floor_ms.append(rpc_overhead_ms(infer.bare1_p50_ms, jpegs[0], infer_calls))
                progress(f"run {run + 1}: Infer p50 {infer.p50_ms:.1f} ms (bare batch-1 {infer.bare1_p50_ms:.1f} ms)")
                report.runs.append(rows)
            report.peak_rss_mb = rss_mb(daemon.daemon.pid, "VmHWM")
        finally:
            daemon.client.close()
            daemon.close()
    return report


def _folder_scenario(daemon: DaemonUnderTest, bare: BareBaseline, jpegs: list[bytes], staging: Path, tag: str,
                     name: str, share: float, cores: int) -> ScenarioRun:  # fmt: skip
    daemon.select(share)
    daemon.wait_uploaded()
    before = bare.throughput(len(jpegs))
    names = []
    for i, data in enumerate(jpegs):
        path = staging / f"{tag}-{i:05d}.jpg"
        path.write_bytes(data)
        names.append(path)
    base, sums = daemon.inferred(), stage_sums(daemon.metrics_url)
    cpu0, t0 = process_cpu_s(daemon.daemon.pid), time.monotonic()
    for path in names:
        path.rename(daemon.inbox / path.name)  # IN_MOVED_TO: complete at once
    t1 = daemon.wait_inferred(base + len(jpegs))
    stage_ms = _stage_ms(sums, _wait_settled(daemon), len(jpegs))
    daemon.wait_uploaded()
    cpu_s = process_cpu_s(daemon.daemon.pid) - cpu0  # every stage's work for these frames, uploads included
    for path in daemon.inbox.iterdir():
        path.unlink()
    fps = len(jpegs) / (t1 - t0)
    bare_fps, ort_cpu = _mean_baseline(before, bare.throughput(len(jpegs)))
    return ScenarioRun(name, fps, bare_fps, stage_ms, _ceiling(cpu_s, len(jpegs), bare_fps, cores),
                       cpu_ms=cpu_s * 1000 / len(jpegs), ort_cpu_ms=ort_cpu * 1000)  # fmt: skip


def _mean_baseline(before: tuple[float, float], after: tuple[float, float]) -> tuple[float, float]:
    """The bare (frames/s, CPU s per frame) of a scenario: the mean of the runs right before and after it."""
    return (before[0] + after[0]) / 2, (before[1] + after[1]) / 2


def _wait_settled(daemon: DaemonUnderTest) -> dict[str, float]:
    """Stage sums once the prepare stage has committed everything (prepare/spool finish after inference)."""
    pending = re.compile(r"^framesift_prepare_pending_frames (\S+)$", re.M)
    for _ in range(600):
        match = pending.search(httpx.get(daemon.metrics_url, timeout=5).text)
        if match is None or float(match.group(1)) == 0:
            break
        time.sleep(0.05)
    return stage_sums(daemon.metrics_url)


def _submit_scenario(daemon: DaemonUnderTest, bare: BareBaseline, jpegs: list[bytes], run: int,
                     cores: int) -> ScenarioRun:  # fmt: skip
    daemon.select(0.05)
    daemon.wait_uploaded()
    before = bare.throughput(len(jpegs))
    base, sums = daemon.inferred(), stage_sums(daemon.metrics_url)
    cpu0, t0 = process_cpu_s(daemon.daemon.pid), time.monotonic()
    reply = daemon.client.submit_frames((data, "host-app", f"r{run}-{i}") for i, data in enumerate(jpegs))
    if reply.accepted != len(jpegs):
        raise RuntimeError(f"SubmitFrames accepted {reply.accepted} of {len(jpegs)} frames")
    t1 = daemon.wait_inferred(base + len(jpegs))
    stage_ms = _stage_ms(sums, _wait_settled(daemon), len(jpegs))
    daemon.wait_uploaded()
    cpu_s = process_cpu_s(daemon.daemon.pid) - cpu0
    bare_fps, ort_cpu = _mean_baseline(before, bare.throughput(len(jpegs)))
    return ScenarioRun("SubmitFrames, 5 % selected", len(jpegs) / (t1 - t0), bare_fps, stage_ms,
                       _ceiling(cpu_s, len(jpegs), bare_fps, cores), cpu_ms=cpu_s * 1000 / len(jpegs),
                       ort_cpu_ms=ort_cpu * 1000)  # fmt: skip


@dataclass
class InferLatency:
    """One run's ``Infer`` measurement: p50s and the mean ms per call of each part."""

    p50_ms: float
    bare1_p50_ms: float
    parts_ms: dict[str, float]


INFER_PARTS = ("decode", "preprocess", "infer", "postprocess")


def _infer_latency(daemon: DaemonUnderTest, bare: BareBaseline, jpegs: list[bytes], calls: int) -> InferLatency:
    """``calls`` Infer RPCs interleaved with as many bare batch-1 runs (each pair sees the same machine)."""
    daemon.client.infer(jpegs[0])  # warm the path
    bare.model.runner.run(bare.single)
    sums = stage_sums(daemon.metrics_url)
    times, bare_times = [], []
    for i in range(calls):
        t0 = time.perf_counter()
        bare.model.runner.run(bare.single)
        t1 = time.perf_counter()
        daemon.client.infer(jpegs[i % len(jpegs)])
        times.append(time.perf_counter() - t1)
        bare_times.append(t1 - t0)
    parts = {k: v for k, v in _stage_ms(sums, stage_sums(daemon.metrics_url), calls).items() if k in INFER_PARTS}
    parts["rpc"] = max(0.0, float(np.mean(times)) * 1000 - sum(parts.values()))
    return InferLatency(float(np.median(times) * 1000), float(np.median(bare_times) * 1000), parts)


def report_json(report: PipelineBenchReport) -> str:
    """The report as JSON (every run)."""
    runs = [[{"name": r.name, "daemon_fps": r.daemon_fps, "bare_fps": r.bare_fps, "ratio": r.ratio,
              "ceiling": r.ceiling, "cpu_ms": r.cpu_ms, "ort_cpu_ms": r.ort_cpu_ms, "stage_ms": r.stage_ms}
             for r in rows] for rows in report.runs]  # fmt: skip
    return json.dumps({"frames": report.frames, "batch_size": report.batch_size, "cores": report.cores,
                       "subsampling": report.subsampling,
                       "runs": runs, "infer_p50_ms": report.infer_p50_ms, "bare1_p50_ms": report.bare1_p50_ms,
                       "infer_parts_ms": report.infer_parts_ms, "rpc_floor_ms": report.rpc_floor_ms,
                       "peak_rss_mb": report.peak_rss_mb, "idle_rss_mb": report.idle_rss_mb}, indent=2)  # fmt: skip
