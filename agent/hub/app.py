"""The hub's HTTP API: a self-hostable subset of the Roboflow API (FastAPI).

Endpoints (all take ``?api_key=``):

* ``POST /dataset/{project}/upload`` (multipart ``name``, ``file``; query ``batch``,
  repeated ``tag``, ``inference_id``) → ``{"success": true, "id"}`` or
  ``{"duplicate": true, "id"}``;
* ``POST /dataset/{project}/annotate/{id}`` (query ``name``, ``prediction``,
  ``overwrite``; body: the file as text, or ``{"annotationFile": …}``) → ``{"success": true}``,
  409 when already annotated;
* ``GET/POST /{workspace}/{project}/active_learning`` (POST body ``{"config": {...}}``,
  validated; GET answers with an ETag and honours ``If-None-Match``);
* ``GET /{workspace}/{project}/batches`` and ``/jobs``;
* ``GET /`` an HTML overview, ``GET /healthz``.

Errors use Roboflow's shape ``{"error": {"message", "type", "hint"}}``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from agent.config.al_config import TAG_PATTERN, validate_al_config
from agent.errors import ConfigError
from agent.hub.storage import AlreadyAnnotatedError, HubInputError, HubStorage, NotFoundError, check_name
from agent.images.decode import sniff_format

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error(status: int, message: str, kind: str, hint: str | None = None) -> JSONResponse:
    """A Roboflow-shaped error response."""
    body: dict[str, Any] = {"message": message, "type": kind}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status)


class BodySizeLimit:
    """ASGI middleware: refuse bodies larger than ``max_bytes`` with 413, before parsing."""

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

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLargeError()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLargeError:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error(413, f"request body larger than {self.max_bytes} bytes", "PayloadTooLargeException")
        await response(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


def load_keys(path: Path | None) -> set[str]:
    """API keys, one per line (``#`` comments, blank lines ignored)."""
    if path is None:
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            keys.add(line.split()[0])
    return keys


def create_app(storage: HubStorage, api_keys: set[str], *, require_auth: bool = True,
               max_body_bytes: int = 25 * 1024 * 1024) -> Any:  # fmt: skip
    """Build the ASGI application (FastAPI inside the size-limit middleware)."""
    app = FastAPI(title="framesift hub", docs_url=None, redoc_url=None, openapi_url=None)

    def authorized(api_key: str | None) -> bool:
        if not require_auth:
            return True
        return api_key is not None and any(hmac.compare_digest(api_key, k) for k in api_keys)

    def unauthorized() -> JSONResponse:
        return error(401, "This API key does not exist (or has been revoked).", "UnauthorizedError")

    @app.exception_handler(HubInputError)
    async def _bad_input(request: Request, exc: HubInputError) -> JSONResponse:
        return error(400, str(exc), "InvalidParameterException")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/dataset/{project}/upload")
    async def upload(
        request: Request,
        project: str,
        api_key: str | None = None,
        batch: str | None = None,
        tag: list[str] = Query(default=[]),
        inference_id: str | None = None,
    ) -> Response:
        if not authorized(api_key):
            return unauthorized()
        check_name("project", project)
        batch_name = check_name("batch", batch or "Pip Package Upload")
        bad_tags = [t for t in tag if not TAG_PATTERN.match(t)]
        if bad_tags:
            return error(400, f"invalid tag(s): {bad_tags}", "InvalidParameterException")
        try:
            form = await request.form()
        except Exception as exc:  # starlette raises several parser errors
            return error(400, f"malformed multipart body: {exc}", "InvalidParameterException")
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return error(400, "multipart field 'file' is missing", "InvalidParameterException",
                         "send the image as multipart field 'file'")  # fmt: skip
        data = await file.read()
        name = str(form.get("name") or file.filename or "image.jpg")
        if sniff_format(data) not in ("jpeg", "png", "bmp", "tiff", "webp"):
            return error(400, "Invalid image.", "InvalidImageException", "upload a JPEG, PNG, BMP, TIFF or WebP")
        image_id, duplicate = storage.store_image(project, batch_name, Path(name).name, data, tag, inference_id)
        if duplicate:
            return JSONResponse({"duplicate": True, "id": image_id})
        return JSONResponse({"success": True, "id": image_id})

    @app.post("/dataset/{project}/annotate/{image_id}")
    async def annotate(request: Request, project: str, image_id: str, api_key: str | None = None,
                       name: str = "annotation.json", prediction: bool = False,
                       overwrite: bool = False) -> Response:  # fmt: skip
        if not authorized(api_key):
            return unauthorized()
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                envelope = json.loads(body)
                body = str(envelope["annotationFile"]).encode("utf-8")
            except (json.JSONDecodeError, KeyError, TypeError):
                return error(400, 'JSON body must be {"annotationFile": …}', "InvalidParameterException")
        if not body:
            return error(400, "empty annotation", "InvalidParameterException")
        try:
            storage.annotate(project, image_id, name, body, prediction, overwrite)
        except NotFoundError as exc:
            return error(404, "Image not found in dataset.", "InvalidParameterException", str(exc))
        except AlreadyAnnotatedError as exc:
            return error(409, str(exc), "AlreadyAnnotatedException", "pass overwrite=true as a query parameter")
        return JSONResponse({"success": True})

    @app.get("/{workspace}/{project}/active_learning")
    def get_config(request: Request, workspace: str, project: str, api_key: str | None = None) -> Response:
        if not authorized(api_key):
            return unauthorized()
        found = storage.get_config(workspace, project)
        config, etag = found if found else ({"enabled": False}, '"default"')
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(config, headers={"ETag": etag})

    @app.post("/{workspace}/{project}/active_learning")
    async def set_config(request: Request, workspace: str, project: str, api_key: str | None = None) -> Response:
        if not authorized(api_key):
            return unauthorized()
        try:
            envelope = json.loads(await request.body())
            config = envelope["config"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return error(400, 'body must be {"config": {...}}', "InvalidParameterException")
        try:
            validate_al_config(config)
        except ConfigError as exc:
            return JSONResponse({"error": {"message": "invalid configuration", "type": "ConfigError",
                                           "issues": [{"path": i.path, "message": i.message}
                                                      for i in exc.issues]}}, status_code=400)  # fmt: skip
        etag = storage.set_config(workspace, project, config)
        return JSONResponse({"success": True}, headers={"ETag": etag})

    @app.get("/{workspace}/{project}/batches")
    def batches(workspace: str, project: str, api_key: str | None = None) -> Response:
        if not authorized(api_key):
            return unauthorized()
        return JSONResponse({"batches": storage.batches(check_name("project", project))})

    @app.get("/{workspace}/{project}/jobs")
    def jobs(workspace: str, project: str, api_key: str | None = None) -> Response:
        if not authorized(api_key):
            return unauthorized()
        return JSONResponse({"jobs": []})

    @app.get("/", response_class=HTMLResponse)
    def overview() -> str:
        rows = []
        for project, count in storage.projects():
            for b in storage.batches(project):
                cells = f"<td>{escape(project)}</td><td>{escape(b['name'])}</td><td>{b['images']}</td>"
                rows.append(f"<tr>{cells}</tr>")
            rows.append(f"<tr><td><b>{escape(project)}</b></td><td>all</td><td><b>{count}</b></td></tr>")
        table = "".join(rows) or "<tr><td colspan=3>no images yet</td></tr>"
        head = "<tr><th>project</th><th>batch</th><th>images</th></tr>"
        return (
            "<!doctype html><title>framesift hub</title><h1>framesift hub</h1>"
            f"<table border=1 cellpadding=4>{head}{table}</table>"
        )

    return BodySizeLimit(app, max_body_bytes)
