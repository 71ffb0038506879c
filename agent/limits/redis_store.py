"""RedisLimitStore: fleet-wide limits, check-and-consume in one Lua script.

The whole decision (batch cap, first strategy with room, increment of its three
windows and of the batch counter) runs server-side in one EVALSHA, so
concurrent agents never over-grant and no client-side lock is needed (the
reference takes a 5 s Redis lock around a get/set sequence). A request with
framesift rules (pacing, class quotas) goes through a second script that checks
and consumes them in the same step; a request without them runs the first
script, unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from agent.errors import ConfigError, ConfigIssue, LimitBackendError
from agent.limits.redis_rules_script import CONSUME_WITH_RULES_LUA, rules_plan
from agent.limits.store import ConsumeResult, Credit, CreditRequest
from agent.limits.windows import BATCH_COUNTER_TTL_S, WINDOW_TTL_S, WINDOWS, batch_key, usage_key, utc

CONSUME_LUA = """
-- KEYS[1] batch counter; then 3 keys (minutely, hourly, daily) per candidate strategy
-- ARGV[1] max batch images (-1 = none); ARGV[2] batch ttl; ARGV[3..5] window ttls;
-- then 3 limits per candidate (-1 = none)
local max_batch = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if max_batch >= 0 and used >= max_batch then return -1 end
local n = (#KEYS - 1) / 3
for i = 0, n - 1 do
  local room = true
  for w = 1, 3 do
    local limit = tonumber(ARGV[5 + i * 3 + w])
    if limit >= 0 then
      local v = tonumber(redis.call('GET', KEYS[1 + i * 3 + w]) or '0')
      if v >= limit then room = false; break end
    end
  end
  if room then
    for w = 1, 3 do
      local key = KEYS[1 + i * 3 + w]
      redis.call('INCR', key)
      redis.call('EXPIRE', key, tonumber(ARGV[2 + w]))
    end
    redis.call('INCR', KEYS[1])
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
    return i
  end
end
return -2
"""

GIVE_BACK_LUA = """
for i = 1, #KEYS do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v > 0 then redis.call('DECR', KEYS[i]) end
end
return #KEYS
"""


REDIS_URL_FORM = "redis://[[user]:password@]host[:port][/db], rediss://… or unix:///path"


class RedisLimitStore:
    """Limit counters in Redis, shared by every agent using the same server."""

    name = "redis"

    def __init__(self, url: str, scope: str = "default", timeout_s: float = 2.0) -> None:
        """Read ``url``; the connection is made by the first call.

        Raises:
            ConfigError: ``url`` is not a Redis URL.
        """
        import redis

        self.url = url
        self.scope = scope
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self.client: Any = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        except ValueError as exc:  # redis-py's reason may quote part of a password (a '#' ends the netloc)
            why = "unknown scheme" if "scheme" in str(exc) else "cannot parse it (percent-encode # / ? @ in a password)"
            raise ConfigError([ConfigIssue("redis_url", f"not a Redis URL ({REDIS_URL_FORM}): {why}")]) from None
        self._consume = self.client.register_script(CONSUME_LUA)
        self._give_back = self.client.register_script(GIVE_BACK_LUA)
        self._consume_rules = self.client.register_script(CONSUME_WITH_RULES_LUA)

    def ping(self) -> None:
        """Raise LimitBackendError when the server cannot be reached."""
        self._call(self.client.ping)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._redis_errors as exc:
            raise LimitBackendError(f"Redis limit store {_redact(self.url)}: {exc}") from exc

    def try_consume(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        """See ``LimitStore.try_consume``."""
        if any(s in request.rules for s, _ in request.candidates):
            return self._try_consume_with_rules(request, now)
        bkey = batch_key(self.scope, request.batch_name)
        keys = [bkey]
        args: list[int] = [
            -1 if request.max_batch_images is None else request.max_batch_images,
            BATCH_COUNTER_TTL_S,
            *(WINDOW_TTL_S[w] for w in WINDOWS),
        ]
        for strategy, limits in request.candidates:
            keys.extend(usage_key(self.scope, strategy, w, now) for w in WINDOWS)
            args.extend(limits.get(w, -1) for w in WINDOWS)
        index = int(self._call(self._consume, keys=keys, args=args))
        if index == -1:
            return ConsumeResult(None, "batch_full")
        if index < 0:
            return ConsumeResult(None, "strategy_limits")
        strategy = request.candidates[index][0]
        taken = (*keys[1 + index * 3 : 4 + index * 3], bkey)
        return ConsumeResult(Credit(strategy, request.batch_name, taken, self.name))

    def _try_consume_with_rules(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        bkey = batch_key(self.scope, request.batch_name)
        keys, plan = rules_plan(self.scope, request, now)
        index, pool_index, refused = self._call(
            self._consume_rules, keys=[bkey, *keys], args=[json.dumps(plan | {"now": utc(now).timestamp()})]
        )
        index, pool_index = int(index), int(pool_index)
        if index == -1:
            return ConsumeResult(None, "batch_full")
        if index < 0:
            text = refused.decode() if isinstance(refused, bytes) else str(refused)
            return ConsumeResult(None, "strategy_limits", {"refused": text})
        strategy = request.candidates[index][0]
        windows = [keys[k - 2] for k, _, _ in plan["candidates"][index]["windows"]]
        taken = (*windows, bkey)
        extra: dict[str, str] = {}
        if pool_index > 0:
            taken = (*taken, keys[pool_index - 2])
            extra["class"] = refused.decode() if isinstance(refused, bytes) else str(refused)
        return ConsumeResult(Credit(strategy, request.batch_name, taken, self.name), extra=extra)

    def give_back(self, credit: Credit) -> None:
        """See ``LimitStore.give_back``."""
        self._call(self._give_back, keys=list(credit.keys), args=[])

    def usage(self, strategy: str, now: datetime) -> dict[str, int]:
        """See ``LimitStore.usage``."""
        values = self._call(self.client.mget, [usage_key(self.scope, strategy, w, now) for w in WINDOWS])
        return {w: int(v or 0) for w, v in zip(WINDOWS, values, strict=True)}

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def _redact(url: str) -> str:
    """Hide a password in a redis:// URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
