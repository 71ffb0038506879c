"""Facade dataclasses → protobuf messages: the only place that builds ``control_pb2`` replies.

Pure functions, one per message. JSON-valued fields (``config_json``,
``prediction_json``) are serialised here with :func:`json.dumps`.
"""

from __future__ import annotations

import json

from agent.control.facade import (
    AgentStatus,
    ConfigView,
    ControlEvent,
    InferResult,
    ModelView,
    SourceView,
    SpoolStatsView,
    StrategyView,
)
from agent.control.v1 import control_pb2 as pb


def spool_pb(stats: SpoolStatsView) -> pb.SpoolStats:
    """Spool counters."""
    return pb.SpoolStats(count=stats.count, bytes=stats.bytes, ready=stats.ready, leased=stats.leased,
                         dead=stats.dead, dropped=stats.dropped, rejected=stats.rejected, expired=stats.expired,
                         delivered=stats.delivered)  # fmt: skip


def source_pb(source: SourceView) -> pb.SourceStatus:
    """One frame source."""
    return pb.SourceStatus(id=source.id, kind=source.kind, state=source.state, frames=source.frames,
                           dropped=source.dropped, last_error=source.last_error)  # fmt: skip


def strategy_pb(strategy: StrategyView) -> pb.StrategyCounters:
    """Counters of one sampling strategy."""
    return pb.StrategyCounters(name=strategy.name, matched=strategy.matched, selected=strategy.selected)


def status_pb(s: AgentStatus) -> pb.Status:
    """The whole ``GetStatus`` reply (``last_sync_result`` is ``str(SyncResult)``: ``state[: detail]``)."""
    return pb.Status(
        version=s.version, uptime_s=s.uptime_s, model_id=s.model_id, providers=list(s.providers),
        capture_paused=s.capture_paused, online=s.online, sources=[source_pb(src) for src in s.sources],
        batches=s.batches, mean_batch_size=s.mean_batch_size, last_batch_latency_ms=s.last_batch_latency_ms,
        spool=spool_pb(s.spool), last_sync_result=str(s.last_sync), last_sync_age_s=s.last_sync_age_s,
        config_origin=s.config_origin, strategies=[strategy_pb(st) for st in s.strategies],
        frames_in=s.frames_in, frames_inferred=s.frames_inferred, frames_dropped=s.frames_dropped,
        near_duplicates=s.near_duplicates, limited=s.limited, active_learning_enabled=s.active_learning_enabled,
        destination_state=s.destination_state, capture_reason=s.capture_reason, config_reason=s.config_reason,
        frames_skipped=s.frames_skipped, dropped_by_reason=dict(s.dropped_by_reason),
        limits=[pb.LimitWindow(strategy=lim.strategy, window=lim.window, used=lim.used, cap=lim.cap)
                for lim in s.limits],
        spool_oldest_age_s=s.spool_oldest_age_s, class_psi=dict(s.class_psi),
    )  # fmt: skip


def config_pb(config: ConfigView) -> pb.ConfigDocument:
    """The config in force as JSON text, with its origin and ETag (``version`` is not on the wire)."""
    return pb.ConfigDocument(config_json=json.dumps(config.document), origin=config.origin, etag=config.etag)


def model_pb(model: ModelView) -> pb.ModelInfo:
    """A model, loaded or only present on disk."""
    return pb.ModelInfo(
        model_id=model.model_id, task=model.task, loaded=model.loaded, providers=list(model.providers),
        class_names=list(model.class_names), input_height=model.input_height, input_width=model.input_width,
    )  # fmt: skip


def models_pb(models: list[ModelView]) -> pb.ListModelsResponse:
    """The ``ListModels`` reply."""
    return pb.ListModelsResponse(models=[model_pb(m) for m in models])


def infer_pb(result: InferResult) -> pb.InferResponse:
    """One ``Infer`` reply: the Roboflow-JSON prediction and what sampling made of it."""
    return pb.InferResponse(prediction_json=json.dumps(result.prediction),
                            matched_strategies=list(result.matched_strategies),
                            selected_strategy=result.selected_strategy)  # fmt: skip


def event_pb(event: ControlEvent) -> pb.Event:
    """One ``WatchEvents`` message."""
    return pb.Event(kind=event.kind, time_s=event.time_s, source_id=event.source_id, detail=event.detail)
