"""The project's active-learning form, both ways: form fields → Roboflow active-learning JSON
(validated by the agent's own model) and a stored JSON → form fields.

How the form maps onto the JSON (the seed's *Collection limits* and *Conditions*):

* sampling rate (%) → each condition's ``probability``; with no condition, one ``random``
  strategy ``sampling-rate`` with ``traffic_percentage``;
* per-minute / hourly / daily caps → ``limits`` of every strategy (the JSON has no global cap);
* confidence below X % → ``close_to_threshold`` ``low-confidence`` with threshold = epsilon =
  X/200, i.e. every confidence strictly between 0 and X %;
* classes of interest → ``detections_number_based`` (more than 0 of those classes) for
  detection, ``classes_based`` for classification;
* detection count more than / fewer than → ``detections_number_based`` ``detection-count``;
* JPEG level, maximum width × height (→ ``max_image_size [h, w]``), batch prefix and
  recreation interval, persist predictions, tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.config.al_config import validate_al_config
from agent.errors import ConfigError

MODEL_TYPES = ("object-detection", "classification")
INTERVALS = ("daily", "weekly", "monthly", "never")
FORM_STRATEGIES = {"sampling-rate", "low-confidence", "classes-of-interest", "detection-count"}
_CAPS = (("per_minute_cap", "minutely"), ("hourly_cap", "hourly"), ("daily_cap", "daily"))
_STRATEGY_FIELDS = {"traffic_percentage": "sampling_rate_pct", "probability": "sampling_rate_pct",
                    "threshold": "confidence_below_pct", "epsilon": "confidence_below_pct",
                    "selected_class_names": "classes_of_interest", "more_than": "detections_more_than",
                    "less_than": "detections_fewer_than"}  # fmt: skip
_TOP_FIELDS = {"$.jpeg_compression_level": "jpeg_compression_level", "$.max_image_size": "max_width",
               "$.batching_strategy.batches_name_prefix": "batch_prefix",
               "$.batching_strategy.recreation_interval": "recreation_interval", "$.tags": "tags",
               "$.persist_predictions": "persist_predictions", "$.enabled": "enabled"}  # fmt: skip
_NAMED_FIELDS = {"sampling-rate": "sampling_rate_pct", "low-confidence": "confidence_below_pct",
                 "classes-of-interest": "classes_of_interest", "detection-count": "detections_more_than"}  # fmt: skip
DEFAULTS: dict[str, str] = {
    "enabled": "", "sampling_rate_pct": "100", "per_minute_cap": "", "hourly_cap": "", "daily_cap": "",
    "jpeg_compression_level": "95", "max_width": "", "max_height": "", "recreation_interval": "daily",
    "batch_prefix": "al_batch", "persist_predictions": "on", "model_type": "object-detection",
    "confidence_below_pct": "", "classes_of_interest": "", "detections_more_than": "", "detections_fewer_than": "",
    "tags": "",
}  # fmt: skip


@dataclass
class FormResult:
    """The config built from a form, or the errors per field (``""``: not tied to one field)."""

    config: dict[str, Any] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """One more error for field ``name``."""
        self.errors.setdefault(name, []).append(message)


def _number(form: Mapping[str, str], name: str, result: FormResult, *, integer: bool, low: float,
            high: float | None = None) -> float | None:  # fmt: skip
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        result.add(name, f"must be {'a whole number' if integer else 'a number'}, got {text[:40]!r}")
        return None
    if value != value or value < low or (high is not None and value > high):
        result.add(name, f"must be between {low:g} and {high:g}" if high is not None else f"must be at least {low:g}")
        return None
    return value


def _names(text: str | None) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))


def config_from_form(form: Mapping[str, str]) -> FormResult:
    """Build and validate the active-learning JSON from the form's fields."""
    result = FormResult()
    rate = _number(form, "sampling_rate_pct", result, integer=False, low=0, high=100)
    caps = [(kind, _number(form, name, result, integer=True, low=1)) for name, kind in _CAPS]
    limits = [{"type": kind, "value": int(v)} for kind, v in caps if v is not None]
    below = _number(form, "confidence_below_pct", result, integer=False, low=0.01, high=100)
    more = _number(form, "detections_more_than", result, integer=True, low=0)
    fewer = _number(form, "detections_fewer_than", result, integer=True, low=1)
    jpeg = _number(form, "jpeg_compression_level", result, integer=True, low=1, high=100)
    width = _number(form, "max_width", result, integer=True, low=1)
    height = _number(form, "max_height", result, integer=True, low=1)
    model_type = form.get("model_type") or "object-detection"
    if model_type not in MODEL_TYPES:
        result.add("model_type", f"choose one of {', '.join(MODEL_TYPES)}")
    interval = form.get("recreation_interval") or "daily"
    if interval not in INTERVALS:
        result.add("recreation_interval", f"choose one of {', '.join(INTERVALS)}")
    if (width is None) != (height is None):
        result.add("max_width", "give both the maximum width and height, or neither")
    probability = 1.0 if rate is None else rate / 100
    strategies: list[dict[str, Any]] = []
    if below is not None:
        strategies.append({"name": "low-confidence", "type": "close_to_threshold", "threshold": below / 200,
                           "epsilon": below / 200, "probability": probability})  # fmt: skip
    classes = _names(form.get("classes_of_interest"))
    if classes and model_type == "classification":
        strategies.append({"name": "classes-of-interest", "type": "classes_based", "selected_class_names": classes,
                           "probability": probability})  # fmt: skip
    elif classes:
        strategies.append({"name": "classes-of-interest", "type": "detections_number_based", "more_than": 0,
                           "selected_class_names": classes, "probability": probability})  # fmt: skip
    if more is not None or fewer is not None:
        count: dict[str, Any] = {"name": "detection-count", "type": "detections_number_based",
                                 "probability": probability}  # fmt: skip
        count.update({k: int(v) for k, v in (("more_than", more), ("less_than", fewer)) if v is not None})
        strategies.append(count)
    if not strategies:
        strategies.append({"name": "sampling-rate", "type": "random", "traffic_percentage": probability})
    for strategy in strategies:
        strategy["limits"] = list(limits)
    config: dict[str, Any] = {
        "enabled": form.get("enabled") == "on",
        "jpeg_compression_level": 95 if jpeg is None else int(jpeg),
        "persist_predictions": form.get("persist_predictions") == "on",
        "sampling_strategies": strategies,
        "batching_strategy": {"batches_name_prefix": (form.get("batch_prefix") or "").strip() or "al_batch",
                              "recreation_interval": interval},
        "tags": _names(form.get("tags")),
    }  # fmt: skip
    if width is not None and height is not None:
        config["max_image_size"] = [int(height), int(width)]
    if result.errors:
        return result
    try:
        validate_al_config(config)
    except ConfigError as exc:
        for issue in exc.issues:
            result.add(field_for_path(issue.path) or _strategy_field(config, issue.path),
                       f"{issue.message} ({issue.path})")  # fmt: skip
        return result
    result.config = config
    return result


