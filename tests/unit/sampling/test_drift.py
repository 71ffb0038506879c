"""DriftMonitor: reference day vs last hour, PSI per class, reset on a model change; drift boost."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from agent.config.al_config import validate_al_config
from agent.limits.local_store import LocalLimitStore
from agent.sampling.drift import DriftMonitor, psi_batch
from agent.sampling.selector import ActiveLearningSelector
from tests.factories import al_config, make_detections

BOX = (0.0, 0.0, 10.0, 10.0)
DAY_S = 86400.0


def frames(conf, n=20, name="car", model="m/1"):
    batch = make_detections([[(name, conf, BOX)] for _ in range(n)])
    batch.model_id = model
    return batch


@pytest.mark.parametrize(
    ("reference", "recent", "expected"),
    [
        pytest.param([[10, 10]], [[10, 10]], 0.0, id="same"),
        pytest.param([[100, 0]], [[0, 100]], 2 * 0.9999 * np.log(1 / 1e-4), id="opposite"),
        pytest.param(np.zeros((0, 2)), np.zeros((0, 2)), None, id="empty"),
    ],
)
def test_psi_batch(reference, recent, expected):
    out = psi_batch(np.array(reference), np.array(recent))
    if expected is None:
        assert out.shape == (0,)
    else:
        assert out[0] == pytest.approx(expected, rel=1e-6)


def test_psi_only_after_the_reference_day_and_rises_with_a_shift():
    m = DriftMonitor(min_samples=10)
    m.observe(frames(0.9), 0.0)
    assert m.psi(3600.0) == {}  # the reference day is still open
    m.observe(frames(0.9), DAY_S + 60)
    assert m.psi(DAY_S + 60)["car"] == pytest.approx(0.0)
    m.observe(frames(0.35, n=200), DAY_S + 120)
    assert m.psi(DAY_S + 120)["car"] > 1.0
    assert m.psi(DAY_S + 120 + 3600) == {}  # the shifted hour rolled out: too few boxes


def test_model_change_restarts_the_reference():
    m = DriftMonitor(min_samples=10)
    m.observe(frames(0.9), 0.0)
    m.observe(frames(0.3, model="m/2"), DAY_S + 60)
    assert m.model_id == "m/2" and m.psi(DAY_S + 60) == {}


def test_drift_boost_raises_the_gate_while_psi_is_high(tmp_path):
    strategy = {"name": "r", "type": "random", "traffic_percentage": 0.01,
                "framesift": {"drift_boost": {"psi_above": 0.5, "factor": 100.0}}}  # fmt: skip
    now = [datetime(2024, 1, 1, tzinfo=timezone.utc)]
    store = LocalLimitStore(tmp_path / "l", "s")
    sel = ActiveLearningSelector(validate_al_config(al_config(strategy)), store, seed=0, environ={},
                                 clock=lambda: now[0])  # fmt: skip
    sel.drift.min_samples = 10
    for _ in range(5):
        sel.select(frames(0.9))
    now[0] += timedelta(days=1, minutes=1)
    calm = sum(len(sel.select(frames(0.9)).selections) for _ in range(5))
    now[0] += timedelta(minutes=1)
    decision = sel.select(frames(0.3, n=400))
    assert decision.psi["car"] > 0.5 and len(decision.selections) > 300
    assert calm < 10 and sel.stats.boosted_batches >= 1
    store.close()


def test_detection_histograms_reach_the_agent_registry():
    from agent.daemon.metrics import AgentMetrics
    from agent.daemon.telemetry import record_detections

    metrics = AgentMetrics()
    batch = make_detections([[("car", 0.95, BOX), ("dog", 0.35, BOX)], []])
    record_detections(metrics, batch)
    sample = metrics.registry.get_sample_value
    assert sample("framesift_detection_confidence_count", {"class_name": "car"}) == 1
    assert sample("framesift_detection_confidence_bucket", {"class_name": "dog", "le": "0.4"}) == 1
    assert sample("framesift_detections_per_frame_count") == 2
    assert sample("framesift_detections_per_frame_bucket", {"le": "0.0"}) == 1
    metrics.class_psi.labels("car").set(0.3)
    assert sample("framesift_class_psi", {"class_name": "car"}) == 0.3
