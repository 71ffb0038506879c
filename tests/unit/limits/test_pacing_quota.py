"""framesift limit rules: paced caps and class quotas, on the local store and a real Redis."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from agent.config.al_config import validate_al_config
from agent.limits.local_store import LocalLimitStore
from agent.limits.redis_store import RedisLimitStore
from agent.limits.rules import PacingRule, QuotaRule, StrategyRules, quota_of_share, refill
from agent.limits.store import CreditRequest
from agent.sampling.selector import ActiveLearningSelector
from tests.factories import al_config, make_detections
from tests.redis_server import redis_server

MIDNIGHT = datetime(2024, 3, 5, 0, 0, 0, tzinfo=timezone.utc)
BOX = (0.0, 0.0, 10.0, 10.0)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["local", "redis"])
def make_store(request, tmp_path):
    opened = []

    def make(scope="site"):
        if request.param == "local":
            store = LocalLimitStore(tmp_path / "limits", scope=scope)
        else:
            store = RedisLimitStore(request.getfixturevalue("redis_url"), scope=f"{scope}-{tmp_path.name}")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def paced(cap=100, burst=1, window="daily"):
    return {"name": "all", "type": "random", "traffic_percentage": 1.0, "limits": [{"type": window, "value": cap}],
            "framesift": {"pacing": {"window": window, "burst": burst}}}  # fmt: skip


def run_day(store, strategy, minutes=24 * 60):
    """One matching frame a minute through the real selector; the hours that got a frame."""
    clock = [MIDNIGHT]
    selector = ActiveLearningSelector(validate_al_config(al_config(strategy)), store, seed=0, environ={},
                                      clock=lambda: clock[0])  # fmt: skip
    hours = []
    for minute in range(minutes):
        clock[0] = MIDNIGHT + timedelta(minutes=minute)
        if selector.select(make_detections([[("car", 0.9, BOX)]])).selections:
            hours.append(clock[0].hour)
    return hours, selector


def test_paced_daily_cap_reaches_every_hour_first_come_does_not(make_store):
    first_come = {k: v for k, v in paced().items() if k != "framesift"}
    hours, _ = run_day(make_store("fc"), first_come)
    assert len(hours) == 100 and set(hours) == {0, 1}  # spent in the first 100 minutes
    hours, selector = run_day(make_store("paced"), paced())
    assert len(hours) <= 100 and set(hours) == set(range(24))
    assert selector.stats.limited_pacing > 1000


def test_pacing_survives_a_restart(tmp_path):
    rules = {"s": StrategyRules(PacingRule(rate_per_s=1 / 600, burst=2))}
    req = CreditRequest([("s", {})], "b", rules=rules)
    store = LocalLimitStore(tmp_path / "limits", "x")
    assert [store.try_consume(req, MIDNIGHT).granted for _ in range(3)] == [True, True, False]
    store.close()
    store = LocalLimitStore(tmp_path / "limits", "x")  # a restart: the bucket is still empty
    refused = store.try_consume(req, MIDNIGHT + timedelta(minutes=9))
    assert not refused.granted and refused.extra == {"refused": "pacing"}
    assert store.try_consume(req, MIDNIGHT + timedelta(minutes=10)).granted
    store.close()


def test_pacing_clock_backwards_adds_nothing():
    rule = PacingRule(rate_per_s=1.0, burst=5)
    assert refill(0.5, 100.0, 50.0, rule) == 0.5
    assert refill(0.5, 100.0, 101.0, rule) == 1.5
    assert refill(4.0, 0.0, 100.0, rule) == 5.0


@pytest.mark.parametrize(
    ("cap", "share", "expected"),
    [(10, 0.3, 3), (10, 0.25, 3), (10, 0.01, 1), (10, 0.0, 0), (100, 0.02, 2), (7, 1.0, 7)],
)
def test_quota_of_share(cap, share, expected):
    assert quota_of_share(cap, share) == expected


def quota_request(classes, shares=None, cap=10):
    rules = {"q": StrategyRules(quota=QuotaRule("daily", cap, shares))}
    return CreditRequest([("q", {"daily": cap})], "b", rules=rules, frame_classes=classes)


def test_shares_keep_room_for_the_rare_class(make_store):
    store = make_store()
    shares = {"forklift": 0.3}
    common = [store.try_consume(quota_request(("person",), shares), MIDNIGHT) for _ in range(10)]
    assert sum(r.granted for r in common) == 7  # (other) pool: 1 - 0.3
    assert common[-1].extra == {"refused": "quota"}
    rare = [store.try_consume(quota_request(("forklift",), shares), MIDNIGHT) for _ in range(5)]
    assert sum(r.granted for r in rare) == 3
    assert rare[0].extra == {"class": "forklift"}
    assert store.usage("q", MIDNIGHT)["daily"] == 10


def test_frame_is_charged_to_its_class_with_most_room(make_store):
    store = make_store()
    shares = {"a": 0.5, "b": 0.5}
    assert store.try_consume(quota_request(("a",), shares), MIDNIGHT).extra == {"class": "a"}
    assert store.try_consume(quota_request(("a", "b"), shares), MIDNIGHT).extra == {"class": "b"}
    granted = store.try_consume(quota_request(("a", "b"), shares), MIDNIGHT)
    assert granted.extra == {"class": "a"}  # a tie goes to the first
    store.give_back(granted.credit)
    assert store.try_consume(quota_request(("a",), shares), MIDNIGHT).extra == {"class": "a"}


def test_balanced_quota_divides_the_cap_over_classes_seen(make_store):
    store = make_store()
    first = [store.try_consume(quota_request(("car",)), MIDNIGHT).granted for _ in range(6)]
    assert first == [True] * 6  # one class seen: ceil(10 / 1)
    assert store.try_consume(quota_request(("bike",)), MIDNIGHT).granted  # seen: 2, car has 6 >= 5
    assert not store.try_consume(quota_request(("car",)), MIDNIGHT).granted
    assert store.try_consume(quota_request(()), MIDNIGHT).extra == {"class": "(none)"}  # no detections


def test_plain_requests_are_untouched_by_rules_of_other_strategies(make_store):
    store = make_store()
    rules = {"other": StrategyRules(PacingRule(1e-9, 1))}
    result = store.try_consume(CreditRequest([("s", {"daily": 1})], "b", rules=rules), MIDNIGHT)
    assert result.granted and result.extra == {}


@pytest.mark.parametrize(
    ("rules", "classes", "expected"),
    [
        pytest.param(StrategyRules(PacingRule(rate_per_s=1e-9, burst=7)), ("car",), 7, id="pacing-burst"),
        pytest.param(StrategyRules(quota=QuotaRule("daily", 1000, {"rare": 0.005})), ("rare",), 5, id="quota"),
    ],
)
def test_redis_rules_are_exact_under_concurrency(redis_url, tmp_path, rules, classes, expected):
    granted: list[bool] = []
    lock = threading.Lock()

    def hammer():
        store = RedisLimitStore(redis_url, scope=f"conc-{tmp_path.name}")
        try:
            for _ in range(25):
                req = CreditRequest([("s", {"daily": 1000})], "b", rules={"s": rules}, frame_classes=classes)
                result = store.try_consume(req, MIDNIGHT)
                with lock:
                    granted.append(result.granted)
        finally:
            store.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(granted) == 200 and sum(granted) == expected  # exactly, whatever the interleaving
