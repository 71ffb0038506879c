"""Admin pages: upload API keys (create, list, revoke), users, reviewer assignments; the fleet
(every signed-in user) and the export of approved images as a download."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.hub.errors import HubInputError
from agent.hub.export import DECISIONS, ExportFilter, export_dataset, parse_split_ratios
from agent.hub.names import check_text
from agent.hub.web.accounts_store import Session
from agent.hub.web.auth import admin_session, current_session, form_fields
from agent.hub.web.pages_project import _project_or_404
from agent.hub.web.web_context import PREFIX, WebApp, web_app

router = APIRouter(prefix=PREFIX)


@router.get("/keys", response_model=None)
async def keys_page(request: Request) -> Response:
    """App-made API keys (prefix, label, who made it, revoked)."""
    session = await admin_session(request)
    return await _keys_page(web_app(request), session, new_key=None)


@router.post("/keys", response_model=None)
async def create_key(request: Request) -> Response:
    """Create a key; the page shows it once."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    label = check_text("key label", fields.get("label") or "unnamed")
    key = await run_in_threadpool(app.accounts.create_key, label, session.user.name)
    return await _keys_page(app, session, new_key=key)


async def _keys_page(app: WebApp, session: Session, new_key: str | None) -> Response:
    """The keys page: every key the hub database holds (``new_key`` shown once) and how many the keys file adds."""
    keys = await run_in_threadpool(app.accounts.keys)
    return app.render("keys.html", session, keys=keys, new_key=new_key, file_keys=len(app.hub.api_keys))


