"""Selector: batches, tags, near-duplicates and limit credits together."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from agent.config.al_config import validate_al_config
from agent.limits.local_store import LocalLimitStore
from agent.sampling.batches import batch_name, collect_tags, env_tags
from agent.sampling.near_duplicates import NearDuplicateFilter, dhash, hamming_distances
from agent.sampling.selector import ActiveLearningSelector
from tests.factories import al_config, make_detections, make_stub

NOW = datetime(2024, 5, 28, 10, 0, tzinfo=timezone.utc)  # a Tuesday


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("never", "my_batch"),
        ("daily", "my_batch_2024_05_28"),
        ("weekly", "my_batch_2024_05_27"),
        ("monthly", "my_batch_2024_05_01"),
    ],
)
def test_batch_names(interval, expected):
    assert batch_name("my_batch", interval, NOW) == expected


def test_more_batch_names():
    assert batch_name("p", "weekly", datetime(2023, 10, 26)) == "p_2023_10_23"
    assert batch_name("p", "monthly", datetime(2023, 10, 26)) == "p_2023_10_01"
    assert batch_name("p", "daily", datetime(1986, 6, 22)) == "p_1986_06_22"


def test_tags_in_reference_order():
    assert collect_tags([], ["a", "b"], ["e", "f"], "coin-detection/3", True) == [
        "a",
        "b",
        "e",
        "f",
        "coin-detection-3",
    ]
    assert collect_tags(["factory-x", "line-y"], ["a"], [], "m/1", False) == ["factory-x", "line-y", "a"]
    assert collect_tags(["a"], ["a"], ["a"], "", True) == ["a"]


def test_env_tags_are_stripped_and_validated(caplog):
    assert env_tags({"ACTIVE_LEARNING_TAGS": "a, b ,,bad tag,c"}) == ["a", "b", "c"]
    assert "bad tag" in caplog.text
    assert env_tags({}) == []


def test_dhash_and_distance():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    h1 = dhash(image)
    noisy = np.clip(image.astype(np.int16) + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)
    other = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    d = hamming_distances(h1, np.array([dhash(noisy), dhash(other), h1], np.uint64))
    assert d[0] <= 6 and d[1] > 16 and d[2] == 0
    assert hamming_distances(h1, np.zeros(0, np.uint64)).shape == (0,)


def test_near_duplicate_ring_is_per_source():
    f = NearDuplicateFilter(max_hamming_distance=0, history_size=2)
    a, b, c = np.uint64(1), np.uint64(2), np.uint64(4)
    f.remember("cam1", a)
    assert f.is_duplicate("cam1", a) and not f.is_duplicate("cam2", a)
    f.remember("cam1", b)
    f.remember("cam1", c)  # evicts a
    assert not f.is_duplicate("cam1", a)


def _selector(tmp_path, *strategies, **extra):
    cfg = validate_al_config(al_config(*strategies, **extra))
    store = LocalLimitStore(tmp_path / "limits", "proj")
    return ActiveLearningSelector(cfg, store, model_id="proj/3", seed=0, environ={}, clock=lambda: NOW)


def test_selection_takes_credits_and_tags(tmp_path):
    sel = _selector(
        tmp_path,
        {
            "name": "crowd",
            "type": "detections_number_based",
            "probability": 1.0,
            "more_than": 0,
            "limits": [{"type": "minutely", "value": 1}],
            "tags": ["crowd"],
        },
        {"name": "all", "type": "random", "traffic_percentage": 1.0, "tags": ["bg"]},
        tags=["site"],
    )
    box = (0.0, 0.0, 5.0, 5.0)
    decision = sel.select(make_detections([[("car", 0.9, box)], [("car", 0.9, box)], []]))
    assert decision.matrix.tolist() == [[True, True], [True, True], [False, True]]
    assert [(s.frame, s.strategy) for s in decision.selections] == [(0, "crowd"), (1, "all"), (2, "all")]
    first = decision.selections[0]
    assert first.tags == ("site", "crowd", "proj-3")
    assert first.batch_name == "al_2024_05_28"
    assert first.matched == ("crowd", "all")
    assert sel.stats.selected == {"crowd": 1, "all": 2}


def test_batch_cap_and_limits_are_counted(tmp_path):
    sel = _selector(tmp_path, {"name": "r", "type": "random", "traffic_percentage": 1.0},
                    batching_strategy={"batches_name_prefix": "b", "recreation_interval": "never",
                                       "max_batch_images": 3})  # fmt: skip
    decision = sel.select(make_stub(5))
    assert len(decision.selections) == 3
    assert sel.stats.limited_batch == 2


def test_near_duplicates_do_not_cost_credits(tmp_path):
    sel = _selector(tmp_path, {"name": "r", "type": "random", "traffic_percentage": 1.0,
                               "limits": [{"type": "daily", "value": 100}]},
                    near_duplicate_filter={"max_hamming_distance": 4, "history_size": 8})  # fmt: skip
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    frames = [a, a.copy(), b, a, b]
    decision = sel.select(make_stub(5), frames, ["cam"] * 5)
    assert [s.frame for s in decision.selections] == [0, 2]
    assert sel.stats.near_duplicates == 3
    assert sel.limits.usage("r", NOW)["daily"] == 2
    other_cam = sel.select(make_stub(1), [a], ["cam2"])
    assert len(other_cam.selections) == 1
