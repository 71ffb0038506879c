"""The ``framesift`` command line: parses arguments and dispatches to a command module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from agent import __version__
from agent.cli import (
    bench_cmd,
    config_cmd,
    ctl_cmd,
    hub_cmd,
    models_cmd,
    predict_cmd,
    run_cmd,
    sample_cmd,
    scan_cmd,
    spool_cmd,
)
from agent.errors import FramesiftError

logger = logging.getLogger("framesift")

COMMANDS = (run_cmd, ctl_cmd, predict_cmd, scan_cmd, sample_cmd, config_cmd, spool_cmd, hub_cmd, models_cmd, bench_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (one sub-parser per command)."""
    parser = argparse.ArgumentParser(
        prog="framesift",
        description="Edge active-learning agent: run an ONNX model on frames, keep the ones "
        "worth labeling, upload them with draft annotations.",
    )
    parser.add_argument("--version", action="version", version=f"framesift {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def configure_logging(verbosity: int) -> None:
    """Readable one-line-per-event logs on stderr."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        import cv2

        cv2.setLogLevel(2)  # errors only: no libpng/libjpeg chatter on bad files
    except (ImportError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    configure_logging(args.verbose)
    try:
        code: int = args.run(args)
        return code
    except FramesiftError as exc:
        print(f"framesift: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("framesift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
