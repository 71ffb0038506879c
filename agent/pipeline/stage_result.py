"""What one batch's pass through the stage produced (``StageResult``) and the stage's two ports.

``SpoolWriter`` is the one spool operation the stage needs; ``StageObserver`` is told about
every batch. Kept apart from :mod:`agent.pipeline.stage` so the stages downstream (prepare
queue, telemetry, ``scan``, the SDK) depend on the result, not on the stage.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from agent.frames.frame import Frame
from agent.predictions.batch import PredictionBatch
from agent.sampling.selector import ActiveLearningSelector, BatchDecision
from agent.spool.disk_spool import SpoolItem


class SpoolWriter(Protocol):
    """The one spool operation the stage needs: a durable group commit."""

    def put_many(self, items: list[SpoolItem]) -> list[int]:
        """Store ``items`` in one transaction; raises SpoolFullError and stores nothing when it cannot."""


@dataclass
class StageResult:
    """What happened to one batch.

    Attributes:
        frames: the batch's frames, in order.
        batch: their predictions, or None when no model was loaded (frames dropped).
        decision: the selector's decision, or None when capture was off.
        seqs: spool sequence numbers of the selected frames.
        drops: (source id, reason) of each frame that could not be kept: a selected frame the spool
            refused (``spool_full``; credits given back) or any frame of a batch whose selection found
            the disk full (``disk_full``).
        started_mono: monotonic time the stage took the batch (frames waited until then).
        infer_s: seconds spent in the model.
        near_duplicates, limited_batch, limited_strategy: what the selector refused in this batch.
        stage_s: seconds this batch spent in each stage (``preprocess``, ``infer``, ``postprocess``,
            ``sample``, ``prepare``, ``spool``), summed over its frames' work.
        selected_images: frame index → (H, W, 3) uint8 BGR image of each selected frame, held until
            ``commit`` has prepared it (the other frames' pixels are released after sampling).
        committed: ``commit`` ran (the result is final).
        selector, project: the selector (config) that decided the batch and its destination project.
        on_request: one frame predicted for an ``Infer`` call, outside the batcher.
        sampling_asked: False for a frame only predicted (``Infer`` without ``submit``): no decision
            then means "not asked", not "capture was off".
    """

    frames: Sequence[Frame]
    batch: PredictionBatch | None = None
    decision: BatchDecision | None = None
    seqs: list[int] = field(default_factory=list)
    drops: list[tuple[str, str]] = field(default_factory=list)
    started_mono: float = field(default_factory=time.monotonic)
    infer_s: float = 0.0
    near_duplicates: int = 0
    limited_batch: int = 0
    limited_strategy: int = 0
    stage_s: dict[str, float] = field(default_factory=dict)
    selected_images: dict[int, NDArray[np.uint8]] = field(default_factory=dict)
    committed: bool = False
    selector: ActiveLearningSelector | None = None
    project: str = ""
    on_request: bool = False
    sampling_asked: bool = True

    @property
    def dropped(self) -> int:
        """How many frames of the batch could not be kept."""
        return len(self.drops)

    @property
    def held_bytes(self) -> int:
        """Pixel and encoded bytes this result holds until it is committed."""
        encoded = sum(len(self.frames[i].encoded or b"") for i in self.selected_images)
        return encoded + sum(image.nbytes for image in self.selected_images.values())


class StageObserver(Protocol):
    """Told about every batch and every ``Infer`` frame (metrics, events); must not raise or block.

    Called from the prepare thread (batches) and from gRPC threads (``Infer``, inside the call, so
    its work adds to the call's latency), possibly at the same time: implementations are thread-safe.
    """

    def batch_done(self, result: StageResult) -> None:
        """One batch finished (inferred, maybe selected and spooled), or one ``Infer`` frame."""
