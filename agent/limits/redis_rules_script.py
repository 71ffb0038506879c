"""The Redis script of a check-and-consume with framesift rules (pacing, class quotas).

It follows ``agent.limits.rules`` (the local store's implementation) step by step:
batch cap; then, per candidate strategy in order, its windows, its pacing bucket
(refilled at the request's ``now``, the caller's clock, so an injected clock works
and every agent of a fleet refills the same bucket), its class quota; the first
candidate passing all three takes the credit, in one atomic EVALSHA.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.limits.store import CreditRequest
from agent.limits.windows import (
    BATCH_COUNTER_TTL_S,
    WINDOW_TTL_S,
    WINDOWS,
    pace_key,
    quota_key,
    quota_seen_key,
    usage_key,
)

CONSUME_WITH_RULES_LUA = """
-- KEYS[1] batch counter; every other key is named by its KEYS index in the plan (ARGV[1], JSON)
-- returns {candidate index (0-based) | -1 batch full | -2 refused, pool key index | 0, pool | reason}
local plan = cjson.decode(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if plan.max_batch >= 0 and used >= plan.max_batch then return {-1, 0, ''} end
local first_reason = ''
for i, c in ipairs(plan.candidates) do
  local reason = ''
  for _, w in ipairs(c.windows) do
    if w[2] >= 0 then
      local v = tonumber(redis.call('GET', KEYS[w[1]]) or '0')
      if v >= w[2] then reason = 'limits'; break end
    end
  end
  local tokens = nil
  if reason == '' and c.pacing ~= nil then
    local p = c.pacing
    local state = redis.call('HMGET', KEYS[p.key], 'tokens', 'ts')
    local t, ts = tonumber(state[1]), tonumber(state[2])
    if t == nil or ts == nil then t = p.burst; ts = plan.now end
    local dt = plan.now - ts
    if dt < 0 then dt = 0 end
    t = math.min(p.burst, t + dt * p.rate)
    if t < 1 then reason = 'pacing' else tokens = t end
  end
  local pool_key, pool_name = 0, ''
  if reason == '' and c.quota ~= nil then
    local q = c.quota
    local seen = 0
    if q.seen > 0 then
      for _, pool in ipairs(q.pools) do redis.call('SADD', KEYS[q.seen], pool[2]) end
      redis.call('EXPIRE', KEYS[q.seen], q.ttl)
      seen = tonumber(redis.call('SCARD', KEYS[q.seen]))
    end
    local best_fraction = math.huge
    for _, pool in ipairs(q.pools) do
      local quota
      if pool[3] < 0 then quota = math.ceil(q.cap / math.max(seen, 1))
      elseif pool[3] == 0 then quota = 0
      else quota = math.max(1, math.floor(q.cap * pool[3] + 0.5)) end
      local u = tonumber(redis.call('GET', KEYS[pool[1]]) or '0')
      if u < quota and u / quota < best_fraction then
        pool_key, pool_name, best_fraction = pool[1], pool[2], u / quota
      end
    end
    if pool_key == 0 then reason = 'quota' end
  end
  if reason == '' then
    for _, w in ipairs(c.windows) do
      redis.call('INCR', KEYS[w[1]])
      redis.call('EXPIRE', KEYS[w[1]], w[3])
    end
    redis.call('INCR', KEYS[1])
    redis.call('EXPIRE', KEYS[1], plan.batch_ttl)
    if tokens ~= nil then
      redis.call('HSET', KEYS[c.pacing.key], 'tokens', tostring(tokens - 1), 'ts', tostring(plan.now))
      redis.call('EXPIRE', KEYS[c.pacing.key], c.pacing.ttl)
    end
    if pool_key > 0 then
      redis.call('INCR', KEYS[pool_key])
      redis.call('EXPIRE', KEYS[pool_key], c.quota.ttl)
    end
    return {i - 1, pool_key, pool_name}
  end
  if first_reason == '' then first_reason = reason end
end
return {-2, 0, first_reason}
"""


def rules_plan(scope: str, request: CreditRequest, now: datetime) -> tuple[list[str], dict[str, Any]]:
    """The keys (KEYS[2:]) and the JSON plan of ``CONSUME_WITH_RULES_LUA`` for one request.

    Plan key indices are KEYS indices (1-based, KEYS[1] is the batch counter), so
    ``keys[k - 2]`` is the key a plan index ``k`` names.
    """
    keys: list[str] = []

    def index_of(key: str) -> int:
        keys.append(key)
        return len(keys) + 1

    candidates = []
    for strategy, limits in request.candidates:
        entry: dict[str, Any] = {
            "windows": [[index_of(usage_key(scope, strategy, w, now)), limits.get(w, -1), WINDOW_TTL_S[w]]
                        for w in WINDOWS],
        }  # fmt: skip
        rules = request.rules.get(strategy)
        if rules is not None and rules.pacing is not None:
            entry["pacing"] = {"key": index_of(pace_key(scope, strategy)), "rate": rules.pacing.rate_per_s,
                               "burst": rules.pacing.burst, "ttl": WINDOW_TTL_S["daily"]}  # fmt: skip
        if rules is not None and rules.quota is not None:
            q = rules.quota
            seen = index_of(quota_seen_key(scope, strategy, q.window, now)) if q.shares is None else 0
            pools = [[index_of(quota_key(scope, strategy, q.window, now, p)), p, q.share_of(p)]
                     for p in q.pools(request.frame_classes)]  # fmt: skip
            entry["quota"] = {"seen": seen, "cap": q.cap, "ttl": WINDOW_TTL_S[q.window], "pools": pools}
        candidates.append(entry)
    max_batch = -1 if request.max_batch_images is None else request.max_batch_images
    return keys, {"max_batch": max_batch, "batch_ttl": BATCH_COUNTER_TTL_S, "candidates": candidates}
