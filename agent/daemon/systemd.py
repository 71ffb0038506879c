"""sd_notify without libsystemd: READY, WATCHDOG, STATUS, EXTEND_TIMEOUT_USEC, STOPPING on $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from agent.config.environment import read_environment
from agent.runtime.threads import join_or_warn


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


class SystemdNotifier:
    """What the daemon tells systemd: READY, a watchdog ping every ``WATCHDOG_USEC``/2, STATUS
    when the state changes, and EXTEND_TIMEOUT_USEC while a long step (model load, reload) runs."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.watchdog_s = watchdog_interval_s()
        self.enabled = read_environment().notify_socket is not None
        """Running under systemd (``$NOTIFY_SOCKET``): without it there is nobody to tell."""
        self._now = monotonic
        self._last_ping = -1e18
        self._last_status = ""

    def ping(self, healthy: bool) -> None:
        """A watchdog ping when one is due and the pipeline is healthy (a stuck agent gets restarted)."""
        if self.watchdog_s is None or not healthy:
            return
        now = self._now()
        if now - self._last_ping >= self.watchdog_s:
            self._last_ping = now
            sd_notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        """``STATUS=text``, sent only when it changed."""
        if text != self._last_status:
            self._last_status = text
            sd_notify(f"STATUS={text}")

    @contextmanager
    def extending(self, what: str, step_s: float = 10.0) -> Iterator[None]:
        """While the block runs (a model load, a reload), keep extending systemd's timeouts."""
        stop = threading.Event()

        def keep_alive() -> None:
            while True:
                sd_notify(f"EXTEND_TIMEOUT_USEC={int(step_s * 3 * 1e6)}")
                if self.watchdog_s is not None:
                    sd_notify("WATCHDOG=1")
                if stop.wait(step_s):
                    return

        self.status(what)
        thread = threading.Thread(target=keep_alive, name="systemd-keepalive", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            join_or_warn(thread, 2.0, "systemd keep-alive")
