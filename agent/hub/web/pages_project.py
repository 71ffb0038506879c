"""Home, a project's Active Learning page (configuration forms, advanced JSON, counts) and the
collected images with their filters; the image bytes for signed-in browsers."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.config.config_json import parse_config_json
from agent.errors import ConfigError
from agent.hub.annotation_model import ImageAnnotation
from agent.hub.config_body import parse_config_body
from agent.hub.errors import NotFoundError
from agent.hub.names import check_slug
from agent.hub.store import StoredImage
from agent.hub.web.auth import admin_session, current_session, form_fields
from agent.hub.web.config_form import INTERVALS, MODEL_TYPES, config_from_form, form_from_config
from agent.hub.web.review_store import Review
from agent.hub.web.web_context import PREFIX, WebApp, web_app

router = APIRouter(prefix=PREFIX)
MAX_THUMBNAILS = 200


def _project_or_404(app: WebApp, project: str) -> str:
    check_slug("project", project)
    if project not in app.hub.store.project_names():
        raise NotFoundError(f"project {project!r} not found", hint="a project is created by its first upload")
    return project


@router.get("/", response_model=None)
async def home(request: Request) -> Response:
    """Projects with their review counts; the signed-in reviewer's assignments."""
    session = await current_session(request)
    app = web_app(request)

    def load() -> dict[str, Any]:
        projects = [(p, app.reviews.counts(p), app.hub.store.get_config(app.hub.workspace, p))
                    for p in app.hub.store.project_names()]  # fmt: skip
        mine = app.reviews.assignments(reviewer=session.user.name)
        reviews = {a.project: app.reviews.reviews(a.project) for a in mine}
        progress = {a.id: sum(1 for i in a.image_ids if _decided(reviews[a.project].get(i))) for a in mine}
        return {"projects": projects, "assignments": mine, "progress": progress}

    return app.render("home.html", session, **await run_in_threadpool(load))


@router.post("/projects", response_model=None)
async def create_project(request: Request) -> Response:
    """Create an (object-detection or classification) project before its first upload (admin)."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    name = check_slug("project", fields.get("name", "").strip().lower().replace(" ", "-"))
    kind = "classification" if fields.get("type") == "classification" else "object-detection"
    await run_in_threadpool(web_app(request).hub.store.create_project, name, kind)
    return RedirectResponse(f"{PREFIX}/projects/{name}", status_code=303)


def _decided(review: Review | None) -> bool:
    return review is not None and review.state in ("approved", "rejected")


def _config_page(app: WebApp, session: Any, project: str, values: dict[str, str] | None = None,
                 errors: dict[str, list[str]] | None = None, advanced_text: str | None = None,
                 advanced_errors: list[str] | None = None, saved: bool = False,
                 status_code: int = 200) -> Response:  # fmt: skip
    found = app.hub.store.get_config(app.hub.workspace, project)
    config, etag = found if found else (None, None)
    stored_values, exact = form_from_config(config)
    agents = [a for a in app.fleet.agents() if a.project == project]
    return app.render(
        "project.html", session, status_code=status_code, project=project, values=values or stored_values,
        errors=errors or {}, exact=exact, etag=etag, counts=app.reviews.counts(project),
        advanced_text=advanced_text if advanced_text is not None else json.dumps(config or {"enabled": False},
                                                                                  indent=2),
        advanced_errors=advanced_errors or [], saved=saved, agents=agents, intervals=INTERVALS,
        model_types=MODEL_TYPES, updated=_config_updated(app, project),
    )  # fmt: skip


def _config_updated(app: WebApp, project: str) -> float | None:
    with app.hub.store.engine.transaction() as cur:
        cur.execute("SELECT updated FROM configs WHERE workspace = ? AND project = ?", (app.hub.workspace, project))
        row = cur.fetchone()
    return float(row[0]) if row else None


@router.get("/projects/{project}", response_model=None)
async def project_page(request: Request, project: str) -> Response:
    """The project's Active Learning page: counts, the configuration forms, the agents on it."""
    session = await current_session(request)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    saved = request.query_params.get("saved") == "1"
    return await run_in_threadpool(lambda: _config_page(app, session, project, saved=saved))


