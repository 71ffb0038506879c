"""``/dataset/{project}/…``: upload (three forms), annotate; ``/{ws}/images/{id}/metadata``."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from agent.hub.annotation_parse import ImageContext, parse_annotation
from agent.hub.context import AUTHORIZED, HubContext
from agent.hub.errors import HubInputError, NotFoundError
from agent.hub.json_body import parse_json
from agent.hub.names import check_slug, check_text
from agent.hub.store import NewImage
from agent.hub.upload_body import SPLITS, check_metadata, image_format_and_size, parse_metadata, read_upload

router = APIRouter()
DEFAULT_BATCH = "Pip Package Upload"
TAGS = Query(default=[])


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


def _int_param(name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # "²".isdigit() is True
        raise HubInputError(f"query parameter {name!r} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


@router.post("/dataset/{project}/upload")
async def upload(request: Request, project: str, ctx: HubContext = AUTHORIZED,
                 tag: list[str] = TAGS) -> JSONResponse:  # fmt: skip
    """Store an image (dedup by SHA-256 within the project)."""
    q = request.query_params
    check_slug("project", project)
    batch = check_text("batch", q.get("batch") or DEFAULT_BATCH)
    tags = tuple(dict.fromkeys(check_text("tag", t) for t in tag))
    seq_number, seq_size = _int_param("sequence_number", q.get("sequence_number")), _int_param(
        "sequence_size", q.get("sequence_size"))  # fmt: skip
    body = await read_upload(request, q.get("image"), ctx.max_body_bytes, ctx.hosted_images)
    split = body.split or q.get("split") or "train"
    if split not in SPLITS:
        raise HubInputError(f"invalid split {split[:40]!r}: use train, valid or test")
    metadata = body.metadata if body.metadata is not None else parse_metadata(q.get("metadata"), "query parameter")
    name = check_text("image name", PurePosixPath(body.name or q.get("name") or "image").name or "image")
    fmt, width, height = await run_in_threadpool(image_format_and_size, body.data, name)
    image = NewImage(project=project, batch=batch, name=name, data=body.data, format=fmt, width=width, height=height,
                     split=split, tags=tags, metadata=metadata, sequence_number=seq_number, sequence_size=seq_size,
                     inference_id=_inference_id(q.get("inference_id")))  # fmt: skip
    image_id, duplicate = await run_in_threadpool(ctx.store.store_image, image)
    if duplicate:
        return JSONResponse({"duplicate": True, "id": image_id})
    return JSONResponse({"success": True, "id": image_id})


def _inference_id(value: str | None) -> str | None:
    return check_text("inference_id", value) if value else None


async def _annotation_body(request: Request) -> tuple[str, Any]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HubInputError("the annotation is not UTF-8 text") from None
    if request.headers.get("content-type", "").startswith("application/json"):
        shape = '{"annotationFile": "...", "labelmap": {...}}'
        envelope = parse_json(text, "the JSON body", hint=f"send {shape}")
        if not isinstance(envelope, dict) or not isinstance(envelope.get("annotationFile"), str):
            raise HubInputError(f"JSON body must be {shape}")
        return envelope["annotationFile"], envelope.get("labelmap")
    return text, None


@router.post("/dataset/{project}/annotate/{image_id}")
async def annotate(request: Request, project: str, image_id: str,
                   ctx: HubContext = AUTHORIZED) -> JSONResponse:  # fmt: skip
    """Parse the annotation into the hub's model and attach it (409 unless ``overwrite``)."""
    q = request.query_params
    check_slug("project", project)
    name = check_text("annotation name", q.get("name") or "annotation.json")
    job_name = check_text("jobName", q["jobName"]) if q.get("jobName") else None
    text, labelmap = await _annotation_body(request)
    if not text.strip() and labelmap is None:
        raise HubInputError("empty annotation")
    image = await run_in_threadpool(ctx.store.get, image_id)
    if image is None or image.project != project:
        raise NotFoundError("Image not found in dataset.", hint="The image ID is returned by the upload API.")
    classes = await run_in_threadpool(ctx.store.classes, project)
    model = parse_annotation(name, text, ImageContext(image.name, image.width, image.height), labelmap, classes)
    await run_in_threadpool(ctx.store.annotate, project, image_id, name, text, model, _flag(q.get("prediction")),
                            _flag(q.get("overwrite")), job_name)  # fmt: skip
    return JSONResponse({"success": True})


def _str_list(doc: dict[str, Any], key: str) -> list[str]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HubInputError(f"'{key}' must be a list of strings")
    return value


@router.post("/{workspace}/images/{image_id}/metadata")
async def update_metadata(request: Request, workspace: str, image_id: str,
                          ctx: HubContext = AUTHORIZED) -> JSONResponse:  # fmt: skip
    """``{metadata?, removeMetadata?, addTags?, removeTags?}`` on one image."""
    check_slug("workspace", workspace)
    shape = "{metadata?, removeMetadata?, addTags?, removeTags?}"
    doc = parse_json(await request.body(), "the body", hint=f"send {shape}")
    if not isinstance(doc, dict):
        raise HubInputError(f"the body must be a JSON object {shape}")
    metadata = check_metadata(doc["metadata"], "body 'metadata'") if doc.get("metadata") is not None else {}
    add_tags = [check_text("tag", t) for t in _str_list(doc, "addTags")]
    await run_in_threadpool(ctx.store.update_metadata, image_id, metadata, _str_list(doc, "removeMetadata"),
                            add_tags, _str_list(doc, "removeTags"))  # fmt: skip
    return JSONResponse({"success": True})
