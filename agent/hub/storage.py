"""HubStorage: the hub's SQLite index plus image/annotation files on disk.

Layout under the data directory::

    index.sqlite                                 images, annotations, configs (WAL, synchronous=FULL)
    projects/<project>/<batch>/<id>.jpg          the uploaded bytes, exactly as received
    projects/<project>/<batch>/<id>.json|.txt    the annotation file

Files are written atomically (temporary file, fsync, rename, fsync of the folder)
before the row that points to them is committed, so a crash never leaves a row
without its file. Deduplication is by SHA-256 of the bytes within a project.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.runtime.atomic_file import write_atomic

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")


class HubInputError(ValueError):
    """A request names something the hub refuses (bad name, unknown image)."""


class NotFoundError(HubInputError):
    """No such image."""


class AlreadyAnnotatedError(HubInputError):
    """The image has an annotation and overwrite was not asked for."""


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it is a safe project/batch name, else raise HubInputError.

    Safe: 1-100 characters of letters, digits, ``. _ -`` and space, not starting with a
    dot, no ``..``: it can never leave its folder.
    """
    if not NAME_PATTERN.match(value) or ".." in value:
        raise HubInputError(
            f"invalid {kind} {value!r}: use 1-100 letters, digits, '.', '_', '-' or spaces, "
            "starting with a letter or digit"
        )
    return value


@dataclass(frozen=True)
class StoredImage:
    """A row of the image index."""

    id: str
    project: str
    batch: str
    name: str
    sha256: str
    tags: list[str]
    inference_id: str | None
    created_s: float
    path: str
    annotation_path: str | None
    prediction: bool


_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, batch TEXT NOT NULL, name TEXT NOT NULL,
  sha256 TEXT NOT NULL, tags TEXT NOT NULL, inference_id TEXT, created REAL NOT NULL,
  path TEXT NOT NULL, annotation_path TEXT, prediction INTEGER NOT NULL DEFAULT 0,
  UNIQUE (project, sha256));
CREATE INDEX IF NOT EXISTS images_batch ON images (project, batch);
CREATE TABLE IF NOT EXISTS configs (
  workspace TEXT NOT NULL, project TEXT NOT NULL, config TEXT NOT NULL, etag TEXT NOT NULL,
  updated REAL NOT NULL, PRIMARY KEY (workspace, project));
"""


class HubStorage:
    """Thread-safe storage of one hub."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "index.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _row(self, row: tuple[Any, ...]) -> StoredImage:
        return StoredImage(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7],
                           row[8], row[9], bool(row[10]))  # fmt: skip

    _COLUMNS = "id, project, batch, name, sha256, tags, inference_id, created, path, annotation_path, prediction"

    def store_image(
        self, project: str, batch: str, name: str, data: bytes, tags: list[str], inference_id: str | None
    ) -> tuple[str, bool]:
        """Store an image; returns (id, duplicate). A duplicate keeps the first copy."""
        check_name("project", project)
        check_name("batch", batch)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            found = self._db.execute(
                "SELECT id FROM images WHERE project = ? AND sha256 = ?", (project, digest)
            ).fetchone()
            if found:
                return str(found[0]), True
            image_id = secrets.token_hex(10)
            rel = Path("projects") / project / batch / f"{image_id}.jpg"
            write_atomic(self.data_dir / rel, data)
            self._db.execute(
                f"INSERT INTO images ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                (image_id, project, batch, name[:200], digest, json.dumps(tags), inference_id, time.time(),
                 str(rel)),
            )  # fmt: skip
            return image_id, False

    def annotate(self, project: str, image_id: str, name: str, body: bytes, prediction: bool,
                 overwrite: bool) -> None:  # fmt: skip
        """Attach an annotation file to an image."""
        check_name("project", project)
        ext = Path(name).suffix.lower()
        if ext not in (".json", ".txt", ".xml", ".csv", ".jsonl"):
            raise HubInputError(f"annotation name {name!r} must end in .json, .txt, .xml, .csv or .jsonl")
        with self._lock:
            image = self.get(image_id)
            if image is None or image.project != project:
                raise NotFoundError(f"image {image_id} not found in project {project}")
            if image.annotation_path and not overwrite:
                raise AlreadyAnnotatedError(f"image {image_id} was already annotated")
            rel = Path(image.path).with_suffix(ext)
            write_atomic(self.data_dir / rel, body)
            self._db.execute(
                "UPDATE images SET annotation_path = ?, prediction = ? WHERE id = ?",
                (str(rel), int(prediction), image_id),
            )

    def get(self, image_id: str) -> StoredImage | None:
        """One image by id."""
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
        return self._row(row) if row else None

    def images(self, project: str, batch: str | None = None) -> list[StoredImage]:
        """Images of a project (optionally one batch), oldest first."""
        query = f"SELECT {self._COLUMNS} FROM images WHERE project = ?"
        args: tuple[str, ...] = (project,)
        if batch is not None:
            query += " AND batch = ?"
            args = (project, batch)
        return [self._row(r) for r in self._db.execute(query + " ORDER BY created, id", args)]

    def batches(self, project: str) -> list[dict[str, Any]]:
        """``{"name", "id", "images", "numJobs"}`` per batch, as the Roboflow API lists them."""
        rows = self._db.execute(
            "SELECT batch, COUNT(*), MIN(created) FROM images WHERE project = ? GROUP BY batch ORDER BY 3",
            (project,),
        ).fetchall()
        return [{"name": b, "id": hashlib.sha1(f"{project}/{b}".encode()).hexdigest()[:20],  # noqa: S324
                 "images": n, "numJobs": 0} for b, n, _ in rows]  # fmt: skip

    def projects(self) -> list[tuple[str, int]]:
        """(project, image count) pairs."""
        return [(p, n) for p, n in self._db.execute("SELECT project, COUNT(*) FROM images GROUP BY project")]

    def sha256s(self, project: str) -> set[str]:
        """The digests of every image of a project (tests compare sets)."""
        return {r[0] for r in self._db.execute("SELECT sha256 FROM images WHERE project = ?", (project,))}

    def get_config(self, workspace: str, project: str) -> tuple[dict[str, Any], str] | None:
        """(config, etag) or None."""
        row = self._db.execute(
            "SELECT config, etag FROM configs WHERE workspace = ? AND project = ?", (workspace, project)
        ).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def set_config(self, workspace: str, project: str, config: dict[str, Any]) -> str:
        """Store a config; returns its new ETag."""
        check_name("workspace", workspace)
        check_name("project", project)
        text = json.dumps(config, sort_keys=True)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        with self._lock:
            self._db.execute(
                "INSERT INTO configs (workspace, project, config, etag, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (workspace, project) DO UPDATE SET config = excluded.config, "
                "etag = excluded.etag, updated = excluded.updated",
                (workspace, project, text, etag, time.time()),
            )
        return etag

    def close(self) -> None:
        """Close the index."""
        self._db.close()
