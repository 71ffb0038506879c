"""LocalLimitStore: limit counters in a diskcache under the state directory.

Counts survive a restart (the reference's in-memory cache forgets them) and are
shared by the processes of one machine: every check-and-consume runs inside a
diskcache transaction (an SQLite ``BEGIN IMMEDIATE``), so it is atomic across
threads and processes. framesift pacing and class quotas (``agent.limits.rules``)
are checked and consumed in the same transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import diskcache

from agent.errors import CorruptStateError, DiskFullError
from agent.limits.rules import StrategyRules, pick_pool, refill
from agent.limits.store import ConsumeResult, Credit, CreditRequest
from agent.limits.windows import (
    BATCH_COUNTER_TTL_S,
    WINDOW_TTL_S,
    WINDOWS,
    batch_key,
    pace_key,
    quota_key,
    quota_seen_key,
    usage_key,
    utc,
)
from agent.runtime.disk_full import MIN_FREE_BYTES, disk_full_as_error, free_bytes

logger = logging.getLogger(__name__)


class LocalLimitStore:
    """Limit counters on local disk."""

    name = "local"

    def __init__(self, directory: Path, scope: str = "default", *, reopen_interval_s: float = 10.0) -> None:
        """Open the counters; on a full disk the store starts closed and refuses credits (DiskFullError)
        until it can open, retried at most every ``reopen_interval_s`` seconds."""
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.scope = scope
        self.reopen_interval_s = reopen_interval_s
        self._cache: diskcache.Cache | None = None
        self._next_open_mono = 0.0
        try:
            self._open()
        except DiskFullError as exc:
            logger.warning("%s: no credits until space is freed (uploads free it)", exc)

    def _open(self) -> diskcache.Cache:
        self._next_open_mono = time.monotonic() + self.reopen_interval_s
        with disk_full_as_error(f"limit store {self.directory}", self.directory):
            try:
                self._cache = diskcache.Cache(str(self.directory), timeout=30, eviction_policy="none")
            except sqlite3.OperationalError:
                raise  # a full disk or a lock: disk_full_as_error decides
            except sqlite3.DatabaseError as exc:
                raise CorruptStateError(
                    f"limit store {self.directory} is unreadable ({exc}); move it aside: "
                    "the counters start again from zero"
                ) from None
        return self._cache

    @property
    def cache(self) -> diskcache.Cache:
        """The open counters (opened again after a full disk).

        Raises:
            DiskFullError: the store could not be opened yet.
        """
        if self._cache is not None:
            return self._cache
        free = free_bytes(self.directory)
        if time.monotonic() < self._next_open_mono and (free is None or free < MIN_FREE_BYTES):
            raise DiskFullError(f"limit store {self.directory}: no space left on the device (opening it)")
        return self._open()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with disk_full_as_error(f"limit store {self.directory}", self.directory), self.cache.transact():
            yield

    def try_consume(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        """See ``LimitStore.try_consume``."""
        bkey = batch_key(self.scope, request.batch_name)
        with self._transaction():
            used = int(self.cache.get(bkey, 0))
            if request.max_batch_images is not None and used >= request.max_batch_images:
                return ConsumeResult(None, "batch_full")
            refused = ""
            for strategy, limits in request.candidates:
                keys = {w: usage_key(self.scope, strategy, w, now) for w in WINDOWS}
                if not all(int(self.cache.get(keys[w], 0)) < limits[w] for w in limits):
                    refused = refused or "limits"
                    continue
                rules = request.rules.get(strategy)
                verdict = self._check_rules(strategy, rules, request.frame_classes, now) if rules else ("", None)
                if verdict[0]:
                    refused = refused or verdict[0]
                    continue
                for w in WINDOWS:
                    self.cache.set(keys[w], int(self.cache.get(keys[w], 0)) + 1, expire=WINDOW_TTL_S[w])
                self.cache.set(bkey, used + 1, expire=BATCH_COUNTER_TTL_S)
                taken = (*keys.values(), bkey)
                extra: dict[str, str] = {}
                if rules:
                    pool_key = self._consume_rules(strategy, rules, verdict[1], now)
                    if pool_key is not None and verdict[1] is not None:
                        taken, extra = (*taken, pool_key), {"class": verdict[1]}
                return ConsumeResult(Credit(strategy, request.batch_name, taken, self.name), extra=extra)
        if not request.rules:
            return ConsumeResult(None, "strategy_limits")
        return ConsumeResult(None, "strategy_limits", {"refused": refused})

    def _check_rules(
        self, strategy: str, rules: StrategyRules, classes: Sequence[str], now: datetime
    ) -> tuple[str, str | None]:
        """("", pool) when pacing and quota allow a credit, else (reason, None). Inside the transaction."""
        if rules.pacing is not None:
            tokens, last_s = self.cache.get(pace_key(self.scope, strategy), (rules.pacing.burst, _seconds(now)))
            if refill(tokens, last_s, _seconds(now), rules.pacing) < 1.0:
                return "pacing", None
        q = rules.quota
        if q is None:
            return "", None
        pools = q.pools(classes)
        seen = 0
        if q.shares is None:
            seen_key = quota_seen_key(self.scope, strategy, q.window, now)
            names = set(self.cache.get(seen_key, ())) | set(pools)
            self.cache.set(seen_key, sorted(names), expire=WINDOW_TTL_S[q.window])
            seen = len(names)
        used = {p: int(self.cache.get(quota_key(self.scope, strategy, q.window, now, p), 0)) for p in pools}
        pool = pick_pool(pools, used, {p: q.quota(p, seen) for p in pools})
        return ("", pool) if pool is not None else ("quota", None)

    def _consume_rules(self, strategy: str, rules: StrategyRules, pool: str | None, now: datetime) -> str | None:
        """Take the pacing token and count the quota pool; the pool's counter key, if any."""
        if rules.pacing is not None:
            key = pace_key(self.scope, strategy)
            tokens, last_s = self.cache.get(key, (rules.pacing.burst, _seconds(now)))
            left = refill(tokens, last_s, _seconds(now), rules.pacing) - 1.0
            self.cache.set(key, (left, _seconds(now)), expire=WINDOW_TTL_S["daily"])
        if rules.quota is None or pool is None:
            return None
        key = quota_key(self.scope, strategy, rules.quota.window, now, pool)
        self.cache.set(key, int(self.cache.get(key, 0)) + 1, expire=WINDOW_TTL_S[rules.quota.window])
        return key

    def give_back(self, credit: Credit) -> None:
        """See ``LimitStore.give_back``."""
        with self._transaction():
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
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _seconds(now: datetime) -> float:
    """POSIX seconds of ``now`` (naive = UTC)."""
    return utc(now).timestamp()
