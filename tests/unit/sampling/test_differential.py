"""Differential test: the vectorized engine against a per-frame implementation of the
reference semantics (roboflow-active-learning.md §2, roboflow-upload-api.md §1.3),
written here from the spec, on >= 10,000 random predictions with probabilities 0 and 1.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.al_config import validate_al_config
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import batch_from_roboflow, batch_to_roboflow
from agent.sampling.engine import SamplingEngine
from tests.factories import al_config

FRAMES_PER_EXAMPLE = 80
EXAMPLES = 140  # 11,200 predictions in all
CLASSES = ("car", "person", "dog", "cat")
DETECTION_TYPES = {"instance-segmentation", "keypoint-detection", "object-detection"}
ELIGIBLE = DETECTION_TYPES | {"classification"}

# ---------------------------------------------------------------- reference, per frame


def _close(value, threshold, epsilon):
    return abs(value - threshold) < epsilon


def ref_close_to_threshold(pred, ptype, threshold, epsilon, selected, only_top, minimum):
    if pred.get("is_stub", False):
        return False
    if ptype not in ELIGIBLE:
        return False
    selected = set(selected) if selected is not None else None

    def excluded(name):
        return selected is not None and name not in selected

    if "classification" not in ptype:
        count = 0
        for det in pred["predictions"]:
            if not excluded(det["class"]) and _close(det["confidence"], threshold, epsilon):
                count += 1
        return count >= minimum
    if "top" in pred:
        if only_top:
            return not excluded(pred["top"]) and _close(pred["confidence"], threshold, epsilon)
        for p in pred["predictions"]:
            if not excluded(p["class"]) and _close(p["confidence"], threshold, epsilon):
                return True
        return False
    for name, value in pred["predictions"].items():
        if only_top and name not in pred["predicted_classes"]:
            continue
        if excluded(name):
            continue
        if _close(value["confidence"], threshold, epsilon):
            return True
    return False


def ref_strategy(pred, ptype, s):
    kind = s["type"]
    if kind == "random":
        return s["traffic_percentage"] == 1.0
    if kind == "close_to_threshold":
        hit = ref_close_to_threshold(
            pred,
            ptype,
            s["threshold"],
            s["epsilon"],
            s.get("selected_class_names"),
            s.get("only_top_classes", True),
            s.get("minimum_objects_close_to_threshold", 1),
        )
        return hit and s["probability"] == 1.0
    if kind == "classes_based":
        if ptype != "classification":
            return False
        hit = ref_close_to_threshold(pred, ptype, 0.5, 1.0, s["selected_class_names"], True, 1)
        return hit and s["probability"] == 1.0
    if kind == "detections_number_based":
        if pred.get("is_stub", False) or ptype not in DETECTION_TYPES:
            return False
        selected = s.get("selected_class_names")
        n = sum(
            1
            for d in pred["predictions"]
            if (selected is None or d["class"] in selected) and _close(d["confidence"], 0.5, 1.0)
        )
        lt, mt = s.get("less_than"), s.get("more_than")
        return (lt is None or n < lt) and (mt is None or n > mt) and s["probability"] == 1.0
    if kind == "sdk_conditionals":
        if pred.get("is_stub", False) or ptype not in DETECTION_TYPES:
            return False
        preds = pred["predictions"]
        target = s.get("target_classes", [])
        if len(preds) < s.get("required_objects_count", 1):
            return False
        if target and sum(1 for p in preds if p["class"] in target) < s.get("required_class_count", 0):
            return False
        if len({p["class"] for p in preds}) < s.get("required_class_variance_count", 1):
            return False
        lo, hi = s.get("confidence_interval", [30, 99])
        low = s.get("minimum_size_requirement")
        high = s.get("maximum_size_requirement")
        low = float("-inf") if low is None else low
        high = float("inf") if high is None else high
        for p in preds:
            if not high > p["width"] * p["height"] > low:
                continue
            if not lo <= p["confidence"] * 100 <= hi:
                continue
            if target and p["class"] not in target:
                continue
            return s.get("probability", 1.0) == 1.0
        return False
    raise AssertionError(kind)


# ---------------------------------------------------------------- generators

GRID = np.round(np.arange(0, 1.0001, 0.05), 2)


def random_batch(rng: np.random.Generator, task: TaskType, stub: bool) -> PredictionBatch:
    b = FRAMES_PER_EXAMPLE
    hw = np.tile(np.array([480, 640], np.int32), (b, 1))
    if stub:
        batch = PredictionBatch.empty(task, (), hw)
        batch.class_scores, batch.is_stub, batch.model_id = None, True, "p/0"
        return batch
    if task.is_detection:
        counts = rng.integers(0, 7, b)
        n = int(counts.sum())
        x0 = rng.integers(0, 300, n).astype(np.float32)
        y0 = rng.integers(0, 300, n).astype(np.float32)
        w = rng.choice([5, 10, 40, 50, 100], n).astype(np.float32)
        h = rng.choice([5, 10, 40, 50], n).astype(np.float32)
        return PredictionBatch(
            task=task, class_names=CLASSES, image_hw=hw, time_s=np.zeros(b),
            inference_ids=[str(i) for i in range(b)],
            xyxy=np.stack([x0, y0, x0 + w, y0 + h], axis=1),
            confidence=rng.choice(GRID, n).astype(np.float32),
            class_id=rng.integers(0, len(CLASSES), n).astype(np.int32),
            frame_index=np.repeat(np.arange(b), counts).astype(np.int32),
            polygons=[np.zeros((3, 2), np.float32)] * n if task is TaskType.INSTANCE_SEGMENTATION else None,
            keypoints=[[]] * n if task is TaskType.KEYPOINT_DETECTION else None,
        )  # fmt: skip
    scores = rng.choice(GRID, (b, len(CLASSES))).astype(np.float32)
    if task is TaskType.CLASSIFICATION:
        scores[:, 0] += 0.001 * rng.integers(0, 2, b)  # break some ties, keep others
    return PredictionBatch(
        task=task,
        class_names=CLASSES,
        image_hw=hw,
        time_s=np.zeros(b),
        inference_ids=[str(i) for i in range(b)],
        class_scores=scores,
    )


maybe_classes = st.one_of(st.none(), st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3, unique=True))
probability = st.sampled_from([0.0, 1.0])
grid_value = st.sampled_from(list(GRID))

strategy_docs = st.one_of(
    st.fixed_dictionaries({"type": st.just("random"), "traffic_percentage": probability}),
    st.fixed_dictionaries(
        {"type": st.just("close_to_threshold"), "threshold": grid_value,
         "epsilon": st.sampled_from([0.05, 0.1, 0.15, 0.3, 1.0]), "probability": probability},
        optional={"selected_class_names": maybe_classes, "only_top_classes": st.booleans(),
                  "minimum_objects_close_to_threshold": st.integers(1, 3)},
    ),
    st.fixed_dictionaries({"type": st.just("classes_based"), "probability": probability,
                           "selected_class_names": st.lists(st.sampled_from(CLASSES), min_size=1,
                                                            max_size=2, unique=True)}),
    st.fixed_dictionaries(
        {"type": st.just("detections_number_based"), "probability": probability},
        optional={"more_than": st.integers(0, 3), "selected_class_names": maybe_classes},
    ),
    st.fixed_dictionaries(
        {"type": st.just("detections_number_based"), "probability": probability,
         "less_than": st.integers(4, 7)},
        optional={"more_than": st.integers(0, 3)},
    ),
    st.fixed_dictionaries(
        {"type": st.just("sdk_conditionals")},
        optional={"confidence_interval": st.sampled_from([[0, 100], [30, 99], [40, 60], [50, 50]]),
                  "required_objects_count": st.integers(0, 3),
                  "required_class_count": st.integers(0, 2),
                  "target_classes": st.lists(st.sampled_from(CLASSES), max_size=2, unique=True),
                  "required_class_variance_count": st.integers(0, 3),
                  "minimum_size_requirement": st.sampled_from([None, 50, 400, 2000]),
                  "maximum_size_requirement": st.sampled_from([None, 2000, 5000])},
    ),
)  # fmt: skip

TASKS = [TaskType.OBJECT_DETECTION, TaskType.INSTANCE_SEGMENTATION, TaskType.KEYPOINT_DETECTION,
         TaskType.CLASSIFICATION, TaskType.MULTI_LABEL_CLASSIFICATION]  # fmt: skip


def _valid(doc):
    low, high = doc.get("minimum_size_requirement"), doc.get("maximum_size_requirement")
    return not (low is not None and high is not None and low >= high)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    task=st.sampled_from(TASKS),
    stub=st.sampled_from([False, False, False, True]),
    docs=st.lists(strategy_docs.filter(_valid), min_size=1, max_size=6),
)
def test_engine_matches_reference(seed, task, stub, docs):
    rng = np.random.default_rng(seed)
    strategies = [{"name": f"s{i}", **d} for i, d in enumerate(docs)]
    cfg = validate_al_config(al_config(*strategies))
    batch = random_batch(rng, task, stub)
    preds = json.loads(json.dumps(batch_to_roboflow(batch)))
    ptype = "classification" if task.is_classification else task.value
    expected = np.array([[ref_strategy(p, ptype, s) for s in strategies] for p in preds], dtype=bool)
    got = SamplingEngine(cfg, seed=seed).evaluate(batch)
    np.testing.assert_array_equal(got, expected)
    # the same decisions after the JSON round trip used by `framesift sample`
    again = SamplingEngine(cfg, seed=seed).evaluate(batch_from_roboflow(preds, task=task))
    np.testing.assert_array_equal(again, expected)
