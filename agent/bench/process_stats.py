"""What the benchmarks read of another process from /proc (Linux): its memory and CPU time."""

from __future__ import annotations

import os
from pathlib import Path


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """A memory line of /proc/PID/status in MiB (``VmRSS`` now, ``VmHWM`` the peak); 0 when absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