def field_for_path(path: str) -> str:
    """The form field that wrote the value at a JSON path (``""`` when none did)."""
    for prefix, name in _TOP_FIELDS.items():
        if path.startswith(prefix):
            return name
    if path.startswith("$.sampling_strategies"):
        if ".limits" in path:
            return "daily_cap"
        key = path.rsplit(".", 1)[-1].split("[", 1)[0]
        return _STRATEGY_FIELDS.get(key, "")
    return ""


def _strategy_field(config: dict[str, Any], path: str) -> str:
    """The field behind a whole strategy (a rule across its keys), from the strategy's name."""
    match = re.match(r"^\$\.sampling_strategies\[(\d+)\]", path)
    strategies = config["sampling_strategies"]
    if not match or int(match.group(1)) >= len(strategies):
        return ""
    return _NAMED_FIELDS.get(strategies[int(match.group(1))]["name"], "")


def _fmt(value: float) -> str:
    return f"{value:g}"


def form_from_config(config: Mapping[str, Any] | None) -> tuple[dict[str, str], bool]:
    """Form fields for a stored config, and whether the form shows all of it (else: advanced view only)."""
    values = dict(DEFAULTS)
    if not config:
        return values, True
    exact = True
    values["enabled"] = "on" if config.get("enabled") else ""
    values["persist_predictions"] = "on" if config.get("persist_predictions") else ""
    values["jpeg_compression_level"] = str(config.get("jpeg_compression_level", 95))
    size = config.get("max_image_size")
    if isinstance(size, list) and len(size) == 2:
        values["max_height"], values["max_width"] = str(size[0]), str(size[1])
    batching = config.get("batching_strategy") or {}
    values["batch_prefix"] = str(batching.get("batches_name_prefix", "al_batch"))
    values["recreation_interval"] = str(batching.get("recreation_interval", "daily"))
    values["tags"] = ", ".join(str(t) for t in config.get("tags") or [])
    for strategy in config.get("sampling_strategies") or []:
        name, kind = strategy.get("name"), strategy.get("type")
        exact = exact and name in FORM_STRATEGIES
        rate = strategy.get("traffic_percentage", strategy.get("probability", 1.0))
        values["sampling_rate_pct"] = _fmt(float(rate) * 100)
        for limit in strategy.get("limits") or []:
            for form_name, limit_type in _CAPS:
                if limit.get("type") == limit_type:
                    values[form_name] = str(limit.get("value"))
        if name == "low-confidence":
            values["confidence_below_pct"] = _fmt(float(strategy.get("threshold", 0)) * 200)
        elif name == "classes-of-interest":
            values["classes_of_interest"] = ", ".join(strategy.get("selected_class_names") or [])
            if kind == "classes_based":
                values["model_type"] = "classification"
        elif name == "detection-count":
            for key, form_name in (("more_than", "detections_more_than"), ("less_than", "detections_fewer_than")):
                if strategy.get(key) is not None:
                    values[form_name] = str(strategy[key])
    return values, exact
