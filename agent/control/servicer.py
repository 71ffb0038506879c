"""ControlServicer: the gRPC Control service over an :class:`AgentControl` facade.

Every RPC, streaming ones included, answers errors through one table
(:data:`ERROR_CODES`): the ``agent.errors`` class decides the status code, and
its message becomes the details. A request that fails validation is
INVALID_ARGUMENT. Anything else is a bug: it is logged with its traceback and
answered INTERNAL with a generic message, so internals never reach a client.
"""

from __future__ import annotations

import functools
import logging
import queue
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc

from agent.control import convert
from agent.control.facade import AgentControl
from agent.control.v1 import control_pb2 as pb
from agent.control.v1 import control_pb2_grpc as pb_grpc
from agent.errors import (
    AgentUnavailableError,
    ConfigError,
    FramesiftError,
    ImageError,
    ModelNotFoundError,
    SpoolFullError,
)

logger = logging.getLogger(__name__)

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

INTERNAL_MESSAGE = "internal error (the agent's log has the details)"
MAX_FRAME_ERRORS = 20  # SubmitFrames reports at most this many per-frame errors
MAX_FLUSH_TIMEOUT_S = 600.0


class RequestError(Exception):
    """A request field is missing or out of range (answered INVALID_ARGUMENT)."""


ERROR_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (RequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (ConfigError, grpc.StatusCode.INVALID_ARGUMENT),
    (ImageError, grpc.StatusCode.INVALID_ARGUMENT),
    (ModelNotFoundError, grpc.StatusCode.NOT_FOUND),
    (SpoolFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (AgentUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (FramesiftError, grpc.StatusCode.INTERNAL),
)
"""First match wins: subclasses before their bases."""


def status_for(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The status code and details ``exc`` is answered with."""
    for cls, code in ERROR_CODES:
        if isinstance(exc, cls):
            return code, str(exc)
    return grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE


def _abort(context: grpc.ServicerContext, rpc: str, exc: Exception) -> NoReturn:
    code, details = status_for(exc)
    if not isinstance(exc, (FramesiftError, RequestError)):
        logger.error("%s failed unexpectedly", rpc, exc_info=exc)
    elif code == grpc.StatusCode.INTERNAL:
        logger.warning("%s failed: %s", rpc, exc)
    context.abort(code, details)
    raise AssertionError("context.abort returned")  # it raises; keeps type checkers honest


def unary(method: Callable[[S, Req, Any], Resp]) -> Callable[[S, Req, Any], Resp]:
    """Answer whatever ``method`` raises through the error table."""

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return method(self, request, context)
        except grpc.RpcError:
            raise  # the client's request stream broke (cancelled): gRPC already knows
        except Exception as exc:
            _abort(context, method.__name__, exc)

    return wrapper


def server_stream(method: Callable[[S, Req, Any], Iterator[Resp]]) -> Callable[[S, Req, Any], Iterator[Resp]]:
    """Like :func:`unary`, for a response stream (also errors raised after the first message)."""

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Iterator[Resp]:
        try:
            yield from method(self, request, context)
        except Exception as exc:
            _abort(context, method.__name__, exc)

    return wrapper


class ControlServicer(pb_grpc.ControlServicer):
    """Implements ``framesift.control.v1.Control`` over the facade in :attr:`control`."""

    def __init__(self, control: AgentControl, *, event_poll_s: float = 0.5) -> None:
        self.control = control
        self.event_poll_s = event_poll_s  # how soon WatchEvents notices a gone client or a stopping agent

    @unary
    def GetStatus(self, request: pb.GetStatusRequest, context: grpc.ServicerContext) -> pb.Status:  # noqa: N802
        return convert.status_pb(self.control.status())

    @unary
    def GetConfig(self, request: pb.GetConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return convert.config_pb(self.control.get_config())

    @unary
    def SetConfig(self, request: pb.SetConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return convert.config_pb(self.control.set_config(request.config_json))

    @unary
    def ReloadConfig(self, request: pb.ReloadConfigRequest, context: grpc.ServicerContext) -> pb.ConfigDocument:  # noqa: N802
        return convert.config_pb(self.control.reload_config())

    @unary
    def PauseCapture(self, request: pb.PauseCaptureRequest, context: grpc.ServicerContext) -> pb.CaptureState:  # noqa: N802
        return pb.CaptureState(paused=self.control.set_paused(True))

    @unary
    def ResumeCapture(self, request: pb.ResumeCaptureRequest, context: grpc.ServicerContext) -> pb.CaptureState:  # noqa: N802
        return pb.CaptureState(paused=self.control.set_paused(False))

    @unary
    def ListModels(self, request: pb.ListModelsRequest, context: grpc.ServicerContext) -> pb.ListModelsResponse:  # noqa: N802
        return convert.models_pb(self.control.list_models())

    @unary
    def LoadModel(self, request: pb.LoadModelRequest, context: grpc.ServicerContext) -> pb.ModelInfo:  # noqa: N802
        if not request.model_id:
            raise RequestError("model_id: required (project/version or a path)")
        return convert.model_pb(self.control.load_model(request.model_id))

    @unary
    def UnloadModel(self, request: pb.UnloadModelRequest, context: grpc.ServicerContext) -> pb.ModelInfo:  # noqa: N802
        return convert.model_pb(self.control.unload_model())

    @unary
    def Infer(self, request: pb.InferRequest, context: grpc.ServicerContext) -> pb.InferResponse:  # noqa: N802
        if not request.image:
            raise RequestError("image: required (encoded JPEG/PNG bytes)")
        return convert.infer_pb(self.control.infer(request.image, request.source_id, request.submit))

    @unary
    def SubmitFrames(  # noqa: N802
        self, request_iterator: Iterator[pb.SubmitFrameRequest], context: grpc.ServicerContext
    ) -> pb.SubmitFramesResponse:
        """Frames that cannot be read or find their queue full are counted and listed, not fatal."""
        accepted = rejected = 0
        errors: list[str] = []
        for req in request_iterator:
            name = f"frame {req.frame_id or '?'}"
            if not req.image:
                queued, message = False, f"{name}: image: required (encoded JPEG/PNG bytes)"
            else:
                try:
                    queued = self.control.submit_frame(req.image, req.source_id, req.frame_id)
                    message = f"{name}: queue full (backpressure), frame not accepted"
                except ImageError as exc:
                    queued, message = False, str(exc)
            if queued:
                accepted += 1
                continue
            rejected += 1
            if len(errors) < MAX_FRAME_ERRORS:
                errors.append(message)
        return pb.SubmitFramesResponse(accepted=accepted, rejected=rejected, errors=errors)

    @server_stream
    def WatchEvents(self, request: pb.WatchEventsRequest, context: grpc.ServicerContext) -> Iterator[pb.Event]:  # noqa: N802
        """Events of the requested kinds (all when none) until the client goes or the agent stops."""
        kinds = frozenset(request.kinds)
        events = self.control.subscribe_events()
        try:
            while context.is_active() and not self.control.stopping:
                try:
                    event = events.get(timeout=self.event_poll_s)
                except queue.Empty:
                    continue
                if not kinds or event.kind in kinds:
                    yield convert.event_pb(event)
        finally:
            self.control.unsubscribe_events(events)

    @unary
    def GetSpoolStats(self, request: pb.GetSpoolStatsRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        return convert.spool_pb(self.control.spool_stats())

    @unary
    def FlushSpool(self, request: pb.FlushSpoolRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        timeout_s = request.timeout_s or 30.0
        if not 0 < timeout_s <= MAX_FLUSH_TIMEOUT_S:
            raise RequestError(f"timeout_s: must be in (0, {MAX_FLUSH_TIMEOUT_S:.0f}]")
        return convert.spool_pb(self.control.flush_spool(timeout_s))

    @unary
    def PurgeSpool(self, request: pb.PurgeSpoolRequest, context: grpc.ServicerContext) -> pb.SpoolStats:  # noqa: N802
        return convert.spool_pb(self.control.purge_spool(request.all))
