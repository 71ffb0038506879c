"""OnnxRunner: an onnxruntime session with provider choice, warm-up and batching.

``providers="auto"`` picks TensorRT → CUDA → CPU among those the installed
onnxruntime build offers. Models with a dynamic batch dimension get the whole
batch in one call; a static batch of k is fed in chunks of k (the last chunk
padded), so any batch size works with any model.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.errors import DependencyError, ModelLoadError, ProviderUnavailableError

logger = logging.getLogger(__name__)

PROVIDER_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def import_onnxruntime() -> ModuleType:
    """Import onnxruntime, or explain which package to install."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise DependencyError(
            "onnxruntime is not installed: install `framesift[cpu]` (package onnxruntime) or, "
            "on a machine with an NVIDIA GPU, `framesift[gpu]` (package onnxruntime-gpu; on "
            "Jetson, NVIDIA's onnxruntime-gpu wheel for JetPack)"
        ) from exc
    module: ModuleType = onnxruntime
    return module


@dataclass(frozen=True)
class RunnerOptions:
    """How to build the onnxruntime session.

    Attributes:
        providers: "auto" or a list of provider names/aliases (tensorrt, cuda, cpu).
        trt_cache_dir: where TensorRT keeps built engines (first build takes minutes).
        trt_fp16: let TensorRT use FP16 kernels.
        intra_op_threads: threads inside one operator (0 = onnxruntime default).
        inter_op_threads: threads across operators (0 = onnxruntime default).
        device_id: GPU index for CUDA/TensorRT.
        cpu_mem_arena: keep onnxruntime's CPU arena (holds peak activation memory for the process
            lifetime). Off here; ``[model] cpu_mem_arena`` turns it on for the agent, where reusing the
            activation buffers saves every run its page faults (malloc maps blocks of 1 MiB or more
            afresh, see ``runtime/malloc_tuning.py``).
        memory_pattern: onnxruntime's memory pattern: one block planned per input shape. With the arena
            each new shape (batch 1 for Infer, a partial batch) then grows the arena by a whole block
            (measured: +46 MiB for YOLOv8n 320 after batches of 1 and 8); without it the arena's blocks
            are shared by every shape, at the same speed (batch 1 and 8 within noise).
        allow_spinning: let idle onnxruntime worker threads busy-wait. Off by default: on a
            small edge CPU spinning threads steal the cores that decode the next batch.
    """

    providers: str | Sequence[str] = "auto"
    trt_cache_dir: Path | None = None
    trt_fp16: bool = False
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    device_id: int = 0
    allow_spinning: bool = False
    cpu_mem_arena: bool = False
    memory_pattern: bool = True
    extra_session_config: dict[str, str] = field(default_factory=dict)


def parse_providers(text: str) -> str | list[str]:
    """``"auto"`` stays as is; ``"cuda, cpu"`` becomes ``["cuda", "cpu"]``."""
    if text.strip().lower() == "auto":
        return "auto"
    return [p.strip() for p in text.split(",") if p.strip()]


def resolve_providers(requested: str | Sequence[str], available: Sequence[str]) -> list[str]:
    """Return the provider names to use, in order.

    Raises:
        ProviderUnavailableError: an explicitly requested provider is not available.
    """
    if isinstance(requested, str) and requested.lower() == "auto":
        return [p for p in AUTO_ORDER if p in available] or list(available)
    names = [requested] if isinstance(requested, str) else list(requested)
    chosen: list[str] = []
    for name in names:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available:
            hint = (
                " (install framesift[gpu] / onnxruntime-gpu and check that the CUDA and "
                "cuDNN libraries it needs are on the library path)"
                if full != "CPUExecutionProvider"
                else ""
            )
            raise ProviderUnavailableError(
                f"execution provider {name!r} is not available; this onnxruntime offers {', '.join(available)}{hint}"
            )
        chosen.append(full)
    return chosen


def _provider_options(name: str, options: RunnerOptions) -> dict[str, Any]:
    if name == "TensorrtExecutionProvider":
        opts: dict[str, Any] = {"device_id": options.device_id, "trt_fp16_enable": options.trt_fp16}
        if options.trt_cache_dir is not None:
            options.trt_cache_dir.mkdir(parents=True, exist_ok=True)
            opts["trt_engine_cache_enable"] = True
            opts["trt_engine_cache_path"] = str(options.trt_cache_dir)
            opts["trt_timing_cache_enable"] = True
            opts["trt_timing_cache_path"] = str(options.trt_cache_dir)
        return opts
    if name == "CUDAExecutionProvider":
        return {"device_id": options.device_id}
    return {}


