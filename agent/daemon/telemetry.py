"""AgentTelemetry: turns what the pipeline reports into Prometheus metrics and control events.

It is the daemon's :class:`~agent.pipeline.stage.StageObserver` and the uploader's
event handler; nothing else in the daemon touches the counters.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from agent.control.facade import SpoolStatsView
from agent.daemon.events import EventBus
from agent.daemon.metrics import AgentMetrics
from agent.pipeline.stage_result import StageResult
from agent.predictions.batch import PredictionBatch
from agent.spool.disk_spool import SpoolRecord


class AgentTelemetry:
    """Records batches and upload outcomes (never raises, never blocks)."""

    def __init__(self, metrics: AgentMetrics, events: EventBus) -> None:
        self.metrics = metrics
        self.events = events
        self._lock = threading.Lock()
        self._dropped: Counter[tuple[str, str]] = Counter()  # (source, reason) -> frames
        self._skipped = 0
        self._on_request = 0  # frames predicted for Infer calls (outside the batcher and the loop)
        self.class_psi: dict[str, float] = {}  # the latest drift per class

    def dropped(self, source_id: str, reason: str, count: int = 1) -> None:
        """Frames lost (the one place drops are counted: metric, status and event agree)."""
        if count <= 0:
            return
        with self._lock:
            self._dropped[(source_id, reason)] += count
        self.metrics.frames_dropped.labels(source_id, reason).inc(count)
        self.events.publish("dropped", source_id, f"{count} frame(s): {reason}")

    def _dropped_by(self, part: int) -> dict[str, int]:
        """Frames lost since start, summed by source (``part`` 0) or by reason (1)."""
        with self._lock:
            out: Counter[str] = Counter()
            for key, count in self._dropped.items():
                out[key[part]] += count
            return dict(out)

    def dropped_by_reason(self) -> dict[str, int]:
        """Frames lost since start, per reason."""
        return self._dropped_by(1)

    def dropped_by_source(self) -> dict[str, int]:
        """Frames lost since start, per source."""
        return self._dropped_by(0)

    @property
    def on_request(self) -> int:
        """Frames predicted for ``Infer`` calls since start (the batcher and the loop never see them)."""
        return self._on_request

    @property
    def skipped(self) -> int:
        """Frames inferred while capture was off."""
        return self._skipped

    def bind_prepare(self, frames_pending: Callable[[], int]) -> None:
        """Export the prepare stage's depth as ``framesift_prepare_pending_frames``."""
        self.metrics.prepare_pending.set_function(lambda: float(frames_pending()))

    def batch_done(self, result: StageResult) -> None:
        """Count frames in, inferred and dropped; selections, limits and spool outcomes; stage times."""
        m = self.metrics
        for frame in result.frames:
            m.frames_in.labels(frame.source_id).inc()
            if frame.enqueued_mono:
                m.queue_wait.observe(max(0.0, result.started_mono - frame.enqueued_mono))
            if frame.decode_s:
                m.stage_seconds.labels("decode").observe(frame.decode_s)
        record_stage_times(m, result)
        if result.batch is None:
            for frame in result.frames:
                self.dropped(frame.source_id, "no_model")
            return
        if result.on_request:
            with self._lock:
                self._on_request += len(result.frames)
        else:  # the batch histograms describe the pipeline's batches, as status' mean_batch_size does
            m.batch_latency.observe(result.infer_s)
            m.batch_size.observe(len(result.frames))
        m.frames_inferred.inc(len(result.frames))
        if result.batch.task.is_detection and not result.batch.is_stub:
            record_detections(m, result.batch)
        if result.decision is None and result.drops:  # the selection itself failed (disk full)
            for source, reason in result.drops:
                self.dropped(source, reason)
            return
        if result.decision is None and not result.sampling_asked:  # an Infer call without submit
            return
        if result.decision is None:  # capture off: inferred, not sampled
            with self._lock:
                self._skipped += len(result.frames)
            for frame in result.frames:
                m.frames_skipped.labels(frame.source_id).inc()
            return
        for class_name, psi in result.decision.psi.items():
            m.class_psi.labels(class_name).set(psi)
            self.class_psi[class_name] = psi
        m.deduplicated.inc(result.near_duplicates)
        m.limited.labels("batch").inc(result.limited_batch)
        m.limited.labels("strategy").inc(result.limited_strategy)
        if result.drops:
            for source, reason in result.drops:
                self.dropped(source, reason)
        else:
            m.spooled.inc(len(result.seqs))
        for sel in result.decision.selections:
            frame = result.frames[sel.frame]
            m.selected.labels(sel.strategy).inc()
            self.events.publish("selected", frame.source_id, f"{frame.frame_id} by {sel.strategy} → {sel.batch_name}")

    def upload_event(self, kind: str, record: SpoolRecord, detail: str) -> None:
        """An upload outcome: uploaded | duplicate | retry | dead."""
        self.metrics.uploaded.labels(kind).inc()
        self.events.publish(kind if kind != "retry" else "upload_retry", record.item.source, detail)

    def model_event(self, detail: str) -> None:
        """A model was loaded or unloaded."""
        self.events.publish("model", "", detail)


def record_stage_times(metrics: AgentMetrics, result: StageResult) -> None:
    """Per-frame seconds of each stage of one batch: model stages over its frames, prepare/spool over
    the selected frames (one observation per frame, so ``_sum`` is the total and ``_count`` the frames)."""
    selected = len(result.decision.selections) if result.decision is not None else 0
    for stage, seconds in result.stage_s.items():
        frames = selected if stage in ("prepare", "spool") else len(result.frames)
        if frames <= 0:
            continue
        child = metrics.stage_seconds.labels(stage)
        for _ in range(frames):
            child.observe(seconds / frames)


def record_detections(metrics: AgentMetrics, batch: PredictionBatch) -> None:
    """Per-class confidence and detections-per-frame histograms of one detection batch."""
    for count in batch.detections_per_frame().tolist():
        metrics.detections_per_frame.observe(count)
    names = batch.class_names
    for class_id, confidence in zip(batch.class_id.tolist(), batch.confidence.tolist(), strict=True):
        metrics.detection_confidence.labels(names[class_id]).observe(confidence)


def bind_gauges(
    metrics: AgentMetrics,
    spool_stats: Callable[[], SpoolStatsView],
    sync_age_s: Callable[[], float],
    online: Callable[[], bool],
    link_state: Callable[[], str],
) -> None:
    """Gauges computed when Prometheus scrapes (not only when someone asks for the status)."""

    def is_state(name: str) -> Callable[[], float]:
        return lambda: 1.0 if link_state() == name else 0.0

    for state in ("online", "paused", "offline", "unauthorized"):
        metrics.destination_state.labels(state).set_function(is_state(state))
    metrics.spool_bytes.set_function(lambda: spool_stats().bytes)
    metrics.spool_frames.set_function(lambda: spool_stats().count)
    metrics.sync_age.set_function(lambda: max(sync_age_s(), 0.0))
    metrics.online.set_function(lambda: 1.0 if online() else 0.0)
