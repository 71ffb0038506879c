"""rpc_floor: a plain gRPC server in its own process answers, and the round trip minus the handler is reported."""

from __future__ import annotations

import math

from agent.bench.rpc_floor import rpc_overhead_ms


def test_round_trip_around_a_handler_is_measured_and_the_server_goes_away():
    overhead = rpc_overhead_ms(handler_ms=5.0, payload=b"\xff" * 85_000, calls=5)
    assert math.isfinite(overhead) and overhead >= 0.0
