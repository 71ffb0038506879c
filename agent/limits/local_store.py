"""LocalLimitStore: limit counters in a diskcache under the state directory.

Counts survive a restart (the reference's in-memory cache forgets them) and are
shared by the processes of one machine: every check-and-consume runs inside a
diskcache transaction (an SQLite ``BEGIN IMMEDIATE``), so it is atomic across
threads and processes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import diskcache

from agent.limits.store import ConsumeResult, Credit, CreditRequest
from agent.limits.windows import BATCH_COUNTER_TTL_S, WINDOW_TTL_S, WINDOWS, batch_key, usage_key


class LocalLimitStore:
    """Limit counters on local disk."""

    name = "local"

    def __init__(self, directory: Path, scope: str = "default") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.scope = scope
        self.cache = diskcache.Cache(str(directory), timeout=30, eviction_policy="none")

    def try_consume(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        """See ``LimitStore.try_consume``."""
        bkey = batch_key(self.scope, request.batch_name)
        with self.cache.transact():
            used = int(self.cache.get(bkey, 0))
            if request.max_batch_images is not None and used >= request.max_batch_images:
                return ConsumeResult(None, "batch_full")
            for strategy, limits in request.candidates:
                keys = {w: usage_key(self.scope, strategy, w, now) for w in WINDOWS}
                if all(int(self.cache.get(keys[w], 0)) < limits[w] for w in limits):
                    for w in WINDOWS:
                        self.cache.set(keys[w], int(self.cache.get(keys[w], 0)) + 1, expire=WINDOW_TTL_S[w])
                    self.cache.set(bkey, used + 1, expire=BATCH_COUNTER_TTL_S)
                    credit = Credit(strategy, request.batch_name, (*keys.values(), bkey), self.name)
                    return ConsumeResult(credit)
        return ConsumeResult(None, "strategy_limits")

    def give_back(self, credit: Credit) -> None:
        """See ``LimitStore.give_back``."""
        with self.cache.transact():
            for key in credit.keys:
                value = self.cache.get(key)
                if value is not None and int(value) > 0:
                    ttl = self._ttl_for(key)
                    self.cache.set(key, int(value) - 1, expire=ttl)

    @staticmethod
    def _ttl_for(key: str) -> int:
        for window, ttl in WINDOW_TTL_S.items():
            if f":{window}:" in key:
                return ttl
        return BATCH_COUNTER_TTL_S

    def usage(self, strategy: str, now: datetime) -> dict[str, int]:
        """See ``LimitStore.usage``."""
        return {w: int(self.cache.get(usage_key(self.scope, strategy, w, now), 0)) for w in WINDOWS}

    def batch_count(self, batch_name: str) -> int:
        """Images credited to ``batch_name`` so far."""
        return int(self.cache.get(batch_key(self.scope, batch_name), 0))

    def close(self) -> None:
        """Close the cache."""
        self.cache.close()
