"""Build the limit store a configuration asks for."""

from __future__ import annotations

from pathlib import Path

from agent.limits.failover import FailoverLimitStore
from agent.limits.local_store import LocalLimitStore
from agent.limits.redis_store import RedisLimitStore
from agent.limits.store import LimitStore


def open_limit_store(
    state_dir: Path, scope: str, redis_url: str | None = None, retry_interval_s: float = 30.0
) -> LimitStore:
    """Local counters under ``state_dir/limits``; Redis-first with local fallback when a URL is given.

    Raises:
        ConfigError: ``redis_url`` is not a Redis URL (checked before anything is created on disk).
    """
    shared = RedisLimitStore(redis_url, scope) if redis_url else None  # no connection yet: only the URL is read
    local = LocalLimitStore(state_dir / "limits", scope)
    if shared is None:
        return local
    return FailoverLimitStore(shared, local, retry_interval_s=retry_interval_s)
