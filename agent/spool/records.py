"""The spool's record types: what is queued, its delivery state, and what ``stats``/``list`` report.

Plain typed values only; how they are written to disk is ``agent.spool.encoding``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.limits.store import Credit
from agent.predictions.annotation import Annotation

RecordState = Literal["ready", "dead"]
"""``ready``: waiting for (or in) upload; ``dead``: parked in the dead-letter area."""


@dataclass
class SpoolItem:
    """What the pipeline puts into the spool (everything needed to upload later).

    Attributes:
        jpeg: final JPEG bytes, uploaded as they are (never re-encoded).
        sha256: hex digest of ``jpeg``.
        project: destination project.
        batch_name: labeling batch.
        tags: upload tags.
        strategy: the sampling strategy that selected the frame.
        inference_id: links image, annotation and prediction.
        annotation: the draft annotation to attach after the upload, or None.
        credit: the limit credit, given back on a server-side duplicate, or None.
        source: where the frame came from (file path, camera id).
        created_s: wall-clock time the frame was spooled, seconds since the epoch
            (0.0 = set by ``put``).
    """

    jpeg: bytes
    sha256: str
    project: str
    batch_name: str
    tags: tuple[str, ...]
    strategy: str
    inference_id: str
    annotation: Annotation | None = None
    credit: Credit | None = None
    source: str = ""
    created_s: float = 0.0


def stored_bytes(item: SpoolItem) -> int:
    """Bytes an item counts against the spool's byte cap: the JPEG plus the annotation text."""
    return len(item.jpeg) + (len(item.annotation.body) if item.annotation is not None else 0)


@dataclass
class DeliveryState:
    """The mutable part of a record, stored apart from the item (small, rewritten often).

    Attributes:
        state: ``ready`` or ``dead``.
        attempts: failed delivery attempts so far.
        server_id: the destination's image id once the JPEG is uploaded (a retry then
            only re-sends the annotation), else None.
        last_error: message of the last failure, or None.
        bytes: the record's size against the byte cap (``stored_bytes``).
        created_s: wall-clock time the record was spooled, seconds since the epoch.
        not_before_s: wall-clock time before which it is not retried, seconds since the
            epoch (wall clock so that it survives restarts).
    """

    state: RecordState = "ready"
    attempts: int = 0
    server_id: str | None = None
    last_error: str | None = None
    bytes: int = 0
    created_s: float = 0.0
    not_before_s: float = 0.0


@dataclass
class SpoolRecord:
    """A leased record: the item plus its delivery state.

    Attributes:
        seq: sequence number (never reused in one spool).
        item: the queued item.
        attempts: failed delivery attempts so far.
        server_id: the destination's image id if the JPEG is already uploaded.
        last_error: message of the last failure, or None.
    """

    seq: int
    item: SpoolItem
    attempts: int = 0
    server_id: str | None = None
    last_error: str | None = None


@dataclass
class SpoolStats:
    """Counts (records) and sizes (bytes); ``dropped``/``rejected``/``expired``/``delivered``
    count records since the spool was created."""

    count: int = 0
    bytes: int = 0
    ready: int = 0
    leased: int = 0
    dead: int = 0
    dropped: int = 0
    rejected: int = 0
    expired: int = 0
    delivered: int = 0


@dataclass
class SpoolEntry:
    """One line of ``list``: a record's delivery state and where it goes (sizes in bytes,
    ``created_s`` seconds since the epoch)."""

    seq: int
    state: str
    attempts: int
    bytes: int
    created_s: float
    server_id: str | None
    last_error: str | None
    project: str = ""
    batch_name: str = ""
    strategy: str = ""
    source: str = ""
