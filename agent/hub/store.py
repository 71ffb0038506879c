"""HubStore: the hub's images, annotations, classes and configs on one of two engines.

* embedded (default): SQLite ``<data>/index.sqlite`` + blobs under ``<data>/blobs``;
* PostgreSQL (``--database postgresql://…``): several hub processes share one database and
  one blob directory (``--blobs``).

Image bytes go to the content-addressed :class:`BlobStore` first, then the row is inserted
with ``ON CONFLICT (project, sha256) DO NOTHING``: the database decides which upload is
first, so two replicas never store a duplicate. Annotating is one conditional ``UPDATE``
(``overwrite`` or no annotation yet). Class ids are assigned once per project and never
renumbered.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.hub.annotation_model import ImageAnnotation
from agent.hub.blobs import BlobStore
from agent.hub.errors import AlreadyAnnotatedError, NotFoundError
from agent.hub.sql_engines import PostgresEngine, SqlEngine, SqliteEngine, equal_filters

_COLUMNS = ("id, project, batch, name, sha256, format, blob, size_bytes, width, height, split, tags, metadata, "
            "sequence_number, sequence_size, inference_id, created, annotation_path, annotation_format, "
            "annotation_raw, annotation_model, prediction, job_name")  # fmt: skip


@dataclass(frozen=True)
class NewImage:
    """An upload to store: bytes plus everything Roboflow keeps about it."""

    project: str
    batch: str
    name: str
    data: bytes
    format: str
    width: int
    height: int
    split: str = "train"
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None
    sequence_number: int | None = None
    sequence_size: int | None = None
    inference_id: str | None = None


@dataclass(frozen=True)
class StoredImage:
    """A row of the image index."""

    id: str
    project: str
    batch: str
    name: str
    sha256: str
    format: str
    blob: str
    size_bytes: int
    width: int
    height: int
    split: str
    tags: list[str]
    metadata: dict[str, Any]
    sequence_number: int | None
    sequence_size: int | None
    inference_id: str | None
    created_s: float
    annotation_name: str | None
    annotation_format: str | None
    annotation_raw: str | None
    annotation_model: str | None
    prediction: bool
    job_name: str | None

    @property
    def review_state(self) -> str:
        """``unannotated``, ``predicted`` (a model's draft awaiting review) or ``annotated``."""
        if self.annotation_name is None:
            return "unannotated"
        return "predicted" if self.prediction else "annotated"


def _row(row: tuple[Any, ...]) -> StoredImage:
    values = list(row)
    values[11] = json.loads(values[11])
    values[12] = json.loads(values[12])
    values[21] = bool(values[21])
    return StoredImage(*values)


def batch_id(project: str, batch: str) -> str:
    """A stable id for a batch name (the same on every replica)."""
    return hashlib.sha1(f"{project}/{batch}".encode()).hexdigest()[:20]  # noqa: S324 - an id, not security


class HubStore:
    """Thread-safe storage of a hub (and of every replica sharing its database)."""

    def __init__(self, engine: SqlEngine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    # images ---------------------------------------------------------------------------

    def store_image(self, image: NewImage) -> tuple[str, bool]:
        """Store an upload; returns (id, duplicate). A duplicate keeps the first copy's batch and data."""
        digest = hashlib.sha256(image.data).hexdigest()
        blob = self.blobs.put(digest, image.format, image.data)
        image_id = secrets.token_hex(10)
        with self.engine.transaction() as cur:
            cur.execute("INSERT INTO projects (name, type, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (image.project, "object-detection", time.time()))  # fmt: skip
            cur.execute(
                "INSERT INTO images (id, project, batch, name, sha256, format, blob, size_bytes, width, height, split, "
                "tags, metadata, sequence_number, sequence_size, inference_id, created, prediction) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) "
                "ON CONFLICT (project, sha256) DO NOTHING RETURNING id",
                (image_id, image.project, image.batch, image.name, digest, image.format, blob, len(image.data),
                 image.width, image.height, image.split, json.dumps(list(image.tags)),
                 json.dumps(image.metadata or {}), image.sequence_number, image.sequence_size, image.inference_id,
                 time.time()),
            )  # fmt: skip
            if cur.fetchone() is not None:
                return image_id, False
            cur.execute("SELECT id FROM images WHERE project = ? AND sha256 = ?", (image.project, digest))
            return str(cur.fetchone()[0]), True

    def get(self, image_id: str) -> StoredImage | None:
        """One image by id."""
        with self.engine.transaction() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,))
            row = cur.fetchone()
        return _row(row) if row else None

    def images(self, project: str, batch: str | None = None, split: str | None = None, tag: str | None = None,
               review: str | None = None) -> list[StoredImage]:  # fmt: skip
        """Images of a project, oldest first, filtered by batch, split, tag and review state."""
        clause, args = equal_filters((("batch", batch), ("split", split)))
        with self.engine.transaction() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM images WHERE project = ?{clause} ORDER BY created, id",
                        (project, *args))  # fmt: skip
            rows = [_row(r) for r in cur.fetchall()]
        return [r for r in rows if (tag is None or tag in r.tags) and (review is None or r.review_state == review)]

    def sha256s(self, project: str) -> list[str]:
        """The digest of every image row of a project (a list: tests count duplicates)."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT sha256 FROM images WHERE project = ?", (project,))
            return [r[0] for r in cur.fetchall()]

    def update_metadata(self, image_id: str, metadata: dict[str, Any], remove_metadata: list[str],
                        add_tags: list[str], remove_tags: list[str]) -> None:  # fmt: skip
        """Upsert/remove metadata keys and add/remove tags of one image (read-modify-write, row locked)."""
        with self.engine.transaction() as cur:
            cur.execute(f"SELECT tags, metadata FROM images WHERE id = ?{self.engine.for_update}", (image_id,))
            row = cur.fetchone()
            if row is None:
                raise NotFoundError(f"image {image_id} not found", hint="the image id is returned by the upload API")
            tags = [t for t in json.loads(row[0]) if t not in remove_tags]
            tags += [t for t in dict.fromkeys(add_tags) if t not in tags]
            meta = {k: v for k, v in json.loads(row[1]).items() if k not in remove_metadata}
            meta.update(metadata)
            cur.execute("UPDATE images SET tags = ?, metadata = ? WHERE id = ?",
                        (json.dumps(tags), json.dumps(meta), image_id))  # fmt: skip

    # annotations ----------------------------------------------------------------------

    def annotate(self, project: str, image_id: str, name: str, raw: str, model: ImageAnnotation, prediction: bool,
                 overwrite: bool, job_name: str | None) -> None:  # fmt: skip
        """Attach an annotation; the database refuses a second one unless ``overwrite``."""
        with self.engine.transaction() as cur:
            cur.execute(
                "UPDATE images SET annotation_path = ?, annotation_format = ?, annotation_raw = ?, "
                "annotation_model = ?, prediction = ?, job_name = ?, annotated = ? "
                "WHERE id = ? AND project = ? AND (annotation_path IS NULL OR ? = 1)",
                (name, model.source_format, raw, model.to_json(), int(prediction), job_name, time.time(), image_id,
                 project, int(overwrite)),
            )  # fmt: skip
            if cur.rowcount == 0:
                cur.execute("SELECT annotation_path FROM images WHERE id = ? AND project = ?", (image_id, project))
                found = cur.fetchone()
                if found is None:
                    raise NotFoundError("Image not found in dataset.",
                                        hint="The image ID is returned by the upload API.")  # fmt: skip
                raise AlreadyAnnotatedError(f"Image {image_id} was already annotated.",
                                            hint="pass overwrite=true as a query parameter")  # fmt: skip
        self.register_classes(project, model.class_names())

    def register_classes(self, project: str, names: list[str]) -> None:
        """Give each new class name the project's next class id (ids are never reused or renumbered)."""
        for name in names:
            for _ in range(50):  # a concurrent replica may take the same next id; then try again
                with self.engine.transaction() as cur:
                    cur.execute("SELECT class_id FROM classes WHERE project = ? AND name = ?", (project, name))
                    if cur.fetchone() is not None:
                        break
                    cur.execute(
                        "INSERT INTO classes (project, name, class_id) SELECT ?, ?, COALESCE(MAX(class_id) + 1, 0) "
                        "FROM classes WHERE project = ? ON CONFLICT DO NOTHING",
                        (project, name, project),
                    )  # fmt: skip
                    if cur.rowcount == 1:
                        break

    def classes(self, project: str) -> list[str]:
        """The project's class list: index = class id."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT name, class_id FROM classes WHERE project = ? ORDER BY class_id", (project,))
            rows = cur.fetchall()
        names = [""] * (max((r[1] for r in rows), default=-1) + 1)
        for name, class_id in rows:
            names[class_id] = name
        return names

    # projects, batches, jobs ----------------------------------------------------------

    def create_project(self, project: str, project_type: str) -> None:
        """Create a project, or set the type of an existing one (one created by its first upload is
        ``object-detection`` until told otherwise; annotations are parsed by their own format, not by it)."""
        with self.engine.transaction() as cur:
            cur.execute("INSERT INTO projects (name, type, created) VALUES (?, ?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET type = excluded.type",
                        (project, project_type, time.time()))  # fmt: skip

    def project_names(self) -> list[str]:
        """Every project, by creation."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT name FROM projects ORDER BY created, name")
            return [r[0] for r in cur.fetchall()]

    def project_summary(self, project: str) -> dict[str, Any] | None:
        """Type, creation time, counts per split, unannotated count and images per class; None if unknown."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT type, created FROM projects WHERE name = ?", (project,))
            head = cur.fetchone()
            if head is None:
                return None
            cur.execute("SELECT split, COUNT(*), SUM(CASE WHEN annotation_path IS NULL THEN 1 ELSE 0 END), "
                        "MAX(created) FROM images WHERE project = ? GROUP BY split", (project,))  # fmt: skip
            splits = cur.fetchall()
            cur.execute("SELECT annotation_model FROM images WHERE project = ? AND annotation_model IS NOT NULL",
                        (project,))  # fmt: skip
            models = [r[0] for r in cur.fetchall()]
        class_counts: dict[str, int] = dict.fromkeys(self.classes(project), 0)
        for text in models:
            try:
                for name in ImageAnnotation.from_json(text).class_names():
                    class_counts[name] = class_counts.get(name, 0) + 1
            except (ValueError, KeyError, TypeError):
                continue
        return {"type": head[0], "created": float(head[1]), "splits": {s: int(n) for s, n, _, _ in splits},
                "unannotated": sum(int(u or 0) for _, _, u, _ in splits),
                "updated": max([float(head[1])] + [float(m) for *_, m in splits if m is not None]),
                "classes": class_counts}  # fmt: skip

    def batches(self, project: str) -> list[dict[str, Any]]:
        """Roboflow's batch documents: ``{"id", "name", "images", "numJobs", "uploaded"}``.

        As on Roboflow, images that went into a labeling job (``jobName``) count in the job,
        not in the batch.
        """
        with self.engine.transaction() as cur:
            cur.execute("SELECT batch, SUM(CASE WHEN job_name IS NULL THEN 1 ELSE 0 END), COUNT(DISTINCT job_name), "
                        "MIN(created) FROM images WHERE project = ? GROUP BY batch ORDER BY 4", (project,))  # fmt: skip
            rows = cur.fetchall()
        return [{"id": batch_id(project, b), "name": b, "images": int(n or 0), "numJobs": int(j),
                 "uploaded": {"_seconds": int(c)}} for b, n, j, c in rows]  # fmt: skip

    def jobs(self, project: str) -> list[dict[str, Any]]:
        """Labeling jobs named by ``jobName`` on annotate: ``{"id", "name", "sourceBatch", "numImages"}``."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT job_name, batch, COUNT(*) FROM images WHERE project = ? AND job_name IS NOT NULL "
                        "GROUP BY job_name, batch ORDER BY 1, 2", (project,))  # fmt: skip
            rows = cur.fetchall()
        return [{"id": batch_id(project, f"job:{j}:{b}"), "name": j, "sourceBatch": f"{project}/{batch_id(project, b)}",
                 "numImages": int(n), "status": "annotating"} for j, b, n in rows]  # fmt: skip

    # active-learning configs ----------------------------------------------------------

    def get_config(self, workspace: str, project: str) -> tuple[dict[str, Any], str] | None:
        """(config, etag) or None."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT config, etag FROM configs WHERE workspace = ? AND project = ?", (workspace, project))
            row = cur.fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def set_config(self, workspace: str, project: str, config: dict[str, Any]) -> str:
        """Store a config; returns its new ETag."""
        text = json.dumps(config, sort_keys=True)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        with self.engine.transaction() as cur:
            cur.execute(
                "INSERT INTO configs (workspace, project, config, etag, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (workspace, project) DO UPDATE SET config = excluded.config, "
                "etag = excluded.etag, updated = excluded.updated",
                (workspace, project, text, etag, time.time()),
            )
        return etag

    def close(self) -> None:
        """Close the database."""
        self.engine.close()


def open_store(data_dir: Path, database: str | None = None, blobs_dir: Path | None = None) -> HubStore:
    """The embedded store under ``data_dir``, or PostgreSQL at ``database`` with blobs in ``blobs_dir``.

    Temporary files a crash left in the blob directory are removed (immediately for the
    embedded store; after 10 minutes for a shared directory, where another replica may be
    writing).
    """
    if database:
        engine = PostgresEngine(database)  # a bad URL or an unreachable server: refused before a directory is made
        blobs = BlobStore(blobs_dir or data_dir / "blobs")
        blobs.remove_orphaned_temp_files(min_age_s=600)
        return HubStore(engine, blobs)
    blobs = BlobStore(blobs_dir or data_dir / "blobs")
    blobs.remove_orphaned_temp_files(min_age_s=0)
    from agent.hub import migrate_v1  # the first release's layout, upgraded in place

    index = data_dir / "index.sqlite"
    upgrade = migrate_v1.needs_migration(index)
    if upgrade:
        migrate_v1.set_v1_aside(index)
    store = HubStore(SqliteEngine(index), blobs)
    if upgrade:
        migrate_v1.import_v1(data_dir, store)
    return store
