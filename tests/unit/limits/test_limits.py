"""Limits: fixed UTC windows, first strategy with room, batch cap, give-back, backends."""

from __future__ import annotations

import logging
import multiprocessing as mp
from datetime import datetime, timedelta, timezone

import pytest

from agent.limits.failover import FailoverLimitStore
from agent.limits.local_store import LocalLimitStore
from agent.limits.redis_store import RedisLimitStore
from agent.limits.store import CreditRequest
from tests.redis_server import free_port, redis_server

T0 = datetime(2023, 10, 26, 21, 37, 5, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["local", "redis"])
def store(request, tmp_path):
    if request.param == "local":
        s = LocalLimitStore(tmp_path / "limits", scope="ws:proj")
    else:
        url = request.getfixturevalue("redis_url")
        s = RedisLimitStore(url, scope=f"t{tmp_path.name}")
    yield s
    s.close()


def req(*candidates, batch="b", cap=None):
    return CreditRequest(list(candidates), batch, cap)


def test_minutely_window_rolls_over(store):
    limit = ("s", {"minutely": 2})
    assert store.try_consume(req(limit), T0).granted
    assert store.try_consume(req(limit), T0 + timedelta(seconds=30)).granted
    refused = store.try_consume(req(limit), T0 + timedelta(seconds=54))  # 21:37:59
    assert not refused.granted and refused.reason == "strategy_limits"
    assert store.try_consume(req(limit), T0.replace(minute=38, second=0)).granted
    assert store.usage("s", T0) == {"minutely": 2, "hourly": 3, "daily": 3}


def test_hourly_and_daily_windows(store):
    hourly = ("h", {"hourly": 1})
    assert store.try_consume(req(hourly), T0).granted
    assert not store.try_consume(req(hourly), T0.replace(minute=59)).granted
    assert store.try_consume(req(hourly), T0.replace(hour=22, minute=0)).granted
    daily = ("d", {"daily": 1})
    assert store.try_consume(req(daily), T0).granted
    assert not store.try_consume(req(daily), T0.replace(hour=23, minute=59)).granted
    assert store.try_consume(req(daily), T0 + timedelta(days=1)).granted


def test_same_minute_of_another_hour_is_a_new_window(store):
    # the reference keys minute_{M}; a full timestamp keeps 21:37 and 22:37 apart
    limit = ("s", {"minutely": 1})
    assert store.try_consume(req(limit), T0).granted
    assert store.try_consume(req(limit), T0 + timedelta(hours=1)).granted


def test_first_strategy_with_room_takes_the_credit(store):
    a, b = ("a", {"minutely": 1}), ("b", {})
    first = store.try_consume(req(a, b), T0)
    second = store.try_consume(req(a, b), T0)
    assert first.credit.strategy == "a" and second.credit.strategy == "b"
    # all three windows of the winner are counted even with only a minutely limit
    assert store.usage("a", T0) == {"minutely": 1, "hourly": 1, "daily": 1}
    assert store.usage("b", T0) == {"minutely": 1, "hourly": 1, "daily": 1}


def test_give_back_returns_to_the_original_window(store):
    limit = ("s", {"minutely": 1})
    credit = store.try_consume(req(limit), T0).credit
    later = T0 + timedelta(minutes=1)
    assert store.try_consume(req(limit), later).granted
    store.give_back(credit)  # returned in 21:38, to 21:37
    assert store.usage("s", T0)["minutely"] == 0
    assert store.usage("s", later)["minutely"] == 1
    assert store.try_consume(req(limit), T0).granted


def test_batch_cap(store):
    s = ("s", {})
    for _ in range(3):
        assert store.try_consume(req(s, batch="day1", cap=3), T0).granted
    full = store.try_consume(req(s, batch="day1", cap=3), T0)
    assert not full.granted and full.reason == "batch_full"
    assert store.try_consume(req(s, batch="day2", cap=3), T0).granted
    credit = store.try_consume(req(s, batch="day3", cap=1), T0).credit
    store.give_back(credit)
    assert store.try_consume(req(s, batch="day3", cap=1), T0).granted


def test_local_counts_survive_restart(tmp_path):
    first = LocalLimitStore(tmp_path / "limits", "p")
    assert first.try_consume(req(("s", {"daily": 2})), T0).granted
    first.close()
    second = LocalLimitStore(tmp_path / "limits", "p")
    assert second.usage("s", T0)["daily"] == 1
    assert second.try_consume(req(("s", {"daily": 2})), T0).granted
    assert not second.try_consume(req(("s", {"daily": 2})), T0).granted
    second.close()


# ---------------------------------------------------------------- concurrency

LIMIT = 37
PROCS = 8
TRIES = 25


def _consumer(kind, target, barrier, results):
    store = RedisLimitStore(target, "race") if kind == "redis" else LocalLimitStore(target, "race")
    barrier.wait()
    granted = 0
    for _ in range(TRIES):
        if store.try_consume(req(("s", {"minutely": LIMIT}), batch="race"), T0).granted:
            granted += 1
    results.put(granted)
    store.close()


@pytest.mark.parametrize("kind", ["redis", "local"])
def test_eight_processes_get_exactly_the_limit(kind, tmp_path, request):
    target = request.getfixturevalue("redis_url") if kind == "redis" else tmp_path / "shared"
    if kind == "redis":
        RedisLimitStore(target, "race").client.flushdb()
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(PROCS), ctx.Queue()
    procs = [ctx.Process(target=_consumer, args=(kind, target, barrier, results)) for _ in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    total = sum(results.get(timeout=5) for _ in procs)
    assert PROCS * TRIES > LIMIT
    assert total == LIMIT


# ---------------------------------------------------------------- failover


def test_redis_down_at_start_falls_back_and_recovers(tmp_path, caplog):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    clock = [0.0]
    with caplog.at_level(logging.WARNING):
        store = FailoverLimitStore(
            RedisLimitStore(url, "f", timeout_s=0.3), LocalLimitStore(tmp_path / "l", "f"),
            retry_interval_s=30, monotonic=lambda: clock[0],
        )  # fmt: skip
    assert store.name == "local"
    assert "unreachable" in caplog.text and "local limits" in caplog.text
    assert store.try_consume(req(("s", {})), T0).credit.backend == "local"
    with redis_server(tmp_path / "r", port=port):
        assert store.try_consume(req(("s", {})), T0).credit.backend == "local"  # not retried yet
        clock[0] = 31.0
        credit = store.try_consume(req(("s", {})), T0).credit
        assert credit.backend == "redis" and store.name == "redis"
        store.give_back(credit)
    # the server went away: the next call fails over to local without raising
    assert store.try_consume(req(("s", {})), T0).credit.backend == "local"
    store.close()


def test_password_is_redacted(tmp_path, caplog):
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING):
        FailoverLimitStore(RedisLimitStore(url, "f", timeout_s=0.2), LocalLimitStore(tmp_path / "l", "f"))
    assert "s3cret" not in caplog.text
