"""The gRPC round trip this machine allows around a handler that takes as long as the model.

``bench pipeline`` compares the ``Infer`` RPC with bare onnxruntime; part of the difference is
not framesift's: a unary call over the Unix socket whose handler is busy for ``handler_ms`` pays
the thread wake-ups of gRPC's client and server on top (measured on a 2-core VM: 0.7 ms with an
instant handler, 0.75–1.3 ms around a 14 ms one). A plain gRPC server in its own process, with a
generic handler that waits ``handler_ms`` and answers a few bytes, measures that floor.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np

_SERVICE, _METHOD = "framesift.bench.Floor", "Call"


def serve(socket_path: str, handler_ms: float) -> None:
    """Serve until killed: every call takes ``handler_ms`` and answers b"ok"."""

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        end = time.perf_counter() + handler_ms / 1000
        time.sleep(max(0.0, handler_ms / 1000 - 0.001))
        while time.perf_counter() < end:  # the last millisecond spun: sleep overshoots
            pass
        return b"ok"

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {_METHOD: grpc.unary_unary_rpc_method_handler(handler)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    server.wait_for_termination()


def rpc_overhead_ms(handler_ms: float, payload: bytes, calls: int = 40) -> float:
    """p50 of (round trip - ``handler_ms``) of ``calls`` unary calls carrying ``payload``.

    Raises:
        RuntimeError: the server process did not start serving within 30 s.
    """
    with tempfile.TemporaryDirectory(prefix="framesift-rpc-floor-") as tmp:
        path = str(Path(tmp) / "floor.sock")
        with subprocess.Popen([sys.executable, "-m", "agent.bench.rpc_floor", path, str(handler_ms)]) as proc:
            channel = grpc.insecure_channel(f"unix:{path}")
            try:
                _wait_ready(channel, proc)
                call = channel.unary_unary(f"/{_SERVICE}/{_METHOD}")
                call(payload, timeout=30)
                times = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    call(payload, timeout=30)
                    times.append(time.perf_counter() - t0)
                return max(0.0, float(np.median(times)) * 1000 - handler_ms)
            finally:
                channel.close()
                proc.kill()  # the with block then reaps it


def _wait_ready(channel: grpc.Channel, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    ready = grpc.channel_ready_future(channel)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gRPC floor server exited with code {proc.returncode} before serving")
        try:
            ready.result(timeout=0.2)
            return
        except grpc.FutureTimeoutError:
            continue
    ready.cancel()
    raise RuntimeError(f"the gRPC floor server did not serve within {timeout_s:.0f} s")


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]))
