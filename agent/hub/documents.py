"""The JSON documents Roboflow's clients read: workspace, project (with versions), image.

Field names follow what the ``roboflow`` SDK (``Workspace.__init__``, ``Project.__init__``,
``Project.image``) and the ``inference`` server (``get_roboflow_workspace``,
``get_roboflow_dataset_type``) read.
"""

from __future__ import annotations

from typing import Any

from agent.hub.annotation_model import ImageAnnotation
from agent.hub.store import HubStore, StoredImage, batch_id

_COLORS = ("#C7FC00", "#FF00FF", "#8622FF", "#FE0056", "#00FFCE", "#FF8000", "#00B7EB", "#FFFF00")


def project_document(store: HubStore, workspace: str, project: str) -> dict[str, Any] | None:
    """``{"id": "ws/p", "name", "type", "classes", "splits", ...}`` or None when the project is unknown."""
    summary = store.project_summary(project)
    if summary is None:
        return None
    classes = summary["classes"]
    splits = {s: summary["splits"].get(s, 0) for s in ("train", "valid", "test")}
    return {
        "id": f"{workspace}/{project}", "name": project, "type": summary["type"],
        "annotation": "objects" if summary["type"] != "classification" else "classes",
        "classes": classes, "colors": {c: _COLORS[i % len(_COLORS)] for i, c in enumerate(classes)},
        "created": summary["created"], "updated": summary["updated"], "images": sum(summary["splits"].values()),
        "unannotated": summary["unannotated"], "public": False, "splits": splits, "versions": 0,
        "multilabel": False, "icon": None,
    }  # fmt: skip


def workspace_document(store: HubStore, workspace: str) -> dict[str, Any]:
    """``{"workspace": {"name", "url", "id", "projects": [project documents], "members": []}}``."""
    projects = [d for p in store.project_names() if (d := project_document(store, workspace, p)) is not None]
    return {"workspace": {"name": workspace, "url": workspace, "id": workspace, "projects": projects, "members": []}}


def image_document(image: StoredImage, workspace: str, base_url: str) -> dict[str, Any]:
    """``{"image": {id, name, split, tags, metadata, batch, annotation, labels, urls, ...}}``."""
    labels: list[str] = []
    if image.annotation_model:
        try:
            labels = ImageAnnotation.from_json(image.annotation_model).class_names()
        except (ValueError, KeyError, TypeError):
            labels = []
    return {"image": {
        "id": image.id, "name": image.name, "project": image.project, "workspace": workspace,
        "split": image.split, "tags": image.tags, "metadata": image.metadata,
        "batch": {"id": batch_id(image.project, image.batch), "name": image.batch},
        "created": image.created_s, "width": image.width, "height": image.height, "format": image.format,
        "hash": image.sha256, "size_bytes": image.size_bytes,
        "sequence_number": image.sequence_number, "sequence_size": image.sequence_size,
        "inference_id": image.inference_id, "labels": labels, "review": image.review_state,
        "annotation": None if image.annotation_name is None else {
            "name": image.annotation_name, "format": image.annotation_format, "prediction": image.prediction,
            "jobName": image.job_name},
        "urls": {"original": f"{base_url}/{workspace}/{image.project}/images/{image.id}/original"},
    }}  # fmt: skip
