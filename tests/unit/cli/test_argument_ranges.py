"""Numbers no run can use (negative seeds, infinite intervals, counts or ports beyond a bound) are refused by
argparse with one line naming the option, before anything starts."""

from __future__ import annotations

import pytest

from agent.cli.main import build_parser

CASES = [
    (["sample", "--seed", "-1"], "argument --seed: -1 is outside 0 to 2**64 - 1"),
    (["scan", "x", "--seed", str(2**64)], f"argument --seed: {2**64} is outside 0 to 2**64 - 1"),
    (["bench", "selection", "--seed", "-3"], "argument --seed: -3 is outside 0 to 2**64 - 1"),
    (["scan", "x", "--concurrency", "100000"], "argument --concurrency: 100000 is outside 1-32"),
    (["scan", "x", "--concurrency", "0"], "argument --concurrency: 0 must be >= 1"),
    (["sample", "--frame-interval-s", "nan"], "argument --frame-interval-s: nan must be >= 0"),
    (["sample", "--frame-interval-s", "inf"], "argument --frame-interval-s: 'inf' is out of range (at most 1e9)"),
    (["sample", "--frame-interval-s", "1e300"], "argument --frame-interval-s: '1e300' is out of range (at most 1e9)"),
    (["scan", "x", "--drain-timeout", "-5"], "argument --drain-timeout: -5.0 must be >= 0"),
    (["spool", "list", "--limit", "-1"], "argument --limit: -1 must be >= 1"),
    (["top", "--interval-s", "inf"], "argument --interval-s: 'inf' is out of range (at most 1e9)"),
    (["ctl", "flush", "--timeout", "nan"], "argument --timeout: nan must be > 0"),
    (["scan", "x", "--dest", "ftp://u:S3cret@host/"], "argument --dest: 'ftp://u:***@host/' is not an http:// or "
     "https:// URL with a host"),
    (["scan", "x", "--dest", "notaurl"], "argument --dest: 'notaurl' is not an http:// or https:// URL with a host"),
    (["scan", "x", "--dest", "https://u:S3cret@[::1/"], "argument --dest: 'https://u:***@[::1/' is not an http:// "
     "or https:// URL with a host"),
    (["hub", "--listen", "127.0.0.1:99999"], "argument --listen: '127.0.0.1:99999': port 99999 is outside 0-65535"),
    (["hub", "--listen", "127.0.0.1"], "argument --listen: '127.0.0.1' is not HOST:PORT"),
    (["hub", "--listen", "127.0.0.1:-1"], "argument --listen: '127.0.0.1:-1' is not HOST:PORT"),
    (["hub", "--listen", "127.0.0.1:\u00b2"], "argument --listen: '127.0.0.1:\u00b2' is not HOST:PORT"),
    (["hub", "--max-upload-mb", "-1"], "argument --max-upload-mb: -1.0 must be > 0"),
    (["hub", "--max-upload-mb", "0"], "argument --max-upload-mb: 0.0 must be > 0"),
    (["scan", "x", "--dest", "http://h:99999/"], "argument --dest: 'http://h:99999/' is not an http:// or https:// "
     "URL with a host"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_an_unusable_number_is_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)


SAMPLE = ["sample", "--config", "c.json", "--predictions", "p.jsonl"]


@pytest.mark.parametrize(("argv", "attribute", "value"), [
    ([*SAMPLE, "--seed", str(2**64 - 1)], "seed", 2**64 - 1),
    (["scan", "x", "--config", "c.json", "--model", "m", "--concurrency", "32"], "concurrency", 32),
    ([*SAMPLE, "--frame-interval-s", "0"], "frame_interval_s", 0.0),
    (["hub", "--listen", "127.0.0.1:65535"], "listen", ("127.0.0.1", 65535)),
    (["hub", "--listen", "[::1]:0"], "listen", ("::1", 0)),
    (["hub", "--listen", ":9200"], "listen", ("127.0.0.1", 9200)),
])  # fmt: skip
def test_the_edges_are_accepted(argv, attribute, value):
    assert getattr(build_parser().parse_args(argv), attribute) == value
