"""The active-learning configuration: the Roboflow JSON, validated strictly.

The Roboflow document (``GET /{workspace}/{project}/active_learning``) is
accepted verbatim. Where the reference is lax, this is strict: ranges, the tag
alphabet, unique strategy names, ``more_than < less_than``, unknown keys and
unknown strategy types are all refused with a ConfigError whose issues name the
JSON path of each offending field.

framesift extensions (documented in README "Active learning"):
``entropy`` / ``margin`` / ``sdk_conditionals`` / ``detection_uncertainty`` strategy
types, the top-level ``near_duplicate_filter`` and the ``framesift`` object of a
strategy (pacing, class quotas, drift boost; ``agent.config.al_extensions``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agent.config.al_extensions import StrategyExtensions, extension_issues
from agent.config.config_json import parse_config_json
from agent.errors import ConfigError, ConfigIssue

MAX_LIMIT_VALUE = 1_000_000_000
"""Largest per-window image cap (a billion a day is beyond any labeling budget; larger values would
overflow the limit stores' 64-bit counters arithmetic in Lua and SQLite)."""

TAG_PATTERN = re.compile(r"^[a-zA-Z0-9\-_:/.\[\]<>{}@]{1,64}$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0, DEL and C1 (``\\x9b`` is a terminal's CSI): never in a name that is printed (here and in the hub)."""
"""Roboflow's tag alphabet: 1-64 characters of a-z A-Z 0-9 - _ : / . [ ] < > { } @."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def check_tag(tag: str) -> str:
    """Return ``tag`` if it fits the tag alphabet, else raise ValueError saying why."""
    if not TAG_PATTERN.match(tag):
        raise ValueError(f"tag {tag!r} must be 1-64 characters from a-z A-Z 0-9 and - _ : / . [ ] < > {{ }} @")
    return tag


def _tag(value: str) -> str:
    if not TAG_PATTERN.match(value):
        raise ValueError(f"tag {value!r} must be 1-64 characters from a-z A-Z 0-9 and - _ : / . [ ] < > {{ }} @")
    return value


Tag = Annotated[str, AfterValidator(_tag)]


def _printable(value: str) -> str:
    if not value.strip() or CONTROL_CHARACTERS.search(value):
        raise ValueError("must have a visible character and no control characters (a tab, an escape sequence)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]
"""A strategy's name: printed in tables and logs, so no control characters (a terminal would run them)."""
ClassName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class LimitConfig(_Strict):
    """One usage limit of a strategy."""

    type: Literal["minutely", "hourly", "daily"]
    value: int = Field(ge=1, le=MAX_LIMIT_VALUE, description="images per window; at least 1")


class _StrategyBase(_Strict):
    name: Name
    tags: list[Tag] = Field(default_factory=list)
    limits: list[LimitConfig] = Field(default_factory=list)
    framesift: StrategyExtensions | None = Field(None, description="framesift extensions (Roboflow ignores)")

    def gate_probability(self) -> float:
        """The probability gate of the strategy (``traffic_percentage`` for ``random``)."""
        return float(getattr(self, "probability", 1.0))

    def limit_values(self) -> dict[str, int]:
        """Smallest configured value per window type (duplicates: all must hold → min)."""
        out: dict[str, int] = {}
        for limit in self.limits:
            out[limit.type] = min(limit.value, out.get(limit.type, limit.value))
        return out


class RandomStrategy(_StrategyBase):
    """Select a fraction of all frames, whatever the prediction (stubs too)."""

    type: Literal["random"]
    traffic_percentage: Probability = Field(description="a fraction in [0, 1], not a percent")

    def gate_probability(self) -> float:
        """``traffic_percentage``."""
        return self.traffic_percentage


class CloseToThresholdStrategy(_StrategyBase):
    """Select frames with confidences within ``epsilon`` of ``threshold`` (strict)."""

    type: Literal["close_to_threshold"]
    threshold: Probability
    epsilon: float = Field(gt=0.0, le=1.0)
    probability: Probability
    selected_class_names: list[ClassName] | None = None
    only_top_classes: bool = True
    minimum_objects_close_to_threshold: int = Field(1, ge=1)


class ClassesBasedStrategy(_StrategyBase):
    """Classification: select frames whose top (or predicted) class is in the list."""

    type: Literal["classes_based"]
    selected_class_names: list[ClassName] = Field(min_length=1)
    probability: Probability


class DetectionsNumberBasedStrategy(_StrategyBase):
    """Detection: select frames whose detection count is in (more_than, less_than)."""

    type: Literal["detections_number_based"]
    probability: Probability
    more_than: int | None = Field(None, ge=0)
    less_than: int | None = Field(None, ge=1)
    selected_class_names: list[ClassName] | None = None

    @model_validator(mode="after")
    def _range(self) -> DetectionsNumberBasedStrategy:
        low, high = self.more_than, self.less_than
        if low is not None and high is not None and low >= high:
            raise PydanticCustomError(
                "range",
                "more_than ({more_than}) must be smaller than less_than ({less_than})",
                {"more_than": low, "less_than": high},
            )
        return self


class EntropyStrategy(_StrategyBase):
    """framesift: classification frames whose normalised entropy is >= threshold."""

    type: Literal["entropy"]
    threshold: Probability = Field(description="normalised entropy in [0, 1]")
    probability: Probability = 1.0


class MarginStrategy(_StrategyBase):
    """framesift: classification frames whose top-1 minus top-2 confidence is <= threshold."""

    type: Literal["margin"]
    threshold: Probability
    probability: Probability = 1.0


class DetectionUncertaintyStrategy(_StrategyBase):
    """framesift: detection frames whose box-level uncertainty, aggregated per frame, is high.

    Box uncertainty in [0, 1]: ``entropy`` = binary entropy (bits) of the box confidence;
    ``margin`` = 1 - (top class score - runner-up class score). Per frame: ``max`` or
    ``mean`` >= threshold, or ``count_above``: at least ``minimum_boxes`` boxes >= threshold.
    """

    type: Literal["detection_uncertainty"]
    measure: Literal["entropy", "margin"]
    aggregate: Literal["max", "mean", "count_above"] = "max"
    threshold: Probability
    minimum_boxes: int = Field(1, ge=1, description="count_above only")
    selected_class_names: list[ClassName] | None = None
    probability: Probability = 1.0

    @model_validator(mode="after")
    def _count_only(self) -> DetectionUncertaintyStrategy:
        if self.minimum_boxes != 1 and self.aggregate != "count_above":
            raise PydanticCustomError("aggregate", "minimum_boxes applies to aggregate count_above only")
        return self


class SdkConditionalsStrategy(_StrategyBase):
    """framesift: the ``conditionals`` of the SDK's ``Workspace.active_learning()``."""

    type: Literal["sdk_conditionals"]
    confidence_interval: list[float] = Field(default_factory=lambda: [30.0, 99.0])
    required_objects_count: int = Field(1, ge=0)
    required_class_count: int = Field(0, ge=0)
    target_classes: list[str] = Field(default_factory=list)
    required_class_variance_count: int = Field(1, ge=0)
    minimum_size_requirement: float | None = Field(None, description="box area px², strict; null = none")
    maximum_size_requirement: float | None = Field(None, description="box area px², strict; null = none")
    probability: Probability = 1.0

    @model_validator(mode="after")
    def _check(self) -> SdkConditionalsStrategy:
        ci = self.confidence_interval
        if len(ci) != 2 or not all(math.isfinite(v) for v in ci) or not 0 <= ci[0] <= ci[1] <= 100:
            raise PydanticCustomError(
                "interval", "confidence_interval must be [min, max] percent with 0 <= min <= max <= 100"
            )
        low, high = self.size_bounds()
        if low >= high:
            raise PydanticCustomError("size", "minimum_size_requirement must be smaller than maximum_size_requirement")
        return self

    def size_bounds(self) -> tuple[float, float]:
        """(minimum, maximum) box area; infinite when not set."""
        low = -math.inf if self.minimum_size_requirement is None else self.minimum_size_requirement
        high = math.inf if self.maximum_size_requirement is None else self.maximum_size_requirement
        return low, high


Strategy = Annotated[
    RandomStrategy
    | CloseToThresholdStrategy
    | ClassesBasedStrategy
    | DetectionsNumberBasedStrategy
    | EntropyStrategy
    | MarginStrategy
    | SdkConditionalsStrategy
    | DetectionUncertaintyStrategy,
    Field(discriminator="type"),
]
STRATEGY_TYPES = (
    "random", "close_to_threshold", "classes_based", "detections_number_based",
    "entropy", "margin", "sdk_conditionals", "detection_uncertainty",
)  # fmt: skip


class BatchingStrategy(_Strict):
    """How selected frames are grouped into labeling batches."""

    batches_name_prefix: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-. ]+$")
    recreation_interval: Literal["never", "daily", "weekly", "monthly"]
    max_batch_images: int | None = Field(None, ge=1)


class NearDuplicateFilter(_Strict):
    """framesift: drop candidates whose dHash is within ``max_hamming_distance`` of a recent pick."""

    max_hamming_distance: int = Field(6, ge=0, le=64)
    history_size: int = Field(64, ge=1, le=4096)


class ActiveLearningConfig(_Strict):
    """The whole active-learning document. ``{"enabled": false}`` is the minimal valid one."""

    enabled: bool
    max_image_size: list[int] | None = Field(None, description="[height, width], both >= 1")
    jpeg_compression_level: int = Field(95, ge=1, le=100)
    persist_predictions: bool | None = None
    sampling_strategies: list[Strategy] = Field(default_factory=list)
    batching_strategy: BatchingStrategy | None = None
    tags: list[Tag] = Field(default_factory=list)
    target_project: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")
    target_workspace: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")
    near_duplicate_filter: NearDuplicateFilter | None = None

    @field_validator("max_image_size")
    @classmethod
    def _size(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or min(value) < 1):
            raise PydanticCustomError("size", "max_image_size must be [height, width], both >= 1")
        return value


def _semantic_issues(document: Mapping[str, Any]) -> list[ConfigIssue]:
    """Rules spanning several fields, checked on the raw document so that they are
    reported together with the field errors, each at its precise path."""
    issues = []
    if document.get("enabled") is True:
        for key in ("persist_predictions", "batching_strategy"):
            if document.get(key) is None:
                issues.append(ConfigIssue(f"$.{key}", "required when enabled is true"))
        if document.get("sampling_strategies") in (None, []):
            issues.append(ConfigIssue("$.sampling_strategies", "must be a non-empty list when enabled is true"))
    strategies = document.get("sampling_strategies")
    first_index: dict[str, int] = {}
    for i, strategy in enumerate(strategies if isinstance(strategies, list) else []):
        name = strategy.get("name") if isinstance(strategy, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            issues.append(
                ConfigIssue(
                    f"$.sampling_strategies[{i}].name",
                    f"duplicate strategy name {name!r} (first used at $.sampling_strategies[{first_index[name]}])",
                )
            )
        else:
            first_index[name] = i
    return issues


def _json_path(loc: tuple[Any, ...], model_class_names: frozenset[str]) -> str:
    path = "$"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in model_class_names or part in STRATEGY_TYPES:
            continue  # discriminated-union tag in the location, not a JSON key
        else:
            path += f".{part}"
    return path


def _issues_from(exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _json_path(loc, frozenset())
        message = err["msg"]
        if err["type"] == "union_tag_invalid":
            path += ".type"
            message = f"unknown strategy type; expected one of {', '.join(STRATEGY_TYPES)}"
        elif err["type"] == "union_tag_not_found":
            path += ".type"
            message = "missing strategy type"
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        issues.append(ConfigIssue(path, message))
    return issues


def validate_al_config(document: Any, *, source: str | None = None) -> ActiveLearningConfig:
    """Validate a decoded JSON document.

    Raises:
        ConfigError: with one issue (JSON path + reason) per problem.
    """
    if not isinstance(document, Mapping):
        raise ConfigError([ConfigIssue("$", f"must be a JSON object, got {type(document).__name__}")], source=source)
    issues = _semantic_issues(document)
    try:
        config = ActiveLearningConfig.model_validate(dict(document))
    except ValidationError as exc:
        field_issues = _issues_from(exc)
        seen = {i.path for i in field_issues}
        raise ConfigError(field_issues + [i for i in issues if i.path not in seen], source=source) from None
    except (TypeError, ValueError, RecursionError) as exc:  # defensive: never leak other errors
        raise ConfigError([ConfigIssue("$", f"unreadable value: {exc}")], source=source) from None
    issues += extension_issues(config.sampling_strategies)
    if issues:
        raise ConfigError(issues, source=source)
    return config


def load_al_config(path: Path) -> ActiveLearningConfig:
    """Read and validate a config file (JSON)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue("$", f"cannot read file: {exc.strerror or exc}")], source=str(path)) from None
    return validate_al_config(parse_config_json(text, source=str(path)), source=str(path))


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the active-learning configuration."""
    schema = ActiveLearningConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "framesift active-learning configuration"
    return schema
