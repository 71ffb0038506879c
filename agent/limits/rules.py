"""framesift limit rules beyond the Roboflow windows: pacing (token bucket) and class quotas.

Both backends apply the same rules inside their atomic check-and-consume (the local
store in its diskcache transaction, Redis in a Lua script), so a strategy whose
windows have room must also have a pacing token and a class with quota left to take
the credit. The pure functions here are the local store's implementation and the
specification the Lua script follows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.config.al_extensions import NO_CLASS

OTHER_POOL = "(other)"
"""With ``shares``, the classes not listed share one pool: what the listed shares leave."""

WINDOW_SECONDS = {"minutely": 60, "hourly": 3600, "daily": 86400}


@dataclass(frozen=True)
class PacingRule:
    """A token bucket: ``rate_per_s`` credits a second, at most ``burst`` held (full at start)."""

    rate_per_s: float
    burst: int


@dataclass(frozen=True)
class QuotaRule:
    """Class quotas of a strategy's ``cap`` of ``window``.

    Attributes:
        window: "minutely" | "hourly" | "daily".
        cap: the strategy's limit of that window.
        shares: class -> share of the cap; None = balanced over the classes seen.
    """

    window: str
    cap: int
    shares: Mapping[str, float] | None = None

    def pools(self, classes: Sequence[str]) -> list[str]:
        """The distinct pools the classes of a frame draw from, in first-seen order."""
        names = list(classes) or [NO_CLASS]
        if self.shares is not None:
            names = [c if c in self.shares else OTHER_POOL for c in names]
        return list(dict.fromkeys(names))

    def share_of(self, pool: str) -> float:
        """Share of one pool; -1 for balanced (the quota then depends on the classes seen)."""
        if self.shares is None:
            return -1.0
        if pool == OTHER_POOL:
            return max(0.0, 1.0 - sum(self.shares.values()))
        return self.shares[pool]

    def quota(self, pool: str, seen: int) -> int:
        """Credits the pool may use in the window (``seen``: classes seen, balanced only)."""
        share = self.share_of(pool)
        if share < 0:
            return math.ceil(self.cap / max(seen, 1))
        return quota_of_share(self.cap, share)


def quota_of_share(cap: int, share: float) -> int:
    """``cap × share`` rounded half up, at least 1 for a positive share (Lua does the same)."""
    if share <= 0:
        return 0
    return max(1, math.floor(cap * share + 0.5))


@dataclass(frozen=True)
class StrategyRules:
    """The framesift rules of one strategy (either may be None)."""

    pacing: PacingRule | None = None
    quota: QuotaRule | None = None


def refill(tokens: float, last_s: float, now_s: float, rule: PacingRule) -> float:
    """Tokens in the bucket at ``now_s`` (a clock going backwards adds nothing)."""
    return min(float(rule.burst), tokens + max(0.0, now_s - last_s) * rule.rate_per_s)


def pick_pool(pools: Sequence[str], used: Mapping[str, int], quotas: Mapping[str, int]) -> str | None:
    """The pool with room and the smallest used/quota fraction (first on ties), or None."""
    best: str | None = None
    best_fraction = math.inf
    for pool in pools:
        quota = quotas[pool]
        if used.get(pool, 0) >= quota:
            continue
        fraction = used.get(pool, 0) / quota
        if fraction < best_fraction:
            best, best_fraction = pool, fraction
    return best
