"""Models the pipeline calls: ``VisionModel`` (ONNX) and ``StubModel`` (``project/0``).

Both take a list of BGR frames and return one PredictionBatch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from agent.inference.postprocess import postprocess_batch
from agent.inference.postprocess.params import PostprocessParams
from agent.inference.preprocess import Preprocessor
from agent.inference.runner import OnnxRunner, RunnerOptions
from agent.inference.spec import ModelSpec, build_spec, load_manifest, manifest_path_for
from agent.predictions.batch import PredictionBatch, TaskType


class Model(Protocol):
    """What the pipeline needs from a model."""

    model_id: str
    max_batch: int

    @property
    def task(self) -> TaskType:
        """The task type of the predictions."""

    @property
    def providers(self) -> list[str]:
        """Execution providers in use (empty for the stub)."""

    def warm_up(self) -> None:
        """Prepare for the first frame."""

    def predict(self, images: Sequence[NDArray[np.uint8]], frame_ids: Sequence[str] | None = None) -> PredictionBatch:
        """Predict B frames, each (H, W, 3) uint8 BGR."""


def _image_hw(images: Sequence[NDArray[np.uint8]]) -> NDArray[np.int32]:
    return np.array([im.shape[:2] for im in images], dtype=np.int32).reshape(len(images), 2)


@dataclass
class PreparedInput:
    """A batch preprocessed ahead of its run (:meth:`VisionModel.prepare_input`).

    Attributes:
        model: the model it was prepared for (a hot swap in between makes it stale).
        tensor: (B, 3, H, W) float32, a view of one of the model's two look-ahead buffers.
        transforms: (B, 4) float32 rows ``[scale_x, scale_y, pad_x, pad_y]``.
        image_hw: (B, 2) int32 sizes of the frames.
        preprocess_s: seconds it took.
    """

    model: object
    tensor: NDArray[np.float32]
    transforms: NDArray[np.float32]
    image_hw: NDArray[np.int32]
    preprocess_s: float


@dataclass
class StageTimes:
    """Seconds spent in each stage by the last ``predict`` call."""

    preprocess_s: float = 0.0
    infer_s: float = 0.0
    postprocess_s: float = 0.0


class VisionModel:
    """An ONNX model with its pre- and postprocessing.

    Not thread-safe (the preprocessing buffer is reused); use one per inference thread.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model_id: str | None = None,
        max_batch: int = 8,
        runner_options: RunnerOptions | None = None,
        params: PostprocessParams | None = None,
    ) -> None:
        self.model_path = model_path
        self.model_id = model_id or model_path.stem
        self.runner = OnnxRunner(model_path, runner_options)
        manifest = load_manifest(manifest_path_for(model_path))
        self.spec: ModelSpec = build_spec(model_path, self.runner.metadata, self.runner.input_shape, manifest)
        self.max_batch = max_batch
        self.params = params or PostprocessParams()
        self.preprocessor = Preprocessor(self.spec, max_batch)
        self._look_ahead: Preprocessor | None = None  # created on first use: only the daemon preprocesses ahead
        self.last_times = StageTimes()

    @property
    def task(self) -> TaskType:
        """The model's task type."""
        return self.spec.task

    @property
    def providers(self) -> list[str]:
        """Execution providers in use."""
        return self.runner.providers

    def warm_up(self) -> None:
        """Run once at the largest batch size so the first frames are not slow."""
        self.runner.warm_up(self.spec.input_hw, batch_size=self.max_batch, runs=1)

    def predict(self, images: Sequence[NDArray[np.uint8]], frame_ids: Sequence[str] | None = None) -> PredictionBatch:
        """Predict B frames (any B; split internally into chunks of ``max_batch``).

        Args:
            images: B arrays (H, W, 3) uint8 BGR.
            frame_ids: optional B names carried into the result.

        Returns:
            One PredictionBatch over all B frames.
        """
        if len(images) > self.max_batch:
            parts = [self.predict(images[i : i + self.max_batch]) for i in range(0, len(images), self.max_batch)]
            batch = concat_batches(parts)
        else:
            batch = self._predict_chunk(images)
        if frame_ids is not None:
            batch.frame_ids = list(frame_ids)
        return batch

    def prepare_input(self, images: Sequence[NDArray[np.uint8]]) -> PreparedInput | None:
        """Preprocess B frames ahead of :meth:`predict_prepared` (on another thread than ``predict``).

        Two look-ahead buffers are used in turn: the tensor of one call stays valid until the call after
        the next, so the caller must run each prepared input before preparing the one after the next
        (one being run, one waiting). Returns None for more than ``max_batch`` frames.
        """
        if not images or len(images) > self.max_batch:
            return None
        if self._look_ahead is None:
            self._look_ahead = Preprocessor(self.spec, self.max_batch, buffers=2)
        t0 = time.perf_counter()
        tensor, transforms = self._look_ahead(images)
        return PreparedInput(self, tensor, transforms, _image_hw(images), time.perf_counter() - t0)

    def predict_prepared(self, prepared: PreparedInput) -> PredictionBatch:
        """Predict a batch :meth:`prepare_input` made for this model."""
        return self._run_chunk(prepared.tensor, prepared.transforms, prepared.image_hw, prepared.preprocess_s)

    def _predict_chunk(self, images: Sequence[NDArray[np.uint8]]) -> PredictionBatch:
        t0 = time.perf_counter()
        tensor, transforms = self.preprocessor(images)
        return self._run_chunk(tensor, transforms, _image_hw(images), time.perf_counter() - t0)

    def _run_chunk(self, tensor: NDArray[np.float32], transforms: NDArray[np.float32], image_hw: NDArray[np.int32],
                   preprocess_s: float) -> PredictionBatch:  # fmt: skip
        t1 = time.perf_counter()
        outputs = self.runner.run(tensor)
        t2 = time.perf_counter()
        batch = postprocess_batch(self.spec, outputs, transforms, image_hw, self.params)
        t3 = time.perf_counter()
        self.last_times = StageTimes(preprocess_s, t2 - t1, t3 - t2)
        batch.time_s[:] = (preprocess_s + t3 - t1) / max(1, len(image_hw))
        batch.model_id = self.model_id
        return batch


