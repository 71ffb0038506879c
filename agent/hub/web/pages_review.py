"""The review queue, the review page of a batch (or of an assignment) and the review API its
JavaScript calls after every action (approve, reject, relabel, delete or draw a box)."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.hub.annotation_model import CLASSIFICATION, DETECTION, ImageAnnotation, Shape
from agent.hub.errors import HubInputError, NotFoundError
from agent.hub.json_body import parse_json
from agent.hub.names import check_text
from agent.hub.web.auth import check_csrf_header, current_session
from agent.hub.web.pages_project import _project_or_404, image_shapes
from agent.hub.web.review_store import BATCH_STATUSES, STATES
from agent.hub.web.web_context import PREFIX, WebApp, web_app

router = APIRouter(prefix=PREFIX)
SORTS = {"created": lambda b: b.created_s, "images": lambda b: b.images, "progress": lambda b: b.progress}
MAX_SHAPES = 1000


@router.get("/projects/{project}/review", response_model=None)
async def review_queue(request: Request, project: str) -> Response:
    """Batches by status (Not Started, In Progress, Done), sortable by creation date, image count, progress."""
    session = await current_session(request)
    app = web_app(request)
    await run_in_threadpool(_project_or_404, app, project)
    status = request.query_params.get("status", "")
    sort = request.query_params.get("sort", "created")
    descending = request.query_params.get("order", "desc") != "asc"
    batches = await run_in_threadpool(app.reviews.batch_progress, project)
    shown = [b for b in batches if not status or b.status == status]
    shown.sort(key=SORTS.get(sort, SORTS["created"]), reverse=descending)
    tally = {s: sum(1 for b in batches if b.status == s) for s in BATCH_STATUSES}
    return app.render("queue.html", session, project=project, batches=shown, status=status, sort=sort,
                      order="desc" if descending else "asc", statuses=BATCH_STATUSES, tally=tally)  # fmt: skip


def _image_ids(app: WebApp, project: str, batch_key: str, assignment_id: str | None) -> tuple[str, list[str], str]:
    """(batch name, image ids in review order, instructions) of a batch or an assignment."""
    if assignment_id:
        assignment = app.reviews.assignment(assignment_id)
        if assignment is None or assignment.project != project:
            raise NotFoundError(f"assignment {assignment_id[:40]!r} not found in project {project!r}")
        return assignment.batch, assignment.image_ids, assignment.instructions
    for batch in app.reviews.batch_progress(project):
        if batch_key in (batch.id, batch.name):
            return batch.name, [i.id for i in app.hub.store.images(project, batch.name)], ""
    raise NotFoundError(f"batch {batch_key[:60]!r} not found in project {project!r}")


def shape_documents(model: ImageAnnotation | None) -> list[dict[str, Any]]:
    """Shapes as the page's JavaScript draws them: class, box [x, y, w, h] px, polygon, confidence."""
    return [{"class": s.class_name, "box": list(s.box), "polygon": [list(p) for p in s.polygon],
             "confidence": s.confidence} for s in (model.shapes if model else ())]  # fmt: skip


@router.get("/projects/{project}/review/{batch_key}", response_model=None)
async def review_page(request: Request, project: str, batch_key: str) -> Response:
    """One image of a batch with its annotation drawn over it; ``?n=`` picks the image."""
    session = await current_session(request)
    app = web_app(request)
    assignment_id = request.query_params.get("assignment") or None

    def load() -> dict[str, Any]:
        _project_or_404(app, project)
        batch, ids, instructions = _image_ids(app, project, batch_key, assignment_id)
        reviews = app.reviews.reviews(project, batch)
        decided = sum(1 for i in ids if i in reviews and reviews[i].state != "pending")
        try:
            n = max(0, min(int(request.query_params.get("n", "0")), len(ids) - 1))
        except ValueError:
            n = 0
        if not ids:
            return {"batch": batch, "image": None, "total": 0, "decided": decided, "n": 0, "instructions": ""}
        image = app.hub.store.get(ids[n])
        if image is None:
            raise NotFoundError(f"image {ids[n]!r} is gone")
        review = reviews.get(image.id)
        model = image_shapes(image, review)
        data = {"id": image.id, "width": image.width, "height": image.height, "state": review.state if review
                else "pending", "shapes": shape_documents(model), "labels": list(model.labels) if model else [],
                "kind": model.kind if model else DETECTION, "classes": [c for c in app.hub.store.classes(project) if c],
                "api": f"{PREFIX}/api/images/{image.id}/review"}  # fmt: skip
        return {"batch": batch, "image": image, "review": review, "data_json": json.dumps(data), "n": n,
                "total": len(ids), "decided": decided, "instructions": instructions, "data": data}  # fmt: skip

    values = await run_in_threadpool(load)
    query = f"&assignment={assignment_id}" if assignment_id else ""
    base = f"{PREFIX}/projects/{project}/review/{batch_key}?n="
    values.update(prev_url=f"{base}{values['n'] - 1}{query}" if values["n"] > 0 else "",
                  next_url=f"{base}{values['n'] + 1}{query}" if values["n"] + 1 < values["total"] else "",
                  project=project, batch_key=batch_key)  # fmt: skip
    return app.render("review.html", session, **values)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HubInputError(f"{what} must be a finite number, got {str(value)[:40]!r}")
    return float(value)


