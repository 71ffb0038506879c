"""AgentTelemetry: every lost frame counted once, the same in the metric and in status."""

from __future__ import annotations

from agent.daemon.events import EventBus
from agent.daemon.metrics import AgentMetrics
from agent.daemon.telemetry import AgentTelemetry


def test_drops_agree_between_metric_status_and_events():
    metrics, events = AgentMetrics(), EventBus()
    subscriber = events.subscribe()
    telemetry = AgentTelemetry(metrics, events)
    telemetry.dropped("cam", "queue_full", 2)
    telemetry.dropped("grpc:line-3", "backpressure")
    telemetry.dropped("cam", "disk_full")
    telemetry.dropped("cam", "queue_full", 0)  # nothing lost: nothing counted
    assert telemetry.dropped_by_reason() == {"queue_full": 2, "backpressure": 1, "disk_full": 1}
    assert telemetry.dropped_by_source() == {"cam": 3, "grpc:line-3": 1}
    sample = metrics.registry.get_sample_value
    assert sample("framesift_frames_dropped_total", {"source": "cam", "reason": "queue_full"}) == 2
    assert sample("framesift_frames_dropped_total", {"source": "grpc:line-3", "reason": "backpressure"}) == 1
    kinds = [subscriber.get_nowait().kind for _ in range(3)]
    assert kinds == ["dropped"] * 3 and subscriber.empty()
