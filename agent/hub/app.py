"""The hub's ASGI application: Roboflow's REST API (as its own SDK and ``inference`` call it).

Routes live in :mod:`agent.hub.routes_dataset` and :mod:`agent.hub.routes_workspace`; this
module wires them with the body-size limit, the key check and one error shape for every
failure, unknown routes and unexpected exceptions included::

    {"error": {"message": "...", "type": "...", "hint": "..."}}
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.config.secret_files import read_secret_text
from agent.errors import ConfigError
from agent.hub import routes_dataset, routes_workspace
from agent.hub.context import HubContext, hub_context
from agent.hub.errors import HubError, PayloadTooLargeError, UnauthorizedError
from agent.hub.web.router import install_web
from agent.hub.web.web_context import PREFIX, with_app_keys

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error(status: int, message: str, kind: str, hint: str | None = None, **extra: Any) -> JSONResponse:
    """A Roboflow-shaped error response."""
    body: dict[str, Any] = {"message": message, "type": kind}
    if hint:
        body["hint"] = hint
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, declared or streamed (chunked, no Content-Length)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0
        started = complete = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise self._error()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started, complete
            started = started or message["type"] == "http.response.start"
            complete = complete or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLargeError:
            if not started:
                await self._too_large(scope, receive, send)
        except Exception:
            if not complete:  # a stream that broke half-way: the server must know (it drops the connection)
                raise
            # the 500 was answered whole: Starlette re-raises after its handler so that the server can log
            # it, and uvicorn would log the traceback a second time and drop the keep-alive connection

    def _error(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"request body larger than {self.max_bytes} bytes",
                                    hint="raise the hub's --max-upload-mb or send a smaller image")  # fmt: skip

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = self._error()
        await JSONResponse(exc.body(), status_code=exc.status)(scope, receive, send)


def load_keys(path: Path | None) -> set[str]:
    """API keys, one per line (``#`` comments, blank lines ignored)."""
    if path is None:
        return set()
    keys = set()
    for line in read_secret_text(path, "--keys-file", allow_empty=True).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            keys.add(line.split()[0])
    return keys


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(ConfigError)
    async def _config_error(request: Request, exc: ConfigError) -> JSONResponse:
        issues = [{"path": i.path, "message": i.message} for i in exc.issues]
        return error(400, "invalid configuration: " + "; ".join(f"{i['path']}: {i['message']}" for i in issues),
                     "ConfigError", issues=issues)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg")) for e in exc.errors())
        return error(400, f"invalid request: {where[:300]}", "InvalidParameterException")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error(404, f"no such endpoint: {request.method} {request.url.path[:200]}", "GraphMethodException",
                         hint="see the hub's README section for the supported API")  # fmt: skip
        if exc.status_code == 405:
            return error(405, f"{request.method} is not supported on {request.url.path[:200]}",
                         "MethodNotAllowedException")  # fmt: skip
        return error(exc.status_code, str(exc.detail)[:300], "HTTPException")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path,
                     exc_info=exc)  # a bug: its traceback says where  # fmt: skip
        return error(500, "internal error in the hub; nothing was stored", "InternalError")


def create_app(ctx: HubContext) -> Any:
    """Build the ASGI application (FastAPI with the web app, inside the fleet tracker and size limit)."""
    ctx = with_app_keys(ctx)  # keys made in the web app are accepted too
    app = FastAPI(title="framesift hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = ctx
    _install_error_handlers(app)
    tracked = install_web(app, ctx)  # before the API routes: the pages under /-/ match first

    @app.api_route("/healthz", methods=["GET", "HEAD"])  # load balancers often check with HEAD
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_model=None)
    def root(request: Request) -> Response:
        """``GET /?api_key=`` (inference): the key's workspace. Without a key: the web app."""
        api_key = request.query_params.get("api_key")
        if api_key is None:
            return RedirectResponse(PREFIX + "/", status_code=303)
        context = hub_context(request)
        if not context.key_is_valid(api_key):
            exc = UnauthorizedError("This API key does not exist (or has been revoked).")
            return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse({"workspace": context.workspace})

    app.include_router(routes_dataset.router)
    app.include_router(routes_workspace.router)
    return BodySizeLimit(tracked, ctx.max_body_bytes)
