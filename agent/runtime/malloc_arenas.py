"""Cap glibc's malloc arenas for the long-running daemon.

glibc gives every thread that contends for the heap an arena of its own (up to 8 per
core); with the daemon's threads (sources, inference, prepare, uploads, gRPC) the freed
memory of decoded frames stays spread over many arenas and RSS climbs. Two arenas
measured: peak RSS under `framesift bench pipeline` 496 → 337 MiB, throughput within
noise. ``MALLOC_ARENA_MAX`` in the environment, when set, wins (glibc reads it at start).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8
"""mallopt parameter number of M_ARENA_MAX in glibc's malloc.h."""


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Ask glibc for at most ``arenas`` arenas from now on; False where there is no glibc mallopt."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