class OnnxRunner:
    """Runs one ONNX model. Thread-safe: ``run`` may be called from several threads.

    Attributes:
        input_name: name of the single image input.
        input_shape: declared input shape; strings/None for dynamic dims.
        output_names: outputs in declaration order.
        static_batch: the fixed batch size, or None when the batch dim is dynamic.
        providers: the providers the session actually uses.
        metadata: the model's custom metadata map.
    """

    def __init__(self, model_path: Path, options: RunnerOptions | None = None) -> None:
        self.model_path = model_path
        self.options = options or RunnerOptions()
        ort = import_onnxruntime()
        available = list(ort.get_available_providers())
        wanted = resolve_providers(self.options.providers, available)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.options.intra_op_threads:
            so.intra_op_num_threads = self.options.intra_op_threads
        if self.options.inter_op_threads:
            so.inter_op_num_threads = self.options.inter_op_threads
        so.enable_cpu_mem_arena = self.options.cpu_mem_arena
        so.enable_mem_pattern = self.options.memory_pattern
        if not self.options.allow_spinning:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        for key, value in self.options.extra_session_config.items():
            so.add_session_config_entry(key, value)
        providers = [(p, _provider_options(p, self.options)) for p in wanted]
        if not model_path.is_file():
            raise ModelLoadError(f"{model_path}: model file does not exist")
        try:
            self.session = ort.InferenceSession(str(model_path), so, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"{model_path}: onnxruntime could not load the model: {exc}") from exc
        self.providers: list[str] = list(self.session.get_providers())
        missing = [p for p in wanted if p not in self.providers]
        if missing:
            logger.warning(
                "onnxruntime did not enable %s for %s (using %s); check GPU drivers/libraries",
                ", ".join(missing),
                model_path.name,
                ", ".join(self.providers),
            )
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(f"{model_path}: expected one image input, found {len(inputs)}")
        self.input_name: str = inputs[0].name
        self.input_shape: list[int | str | None] = list(inputs[0].shape)
        if len(self.input_shape) != 4:
            raise ModelLoadError(f"{model_path}: expected a 4-D NCHW input, got shape {self.input_shape}")
        batch_dim = self.input_shape[0]
        self.static_batch: int | None = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        self.output_names: list[str] = [o.name for o in self.session.get_outputs()]
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self._use_io_binding = self.providers[0] == "CUDAExecutionProvider"
        self._lock = threading.Lock()

    def run(self, tensor: NDArray[np.float32]) -> list[NDArray[Any]]:
        """Run the model on a (B, 3, H, W) float32 tensor; returns the raw outputs.

        Each output keeps the batch as its first dimension, B rows long.
        """
        b = tensor.shape[0]
        k = self.static_batch
        if k is None or k == b:
            return self._run_once(tensor)
        chunks: list[list[NDArray[Any]]] = []
        for start in range(0, b, k):
            part = tensor[start : start + k]
            n = part.shape[0]
            if n < k:
                pad = np.zeros((k - n, *part.shape[1:]), dtype=part.dtype)
                part = np.concatenate([part, pad])
            chunks.append([o[:n] for o in self._run_once(part)])
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(self.output_names))]

    def _run_once(self, tensor: NDArray[np.float32]) -> list[NDArray[Any]]:
        tensor = np.ascontiguousarray(tensor)
        if self._use_io_binding:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.input_name, tensor)
            for name in self.output_names:
                binding.bind_output(name, "cpu")
            self.session.run_with_iobinding(binding)
            return list(binding.copy_outputs_to_cpu())
        return list(self.session.run(self.output_names, {self.input_name: tensor}))

    def warm_up(self, input_hw: tuple[int, int], batch_size: int = 1, runs: int = 2) -> None:
        """Run the model on zeros so the first real frame does not pay for allocation.

        With TensorRT the first run builds (or loads from the cache) the engine.
        """
        dummy = np.zeros((batch_size, 3, *input_hw), dtype=np.float32)
        for _ in range(runs):
            self.run(dummy)


def default_thread_count() -> int:
    """Cores available to this process (respects CPU affinity / cgroup sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
