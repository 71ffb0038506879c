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
    """Local counters under ``state_dir/limits``; Redis-first with local fallback when a URL is given."""
    local = LocalLimitStore(state_dir / "limits", scope)
    if not redis_url:
        return local
    return FailoverLimitStore(RedisLimitStore(redis_url, scope), local, retry_interval_s=retry_interval_s)
