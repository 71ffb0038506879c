"""hub options that name a port or a size refuse impossible values with argparse's one line."""

from __future__ import annotations

import pytest

from agent.cli.main import build_parser

CASES = [
    (["hub", "--listen", "127.0.0.1:99999"], "argument --listen: '127.0.0.1:99999': port 99999 is outside 0-65535"),
    (["hub", "--listen", "127.0.0.1"], "argument --listen: '127.0.0.1' is not HOST:PORT"),
    (["hub", "--listen", "127.0.0.1:-1"], "argument --listen: '127.0.0.1:-1' is not HOST:PORT"),
    (["hub", "--max-upload-mb", "-1"], "argument --max-upload-mb: -1.0 must be > 0"),
    (["hub", "--max-upload-mb", "0"], "argument --max-upload-mb: 0.0 must be > 0"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0][1:]) for c in CASES])
def test_an_impossible_port_or_size_is_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)


@pytest.mark.parametrize(("text", "address"), [("127.0.0.1:65535", ("127.0.0.1", 65535)), ("[::1]:0", ("::1", 0)),
                                               (":9200", ("127.0.0.1", 9200))])  # fmt: skip
def test_the_ports_edges_are_accepted(text, address):
    assert build_parser().parse_args(["hub", "--listen", text]).listen == address
