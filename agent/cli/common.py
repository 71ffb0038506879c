"""Arguments shared by several commands (model selection, runtime options)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import grpc
from pydantic import ValidationError

from agent.config.agent_settings import ModelSection, default_state_dir
from agent.config.environment import read_environment
from agent.config.secret_files import read_secret_text
from agent.control.client import ControlClient
from agent.errors import ConfigError, ConfigIssue
from agent.runtime.log_redaction import redact


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help unless the text already says what the default is.

    An option without a default shows "(default: none)"; a flag (off unless given) is left as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)
        is_flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        if not shown or action.required or is_flag or "default" in text or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: none)" if action.default is None else f"{text} (default: %(default)s)"


def unit_interval(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1]")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isinf(value) or abs(value) > 1e9:  # inf or 1e300 s: a timer no clock can hold
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (at most 1e9)")
    return value


def http_url(text: str) -> str:
    """argparse type: an http(s) URL with a host (its password masked in the error)."""
    try:
        parsed = urlsplit(text)
        usable = parsed.scheme in ("http", "https") and bool(parsed.hostname)
        _ = parsed.port  # raises for a port that is not a number or above 65535
    except ValueError:  # an unclosed [IPv6 bracket: argparse would print the raw value, password included
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{redact(text)!r} is not an http:// or https:// URL with a host")
    return text


def seed_int(text: str) -> int:
    """argparse type: a random seed, 0 <= n < 2**64 (what numpy's generators take)."""
    value = _integer(text)
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 2**64 - 1")
    return value


def int_between(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        value = positive_int(text) if low >= 1 else _integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}-{high}")
        return value

    parse.__name__ = f"integer {low}-{high}"
    return parse


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (durations, rates)."""
    value = _number(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0 (a delay that may be none, as ``[model] max_delay_ms``)."""
    value = _number(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
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
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads; 0: onnxruntime chooses")
    parser.add_argument(
        "--trt-cache",
        type=Path,
        default=None,
        help="TensorRT engine cache directory (default: none, engines rebuilt at each start)",
    )
    parser.add_argument("--fp16", action="store_true", help="allow TensorRT FP16")


def model_section_from(args: argparse.Namespace, batch_size: int = 8) -> ModelSection:
    """The ``[model]`` settings equivalent to the model arguments (one model-loading path for every command).

    Raises:
        ConfigError: an option out of range, named by its flag.
    """
    try:
        return ModelSection(id=args.model, providers=args.providers, batch_size=batch_size,
                            confidence=args.confidence, iou=args.iou, threads=args.threads,
                            trt_cache_dir=args.trt_cache, trt_fp16=args.fp16)  # fmt: skip
    except ValidationError as exc:
        flags = {"id": "--model", "batch_size": "--batch-size", "trt_cache_dir": "--trt-cache", "trt_fp16": "--fp16"}
        raise ConfigError([ConfigIssue(flags.get(str(e["loc"][0]), f"--{e['loc'][0]}"), e["msg"])
                           for e in exc.errors(include_url=False)]) from None  # fmt: skip


def default_control_target() -> str:
    """``$FRAMESIFT_CONTROL``, else the packaged socket when it exists, else ``<state dir>/control.sock``."""
    env = read_environment()
    if env.control_target:
        return env.control_target
    packaged = Path("/run/framesift/control.sock")  # the systemd unit's RuntimeDirectory
    if packaged.exists() and env.state_dir is None:
        return f"unix:{packaged}"
    return f"unix:{default_state_dir() / 'control.sock'}"


def add_control_target_arguments(p: argparse.ArgumentParser) -> None:
    """--target, --token-file, --ca: where the running agent's control API is."""
    p.add_argument("--target", default=None,
                   help="unix:/path/control.sock or host:port with TLS (default $FRAMESIFT_CONTROL, else "
                        "/run/framesift/control.sock when present, else <state dir>/control.sock)")  # fmt: skip
    p.add_argument("--token-file", type=Path, default=None,
                   help="bearer token for TCP (default $FRAMESIFT_CONTROL_TOKEN)")  # fmt: skip
    p.add_argument("--ca", type=Path, default=None, help="CA certificate for TCP (default: the system's)")


def control_client_from(args: argparse.Namespace) -> ControlClient:
    """A client for the agent named by the control target arguments."""
    token = read_secret_text(args.token_file, "--token-file") if args.token_file else read_environment().control_token
    return ControlClient(args.target or default_control_target(), ca_file=args.ca, token=token)


def report_rpc_error(client: ControlClient, exc: grpc.RpcError) -> int:
    """Print one line for a failed control call on stderr; returns the exit code (1)."""
    reason = client.not_running_reason(exc)
    print(f"framesift: error: {reason or f'{exc.code().name}: {exc.details()}'}", file=sys.stderr)
    return 1
