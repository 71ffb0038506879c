"""load_model: the one way the agent loads a model, from a ``[model]`` settings section.

The daemon (start, hot swap, stuck-runner restart), ``scan``, ``predict``, ``bench``
and the SDK function all load through here, so they agree on providers, threads,
TensorRT options, thresholds and warm-up.
"""

from __future__ import annotations

from pathlib import Path

from agent.config.agent_settings import ModelSection
from agent.inference.model import Model
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.inference.runner import RunnerOptions, parse_providers
from agent.predictions.batch import TaskType


def runner_options(section: ModelSection) -> RunnerOptions:
    """onnxruntime options of a ``[model]`` section."""
    return RunnerOptions(providers=parse_providers(section.providers), trt_cache_dir=section.trt_cache_dir,
                         trt_fp16=section.trt_fp16, intra_op_threads=section.threads,
                         cpu_mem_arena=section.cpu_mem_arena,
                         memory_pattern=not section.cpu_mem_arena)  # the arena reuses blocks across shapes  # fmt: skip


def load_model(
    section: ModelSection,
    models_dir: Path | None = None,
    *,
    model_id: str | None = None,
    max_batch: int | None = None,
    warm: bool = True,
) -> Model:
    """Resolve, load and (by default) warm up a model.

    Args:
        section: the ``[model]`` settings (id, providers, thresholds, batch size).
        models_dir: where ``project/version/model.onnx`` live (default: the environment's or the cache's).
        model_id: load this id or path instead of ``section.id`` (hot swap).
        max_batch: largest batch the model will see (default ``section.batch_size``).
        warm: run one batch of the largest size so the first real batch is not slow.

    Raises:
        ModelNotFoundError, ModelLoadError, ProviderUnavailableError: with what and where.
    """
    registry = ModelRegistry(models_dir or default_models_dir())
    model = registry.load(
        model_id or section.id, max_batch=max_batch or section.batch_size, runner_options=runner_options(section),
        params=PostprocessParams(confidence_threshold=section.confidence, iou_threshold=section.iou),
        stub_task=TaskType(section.stub_task),
    )  # fmt: skip
    if warm:
        model.warm_up()
    return model
