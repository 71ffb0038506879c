"""Mount the web app on the hub's FastAPI application, under ``/-/`` (a prefix no workspace
slug can take, so the Roboflow routes ``/{workspace}/…`` never collide with a page)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from agent.hub.context import HubContext
from agent.hub.errors import HubError, NotFoundError
from agent.hub.web import auth, pages_admin, pages_project, pages_review
from agent.hub.web.auth import ForbiddenError, SignInRequiredError, sign_in_redirect
from agent.hub.web.fleet import AgentTracker
from agent.hub.web.web_context import PREFIX, STATIC, WebApp

_API = PREFIX + "/api/"


def _is_page(request: Request) -> bool:
    return request.url.path.startswith(PREFIX + "/") and not request.url.path.startswith(_API)


def install_web(app: FastAPI, ctx: HubContext) -> Any:
    """Add the pages, their static files and error pages; returns the app wrapped in the fleet tracker.

    Call before the API routers are included: the pages must match first.
    """
    web = WebApp(ctx)
    app.state.web = web
    for module in (auth, pages_project, pages_review, pages_admin):
        app.include_router(module.router)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="static")

    @app.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                   include_in_schema=False)  # fmt: skip
    def _no_such_page(rest: str) -> None:  # else /-/nope fell through to /{workspace}/{project}: a 401
        raise NotFoundError(f"no such page: {PREFIX}/{rest[:100]}")

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> Response:
        if isinstance(exc, SignInRequiredError) and _is_page(request) and request.method == "GET":
            return sign_in_redirect(request)
        if _is_page(request):
            title = "Not allowed" if isinstance(exc, ForbiddenError) else exc.kind
            return web.render("error.html", None, status_code=exc.status, title=title, message=exc.message)
        return JSONResponse(exc.body(), status_code=exc.status)

    return AgentTracker(app, web.fleet)