@router.post("/keys/revoke", response_model=None)
async def revoke_key(request: Request) -> Response:
    """Revoke a key (by its digest); uploads with it are refused from now on."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    await run_in_threadpool(web_app(request).accounts.revoke_key, fields.get("key_hash", "")[:64])
    return RedirectResponse(f"{PREFIX}/keys", status_code=303)


@router.get("/users", response_model=None)
async def users_page(request: Request) -> Response:
    """Users and their roles; a form to add one."""
    session = await admin_session(request)
    app = web_app(request)
    return app.render("users.html", session, users=await run_in_threadpool(app.accounts.users), error=None)


@router.post("/users", response_model=None)
async def add_user(request: Request) -> Response:
    """Add a user (or set a user's role and password)."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    try:
        await run_in_threadpool(app.accounts.add_user, fields.get("username", "").strip(), fields.get("role", ""),
                                fields.get("password", ""))  # fmt: skip
    except HubInputError as exc:
        users = await run_in_threadpool(app.accounts.users)
        return app.render("users.html", session, status_code=400, users=users, error=exc.message)
    return RedirectResponse(f"{PREFIX}/users", status_code=303)


@router.get("/fleet", response_model=None)
async def fleet_page(request: Request) -> Response:
    """Agents that synced: last seen, config version in use (current or not), frames contributed."""
    session = await current_session(request)
    app = web_app(request)

    def load() -> dict[str, Any]:
        agents = app.fleet.agents()
        current = {a.project: (app.hub.store.get_config(a.workspace or app.hub.workspace, a.project) or ({}, ""))[1]
                   for a in agents}  # fmt: skip
        return {"agents": agents, "current": current}

    return app.render("fleet.html", session, **await run_in_threadpool(load))


@router.get("/projects/{project}/assignments", response_model=None)
async def assignments_page(request: Request, project: str) -> Response:
    """The project's assignments (reassign any of them) and the form to make new ones."""
    session = await admin_session(request)
    app = web_app(request)

    def load() -> dict[str, Any]:
        _project_or_404(app, project)
        reviews = app.reviews.reviews(project)
        assignments = app.reviews.assignments(project)
        done = {a.id: sum(1 for i in a.image_ids if i in reviews and reviews[i].state != "pending")
                for a in assignments}  # fmt: skip
        return {"assignments": assignments, "done": done, "batches": app.reviews.batch_progress(project),
                "users": app.accounts.users()}  # fmt: skip

    return app.render("assignments.html", session, project=project, error=None, **await run_in_threadpool(load))


@router.post("/projects/{project}/assignments", response_model=None)
async def create_assignments(request: Request, project: str) -> Response:
    """Give each chosen reviewer N not-yet-assigned, not-yet-decided images of a batch."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    reviewers = [r for r in fields.get("reviewers", "").split(",") if r]
    count = fields.get("count", "").strip()
    if not (count.isascii() and count.isdigit()) or len(count) > 6:  # "²".isdigit() is True
        raise HubInputError(f"images per reviewer must be a whole number, got {count[:20]!r}")

    def make() -> None:
        _project_or_404(app, project)
        known = {u.name for u in app.accounts.users()}
        unknown = [r for r in reviewers if r not in known]
        if unknown:
            raise HubInputError(f"unknown reviewers {unknown}")
        batch = fields.get("batch", "")
        reviews = app.reviews.reviews(project, batch)
        candidates = [i.id for i in app.hub.store.images(project, batch)
                      if i.id not in reviews or reviews[i.id].state == "pending"]  # fmt: skip
        if not candidates:
            raise HubInputError(f"batch {batch[:60]!r} has no image left to review")
        app.reviews.assign(project, batch, candidates, reviewers, int(count), fields.get("instructions", "")[:2000],
                           fields.get("shuffle") == "on", session.user.name)  # fmt: skip

    await run_in_threadpool(make)
    return RedirectResponse(f"{PREFIX}/projects/{project}/assignments", status_code=303)


@router.post("/assignments/{assignment_id}/reassign", response_model=None)
async def reassign(request: Request, assignment_id: str) -> Response:
    """Give an assignment to another reviewer."""
    session = await admin_session(request)
    fields = await form_fields(request, session)
    app = web_app(request)
    reviewer = fields.get("reviewer", "")
    if reviewer not in {u.name for u in await run_in_threadpool(app.accounts.users)}:
        raise HubInputError(f"unknown reviewer {reviewer[:60]!r}")
    await run_in_threadpool(app.reviews.reassign, assignment_id[:32], reviewer)
    return RedirectResponse(request.headers.get("referer") or f"{PREFIX}/", status_code=303)


@router.get("/projects/{project}/export", response_model=None)
async def export_page(request: Request, project: str) -> Response:
    """The export form."""
    session = await current_session(request)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    return app.render("export.html", session, project=project, formats=WEB_FORMATS)


WEB_FORMATS = ("coco", "yolo")  # what the export page offers; the CLI also writes classification folders


@router.get("/projects/{project}/export.zip", response_model=None)
async def export_zip(request: Request, project: str) -> Response:
    """The approved images with their corrected annotations, as a zip (COCO or YOLO, train/valid/test)."""
    await current_session(request)
    app = web_app(request)
    fmt = request.query_params.get("format", "coco")
    if fmt not in WEB_FORMATS:
        raise HubInputError(f"unknown format {fmt[:20]!r}: use coco or yolo")
    ratios = parse_split_ratios(request.query_params.get("split", "70,20,10"))
    state = request.query_params.get("state", "approved")
    if state and state not in DECISIONS:
        raise HubInputError(f"unknown review state {state[:20]!r}: use one of {', '.join(DECISIONS)}")

    def build() -> bytes:
        _project_or_404(app, project)
        with tempfile.TemporaryDirectory(prefix="framesift-export-") as tmp:
            dest = Path(tmp) / project
            export_dataset(app.hub.store, project, fmt, dest, ExportFilter(state=state or None), split_ratios=ratios)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(dest.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(dest.parent))
            shutil.rmtree(dest, ignore_errors=True)
            return buffer.getvalue()

    data = await run_in_threadpool(build)
    name = f"{project}-{state or 'all'}-{fmt}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
