"""FailoverLimitStore: Redis when reachable, local otherwise, Redis retried later.

Redis unreachable at start → one clear warning, local counters are used, and
Redis is tried again every ``retry_interval_s``. A Redis error during
operation switches to local the same way. A credit is given back to the
backend that granted it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from agent.errors import LimitBackendError
from agent.limits.local_store import LocalLimitStore
from agent.limits.redis_store import RedisLimitStore, _redact
from agent.limits.store import ConsumeResult, Credit, CreditRequest

logger = logging.getLogger(__name__)


class FailoverLimitStore:
    """A LimitStore over Redis with a local fallback."""

    def __init__(
        self,
        redis_store: RedisLimitStore,
        local: LocalLimitStore,
        *,
        retry_interval_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis_store
        self.local = local
        self.retry_interval_s = retry_interval_s
        self._monotonic = monotonic
        self._next_retry = 0.0
        self.active: LocalLimitStore | RedisLimitStore = local
        self._try_redis(first=True)

    @property
    def name(self) -> str:
        """The backend in use now: "redis" or "local"."""
        return self.active.name

    def _try_redis(self, first: bool = False) -> None:
        try:
            self.redis.ping()
        except LimitBackendError as exc:
            self._next_retry = self._monotonic() + self.retry_interval_s
            if first:
                logger.warning(
                    "Redis limit store %s is unreachable (%s); using local limits in %s until it is "
                    "back (retry every %.0f s). Limits are per machine meanwhile.",
                    _redact(self.redis.url), exc.__cause__ or exc, self.local.cache.directory,
                    self.retry_interval_s,
                )  # fmt: skip
            return
        if self.active is not self.redis:
            if not first:
                logger.warning("Redis limit store %s is back; fleet-wide limits resumed",
                               _redact(self.redis.url))  # fmt: skip
            self.active = self.redis

    def _fail_over(self, exc: LimitBackendError) -> None:
        logger.warning("Redis limit store failed (%s); switching to local limits", exc)
        self.active = self.local
        self._next_retry = self._monotonic() + self.retry_interval_s

    def try_consume(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        """See ``LimitStore.try_consume``."""
        if self.active is self.local and self._monotonic() >= self._next_retry:
            self._try_redis()
        if self.active is self.redis:
            try:
                return self.redis.try_consume(request, now)
            except LimitBackendError as exc:
                self._fail_over(exc)
        return self.local.try_consume(request, now)

    def give_back(self, credit: Credit) -> None:
        """See ``LimitStore.give_back``; to the backend that granted the credit."""
        if credit.backend == "redis":
            try:
                self.redis.give_back(credit)
            except LimitBackendError as exc:
                logger.warning("could not return a credit to Redis (%s); it expires with its window", exc)
            return
        self.local.give_back(credit)

    def usage(self, strategy: str, now: datetime) -> dict[str, int]:
        """See ``LimitStore.usage`` (of the active backend)."""
        return self.active.usage(strategy, now)

    def close(self) -> None:
        """Close both backends."""
        self.redis.close()
        self.local.close()
