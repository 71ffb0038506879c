"""Workspace, project, image, batch, job and active-learning routes (all need ``?api_key=``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.hub.config_body import parse_config_body
from agent.hub.context import AUTHORIZED, HubContext
from agent.hub.documents import image_document, project_document, workspace_document
from agent.hub.errors import HubInputError, NotFoundError
from agent.hub.json_body import parse_json
from agent.hub.names import check_slug

router = APIRouter()
PROJECT_TYPES = ("object-detection", "single-label-classification", "multi-label-classification", "classification",
                 "instance-segmentation", "keypoint-detection", "semantic-segmentation")  # fmt: skip


def _media(fmt: str) -> str:
    return {"jpeg": "image/jpeg"}.get(fmt, f"image/{fmt}")


@router.post("/")
def validate_key(ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """What ``Roboflow(api_key=…)`` posts: the key's workspace."""
    return {"workspace": ctx.workspace, "welcome": "framesift hub"}


@router.get("/{workspace}")
def get_workspace(workspace: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """``rf.workspace()``: the workspace with its projects (any workspace slug names this hub's one)."""
    check_slug("workspace", workspace)
    return workspace_document(ctx.store, workspace)


@router.post("/{workspace}/projects")
async def create_project(request: Request, workspace: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """``ws.create_project(name, type, license, annotation)``: answers the project document."""
    check_slug("workspace", workspace)
    shape = "{name, type, annotation, license}"
    doc = parse_json(await request.body(), "the body", hint=f"send {shape}")
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise HubInputError(f"body must be JSON {shape}")
    project_type = doc.get("type") or "object-detection"
    if project_type not in PROJECT_TYPES:
        raise HubInputError(f"invalid project type {str(project_type)[:40]!r}", hint=f"use one of {PROJECT_TYPES}")
    slug = check_slug("project", doc["name"].strip().lower().replace(" ", "-"))
    await run_in_threadpool(ctx.store.create_project, slug, project_type)
    found = await run_in_threadpool(project_document, ctx.store, workspace, slug)
    return found or {}


@router.get("/{workspace}/{project}")
def get_project(workspace: str, project: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """``ws.project(p)`` / inference's dataset type: ``{"workspace", "project", "versions"}``."""
    check_slug("workspace", workspace)
    check_slug("project", project)
    doc = project_document(ctx.store, workspace, project)
    if doc is None:
        raise NotFoundError(f"project {project!r} not found in workspace {workspace!r}",
                            hint="a project is created by its first upload or POST /{workspace}/projects")  # fmt: skip
    return {"workspace": {"name": workspace, "url": workspace, "id": workspace}, "project": doc, "versions": []}


@router.get("/{workspace}/{project}/images/{image_id}")
def get_image(request: Request, workspace: str, project: str, image_id: str,
              ctx: HubContext = AUTHORIZED) -> dict[str, Any]:  # fmt: skip
    """``project.image(id)``: the image's details, including split, tags, metadata and batch."""
    check_slug("workspace", workspace)
    check_slug("project", project)
    image = ctx.store.get(image_id)
    if image is None or image.project != project:
        raise NotFoundError(f"image {image_id[:40]!r} not found in project {project!r}")
    return image_document(image, workspace, str(request.base_url).rstrip("/"))


@router.get("/{workspace}/{project}/images/{image_id}/original")
def get_image_bytes(workspace: str, project: str, image_id: str, ctx: HubContext = AUTHORIZED) -> Response:
    """The stored bytes, exactly as uploaded, with their real media type."""
    image = ctx.store.get(image_id)
    if image is None or image.project != project:
        raise NotFoundError(f"image {image_id[:40]!r} not found in project {project!r}")
    return FileResponse(ctx.store.blobs.path(image.blob), media_type=_media(image.format))


@router.get("/{workspace}/{project}/batches")
def batches(project: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """``{"batches": [{id, name, images, numJobs, uploaded}]}``."""
    return {"batches": ctx.store.batches(check_slug("project", project))}


@router.get("/{workspace}/{project}/batches/{batch}")
def batch(project: str, batch: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """One batch by id (or name)."""
    for doc in ctx.store.batches(check_slug("project", project)):
        if batch in (doc["id"], doc["name"]):
            return {"batch": doc}
    raise NotFoundError(f"batch {batch[:60]!r} not found in project {project!r}")


@router.get("/{workspace}/{project}/jobs")
def jobs(project: str, ctx: HubContext = AUTHORIZED) -> dict[str, Any]:
    """``{"jobs": [{id, name, sourceBatch, numImages}]}`` (jobs are named by annotate's ``jobName``)."""
    return {"jobs": ctx.store.jobs(check_slug("project", project))}


@router.get("/{workspace}/{project}/active_learning")
def get_config(request: Request, workspace: str, project: str, ctx: HubContext = AUTHORIZED) -> Response:
    """The config (``{"enabled": false}`` when none), with an ETag; 304 on ``If-None-Match``."""
    check_slug("workspace", workspace)
    check_slug("project", project)
    found = ctx.store.get_config(ctx.workspace, project)  # any workspace slug names this hub's one
    config, etag = found if found else ({"enabled": False}, '"default"')
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(config, headers={"ETag": etag})


@router.post("/{workspace}/{project}/active_learning")
async def set_config(request: Request, workspace: str, project: str,
                     ctx: HubContext = AUTHORIZED) -> Response:  # fmt: skip
    """Validate (every issue with its JSON path, never a 500) and store ``{"config": {...}}``."""
    check_slug("workspace", workspace)
    check_slug("project", project)
    config = parse_config_body(await request.body())
    etag = await run_in_threadpool(ctx.store.set_config, ctx.workspace, project, config)
    return JSONResponse({"success": True}, headers={"ETag": etag})
