"""Active-learning config validation: accepted verbatim, strict, errors with JSON paths."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.al_config import config_json_schema, validate_al_config
from agent.errors import ConfigError
from tests.factories import al_config

REFERENCE_EXAMPLE = {
    "enabled": True,
    "max_image_size": [1200, 1200],
    "jpeg_compression_level": 75,
    "persist_predictions": True,
    "sampling_strategies": [{"name": "default_strategy", "type": "random", "traffic_percentage": 0.1}],
    "batching_strategy": {"batches_name_prefix": "al_batch", "recreation_interval": "daily"},
}

FULL = al_config(
    {"name": "r", "type": "random", "traffic_percentage": 0.1, "tags": ["x"],
     "limits": [{"type": "minutely", "value": 10}, {"type": "daily", "value": 100}]},
    {"name": "c", "type": "close_to_threshold", "threshold": 0.5, "epsilon": 0.1, "probability": 0.5,
     "selected_class_names": ["car"], "only_top_classes": False, "minimum_objects_close_to_threshold": 2},
    {"name": "k", "type": "classes_based", "selected_class_names": ["cat"], "probability": 1.0},
    {"name": "d", "type": "detections_number_based", "probability": 1.0, "more_than": 1, "less_than": 5},
    tags=["a", "b:c/[1]@{x}<y>"], max_image_size=[480, 640], jpeg_compression_level=80,
    target_project="other-proj",
)  # fmt: skip


def test_reference_documents_are_accepted_verbatim():
    assert validate_al_config({"enabled": False}).enabled is False
    cfg = validate_al_config(REFERENCE_EXAMPLE)
    assert cfg.max_image_size == [1200, 1200] and cfg.jpeg_compression_level == 75
    full = validate_al_config(FULL)
    assert [s.type for s in full.sampling_strategies] == [
        "random",
        "close_to_threshold",
        "classes_based",
        "detections_number_based",
    ]
    assert full.sampling_strategies[0].limit_values() == {"minutely": 10, "daily": 100}
    assert validate_al_config(al_config({"name": "x", "type": "random", "traffic_percentage": 1})).enabled


def test_defaults():
    cfg = validate_al_config(REFERENCE_EXAMPLE | {"jpeg_compression_level": 95})
    assert cfg.jpeg_compression_level == 95
    assert (
        validate_al_config(
            {k: v for k, v in REFERENCE_EXAMPLE.items() if k != "jpeg_compression_level"}
        ).jpeg_compression_level
        == 95
    )


def _set(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DELETE = object()

INVALID = [
    (("jpeg_compression_level",), 0, "$.jpeg_compression_level"),
    (("jpeg_compression_level",), 101, "$.jpeg_compression_level"),
    (("jpeg_compression_level",), "high", "$.jpeg_compression_level"),
    (("max_image_size",), [0, 10], "$.max_image_size"),
    (("max_image_size",), [10], "$.max_image_size"),
    (("enabled",), "true", "$.enabled"),
    (("persist_predictions",), _DELETE, "$.persist_predictions"),
    (("batching_strategy",), _DELETE, "$.batching_strategy"),
    (("sampling_strategies",), [], "$.sampling_strategies"),
    (("batching_strategy", "recreation_interval"), "hourly", "$.batching_strategy.recreation_interval"),
    (("batching_strategy", "max_batch_images"), 0, "$.batching_strategy.max_batch_images"),
    (("batching_strategy", "batches_name_prefix"), "../etc", "$.batching_strategy.batches_name_prefix"),
    (("tags",), ["ok", "not ok"], "$.tags[1]"),
    (("tags",), ["x" * 65], "$.tags[0]"),
    (("surprise",), 1, "$.surprise"),
    (("sampling_strategies", 0, "traffic_percentage"), 1.5, "$.sampling_strategies[0].traffic_percentage"),
    (("sampling_strategies", 0, "type"), "smart", "$.sampling_strategies[0].type"),
    (("sampling_strategies", 0, "limits", 0, "type"), "weekly", "$.sampling_strategies[0].limits[0].type"),
    (("sampling_strategies", 0, "limits", 0, "value"), 0, "$.sampling_strategies[0].limits[0].value"),
    (("sampling_strategies", 0, "unknown"), 1, "$.sampling_strategies[0].unknown"),
    (("sampling_strategies", 0, "name"), "\u001b]0;PWNED\u0007", "$.sampling_strategies[0].name"),  # a terminal runs it
    (("sampling_strategies", 0, "name"), "   ", "$.sampling_strategies[0].name"),
    (("sampling_strategies", 0, "name"), "r\u009b2J", "$.sampling_strategies[0].name"),  # C1: CSI
    (("sampling_strategies", 1, "selected_class_names"), [""], "$.sampling_strategies[1].selected_class_names[0]"),
    (("sampling_strategies", 2, "selected_class_names"), ["a\tb"], "$.sampling_strategies[2].selected_class_names[0]"),
    (("sampling_strategies", 1, "probability"), -0.1, "$.sampling_strategies[1].probability"),
    (("sampling_strategies", 1, "epsilon"), 0, "$.sampling_strategies[1].epsilon"),
    (("sampling_strategies", 1, "name"), "r", "$.sampling_strategies[1].name"),
    (("sampling_strategies", 3, "less_than"), 1, "$.sampling_strategies[3]"),
    (("sampling_strategies", 2, "selected_class_names"), [], "$.sampling_strategies[2].selected_class_names"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected_path"), INVALID, ids=[i[2] + str(n) for n, i in enumerate(INVALID)]
)
def test_invalid_fields_are_named(path, value, expected_path):
    doc = copy.deepcopy(FULL)
    _set(doc, path, value)
    with pytest.raises(ConfigError) as info:
        validate_al_config(doc)
    paths = [i.path for i in info.value.issues]
    assert expected_path in paths, paths


def test_all_errors_reported_at_once():
    doc = copy.deepcopy(FULL)
    doc["jpeg_compression_level"] = 0
    doc["tags"] = ["bad tag"]
    doc["sampling_strategies"][0]["traffic_percentage"] = 7
    with pytest.raises(ConfigError) as info:
        validate_al_config(doc)
    assert len(info.value.issues) == 3


@pytest.mark.parametrize("document", [None, [], "x", 3, [{"enabled": True}]])
def test_non_object(document):
    with pytest.raises(ConfigError, match=r"\$: must be a JSON object"):
        validate_al_config(document)


def test_schema_is_json():
    schema = config_json_schema()
    text = json.dumps(schema, allow_nan=False)
    assert "sampling_strategies" in text and "close_to_threshold" in text


# ---------------------------------------------------------------- fuzzing

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80))  # fmt: skip
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, (*prefix, i))


ALL_PATHS = [p for p in _paths(FULL) if p]


# about 1,600 of the 2,400 examples add an unknown key (always invalid); the others replace a value,
# which is invalid unless the new value happens to fit. None may raise anything but ConfigError.
@settings(max_examples=2400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_PATHS), value=json_value, kind=st.sampled_from(["replace", "extra", "extra"]))
def test_fuzzed_configs_raise_config_error_with_a_path(path, value, kind):
    doc = copy.deepcopy(FULL)
    if kind == "extra":
        target = doc
        for key in path[:-1]:
            target = target[key]
        if not isinstance(target, dict):
            return
        target["zz_unknown_" + str(len(path))] = value  # unknown keys are always refused
    else:
        _set(doc, path, value)
    try:
        validate_al_config(doc)
    except ConfigError as exc:
        assert exc.issues and all(i.path.startswith("$") and i.message for i in exc.issues)
        if kind == "extra":
            assert any("zz_unknown_" in i.path for i in exc.issues)
        return
    assert kind == "replace"  # some replacements are valid (e.g. a float in range)


@settings(max_examples=300, deadline=None)
@given(doc=json_value)
def test_arbitrary_json_never_raises_anything_else(doc):
    try:
        validate_al_config(doc)
    except ConfigError as exc:
        assert exc.issues
