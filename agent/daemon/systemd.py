"""sd_notify without libsystemd: READY=1, WATCHDOG=1, STOPPING=1 on $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket

from agent.config.environment import read_environment


def sd_notify(message: str) -> bool:
    """Send ``message`` to systemd; False when not running under systemd (no NOTIFY_SOCKET)."""
    address = read_environment().notify_socket
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError:
            return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of systemd's WatchdogSec (``$WATCHDOG_USEC``), or None when no watchdog is set."""
    env = read_environment()
    if not env.watchdog_usec or (env.watchdog_pid and env.watchdog_pid != os.getpid()):
        return None
    return float(env.watchdog_usec) / 2e6
