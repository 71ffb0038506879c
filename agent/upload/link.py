"""LinkMonitor: the state of the link to the destination, shared by every upload worker.

Backoff applies to the whole destination, not to one frame: after the server asks
for a pause (429/503 with or without ``Retry-After``, or any other 5xx/408), no
worker sends anything before the pause is over. Connection failures mark the
link *offline* after a few in a row; then one worker at a time probes, with
backoff. A rejected key (401/403) marks it *unauthorized*: frames stay in the
spool, one worker probes slowly (a rotated key is picked up without losing the
queue), and the first success brings everyone back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from enum import Enum

logger = logging.getLogger(__name__)

AUTH_PROBE_BASE_S = 30.0
"""First probe after a rejected key; doubles up to the backoff cap."""


class LinkState(str, Enum):
    """What the uploader thinks of the destination."""

    ONLINE = "online"
    PAUSED = "paused"  # the server asked for a pause (429/503/5xx): nothing goes out until it ends
    OFFLINE = "offline"  # unreachable: one worker probes with backoff
    UNAUTHORIZED = "unauthorized"  # the key was refused: one worker probes slowly


def full_jitter_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """AWS "full jitter": uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0.0, min(cap_s, base_s * (2 ** min(attempt, 30))))


class LinkMonitor:
    """Thread-safe link state with one destination-wide pause and probing when down."""

    def __init__(
        self,
        rng: random.Random,
        *,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
        offline_after_failures: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = rng
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.offline_after_failures = offline_after_failures
        self._now = monotonic
        self.state = LinkState.ONLINE
        self.reason = ""
        self.failures = 0
        self.auth_failures = 0
        self.paused_until = 0.0  # monotonic; nobody sends before it
        self.next_probe = 0.0
        self._probing = False
        self._cond = threading.Condition()

    @property
    def online(self) -> bool:
        """True unless the destination is unreachable or refuses the key (a pause is still online)."""
        return self.state in (LinkState.ONLINE, LinkState.PAUSED)

    def describe(self) -> str:
        """One line for status: ``online``, ``paused for 12 s: …``, ``offline: …``, ``unauthorized: …``."""
        with self._cond:
            if self.state is LinkState.PAUSED:
                left = max(0.0, self.paused_until - self._now())
                return f"paused for {left:.0f} s: {self.reason}" if left > 0 else "online"
            return self.state.value if self.state is LinkState.ONLINE else f"{self.state.value}: {self.reason}"

    def wait_turn(self, stop: threading.Event) -> bool:
        """Block until this worker may send (pause over; online, or its turn to probe). False when stopping."""
        with self._cond:
            while not stop.is_set():
                now = self._now()
                if now < self.paused_until:
                    self._cond.wait(timeout=min(0.5, self.paused_until - now))
                    continue
                if self.state is LinkState.PAUSED:
                    self.state = LinkState.ONLINE
                if self.online:
                    return True
                if not self._probing and now >= self.next_probe:
                    self._probing = True
                    return True
                self._cond.wait(timeout=min(0.5, max(0.05, self.next_probe - now)))
            return False

    def paused(self) -> bool:
        """True while the server's pause lasts (a record leased meanwhile must be released, not sent)."""
        with self._cond:
            return self._now() < self.paused_until

    def probe_skipped(self) -> None:
        """This worker's probe turn found nothing to send; let another worker probe."""
        with self._cond:
            self._probing = False
            self._cond.notify_all()

    def success(self) -> None:
        """A request went through: online again."""
        with self._cond:
            if not self.online:
                logger.warning("destination answers again (was %s); resuming uploads", self.state.value)
            if self.state is not LinkState.PAUSED:
                self.state, self.reason = LinkState.ONLINE, ""
            self.failures = self.auth_failures = 0
            self._probing = False
            self._cond.notify_all()

    def server_busy(self, delay_s: float, reason: str) -> None:
        """The server answered 429/5xx/408: nobody sends for ``delay_s`` (Retry-After or backoff)."""
        with self._cond:
            self._probing = False
            until = self._now() + max(0.0, delay_s)
            if until > self.paused_until:
                self.paused_until = until
                if self.online:
                    self.state, self.reason = LinkState.PAUSED, reason
                logger.warning("destination asked for a pause: no uploads for %.1f s (%s)", delay_s, reason)
            self._cond.notify_all()

    def unreachable(self, reason: str) -> None:
        """A connection failure: after a few in a row, go offline and schedule the next probe."""
        with self._cond:
            self.failures += 1
            self._probing = False
            if self.failures >= self.offline_after_failures and self.state is not LinkState.UNAUTHORIZED:
                if self.state is not LinkState.OFFLINE:
                    logger.warning("destination unreachable after %d failures; spooling offline", self.failures)
                self.state, self.reason = LinkState.OFFLINE, reason
                delay = full_jitter_s(self.failures - self.offline_after_failures + 1, self.backoff_base_s,
                                      self.backoff_cap_s, self.rng)  # fmt: skip
                self.next_probe = self._now() + delay
            self._cond.notify_all()

    def unauthorized(self, reason: str) -> None:
        """The key was refused (401/403): keep the frames, probe slowly until a key works."""
        with self._cond:
            self.auth_failures += 1
            self._probing = False
            if self.state is not LinkState.UNAUTHORIZED:
                logger.error("destination refuses the API key (%s); frames stay spooled until a key works", reason)
            self.state, self.reason = LinkState.UNAUTHORIZED, reason
            delay = min(self.backoff_cap_s, AUTH_PROBE_BASE_S * 2 ** min(self.auth_failures - 1, 10))
            self.next_probe = self._now() + delay
            self._cond.notify_all()
