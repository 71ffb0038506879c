"""framesift extensions travel through the hub: accepted with their JSON paths checked, served back, adopted."""

from __future__ import annotations

import httpx
import pytest

from agent.config.al_config import validate_al_config
from tests.factories import al_config
from tests.hub_process import API_KEY, HubProcess

EXTENDED = al_config({
    "name": "unsure", "type": "detection_uncertainty", "measure": "entropy", "aggregate": "max",
    "threshold": 0.9, "limits": [{"type": "daily", "value": 100}],
    "framesift": {"pacing": {"window": "daily", "burst": 2},
                  "class_quota": {"window": "daily", "shares": {"forklift": 0.3}}},
})  # fmt: skip


@pytest.fixture
def hub(tmp_path):
    process = HubProcess(tmp_path / "hub").start()
    yield process
    process.stop()


def test_an_extended_config_round_trips_through_the_hub(hub):
    url = f"{hub.url}/framesift/site/active_learning"
    posted = httpx.post(url, params={"api_key": API_KEY}, json={"config": EXTENDED}, timeout=10)
    assert posted.status_code == 200, posted.text
    served = httpx.get(url, params={"api_key": API_KEY}, timeout=10).json()
    assert served == EXTENDED
    config = validate_al_config(served)  # what an agent adopts on sync
    strategy = config.sampling_strategies[0]
    assert strategy.type == "detection_uncertainty"


def test_a_bad_extension_is_refused_with_its_path(hub):
    bad = al_config({"name": "unsure", "type": "random", "traffic_percentage": 1.0,
                     "framesift": {"pacing": {"window": "daily", "burst": 2}}})  # fmt: skip
    r = httpx.post(f"{hub.url}/framesift/site/active_learning", params={"api_key": API_KEY}, json={"config": bad},
                   timeout=10)  # fmt: skip
    assert r.status_code == 400
    assert "$.sampling_strategies[0].framesift.pacing" in r.text
