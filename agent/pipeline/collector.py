"""FrameCollector: selected frames → prepared (resize + JPEG + annotation) → spooled.

The step between the brain (ActiveLearningSelector) and the uploader. A frame is
"accepted" once ``DiskSpool.put_many`` returns; from then on it reaches the
destination exactly once. A frame the spool cannot take (full under
``reject_new``, disk full) gives its limit credit back and is counted as dropped;
capture goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from agent.errors import SpoolFullError
from agent.predictions.batch import PredictionBatch
from agent.prepare.encode import prepare_frame
from agent.sampling.selector import ActiveLearningSelector, BatchDecision
from agent.spool.disk_spool import DiskSpool
from agent.spool.records import SpoolItem, SpoolRecord

logger = logging.getLogger(__name__)


@dataclass
class CollectResult:
    """What happened to one batch: the decision, the spool sequence numbers, drops."""

    decision: BatchDecision
    seqs: list[int] = field(default_factory=list)
    dropped: int = 0


class FrameCollector:
    """Runs selection on a batch and spools what was selected."""

    def __init__(self, selector: ActiveLearningSelector, spool: DiskSpool, project: str) -> None:
        self.selector = selector
        self.spool = spool
        self.project = selector.config.target_project or project
        self.counters: Counter[str] = Counter()

    def collect(
        self,
        batch: PredictionBatch,
        images: Sequence[NDArray[np.uint8]],
        sources: Sequence[str],
    ) -> CollectResult:
        """Select among the B frames of ``batch`` and spool the chosen ones (one commit)."""
        decision = self.selector.select(batch, images, sources)
        result = CollectResult(decision)
        if not decision.selections:
            return result
        cfg = self.selector.config
        items = []
        for sel in decision.selections:
            prepared = prepare_frame(
                images[sel.frame], batch, sel.frame, max_image_size=cfg.max_image_size,
                jpeg_quality=cfg.jpeg_compression_level, persist_predictions=bool(cfg.persist_predictions),
            )  # fmt: skip
            items.append(SpoolItem(
                jpeg=prepared.jpeg, sha256=prepared.sha256, project=self.project, batch_name=sel.batch_name,
                tags=tuple(sel.tags), strategy=sel.strategy, inference_id=batch.inference_ids[sel.frame],
                annotation=prepared.annotation, credit=sel.credit, source=sources[sel.frame],
            ))  # fmt: skip
        try:
            result.seqs = self.spool.put_many(items)
            self.counters["spooled"] += len(items)
        except SpoolFullError as exc:
            logger.warning("dropped %d selected frame(s): %s", len(items), exc)
            result.dropped = len(items)
            self.counters["dropped"] += len(items)
            for sel in decision.selections:
                self.selector.give_back(sel)
        return result

    def on_duplicate(self, record: SpoolRecord) -> None:
        """The server already had these bytes: give the limit credit back."""
        if record.item.credit is not None:
            self.selector.limits.give_back(record.item.credit)
