"""The ``framesift`` command line: parses arguments and dispatches to a command module."""

from __future__ import annotations

import argparse
import logging
import os
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
    top_cmd,
)
from agent.cli.common import DefaultsHelpFormatter
from agent.cli.native_stderr import native_noise_filtered
from agent.config.environment import read_environment
from agent.errors import FramesiftError
from agent.runtime.log_redaction import install_redaction

logger = logging.getLogger("framesift")

COMMANDS = (
    run_cmd, ctl_cmd, top_cmd, predict_cmd, scan_cmd, sample_cmd, config_cmd, spool_cmd, hub_cmd, models_cmd, bench_cmd
)  # fmt: skip
# long-running services keep their stderr untouched (journald sees exactly what they write)
SERVICE_COMMANDS = frozenset({"run", "hub"})
SIGPIPE_EXIT_CODE = 141  # what a shell reports for a process ended by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (one sub-parser per command)."""
    parser = argparse.ArgumentParser(
        prog="framesift",
        description="Edge active-learning agent: run an ONNX model on frames, keep the ones "
        "worth labeling, upload them with draft annotations.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"framesift {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    _use_formatter(parser)
    return parser


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """Every (sub-)parser shows each option's default in its help."""
    parser.formatter_class = DefaultsHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _use_formatter(child)


def configure_logging(verbosity: int) -> None:
    """Readable one-line-per-event logs on stderr."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    env = read_environment()
    install_redaction([env.api_key, env.roboflow_api_key, env.control_token or ""])
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
    if args.command in SERVICE_COMMANDS:
        configure_logging(args.verbose)
        return _run(args)
    with native_noise_filtered():
        configure_logging(args.verbose)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.run(args)
        sys.stdout.flush()
        return code
    except FramesiftError as exc:
        print(f"framesift: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("framesift: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`framesift … | head`): end quietly, as a SIGPIPE'd tool would.
        # Python would otherwise report the error again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_EXIT_CODE
    except OSError as exc:  # a file or directory the command needed: one line (-v logs the traceback)
        logging.getLogger("framesift").debug("%s failed", args.command, exc_info=exc)
        print(f"framesift: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
