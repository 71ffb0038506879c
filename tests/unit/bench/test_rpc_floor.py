"""rpc_floor: a plain gRPC server in its own process answers, the round trip minus the handler is reported,
and the server is gone afterwards."""

from __future__ import annotations

import math
import os
from pathlib import Path

from agent.bench.rpc_floor import rpc_overhead_ms


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:  # the thread ended meanwhile
            continue
    return pids


def test_round_trip_around_a_handler_is_measured_and_the_server_goes_away():
    before = _children()
    overhead = rpc_overhead_ms(handler_ms=5.0, payload=b"\xff" * 85_000, calls=5)
    assert math.isfinite(overhead) and overhead >= 0.0
    assert _children() <= before  # killed and reaped: no server left behind, not even a zombie
