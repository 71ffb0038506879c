"""bench options that count or time something refuse zero, negative and NaN values with argparse's one line."""

from __future__ import annotations

import pytest

from agent.cli.main import build_parser

CASES = [
    (["bench", "sampling", "--frames", "-1"], "argument --frames: -1 must be >= 1"),
    (["bench", "sampling", "--repeats", "0"], "argument --repeats: 0 must be >= 1"),
    (["bench", "hub", "--frames", "0"], "argument --frames: 0 must be >= 1"),
    (["bench", "hub", "--uploaders", "x"], "argument --uploaders: 'x' is not an integer"),
    (["bench", "batcher", "--fps", "nan"], "argument --fps: nan must be > 0"),
    (["bench", "batcher", "--seconds", "-2"], "argument --seconds: -2.0 must be > 0"),
    (["bench", "batcher", "--max-delay-ms", "-1"], "argument --max-delay-ms: -1.0 must be >= 0"),
    (["bench", "daemon", "--idle-s", "0"], "argument --idle-s: 0.0 must be > 0"),
    (["bench", "pipeline", "--runs", "0"], "argument --runs: 0 must be >= 1"),
    (["bench", "pipeline", "--batch-size", "-8"], "argument --batch-size: -8 must be >= 1"),
    (["bench", "selection", "--frame-interval-s", "0"], "argument --frame-interval-s: 0.0 must be > 0"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0][1:]) for c in CASES])
def test_a_bad_count_or_duration_is_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)


def test_a_batcher_without_delay_is_accepted():
    """``[model] max_delay_ms`` may be 0, so the batcher bench takes 0 too."""
    assert build_parser().parse_args(["bench", "batcher", "--max-delay-ms", "0"]).max_delay_ms == 0.0
