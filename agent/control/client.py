"""ControlClient: the Python client host applications use to talk to a running agent."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc

from agent.control.v1 import control_pb2 as pb
from agent.control.v1 import control_pb2_grpc as pb_grpc


class ControlClient:
    """Connects to ``unix:/path/control.sock`` or ``host:port`` (TLS + bearer token)."""

    def __init__(
        self,
        target: str,
        *,
        ca_file: Path | None = None,
        token: str | None = None,
        server_name: str | None = None,
        timeout_s: float = 30.0,
        max_message_mb: float = 16.0,
    ) -> None:
        self.target = target
        size = int(max_message_mb * 1024 * 1024)
        options: list[tuple[str, Any]] = [("grpc.max_send_message_length", size),
                                          ("grpc.max_receive_message_length", size)]  # fmt: skip
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if target.startswith("unix:"):
            self.channel = grpc.insecure_channel(target, options=options)
        else:
            root = ca_file.read_bytes() if ca_file else None
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root), options=options)
        self.stub = pb_grpc.ControlStub(self.channel)
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        self.timeout_s = timeout_s

    def not_running_reason(self, exc: grpc.RpcError) -> str | None:
        """One line when ``exc`` means no agent answers at the target (not running, stale socket,
        nothing listening); None for every other error, an agent's own UNAVAILABLE included."""
        if exc.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        details = exc.details() or ""
        if self.target.startswith("unix:"):
            path = Path(self.target.removeprefix("unix:").removeprefix("//"))
            if not path.exists():
                return f"the framesift agent is not running (no control socket at {path})"
            if "failed to connect" in details.lower():
                return f"the framesift agent is not running (nothing answers on the control socket {path})"
            return None
        if "failed to connect" in details.lower():
            return f"the framesift agent is not reachable at {self.target} (nothing answers there)"
        return None

    def _unary(self, name: str, request: Any, timeout_s: float | None = None) -> Any:
        return getattr(self.stub, name)(request, timeout=timeout_s or self.timeout_s, metadata=self.metadata)

    def status(self) -> pb.Status:
        """Agent status."""
        return self._unary("GetStatus", pb.GetStatusRequest())

    def get_config(self) -> dict[str, Any]:
        """The active-learning config in force."""
        return dict(json.loads(self._unary("GetConfig", pb.GetConfigRequest()).config_json))

    def set_config(self, config: dict[str, Any] | None) -> pb.ConfigDocument:
        """Set (or clear with None) the local override."""
        return self._unary("SetConfig", pb.SetConfigRequest(config_json=json.dumps(config) if config else ""))

    def reload_config(self) -> pb.ConfigDocument:
        """Fetch the remote config now."""
        return self._unary("ReloadConfig", pb.ReloadConfigRequest())

    def pause(self) -> bool:
        """Pause capture."""
        return bool(self._unary("PauseCapture", pb.PauseCaptureRequest()).paused)

    def resume(self) -> bool:
        """Resume capture."""
        return bool(self._unary("ResumeCapture", pb.ResumeCaptureRequest()).paused)

    def list_models(self) -> list[pb.ModelInfo]:
        """Models the agent can load."""
        return list(self._unary("ListModels", pb.ListModelsRequest()).models)

    def load_model(self, model_id: str, timeout_s: float = 600.0) -> pb.ModelInfo:
        """Hot-swap to ``model_id`` (TensorRT engine builds can take minutes)."""
        return self._unary("LoadModel", pb.LoadModelRequest(model_id=model_id), timeout_s)

    def unload_model(self) -> pb.ModelInfo:
        """Unload the model."""
        return self._unary("UnloadModel", pb.UnloadModelRequest())

    def infer(self, image: bytes, source_id: str = "", submit: bool = False) -> pb.InferResponse:
        """Predict one encoded image (optionally submit it for sampling)."""
        return self._unary("Infer", pb.InferRequest(image=image, source_id=source_id, submit=submit))

    def submit_frames(self, frames: Iterable[tuple[bytes, str, str]]) -> pb.SubmitFramesResponse:
        """Stream (image bytes, source id, frame id) tuples; blocks when the agent is busy."""
        requests = (pb.SubmitFrameRequest(image=i, source_id=s, frame_id=f) for i, s, f in frames)
        return self.stub.SubmitFrames(requests, timeout=None, metadata=self.metadata)

    def watch_events(self, kinds: Iterable[str] = ()) -> Iterator[pb.Event]:
        """Server stream of events until cancelled."""
        return self.stub.WatchEvents(pb.WatchEventsRequest(kinds=list(kinds)), metadata=self.metadata)  # type: ignore[no-any-return]

    def spool_stats(self) -> pb.SpoolStats:
        """Spool counters."""
        return self._unary("GetSpoolStats", pb.GetSpoolStatsRequest())

    def flush_spool(self, timeout_s: float = 30.0) -> pb.SpoolStats:
        """Retry dead letters and wait for the queue to drain."""
        return self._unary("FlushSpool", pb.FlushSpoolRequest(timeout_s=timeout_s), timeout_s + 10)

    def purge_spool(self, everything: bool = False) -> pb.SpoolStats:
        """Delete dead letters (or all)."""
        return self._unary("PurgeSpool", pb.PurgeSpoolRequest(all=everything))

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()
