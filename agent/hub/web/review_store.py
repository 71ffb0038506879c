"""Review state and reviewer assignments, on the hub's database (SQLite or PostgreSQL).

One row per reviewed image: its decision (``pending``, ``approved``, ``rejected``), the
corrected annotation (the one annotation model as JSON; NULL = the draft as uploaded), who
changed it last and when. Every action is one upsert, so the last write per image wins and
several reviewers can work on one batch without losing each other's changes.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

from agent.hub.errors import HubInputError, NotFoundError
from agent.hub.sql_engines import SqlEngine, equal_filters
from agent.hub.store import StoredImage, batch_id

STATES = ("pending", "approved", "rejected")
BATCH_STATUSES = ("Not Started", "In Progress", "Done")


@dataclass(frozen=True)
class Review:
    """The review of one image."""

    image_id: str
    state: str
    annotation_json: str | None
    reviewer: str
    updated_s: float


@dataclass(frozen=True)
class BatchProgress:
    """A batch in the review queue."""

    id: str
    name: str
    images: int
    reviewed: int
    created_s: float

    @property
    def status(self) -> str:
        """Not Started, In Progress or Done."""
        if self.reviewed == 0:
            return "Not Started"
        return "Done" if self.reviewed >= self.images else "In Progress"

    @property
    def progress(self) -> float:
        """Reviewed fraction in [0, 1]."""
        return self.reviewed / self.images if self.images else 1.0


@dataclass(frozen=True)
class Assignment:
    """Images of one batch given to one reviewer."""

    id: str
    project: str
    batch: str
    reviewer: str
    image_ids: list[str]
    instructions: str
    created_s: float
    created_by: str


class ReviewStore:
    """Reviews and assignments (thread-safe: one transaction per call)."""

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    def save(self, image: StoredImage, state: str, annotation_json: str | None, reviewer: str) -> Review:
        """Record a reviewer's action (last write wins); ``annotation_json`` None keeps the stored correction."""
        if state not in STATES:
            raise HubInputError(f"invalid review state {state[:40]!r}: use one of {', '.join(STATES)}")
        now = time.time()
        with self.engine.transaction() as cur:
            if annotation_json is None:
                cur.execute("SELECT annotation FROM reviews WHERE image_id = ?", (image.id,))
                row = cur.fetchone()
                annotation_json = row[0] if row else None
            cur.execute(
                "INSERT INTO reviews (image_id, project, batch, state, annotation, reviewer, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (image_id) DO UPDATE SET state = excluded.state, "
                "annotation = excluded.annotation, reviewer = excluded.reviewer, updated = excluded.updated",
                (image.id, image.project, image.batch, state, annotation_json, reviewer, now),
            )  # fmt: skip
        return Review(image.id, state, annotation_json, reviewer, now)

    def reviews(self, project: str, batch: str | None = None) -> dict[str, Review]:
        """Reviews of a project (or one batch of it), by image id."""
        query, args = "SELECT image_id, state, annotation, reviewer, updated FROM reviews WHERE project = ?", [project]
        if batch is not None:
            query += " AND batch = ?"
            args.append(batch)
        with self.engine.transaction() as cur:
            cur.execute(query, tuple(args))
            return {r[0]: Review(r[0], r[1], r[2], r[3], float(r[4])) for r in cur.fetchall()}

    def batch_progress(self, project: str) -> list[BatchProgress]:
        """Every batch of a project with its image count and how many are decided (approved or rejected)."""
        with self.engine.transaction() as cur:
            cur.execute(
                "SELECT i.batch, COUNT(*), SUM(CASE WHEN r.state IN ('approved', 'rejected') THEN 1 ELSE 0 END), "
                "MIN(i.created) FROM images i LEFT JOIN reviews r ON r.image_id = i.id WHERE i.project = ? "
                "GROUP BY i.batch ORDER BY 4",
                (project,),
            )  # fmt: skip
            rows = cur.fetchall()
        return [BatchProgress(batch_id(project, b), b, int(n), int(d or 0), float(c)) for b, n, d, c in rows]

    def counts(self, project: str) -> dict[str, int]:
        """Images ready for review (batch not started), in review (batch started or assigned), done."""
        assigned = {a.batch for a in self.assignments(project)}
        out = {"ready": 0, "in_review": 0, "done": 0}
        for batch in self.batch_progress(project):
            out["done"] += batch.reviewed
            key = "in_review" if batch.reviewed or batch.name in assigned else "ready"
            out[key] += batch.images - batch.reviewed
        return out

    # assignments ------------------------------------------------------------------------

    def assign(self, project: str, batch: str, candidates: list[str], reviewers: list[str], per_reviewer: int,
               instructions: str, shuffle: bool, created_by: str) -> list[Assignment]:  # fmt: skip
        """Give each reviewer up to ``per_reviewer`` of ``candidates`` not yet assigned to anyone."""
        if not reviewers:
            raise HubInputError("choose at least one reviewer")
        if per_reviewer < 1:
            raise HubInputError("images per reviewer must be at least 1")
        taken = {i for a in self.assignments(project) if a.batch == batch for i in a.image_ids}
        free = [i for i in candidates if i not in taken]
        if shuffle:
            random.SystemRandom().shuffle(free)
        made = []
        now = time.time()
        with self.engine.transaction() as cur:
            for n, reviewer in enumerate(reviewers):
                share = free[n * per_reviewer : (n + 1) * per_reviewer]
                if not share:
                    break
                made.append(Assignment(secrets.token_hex(8), project, batch, reviewer, share, instructions, now,
                                       created_by))  # fmt: skip
                row = (made[-1].id, project, batch, reviewer, json.dumps(share), instructions, now, created_by)
                cur.execute(
                    "INSERT INTO assignments (id, project, batch, reviewer, image_ids, instructions, created, "
                    "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        return made

    def reassign(self, assignment_id: str, reviewer: str) -> None:
        """Give an assignment to another reviewer."""
        with self.engine.transaction() as cur:
            cur.execute("UPDATE assignments SET reviewer = ? WHERE id = ?", (reviewer, assignment_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"assignment {assignment_id[:40]!r} not found")

    def assignments(self, project: str | None = None, reviewer: str | None = None) -> list[Assignment]:
        """Assignments, newest first, of a project and/or a reviewer."""
        clause, args = equal_filters((("project", project), ("reviewer", reviewer)))
        query = "SELECT id, project, batch, reviewer, image_ids, instructions, created, created_by FROM assignments"
        with self.engine.transaction() as cur:
            cur.execute(query + " WHERE 1 = 1" + clause + " ORDER BY created DESC, id", tuple(args))
            rows: list[Any] = cur.fetchall()
        return [Assignment(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], float(r[6]), r[7]) for r in rows]

    def assignment(self, assignment_id: str) -> Assignment | None:
        """One assignment by id."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT project FROM assignments WHERE id = ?", (assignment_id,))
            row = cur.fetchone()
        if row is None:
            return None
        return next((a for a in self.assignments(row[0]) if a.id == assignment_id), None)
