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

from agent.config.al_config import validate_al_config
from agent.errors import ConfigError, ConfigIssue
from agent.frames.prefetch import load_file_frame
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.limits.local_store import LocalLimitStore
from agent.pipeline.collector import FrameCollector
from agent.predictions.roboflow_json import batch_to_roboflow
from agent.sampling.selector import ActiveLearningSelector
from agent.spool.disk_spool import DiskSpool
from agent.upload.client import ROBOFLOW_API_URL, UploadClient
from agent.upload.worker import Uploader

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
) -> list[dict[str, Any]]:
    """Run the model over a folder and upload the images that meet ``conditionals``.

    Returns ``[{"image": path, "predictions": [...]}]`` for every image inferred
    (predictions in Roboflow JSON, original pixels), as the SDK does.
    """
    if not inference_endpoint or len(inference_endpoint) != 2:
        raise ConfigError([ConfigIssue("inference_endpoint", "must be [project, version]")])
    model_id = f"{inference_endpoint[0]}/{inference_endpoint[1]}"
    project = upload_destination or str(inference_endpoint[0])
    config = validate_al_config(conditionals_to_config(conditionals, batch_name))
    files = sorted(Path(p) for p in glob.glob(os.path.join(raw_data_location, "*" + raw_data_extension)))
    model = ModelRegistry(models_dir or default_models_dir()).load(model_id, max_batch=8)
    base_url = local_server if use_localhost else os.environ.get("API_URL", ROBOFLOW_API_URL)
    key = api_key or os.environ.get("FRAMESIFT_API_KEY") or os.environ.get("ROBOFLOW_API_KEY", "")
    state = state_dir or Path(tempfile.mkdtemp(prefix="framesift-al-"))
    results: list[dict[str, Any]] = []
    limits = LocalLimitStore(state / "limits", project)
    spool = DiskSpool(state / "spool")
    client = UploadClient(base_url, key)
    selector = ActiveLearningSelector(config, limits, model_id=model_id)
    collector = FrameCollector(selector, spool, project)
    uploader = Uploader(spool, client, on_duplicate=collector.on_duplicate)
    uploader.start()
    try:
        for path in files:
            frame = load_file_frame(path)
            if frame.pixels is None:
                print(f" [X] skipped {path}: {frame.error.reason if frame.error else 'unreadable'}")
                continue
            batch = model.predict([frame.pixels])
            doc = batch_to_roboflow(batch)[0]
            results.append({"image": str(path), "predictions": doc.get("predictions", [])})
            if collector.collect(batch, [frame.pixels], [str(path)]).seqs:
                print(f" >> image uploaded! {path}")
        uploader.drain(drain_timeout_s)
    finally:
        uploader.stop()
        client.close()
        spool.close()
        limits.close()
    return results