class StubModel:
    """The stub model ``project/0``: no weights, no predictions.

    Lets random sampling collect data before any model exists; its JSON is the
    reference's ``{"time", "is_stub", "model_id", "task_type"}``.
    """

    def __init__(self, model_id: str, task: TaskType = TaskType.OBJECT_DETECTION, max_batch: int = 64) -> None:
        self.model_id = model_id
        self._task = task
        self.max_batch = max_batch

    @property
    def providers(self) -> list[str]:
        """No execution providers: the stub runs nothing."""
        return []

    @property
    def task(self) -> TaskType:
        """The task type reported in the stub predictions."""
        return self._task

    def warm_up(self) -> None:
        """Nothing to warm up."""

    def predict(self, images: Sequence[NDArray[np.uint8]], frame_ids: Sequence[str] | None = None) -> PredictionBatch:
        """Return a stub batch for B frames."""
        t0 = time.perf_counter()
        batch = PredictionBatch.empty(self._task, (), _image_hw(images))
        batch.class_scores = None
        batch.is_stub = True
        batch.model_id = self.model_id
        batch.time_s[:] = (time.perf_counter() - t0) / max(1, len(images))
        if frame_ids is not None:
            batch.frame_ids = list(frame_ids)
        return batch


def concat_batches(parts: Sequence[PredictionBatch]) -> PredictionBatch:
    """Concatenate batches of the same model into one, re-indexing frames."""
    first = parts[0]
    offsets = np.cumsum([0] + [p.batch_size for p in parts[:-1]])
    ids: list[str] = []
    for p in parts:
        ids.extend(p.ensure_detection_ids())

    def cat_lists(name: str) -> list[object] | None:
        values = [getattr(p, name) for p in parts]
        if any(v is None for v in values):
            return None
        return [x for v in values for x in v]

    scores = [p.class_scores for p in parts]
    return PredictionBatch(
        task=first.task,
        class_names=first.class_names,
        image_hw=np.concatenate([p.image_hw for p in parts]),
        time_s=np.concatenate([p.time_s for p in parts]),
        inference_ids=[i for p in parts for i in p.inference_ids],
        xyxy=np.concatenate([p.xyxy for p in parts]),
        confidence=np.concatenate([p.confidence for p in parts]),
        class_id=np.concatenate([p.class_id for p in parts]),
        frame_index=np.concatenate([p.frame_index + off for p, off in zip(parts, offsets, strict=True)]).astype(
            np.int32
        ),
        detection_ids=ids,
        polygons=cat_lists("polygons"),  # type: ignore[arg-type]
        keypoints=cat_lists("keypoints"),  # type: ignore[arg-type]
        class_scores=None if any(s is None for s in scores) else np.concatenate([s for s in scores if s is not None]),
        multilabel_threshold=first.multilabel_threshold,
        predicted_mask=None
        if any(p.predicted_mask is None for p in parts)
        else np.concatenate([p.predicted_mask for p in parts if p.predicted_mask is not None]),
        is_stub=first.is_stub,
        model_id=first.model_id,
        frame_ids=cat_lists("frame_ids"),  # type: ignore[arg-type]
    )
