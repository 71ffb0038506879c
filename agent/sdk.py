"""``active_learning()`` with the parameter names of the Roboflow SDK's ``Workspace.active_learning()``.

What is the same: ``raw_data_location`` + ``raw_data_extension`` pick the files
(non-recursive glob), ``inference_endpoint=[project, version]`` names the model,
``upload_destination`` the project, ``conditionals`` the rules (same keys, same
defaults, percent confidence, strict box-area bounds, the "any detection" rule) and
the return value is ``[{"image": path, "predictions": [...]}]`` for every image
inferred.

What is done right (documented in README):
  * the model runs locally (``models_dir``/``project/version/model.onnx``) instead of a
    hosted endpoint; ``use_localhost`` / ``local_server`` select the *upload*
    destination (a framesift hub) instead of an inference server;
  * files are sorted, a bad file is skipped and reported instead of aborting the run;
  * ``required_class_variance_count`` works (distinct classes ≥ N) instead of being ignored;
  * the prediction is uploaded as a draft annotation, the upload survives crashes and
    outages (spool), and a rerun resumes without re-uploading;
  * the similarity gate (an enterprise endpoint) is replaced by the local dHash
    near-duplicate filter (``similarity_confidence_threshold`` is accepted and maps to it).
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path
from typing import Any

from agent.config.agent_settings import (
    ActiveLearningSection,
    AgentSection,
    AgentSettings,
    DestinationSection,
    ModelSection,
)
from agent.config.al_config import validate_al_config
from agent.config.environment import read_environment
from agent.config.snapshot import StaticConfig
from agent.errors import ConfigError, ConfigIssue
from agent.frames.prefetch import FileFrame
from agent.pipeline.assembly import build_pipeline
from agent.pipeline.stage_result import StageResult
from agent.predictions.roboflow_json import batch_to_roboflow
from agent.runtime.log_redaction import install_redaction
from agent.upload.client import ROBOFLOW_API_URL

SDK_CONDITIONAL_KEYS = {
    "target_classes", "confidence_interval", "required_objects_count", "required_class_count",
    "required_class_variance_count", "minimum_size_requirement", "maximum_size_requirement",
    "similarity_confidence_threshold", "similarity_timeout_limit",
}  # fmt: skip


def conditionals_to_config(conditionals: dict[str, Any] | None, batch_name: str) -> dict[str, Any]:
    """The active-learning config equivalent to the SDK's ``conditionals``."""
    cond = dict(conditionals or {})
    unknown = set(cond) - SDK_CONDITIONAL_KEYS
    if unknown:
        raise ConfigError([ConfigIssue(f"$.conditionals.{k}", "unknown conditional") for k in sorted(unknown)])
    strategy: dict[str, Any] = {"name": "sdk_conditionals", "type": "sdk_conditionals"}
    for key in SDK_CONDITIONAL_KEYS - {"similarity_confidence_threshold", "similarity_timeout_limit"}:
        if key in cond and cond[key] is not None:
            value = cond[key]
            if key.endswith("_size_requirement") and value in (float("inf"), float("-inf")):
                continue
            strategy[key] = list(value) if key == "confidence_interval" else value
    config: dict[str, Any] = {
        "enabled": True,
        "persist_predictions": True,
        "sampling_strategies": [strategy],
        "batching_strategy": {"batches_name_prefix": batch_name, "recreation_interval": "never"},
    }
    if "similarity_confidence_threshold" in cond:
        # CLIP similarity in [0, 1] (lower = more different) → allowed dHash bit distance
        threshold = float(cond["similarity_confidence_threshold"])
        config["near_duplicate_filter"] = {
            "max_hamming_distance": max(0, min(64, round(64 * (1 - threshold) / 4))),
            "history_size": 1,
        }
    return config


def active_learning(
    raw_data_location: str = "",
    raw_data_extension: str = "",
    inference_endpoint: list[Any] | None = None,
    upload_destination: str = "",
    conditionals: dict[str, Any] | None = None,
    use_localhost: bool = False,
    local_server: str = "http://localhost:9001/",
    *,
    api_key: str | None = None,
    models_dir: Path | None = None,
    state_dir: Path | None = None,
    batch_name: str = "Pip Package Upload",
    drain_timeout_s: float = 120.0,
    batch_size: int = 8,
    redis_url: str | None = None,
) -> list[dict[str, Any]]:
    """Run the model over a folder and upload the images that meet ``conditionals``.

    Built by the same assembly as ``framesift run`` and ``scan``: batched inference
    (``batch_size``), a warmed model, limits shared through Redis when ``redis_url``
    (or ``$FRAMESIFT_REDIS_URL``) is set, a durable spool under ``state_dir``.
    Every call infers every file (as the SDK does); re-uploads are avoided by the
    server's deduplication, not by skipping files.

    Returns ``[{"image": path, "predictions": [...]}]`` for every image inferred
    (predictions in Roboflow JSON, original pixels), as the SDK does.
    """
    if not inference_endpoint or len(inference_endpoint) != 2:
        raise ConfigError([ConfigIssue("inference_endpoint", "must be [project, version]")])
    model_id = f"{inference_endpoint[0]}/{inference_endpoint[1]}"
    project = upload_destination or str(inference_endpoint[0])
    config = validate_al_config(conditionals_to_config(conditionals, batch_name))
    files = sorted(Path(p) for p in glob.glob(os.path.join(raw_data_location, "*" + raw_data_extension)))
    env = read_environment()
    base_url = local_server if use_localhost else env.api_url or ROBOFLOW_API_URL
    key = api_key or env.api_key or env.roboflow_api_key
    install_redaction([key])  # httpx logs request URLs, and the key travels in the query string
    settings = AgentSettings(
        agent=AgentSection(state_dir=state_dir or Path(tempfile.mkdtemp(prefix="framesift-al-")),
                           models_dir=models_dir),
        model=ModelSection(id=model_id, batch_size=batch_size),
        destination=DestinationSection(url=base_url, project=project),
        active_learning=ActiveLearningSection(redis_url=redis_url or env.redis_url),
    )  # fmt: skip
    results: list[dict[str, Any]] = []

    def on_batch(chunk: list[FileFrame], result: StageResult) -> None:
        for file in chunk:
            if file.error is not None:
                print(f" [X] skipped {file.path}: {file.error.reason}")
        if result.batch is None:
            return
        docs = batch_to_roboflow(result.batch)
        for frame, doc in zip(result.frames, docs, strict=True):
            results.append({"image": frame.frame_id, "predictions": doc.get("predictions", [])})
        if result.decision is not None and result.seqs:  # spooled: delivered by the uploader
            for sel in result.decision.selections:
                print(f" >> image uploaded! {result.frames[sel.frame].frame_id}")

    pipeline = build_pipeline(settings, StaticConfig.of(config, origin="sdk"), api_key=key)
    try:
        pipeline.start_uploads()
        pipeline.run_files(files, on_batch)
        pipeline.drain(drain_timeout_s)
    finally:
        pipeline.close()
    return results