@router.post("/projects/{project}/config", response_model=None)
async def save_config_form(request: Request, project: str) -> Response:
    """Save the form (admin): the config is validated by the agent's model; errors go next to their field."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    result = config_from_form(fields)
    if result.config is None:
        return await run_in_threadpool(lambda: _config_page(app, session, project, values=fields,
                                                            errors=result.errors, status_code=400))  # fmt: skip
    await run_in_threadpool(app.hub.store.set_config, app.hub.workspace, project, result.config)
    return RedirectResponse(f"{PREFIX}/projects/{project}?saved=1", status_code=303)


@router.post("/projects/{project}/config/json", response_model=None)
async def save_config_json(request: Request, project: str) -> Response:
    """Save the advanced view's JSON (admin), validated exactly as the API validates it."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    text = fields.get("config_json", "")
    try:
        # parsed alone first: spliced into an envelope, '{...}, "config": {...}' would pass as a second key
        config = parse_config_body(json.dumps({"config": parse_config_json(text.encode())}).encode())
    except ConfigError as exc:
        issues = [f"{i.path}: {i.message}" for i in exc.issues]
        return await run_in_threadpool(lambda: _config_page(app, session, project, advanced_text=text,
                                                            advanced_errors=issues, status_code=400))  # fmt: skip
    await run_in_threadpool(app.hub.store.set_config, app.hub.workspace, project, config)
    return RedirectResponse(f"{PREFIX}/projects/{project}?saved=1", status_code=303)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _day_start(text: str | None, end: bool = False) -> float | None:
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d")) + (86400 if end else 0) if text else None
    except ValueError:
        return None


def image_shapes(image: StoredImage, review: Review | None) -> ImageAnnotation | None:
    """The annotation a reviewer sees: the correction when there is one, else the draft."""
    text = review.annotation_json if review and review.annotation_json else image.annotation_model
    try:
        return ImageAnnotation.from_json(text) if text else None
    except (ValueError, KeyError, TypeError):
        return None


def filter_images(app: WebApp, project: str, q: dict[str, str]) -> list[dict[str, Any]]:
    """Images matching the filters (batch, tag, class, confidence range, agent, date, review state)."""
    reviews = app.reviews.reviews(project)
    agents = app.fleet.image_agents(project)
    low, high = _float(q.get("min_conf")), _float(q.get("max_conf"))
    since, until = _day_start(q.get("from")), _day_start(q.get("to"), end=True)
    out = []
    for image in app.hub.store.images(project, q.get("batch") or None, None, q.get("tag") or None):
        review = reviews.get(image.id)
        model = image_shapes(image, review)
        shapes = model.shapes if model else ()
        state = review.state if review else "pending"
        confidences = [s.confidence for s in shapes if s.confidence is not None]
        if q.get("class") and q["class"] not in (model.class_names() if model else []):
            continue
        if low is not None and not any(c * 100 >= low for c in confidences):
            continue
        if high is not None and not any(c * 100 <= high for c in confidences):
            continue
        if (q.get("agent") and agents.get(image.id) != q["agent"]) or (q.get("state") and state != q["state"]):
            continue
        if (since is not None and image.created_s < since) or (until is not None and image.created_s >= until):
            continue
        out.append({"image": image, "state": state, "review": review, "agent": agents.get(image.id, ""),
                    "classes": model.class_names() if model else [],
                    "top": max(confidences, default=None)})  # fmt: skip
    return out


@router.get("/projects/{project}/images", response_model=None)
async def images_page(request: Request, project: str) -> Response:
    """Thumbnails of the collected images, filtered."""
    session = await current_session(request)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    q = {k: v for k, v in request.query_params.items() if k in
         ("batch", "tag", "class", "min_conf", "max_conf", "agent", "from", "to", "state")}  # fmt: skip

    def load() -> dict[str, Any]:
        images = filter_images(app, project, q)
        every = app.hub.store.images(project)
        return {"rows": images[:MAX_THUMBNAILS], "total": len(images), "filters": q,
                "batches": sorted({i.batch for i in every}), "tags": sorted({t for i in every for t in i.tags}),
                "classes": [c for c in app.hub.store.classes(project) if c],
                "agents": sorted(set(app.fleet.image_agents(project).values()))}  # fmt: skip

    return app.render("images.html", session, project=project, **await run_in_threadpool(load))


@router.get("/images/{image_id}/file", response_model=None)
async def image_file(request: Request, image_id: str) -> Response:
    """The stored bytes of an image, for a signed-in browser."""
    await current_session(request)
    app = web_app(request)
    image = await run_in_threadpool(app.hub.store.get, image_id[:64])
    if image is None:
        raise NotFoundError(f"image {image_id[:40]!r} not found")
    media = {"jpeg": "image/jpeg"}.get(image.format, f"image/{image.format}")
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return FileResponse(app.hub.store.blobs.path(image.blob), media_type=media, headers=headers)
