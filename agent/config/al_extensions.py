"""framesift extensions of a sampling strategy: the ``framesift`` object inside a strategy.

A Roboflow-only reader reads the keys it knows from a strategy and ignores this
object, so a config carrying it still loads there (with first-come behaviour).
framesift validates it strictly:

```json
"framesift": {
  "pacing": {"window": "daily", "burst": 2},
  "class_quota": {"window": "daily", "shares": {"forklift": 0.3, "person": 0.3}},
  "drift_boost": {"psi_above": 0.2, "factor": 3.0}
}
```

* ``pacing``: a token bucket refilled at cap / window (the strategy's limit of that
  window) holding at most ``burst`` credits, so the cap is spread over its window.
* ``class_quota``: each class may use at most its share of the strategy's cap of
  ``window`` (``shares``; unlisted classes share what is left), or cap / K where K is
  the number of classes seen in the window (``balanced``). A frame is charged to the
  one of its classes with the most room.
* ``drift_boost``: while the population-stability index of some class is above
  ``psi_above``, the strategy's probability gate is multiplied by ``factor`` (at most 1);
  limits still apply.

Rules that span the strategy (a window needs a limit) are checked by
:func:`extension_issues` after the fields themselves validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from agent.errors import ConfigIssue

NO_CLASS = "(none)"
"""The pseudo-class a frame without detections is charged to by a class quota."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PacingConfig(_Strict):
    """Spread the cap of one window over that window."""

    window: Literal["hourly", "daily"] = Field("daily", description="whose limit is paced")
    burst: int = Field(1, ge=1, description="credits the bucket holds at most (and at start)")


class ClassQuotaConfig(_Strict):
    """Per-class shares of the strategy's cap of ``window``."""

    window: Literal["minutely", "hourly", "daily"] = "daily"
    balanced: bool = Field(False, description="cap / (classes seen in the window) each")
    shares: dict[str, float] | None = Field(None, description="class name -> share in (0, 1]; sum <= 1")

    @field_validator("shares")
    @classmethod
    def _shares(cls, shares: dict[str, float] | None) -> dict[str, float] | None:
        if shares is None:
            return None
        if not shares:
            raise PydanticCustomError("quota", "must name at least one class")
        bad = [name for name, share in shares.items() if not 0.0 < share <= 1.0]
        if bad:
            raise PydanticCustomError("quota", "share of {names} must be in (0, 1]", {"names": ", ".join(bad)})
        total = sum(shares.values())
        if total > 1.0 + 1e-9:
            raise PydanticCustomError("quota", "shares add up to {total}, more than 1", {"total": round(total, 6)})
        return shares

    @model_validator(mode="after")
    def _one_mode(self) -> ClassQuotaConfig:
        if self.balanced == (self.shares is not None):
            raise PydanticCustomError("quota", "give exactly one of balanced: true or shares")
        return self


class DriftBoostConfig(_Strict):
    """Raise the probability gate while a class drifts."""

    psi_above: float = Field(0.2, gt=0.0, le=10.0, description="population-stability index level")
    factor: float = Field(2.0, gt=1.0, le=1000.0, description="multiplier of the probability (capped at 1)")


class StrategyExtensions(_Strict):
    """The ``framesift`` object of a strategy."""

    pacing: PacingConfig | None = None
    class_quota: ClassQuotaConfig | None = None
    drift_boost: DriftBoostConfig | None = None


class _ExtendedStrategy(Protocol):
    @property
    def framesift(self) -> StrategyExtensions | None: ...

    def limit_values(self) -> dict[str, int]: ...

    def gate_probability(self) -> float: ...


def extension_issues(strategies: Sequence[_ExtendedStrategy]) -> list[ConfigIssue]:
    """Rules of the ``framesift`` objects that need the rest of their strategy."""
    issues: list[ConfigIssue] = []
    for i, strategy in enumerate(strategies):
        ext = strategy.framesift
        if ext is None:
            continue
        base = f"$.sampling_strategies[{i}].framesift"
        limits = strategy.limit_values()
        if ext.pacing is not None:
            window = ext.pacing.window
            if window not in limits:
                issues.append(ConfigIssue(f"{base}.pacing.window", f"pacing the {window} cap needs a {window!r} "
                                          f"limit in $.sampling_strategies[{i}].limits"))  # fmt: skip
            elif ext.pacing.burst > limits[window]:
                issues.append(ConfigIssue(f"{base}.pacing.burst", f"burst {ext.pacing.burst} is larger than the "
                                          f"{window} limit {limits[window]}"))  # fmt: skip
        if ext.class_quota is not None and ext.class_quota.window not in limits:
            quota_window = ext.class_quota.window
            message = f"a class quota of the {quota_window} cap needs a {quota_window!r} limit"
            issues.append(ConfigIssue(f"{base}.class_quota.window", f"{message} in $.sampling_strategies[{i}].limits"))
        if ext.drift_boost is not None and strategy.gate_probability() >= 1.0:
            issues.append(ConfigIssue(f"{base}.drift_boost", "has no effect: the strategy's probability "
                                      "(traffic_percentage) is already 1"))  # fmt: skip
    return issues


def extensions_summary(ext: StrategyExtensions | None, limits: dict[str, int]) -> str:
    """One line describing a strategy's extensions for ``config validate`` ("" when none)."""
    if ext is None:
        return ""
    parts = []
    if ext.pacing is not None:
        cap = limits.get(ext.pacing.window, 0)
        per_hour = cap / (24.0 if ext.pacing.window == "daily" else 1.0)
        parts.append(f"paced {per_hour:.3g}/h (burst {ext.pacing.burst})")
    if ext.class_quota is not None:
        q = ext.class_quota
        if q.balanced:
            parts.append(f"class quota balanced over the {q.window} cap")
        else:
            shares = ", ".join(f"{name} {share:.0%}" for name, share in (q.shares or {}).items())
            parts.append(f"class quota of the {q.window} cap: {shares}")
    if ext.drift_boost is not None:
        parts.append(f"x{ext.drift_boost.factor:g} while PSI > {ext.drift_boost.psi_above:g}")
    return "; ".join(parts)
