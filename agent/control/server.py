"""build_server: the gRPC server with health and reflection, on a Unix socket or TLS TCP.

A Unix socket (default) is created with mode 0660. TCP is refused unless TLS
(cert + key) and a bearer token are configured; every call must then carry
``authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agent.config.agent_settings import ControlSection
from agent.config.secret_files import read_secret_text
from agent.control.facade import AgentControl
from agent.control.servicer import ControlServicer
from agent.control.v1 import control_pb2, control_pb2_grpc
from agent.errors import ConfigError
from agent.runtime.log_redaction import register_secret

SERVICE_NAME = control_pb2.DESCRIPTOR.services_by_name["Control"].full_name


class HealthServicer(health.HealthServicer):
    """grpcio's health servicer plus ``List`` (advertised by the proto, left unimplemented by grpcio)."""

    def __init__(self) -> None:
        super().__init__()
        self._statuses: dict[str, Any] = {}
        self._statuses_lock = threading.Lock()

    def set(self, service: str, status: Any) -> None:
        """Set a service's status (also what ``List`` reports)."""
        with self._statuses_lock:
            self._statuses[service] = status
        super().set(service, status)

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        """Every service's status."""
        with self._statuses_lock:
            statuses = dict(self._statuses)
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=st) for name, st in statuses.items()}
        )


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """UNAUTHENTICATED unless ``authorization: Bearer <token>`` matches (health checks exempt)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}"

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        if details.method.startswith("/grpc.health.v1.Health/"):
            return continuation(details)
        supplied = dict(details.invocation_metadata).get("authorization", "")
        if hmac.compare_digest(str(supplied), self._expected):
            return continuation(details)
        return self._deny


def build_server(
    control: AgentControl, listen: str, settings: ControlSection
) -> tuple[grpc.Server, health.HealthServicer, ControlServicer]:
    """Create and bind the (not yet started) server; also return its health and Control servicers.

    ``control`` is the agent's facade; keep one object for the life of the server
    (the daemon swaps its pipeline behind it on SIGHUP).
    """
    max_bytes = int(settings.max_message_mb * 1024 * 1024)
    options = [("grpc.max_receive_message_length", max_bytes), ("grpc.max_send_message_length", max_bytes)]
    interceptors: list[grpc.ServerInterceptor] = []
    tcp = not listen.startswith("unix:")
    if tcp:
        missing = settings.tcp_issues(listen)
        if missing:
            raise ConfigError(missing)
        assert settings.token_file is not None
        token = read_secret_text(settings.token_file, "$.control.token_file")
        register_secret(token)  # never in a log line
        interceptors.append(BearerTokenInterceptor(token))
    server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="grpc"), options=options,
                         interceptors=interceptors, maximum_concurrent_rpcs=64)  # fmt: skip
    servicer = ControlServicer(control)
    control_pb2_grpc.add_ControlServicer_to_server(servicer, server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if tcp:
        assert settings.tls_cert is not None and settings.tls_key is not None
        creds = grpc.ssl_server_credentials([(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())])
        address = listen.removeprefix("tcp:")
        server.add_secure_port(address, creds)
    else:
        path = Path(listen.removeprefix("unix:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old = os.umask(0o117)  # socket created 0660
        try:
            server.add_insecure_port(f"unix:{path}")
        finally:
            os.umask(old)
        os.chmod(path, 0o660)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    return server, health_servicer, servicer


def set_serving(health_servicer: health.HealthServicer, serving: bool) -> None:
    """Mark the overall and Control service health."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, status)
