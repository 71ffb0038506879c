"""ControlServicer: gRPC ↔ Agent facade. Proto conversion and one error → status table."""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from agent.control.v1 import control_pb2 as pb
from agent.control.v1 import control_pb2_grpc as pb_grpc
from agent.daemon.agent import Agent
from agent.daemon.config_sync import ConfigSnapshot
from agent.errors import (
    AgentUnavailableError,
    ConfigError,
    FramesiftError,
    ImageError,
    ModelNotFoundError,
    SpoolFullError,
)
from agent.spool.disk_spool import SpoolStats

logger = logging.getLogger(__name__)
T = TypeVar("T")

ERROR_CODES: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (ConfigError, grpc.StatusCode.INVALID_ARGUMENT),
    (ImageError, grpc.StatusCode.INVALID_ARGUMENT),
    (ModelNotFoundError, grpc.StatusCode.NOT_FOUND),
    (SpoolFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (AgentUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (FramesiftError, grpc.StatusCode.INTERNAL),
]


def _call(context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except tuple(e for e, _ in ERROR_CODES) as exc:
        code = next(c for e, c in ERROR_CODES if isinstance(exc, e))
        context.abort(code, str(exc))
        raise  # abort raises; keeps type checkers honest


def spool_pb(s: SpoolStats) -> pb.SpoolStats:
    return pb.SpoolStats(**s.__dict__)


def config_pb(snap: ConfigSnapshot) -> pb.ConfigDocument:
    return pb.ConfigDocument(config_json=json.dumps(snap.document), origin=snap.origin, etag=snap.etag or "")


class ControlServicer(pb_grpc.ControlServicer):
    """Implements framesift.control.v1.Control over an Agent."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def GetStatus(self, request: pb.GetStatusRequest, context: grpc.ServicerContext) -> pb.Status:  # noqa: N802
        s: dict[str, Any] = _call(context, self.agent.status)
        return pb.Status(
            version=s["version"], uptime_s=s["uptime_s"], model_id=s["model_id"], providers=s["providers"],
            capture_paused=s["capture_paused"], online=s["online"],
            sources=[pb.SourceStatus(**src) for src in s["sources"]], batches=s["batches"],
            mean_batch_size=s["mean_batch_size"], last_batch_latency_ms=s["last_batch_latency_ms"],
            spool=spool_pb(s["spool"]), last_sync_result=s["last_sync_result"],
            last_sync_age_s=s["last_sync_age_s"], config_origin=s["config_origin"],
            strategies=[pb.StrategyCounters(name=n, matched=m, selected=k) for n, m, k in s["strategies"]],
            frames_in=s["frames_in"], frames_inferred=s["frames_inferred"], frames_dropped=s["frames_dropped"],
            near_duplicates=s["near_duplicates"], limited=s["limited"],
            active_learning_enabled=s["active_learning_enabled"],
        )  # fmt: skip

    def GetConfig(self, request: pb.GetConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return config_pb(self.agent.get_config())

    def SetConfig(self, request: pb.SetConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return config_pb(_call(context, lambda: self.agent.set_config(request.config_json)))

    def ReloadConfig(self, request: pb.ReloadConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return config_pb(_call(context, self.agent.reload_config))

    def PauseCapture(self, request: pb.PauseCaptureRequest, context: grpc.ServicerContext) -> pb.CaptureState:  # noqa: N802
        return pb.CaptureState(paused=self.agent.set_paused(True))

    def ResumeCapture(self, request: pb.ResumeCaptureRequest, context: grpc.ServicerContext) -> pb.CaptureState:  # noqa: N802
        return pb.CaptureState(paused=self.agent.set_paused(False))

    def _model_info(self, model: Any, loaded: bool) -> pb.ModelInfo:
        spec = getattr(model, "spec", None)
        return pb.ModelInfo(
            model_id=model.model_id, task=model.task.value, loaded=loaded, providers=model.providers,
            class_names=list(spec.class_names) if spec else [],
            input_height=spec.input_hw[0] if spec else 0, input_width=spec.input_hw[1] if spec else 0,
        )  # fmt: skip

    def ListModels(self, request: pb.ListModelsRequest, context: grpc.ServicerContext) -> pb.ListModelsResponse:  # noqa: N802
        current = self.agent.model.model_id if self.agent.model else None
        models = [pb.ModelInfo(model_id=mid, loaded=mid == current) for mid, _ in self.agent.list_models()]
        if current and all(m.model_id != current for m in models) and self.agent.model is not None:
            models.insert(0, self._model_info(self.agent.model, True))
        return pb.ListModelsResponse(models=models)

    def LoadModel(self, request: pb.LoadModelRequest, context: grpc.ServicerContext) -> pb.ModelInfo:  # noqa: N802
        if not request.model_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "model_id: required (project/version or a path)")
        model = _call(context, lambda: self.agent.load_model(request.model_id))
        return self._model_info(model, True)

    def UnloadModel(self, request: pb.UnloadModelRequest, context: grpc.ServicerContext) -> pb.ModelInfo:  # noqa: N802
        return pb.ModelInfo(model_id=self.agent.unload_model(), loaded=False)

    def Infer(self, request: pb.InferRequest, context: grpc.ServicerContext) -> pb.InferResponse:  # noqa: N802
        if not request.image:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "image: required (encoded JPEG/PNG bytes)")
        doc, matched, chosen = _call(context, lambda: self.agent.infer(request.image, request.source_id,
                                                                        request.submit))  # fmt: skip
        return pb.InferResponse(prediction_json=json.dumps(doc), matched_strategies=matched,
                                selected_strategy=chosen)  # fmt: skip

    def SubmitFrames(self, request_iterator: Iterator[pb.SubmitFrameRequest],  # noqa: N802
                     context: grpc.ServicerContext) -> pb.SubmitFramesResponse:  # fmt: skip
        accepted = rejected = 0
        errors: list[str] = []
        for req in request_iterator:
            try:
                if self.agent.submit_frame(req.image, req.source_id, req.frame_id):
                    accepted += 1
                    continue
                rejected += 1
                message = f"{req.frame_id or '?'}: queue full (backpressure), frame not accepted"
            except ImageError as exc:
                rejected += 1
                message = str(exc)
            except AgentUnavailableError as exc:
                context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            if len(errors) < 20:
                errors.append(message)
        return pb.SubmitFramesResponse(accepted=accepted, rejected=rejected, errors=errors)

    def WatchEvents(self, request: pb.WatchEventsRequest, context: grpc.ServicerContext) -> Iterator[pb.Event]:  # noqa: N802
        kinds = set(request.kinds)
        sub = self.agent.events.subscribe()
        try:
            while context.is_active() and not self.agent.stopping:
                try:
                    event = sub.get(timeout=0.5)
                except queue.Empty:
                    continue
                if not kinds or event.kind in kinds:
                    yield pb.Event(kind=event.kind, time_s=event.time_s, source_id=event.source_id,
                                   detail=event.detail)  # fmt: skip
        finally:
            self.agent.events.unsubscribe(sub)

    def GetSpoolStats(self, request: pb.GetSpoolStatsRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        return spool_pb(self.agent.spool_stats())

    def FlushSpool(self, request: pb.FlushSpoolRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        timeout = request.timeout_s or 30.0
        if not 0 < timeout <= 600:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "timeout_s: must be in (0, 600]")
        return spool_pb(self.agent.flush_spool(timeout))

    def PurgeSpool(self, request: pb.PurgeSpoolRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        return spool_pb(self.agent.purge_spool(request.all))
