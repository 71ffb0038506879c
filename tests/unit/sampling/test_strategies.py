"""Table-driven tests of every strategy on every task type."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.al_config import validate_al_config
from agent.predictions.batch import TaskType
from agent.sampling.engine import SamplingEngine
from tests.factories import al_config, make_classification, make_detections, make_stub

BOX = (0.0, 0.0, 10.0, 10.0)  # area 100
BIG = (0.0, 0.0, 100.0, 50.0)  # area 5000


def run(strategy: dict, batch) -> list[bool]:
    engine = SamplingEngine(validate_al_config(al_config({"name": "s", **strategy})), seed=0)
    return engine.evaluate(batch)[:, 0].tolist()


CTT = {"type": "close_to_threshold", "threshold": 0.5, "epsilon": 0.1, "probability": 1.0}
DET_FRAMES = [
    [("car", 0.55, BOX)],  # close
    [("car", 0.9, BOX)],  # far
    [],  # empty
    [("person", 0.45, BOX), ("person", 0.52, BOX)],  # two close
    [("car", 0.6, BOX)],  # |0.6 - 0.5| == 0.1: not strictly close (float64 of float32 0.6 > 0.1)
]


@pytest.mark.parametrize(
    "task", [TaskType.OBJECT_DETECTION, TaskType.INSTANCE_SEGMENTATION, TaskType.KEYPOINT_DETECTION]
)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, [True, False, False, True, False], id="any-class"),
        pytest.param({"selected_class_names": ["person"]}, [False, False, False, True, False], id="class"),
        pytest.param({"minimum_objects_close_to_threshold": 2}, [False, False, False, True, False], id="min-objects"),
        pytest.param({"probability": 0.0}, [False] * 5, id="p0"),
        pytest.param({"only_top_classes": False}, [True, False, False, True, False], id="top-ignored"),
    ],
)
def test_close_to_threshold_detection(task, params, expected):
    assert run({**CTT, **params}, make_detections(DET_FRAMES, task)) == expected


CLS_SCORES = [[0.55, 0.3, 0.15], [0.9, 0.05, 0.05], [0.35, 0.45, 0.2]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, [True, False, True], id="top-close"),
        pytest.param({"selected_class_names": ["cat"]}, [True, False, False], id="top-selected"),
        pytest.param(
            {"only_top_classes": False, "selected_class_names": ["cat"]},
            [True, False, False],
            id="any-selected",
        ),
        pytest.param({"only_top_classes": False, "epsilon": 0.21}, [True, False, True], id="any-class"),
    ],
)
def test_close_to_threshold_single_label(params, expected):
    assert run({**CTT, **params}, make_classification(CLS_SCORES)) == expected


ML = [[0.9, 0.55, 0.1], [0.45, 0.1, 0.1], [0.9, 0.9, 0.1]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # only_top_classes: only predicted classes (>= 0.5) count; 0.45 is not predicted
        pytest.param({}, [True, False, False], id="predicted-only"),
        pytest.param({"only_top_classes": False}, [True, True, False], id="all-classes"),
        pytest.param({"only_top_classes": False, "selected_class_names": ["dog"]}, [True, False, False], id="selected"),
    ],
)
def test_close_to_threshold_multi_label(params, expected):
    assert run({**CTT, **params}, make_classification(ML, multi_label=True)) == expected


def test_stub_matches_only_random():
    stub = make_stub(3)
    assert run({"type": "random", "traffic_percentage": 1.0}, stub) == [True] * 3
    assert run(CTT, stub) == [False] * 3
    assert run({"type": "detections_number_based", "probability": 1.0}, stub) == [False] * 3
    assert (
        run(
            {"type": "classes_based", "selected_class_names": ["a"], "probability": 1.0},
            make_stub(3, TaskType.CLASSIFICATION),
        )
        == [False] * 3
    )
    assert run({"type": "sdk_conditionals"}, stub) == [False] * 3
    assert run({"type": "entropy", "threshold": 0.0}, make_stub(3, TaskType.CLASSIFICATION)) == [False] * 3


def test_random_fraction_is_reproducible():
    batch = make_stub(10_000)
    a = run({"type": "random", "traffic_percentage": 0.2}, batch)
    assert a == run({"type": "random", "traffic_percentage": 0.2}, batch)
    assert 0.18 < sum(a) / len(a) < 0.22
    assert run({"type": "random", "traffic_percentage": 0.0}, batch) == [False] * 10_000


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"selected_class_names": ["cat"]}, [True, True, False], id="single-top"),
        pytest.param({"selected_class_names": ["bird"]}, [False, False, False], id="not-top"),
    ],
)
def test_classes_based_single_label(params, expected):
    strategy = {"type": "classes_based", "probability": 1.0, **params}
    assert run(strategy, make_classification(CLS_SCORES)) == expected


def test_classes_based_multi_label_and_detection():
    strategy = {"type": "classes_based", "probability": 1.0, "selected_class_names": ["dog"]}
    assert run(strategy, make_classification(ML, multi_label=True)) == [True, False, True]
    assert run(strategy, make_detections([[("dog", 0.9, BOX)]])) == [False]


COUNT_FRAMES = [[], [("car", 0.9, BOX)], [("car", 0.9, BOX)] * 3, [("person", 0.3, BOX)] * 5]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, [True, True, True, True], id="no-bounds-any-count"),
        pytest.param({"more_than": 1}, [False, False, True, True], id="more-than-strict"),
        pytest.param({"less_than": 3}, [True, True, False, False], id="less-than-strict"),
        pytest.param({"more_than": 0, "less_than": 4}, [False, True, True, False], id="range"),
        pytest.param({"more_than": 2, "selected_class_names": ["car"]}, [False, False, True, False], id="class-filter"),
    ],
)
def test_detections_number_based(params, expected):
    strategy = {"type": "detections_number_based", "probability": 1.0, **params}
    assert run(strategy, make_detections(COUNT_FRAMES)) == expected
    assert run(strategy, make_classification(CLS_SCORES)) == [False] * 3


def test_entropy_and_margin():
    batch = make_classification([[0.34, 0.33, 0.33], [0.98, 0.01, 0.01], [0.5, 0.45, 0.05]])
    assert run({"type": "entropy", "threshold": 0.9}, batch) == [True, False, False]
    assert run({"type": "margin", "threshold": 0.1}, batch) == [True, False, True]
    ml = make_classification([[0.5, 0.99, 0.01], [0.99, 0.99, 0.01]], multi_label=True)
    assert run({"type": "entropy", "threshold": 0.9}, ml) == [True, False]
    assert run({"type": "margin", "threshold": 0.1}, ml) == [True, False]
    assert run({"type": "entropy", "threshold": 0.0}, make_detections([[]])) == [False]


SDK_FRAMES = [
    [("car", 0.95, BIG), ("person", 0.55, BOX)],  # the pinned SDK case
    [("person", 0.55, BIG)],
    [("person", 0.995, BIG)],  # above 99 %
    [],
    [("car", 0.5, (0.0, 0.0, 50.0, 40.0))],  # area exactly 2000
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, [True, True, False, False, True], id="defaults"),
        pytest.param(
            {"confidence_interval": [60, 99], "target_classes": ["person"]},
            [False, False, False, False, False],
            id="pinned-sdk-case",
        ),
        pytest.param({"minimum_size_requirement": 2000}, [True, True, False, False, False], id="min-strict"),
        pytest.param({"minimum_size_requirement": 1999}, [True, True, False, False, True], id="min-1999"),
        pytest.param({"maximum_size_requirement": 1000}, [True, False, False, False, False], id="max"),
        pytest.param({"required_objects_count": 2}, [True, False, False, False, False], id="objects"),
        pytest.param(
            {"target_classes": ["person"], "required_class_count": 2},
            [False, False, False, False, False],
            id="class-count",
        ),
        pytest.param({"required_class_variance_count": 2}, [True, False, False, False, False], id="variance-works"),
        pytest.param({"confidence_interval": [55, 95]}, [True, True, False, False, False], id="inclusive-bounds"),
    ],
)
def test_sdk_conditionals(params, expected):
    assert run({"type": "sdk_conditionals", **params}, make_detections(SDK_FRAMES)) == expected


def test_every_strategy_evaluated_in_order():
    cfg = validate_al_config(
        al_config(
            {"name": "a", "type": "random", "traffic_percentage": 1.0},
            {"name": "b", "type": "detections_number_based", "probability": 1.0, "more_than": 0},
            {
                "name": "c",
                "type": "close_to_threshold",
                "threshold": 0.9,
                "epsilon": 0.05,
                "probability": 1.0,
            },
        )
    )
    engine = SamplingEngine(cfg, seed=1)
    matrix = engine.evaluate(make_detections([[("car", 0.92, BOX)], []]))
    assert engine.names == ["a", "b", "c"]
    assert matrix.tolist() == [[True, True, True], [True, False, False]]


def test_disabled_config_matches_nothing():
    engine = SamplingEngine(validate_al_config({"enabled": False}), seed=0)
    assert engine.evaluate(make_stub(4)).shape == (4, 0)


def test_gates_do_not_depend_on_batch_split():
    cfg = validate_al_config(
        al_config(
            {"name": "r", "type": "random", "traffic_percentage": 0.5},
            {"name": "q", "type": "random", "traffic_percentage": 0.3},
        )
    )
    whole = SamplingEngine(cfg, seed=42).evaluate(make_stub(100))
    engine = SamplingEngine(cfg, seed=42)
    parts = [engine.evaluate(make_stub(n)) for n in (7, 50, 43)]
    import numpy as np

    assert (np.concatenate(parts) == whole).all()


def test_unsorted_frame_index_gives_the_same_counts():
    sorted_batch = make_detections(COUNT_FRAMES)
    order = np.random.default_rng(3).permutation(sorted_batch.num_detections)
    shuffled = make_detections(COUNT_FRAMES)
    shuffled.xyxy, shuffled.confidence = shuffled.xyxy[order], shuffled.confidence[order]
    shuffled.class_id, shuffled.frame_index = shuffled.class_id[order], shuffled.frame_index[order]
    assert shuffled.frame_bounds() is None and sorted_batch.frame_bounds() is not None
    for params in ({"more_than": 1}, {"less_than": 4, "selected_class_names": ["car"]}):
        strategy = {"type": "detections_number_based", "probability": 1.0, **params}
        assert run(strategy, shuffled) == run(strategy, sorted_batch)
