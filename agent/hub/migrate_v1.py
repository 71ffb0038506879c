"""Import a hub data directory written by framesift before the current schema.

The first hub stored images under ``projects/<project>/<batch>/<id>.jpg`` (whatever their
real format) with an ``images`` table that lacks ``blob``/``format``/``split``…, and the
annotation as a file beside the image. At start, the embedded store detects that table,
renames it ``images_v1`` (kept as a record, like the old files), creates the current
schema and re-ingests every row through the store: bytes into the content-addressed
blob directory under their real format, the annotation parsed into the annotation
model. A row that cannot be imported is reported and skipped; the rest go on. The
active-learning configs table is unchanged and kept as it is.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from agent.errors import FramesiftError
from agent.hub.annotation_parse import ImageContext, parse_annotation
from agent.hub.store import HubStore, NewImage
from agent.hub.upload_body import image_format_and_size

logger = logging.getLogger(__name__)

V1_TABLE = "images_v1"


def needs_migration(index: Path) -> bool:
    """True when ``index`` holds a first-release ``images`` table (no ``blob`` column)."""
    if not index.exists():
        return False
    db = sqlite3.connect(index)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
        return bool(columns) and "blob" not in columns
    finally:
        db.close()


def set_v1_aside(index: Path) -> None:
    """Rename the old table so the current schema can be created beside it."""
    db = sqlite3.connect(index)
    try:
        with db:
            db.execute(f"ALTER TABLE images RENAME TO {V1_TABLE}")
    finally:
        db.close()


def import_v1(data_dir: Path, store: HubStore) -> tuple[int, int]:
    """Re-ingest every ``images_v1`` row not imported yet; returns (imported, skipped)."""
    db = sqlite3.connect(data_dir / "index.sqlite")
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if V1_TABLE not in tables:
            return 0, 0
        rows = db.execute(
            "SELECT id, project, batch, name, tags, inference_id, path, annotation_path, prediction "
            "FROM images_v1 ORDER BY created"
        ).fetchall()
    finally:
        db.close()
    imported = skipped = 0
    for old_id, project, batch, name, tags, inference_id, path, annotation_path, prediction in rows:
        try:
            _import_row(data_dir, store, project, batch, name, tags, inference_id, path, annotation_path,
                        bool(prediction))  # fmt: skip
            imported += 1
        except (OSError, ValueError, FramesiftError) as exc:
            skipped += 1
            logger.warning("hub upgrade: image %s of project %s not imported: %s", old_id, project, exc)
    logger.warning("hub upgrade: %d image(s) imported from the first release's layout, %d skipped; the old "
                   "files under %s and the table %s can be removed once checked", imported, skipped,
                   data_dir / "projects", V1_TABLE)  # fmt: skip
    return imported, skipped


def _import_row(data_dir: Path, store: HubStore, project: str, batch: str, name: str, tags: str,
                inference_id: str | None, path: str, annotation_path: str | None,
                prediction: bool) -> None:  # fmt: skip
    data = (data_dir / path).read_bytes()
    fmt, width, height = image_format_and_size(data, name)
    image = NewImage(project=project, batch=batch, name=name, data=data, format=fmt, width=width, height=height,
                     tags=tuple(json.loads(tags or "[]")), inference_id=inference_id)  # fmt: skip
    image_id, _ = store.store_image(image)
    if annotation_path:
        text = (data_dir / annotation_path).read_text(encoding="utf-8")
        annotation_name = Path(annotation_path).name
        model = parse_annotation(annotation_name, text, ImageContext(name, width, height), None,
                                 store.classes(project))  # fmt: skip
        store.annotate(project, image_id, annotation_name, text, model, prediction, overwrite=True, job_name=None)
