"""The CLI's last line of defence: an error a command lets through is one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import errno

import pytest

from agent.cli.main import _run
from agent.errors import PathArgumentError


def _raiser(exc: BaseException):
    def run(args: argparse.Namespace) -> int:
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (PathArgumentError("--dir", "/x", "not a directory"), 1, "framesift: error: --dir /x: not a directory"),
        (PermissionError(errno.EACCES, "Permission denied", "/root/out.json"), 1,
         "framesift: error: [Errno 13] Permission denied: '/root/out.json'"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/gone"), 1,
         "framesift: error: [Errno 2] No such file or directory: '/gone'"),
        (KeyboardInterrupt(), 130, "framesift: interrupted"),
    ],
)  # fmt: skip
def test_an_error_is_one_line(capsys, exc, code, line):
    assert _run(argparse.Namespace(command="bench", run=_raiser(exc))) == code
    err = capsys.readouterr().err
    assert err.splitlines() == [line]