def parse_review(body: Any, width: int, height: int, kind: str) -> tuple[str, ImageAnnotation | None]:
    """Validate the JSON a review action posts: ``{"state", "shapes"?: [{class, box, confidence?}], "labels"?}``."""
    if not isinstance(body, dict):
        raise HubInputError('body must be a JSON object {"state": ..., "shapes": [...]}')
    state = body.get("state")
    if state not in STATES:
        raise HubInputError(f"state must be one of {', '.join(STATES)}, got {str(state)[:40]!r}")
    if "shapes" not in body and "labels" not in body:
        return state, None
    shapes, raw = [], body.get("shapes") or []
    if not isinstance(raw, list) or len(raw) > MAX_SHAPES:
        raise HubInputError(f"shapes must be a list of at most {MAX_SHAPES} objects")
    for n, item in enumerate(raw):
        where = f"shapes[{n}]"
        if not isinstance(item, dict) or not isinstance(item.get("class"), str):
            raise HubInputError(f"{where} must be an object with a class name")
        box = item.get("box")
        if not isinstance(box, list) or len(box) != 4:
            raise HubInputError(f"{where}.box must be [x, y, width, height] in pixels")
        x, y, w, h = (_number(v, f"{where}.box") for v in box)
        if w <= 0 or h <= 0 or x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
            raise HubInputError(f"{where}.box {[x, y, w, h]} is empty or outside the {width}x{height} image")
        polygon = item.get("polygon") or []
        if not isinstance(polygon, list) or not all(isinstance(p, list) and len(p) == 2 for p in polygon):
            raise HubInputError(f"{where}.polygon must be a list of [x, y] points")
        confidence = item.get("confidence")
        score = None if confidence is None else _number(confidence, f"{where}.confidence")
        if score is not None and not 0.0 <= score <= 1.0:
            score = None  # a draft stored before uploads were checked (0-100): the review must still save
        points = tuple((_number(p[0], where), _number(p[1], where)) for p in polygon)
        shapes.append(Shape(check_text(f"{where}.class", item["class"]), (x, y, w, h), points, confidence=score))
    labels = body.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise HubInputError("labels must be a list of class names")
    labels = [check_text("label", x) for x in labels]
    return state, ImageAnnotation(kind=CLASSIFICATION if kind == CLASSIFICATION else DETECTION,
                                  shapes=tuple(shapes), labels=tuple(labels), source_format="review")  # fmt: skip


@router.post("/api/images/{image_id}/review", response_model=None)
async def save_review(request: Request, image_id: str) -> Response:
    """Save one review action at once (last write wins); answers who saved it and when."""
    session = await current_session(request)
    check_csrf_header(request, session)
    app = web_app(request)
    raw = await request.body()
    body = parse_json(raw, "the review body")

    def save() -> dict[str, Any]:
        image = app.hub.store.get(image_id[:64])
        if image is None:
            raise NotFoundError(f"image {image_id[:40]!r} not found")
        draft = image_shapes(image, None)
        state, model = parse_review(body, image.width, image.height, draft.kind if draft else DETECTION)
        if model is not None:
            app.hub.store.register_classes(image.project, model.class_names())
        review = app.reviews.save(image, state, model.to_json() if model else None, session.user.name)
        return {"state": review.state, "reviewer": review.reviewer, "updated": review.updated_s}

    return JSONResponse(await run_in_threadpool(save))
