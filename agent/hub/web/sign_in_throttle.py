"""SignInThrottle: slow down password guessing on the hub's sign-in form.

After ``max_failures`` failed sign-ins for one user name within ``window_s``, further
attempts for that name are refused (HTTP 429) until the oldest of those failures leaves
the window; one client address gets ``client_factor`` times as many (a reverse proxy makes
every user one address, so a tight per-address limit would let anyone lock everyone out).
A successful sign-in clears the user's record. The record is per hub process (replicas on
PostgreSQL each keep their own).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class SignInThrottle:
    """Counts failed sign-ins per user name and per client address (thread-safe)."""

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, client_factor: int = 10,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.max_failures = max_failures
        self.client_factor = client_factor
        self.window_s = window_s
        self._now = monotonic
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _keys(self, user: str, client: str) -> tuple[str, str]:
        return f"user:{user.lower()}", f"client:{client}"

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after_s(self, user: str, client: str) -> float:
        """Seconds before this user name and client may try again; 0 when they may now."""
        now = self._now()
        with self._lock:
            user_key, client_key = self._keys(user, client)
            limits = ((user_key, self.max_failures), (client_key, self.max_failures * self.client_factor))
            waits = [times[-limit] + self.window_s - now for key, limit in limits
                     if len(times := self._recent(key, now)) >= limit]  # fmt: skip
        return max(waits, default=0.0)

    def failed(self, user: str, client: str) -> None:
        """Record one failed sign-in."""
        now = self._now()
        with self._lock:
            for key in self._keys(user, client):
                self._recent(key, now).append(now)

    def succeeded(self, user: str) -> None:
        """A correct password: forget the user name's failures."""
        with self._lock:
            self._failures.pop(self._keys(user, "")[0], None)
