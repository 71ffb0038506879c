"""Inference benchmark: bare onnxruntime vs the full pipeline, in one run.

* bare: ``OnnxRunner.run`` on a ready (B, 3, H, W) tensor;
* pipeline: JPEG bytes → decode (prefetch thread) → preprocess → infer → postprocess,
  exactly the path of ``framesift predict``.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.frames.prefetch import FileFrame, FramePrefetcher
from agent.images.decode import decode_image
from agent.inference.model import VisionModel


@dataclass
class InferenceBenchRow:
    """Results for one batch size."""

    batch_size: int
    bare_fps: float
    pipeline_fps: float
    bare_p50_ms: float
    bare_p99_ms: float
    pipeline_p50_ms: float
    pipeline_p99_ms: float
    postprocess_ms_per_frame: float
    preprocess_ms_per_frame: float

    @property
    def ratio(self) -> float:
        """pipeline / bare throughput."""
        return self.pipeline_fps / self.bare_fps if self.bare_fps else 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _percentiles(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def bench_batch_size(model: VisionModel, jpegs: Sequence[bytes], batch_size: int, frames: int) -> InferenceBenchRow:
    """Measure bare and pipeline throughput at one batch size over ``frames`` frames."""
    model.max_batch = batch_size
    model.preprocessor = type(model.preprocessor)(model.spec, batch_size)
    images = [decode_image(j).pixels for j in jpegs]
    batch_images = [images[i % len(images)] for i in range(batch_size)]
    tensor, _ = model.preprocessor(batch_images)
    tensor = tensor.copy()
    n_batches = max(2, frames // batch_size)
    model.runner.run(tensor)  # warm-up at this shape
    bare: list[float] = []
    t0 = time.perf_counter()
    for _ in range(n_batches):
        s = time.perf_counter()
        model.runner.run(tensor)
        bare.append(time.perf_counter() - s)
    bare_fps = n_batches * batch_size / (time.perf_counter() - t0)

    keys = [Path(f"frame-{i}") for i in range(n_batches * batch_size)]

    def load(path: Path, max_pixels: int) -> FileFrame:
        data = jpegs[int(path.name.split("-")[1]) % len(jpegs)]
        return FileFrame(path, b"", decode_image(data, path.name, max_pixels=max_pixels).pixels)

    latencies: list[float] = []
    post: list[float] = []
    pre: list[float] = []
    t0 = time.perf_counter()
    with FramePrefetcher(keys, batch_size, loader=load) as prefetch:
        for batch in prefetch:
            s = time.perf_counter()
            model.predict([f.pixels for f in batch.frames if f.pixels is not None])
            latencies.append(time.perf_counter() - s)
            post.append(model.last_times.postprocess_s / batch_size)
            pre.append(model.last_times.preprocess_s / batch_size)
    pipeline_fps = len(keys) / (time.perf_counter() - t0)
    b50, b99 = _percentiles(bare)
    p50, p99 = _percentiles(latencies)
    return InferenceBenchRow(
        batch_size=batch_size, bare_fps=bare_fps, pipeline_fps=pipeline_fps,
        bare_p50_ms=b50, bare_p99_ms=b99, pipeline_p50_ms=p50, pipeline_p99_ms=p99,
        postprocess_ms_per_frame=float(np.mean(post)) * 1000.0,
        preprocess_ms_per_frame=float(np.mean(pre)) * 1000.0,
    )  # fmt: skip
