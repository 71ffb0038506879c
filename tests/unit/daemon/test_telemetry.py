"""AgentTelemetry: every lost frame counted once, the same in the metric and in status."""

from __future__ import annotations

import numpy as np
import pytest

from agent.daemon.events import EventBus
from agent.daemon.metrics import AgentMetrics
from agent.daemon.telemetry import AgentTelemetry
from agent.frames.frame import Frame
from agent.inference.model import StubModel
from agent.pipeline.stage_result import StageResult
from agent.predictions.batch import TaskType


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


@pytest.mark.parametrize(
    ("sampling_asked", "skipped"),
    [(True, 1), (False, 0)],  # capture off vs an Infer call without submit: only the first is "skipped"
)
def test_an_unsampled_frame_counts_as_skipped_only_when_sampling_was_asked(sampling_asked, skipped):
    metrics = AgentMetrics()
    telemetry = AgentTelemetry(metrics, EventBus())
    image = np.zeros((8, 8, 3), np.uint8)
    batch = StubModel("p/1", TaskType.OBJECT_DETECTION).predict([image])
    frame = Frame("grpc", "grpc", image, decode_s=0.002)
    result = StageResult([frame], batch=batch, on_request=True, sampling_asked=sampling_asked)
    telemetry.batch_done(result)
    sample = metrics.registry.get_sample_value
    assert sample("framesift_frames_inferred_total") == 1
    assert sample("framesift_frames_in_total", {"source": "grpc"}) == 1
    assert sample("framesift_stage_seconds_sum", {"stage": "decode"}) == pytest.approx(0.002)
    assert telemetry.skipped == skipped and telemetry.on_request == 1
    assert sample("framesift_batch_size_count") == 0  # the batch histograms describe the pipeline's batches
