"""Arguments shared by several commands (model selection, runtime options)."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.inference.postprocess.params import PostprocessParams
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.inference.runner import RunnerOptions, parse_providers


def unit_interval(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1]")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def add_model_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """--model, --models-dir, thresholds and onnxruntime options."""
    parser.add_argument(
        "--model",
        required=required,
        metavar="ID_OR_PATH",
        help="model id project/version (project/0 = stub) or an .onnx file",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="where project/version/model.onnx live (default $FRAMESIFT_MODELS_DIR or ~/.cache/framesift/models)",
    )
    parser.add_argument(
        "--confidence",
        type=unit_interval,
        default=0.25,
        help="drop detections below this confidence (0..1, default 0.25)",
    )
    parser.add_argument("--iou", type=unit_interval, default=0.45, help="NMS IoU threshold (default 0.45)")
    parser.add_argument(
        "--providers", default="auto", help="auto (TensorRT > CUDA > CPU) or a comma list, e.g. cuda,cpu"
    )
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = onnxruntime default)")
    parser.add_argument("--trt-cache", type=Path, default=None, help="TensorRT engine cache directory")
    parser.add_argument("--fp16", action="store_true", help="allow TensorRT FP16")


def registry_from(args: argparse.Namespace) -> ModelRegistry:
    """The model registry for --models-dir."""
    return ModelRegistry(args.models_dir or default_models_dir())


def runner_options_from(args: argparse.Namespace) -> RunnerOptions:
    """RunnerOptions from the parsed arguments."""
    return RunnerOptions(providers=parse_providers(args.providers), trt_cache_dir=args.trt_cache,
                         trt_fp16=args.fp16, intra_op_threads=args.threads)  # fmt: skip


def params_from(args: argparse.Namespace) -> PostprocessParams:
    """Postprocess thresholds; ValueError names the bad one."""
    return PostprocessParams(confidence_threshold=args.confidence, iou_threshold=args.iou)
