"""Prometheus metrics of the agent (own registry; served on ``[metrics] listen``)."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from agent.runtime.threads import join_or_warn


class AgentMetrics:
    """All counters, gauges and histograms the agent exports."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.frames_in = Counter("framesift_frames_in", "Frames received from sources", ["source"], registry=r)
        self.frames_inferred = Counter("framesift_frames_inferred", "Frames run through the model", registry=r)
        self.frames_dropped = Counter("framesift_frames_dropped", "Frames lost, by source and reason "
                                      "(queue_full, backpressure, no_model, spool_full, disk_full, shutdown)",
                                      ["source", "reason"], registry=r)  # fmt: skip
        self.frames_skipped = Counter("framesift_frames_skipped", "Frames inferred while capture was off "
                                      "(not sampled)", ["source"], registry=r)  # fmt: skip
        self.selected = Counter("framesift_frames_selected", "Frames selected", ["strategy"], registry=r)
        self.limited = Counter("framesift_frames_limited", "Matched frames refused by limits", ["kind"], registry=r)
        self.deduplicated = Counter("framesift_frames_near_duplicate", "Near-duplicates dropped", registry=r)
        self.spooled = Counter("framesift_frames_spooled", "Frames accepted into the spool", registry=r)
        self.uploaded = Counter("framesift_frames_uploaded", "Upload outcomes", ["outcome"], registry=r)
        self.spool_bytes = Gauge("framesift_spool_bytes", "Bytes in the spool", registry=r)
        self.spool_frames = Gauge("framesift_spool_frames", "Frames in the spool", registry=r)
        self.sync_age = Gauge("framesift_config_sync_age_seconds", "Seconds since the last config sync", registry=r)
        self.online = Gauge("framesift_destination_online", "1 when uploads go through", registry=r)
        self.destination_state = Gauge("framesift_destination_state", "1 for the upload link's current state "
                                       "(online, paused, offline, unauthorized)", ["state"], registry=r)  # fmt: skip
        self.batch_size = Histogram("framesift_batch_size", "Frames per inference batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)  # fmt: skip
        latency_buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
        self.batch_latency = Histogram("framesift_batch_seconds", "Inference batch latency",
                                       buckets=latency_buckets, registry=r)  # fmt: skip
        self.queue_wait = Histogram("framesift_batching_wait_seconds", "Time a frame waited for its batch",
                                    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1), registry=r)  # fmt: skip
        # drift signal (issue 15): what the model sees, per class, and the PSI against the reference day
        self.detection_confidence = Histogram("framesift_detection_confidence", "Box confidence per class",
                                              ["class_name"], buckets=tuple(i / 10 for i in range(1, 11)),
                                              registry=r)  # fmt: skip
        self.detections_per_frame = Histogram("framesift_detections_per_frame", "Detections per frame",
                                              buckets=(0, 1, 2, 5, 10, 20, 50, 100, 300), registry=r)  # fmt: skip
        self.class_psi = Gauge("framesift_class_psi", "Population-stability index of a class's confidences, "
                               "last hour vs the first day after a model/config change", ["class_name"],
                               registry=r)  # fmt: skip

        # pipeline stages (issue 13): where per-frame time goes, and what waits for the prepare stage
        self.stage_seconds = Histogram("framesift_stage_seconds", "Seconds per frame in a pipeline stage (decode, "
                                       "preprocess, infer, postprocess, sample, prepare, spool); one observation per "
                                       "frame the stage handled", ["stage"],
                                       buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5),
                                       registry=r)  # fmt: skip
        self.prepare_pending = Gauge("framesift_prepare_pending_frames", "Frames inferred and sampled, waiting to "
                                     "be prepared and spooled (not yet decided)", registry=r)  # fmt: skip

    def serve(self, listen: str) -> MetricsServer:
        """Start the HTTP endpoint on HOST:PORT; stop it with the returned handle."""
        host, _, port = listen.rpartition(":")
        server, thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
        return MetricsServer(listen, server, thread)


class MetricsServer:
    """A running metrics endpoint (prometheus_client's WSGI server and its thread)."""

    def __init__(self, listen: str, server: WSGIServer, thread: threading.Thread) -> None:
        self.listen = listen
        self._server = server
        self._thread = thread

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        join_or_warn(self._thread, timeout_s, f"metrics server on {self.listen}")
