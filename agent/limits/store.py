"""The limit-store interface and the credit it hands out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from agent.limits.rules import StrategyRules


@dataclass(frozen=True)
class CreditRequest:
    """One frame asking for a credit.

    Attributes:
        candidates: matching strategies in config order, each with its limit per
            window type (``{"minutely": 10, ...}``; absent = unlimited).
        batch_name: the labeling batch the frame would go to.
        max_batch_images: global cap of images per batch name, or None.
        rules: framesift pacing / class-quota rules by strategy name (absent = none).
        frame_classes: the frame's class names (for class quotas; empty = no detections).
    """

    candidates: Sequence[tuple[str, Mapping[str, int]]]
    batch_name: str
    max_batch_images: int | None = None
    rules: Mapping[str, StrategyRules] = field(default_factory=dict)
    frame_classes: Sequence[str] = ()


@dataclass(frozen=True)
class Credit:
    """A granted credit; keep it to give it back (e.g. the server reports a duplicate)."""

    strategy: str
    batch_name: str
    keys: tuple[str, ...]
    backend: str = "local"


@dataclass(frozen=True)
class ConsumeResult:
    """Outcome of ``try_consume``: a credit, or why none was given."""

    credit: Credit | None
    reason: str | None = None  # "batch_full" | "strategy_limits"
    extra: dict[str, str] = field(default_factory=dict)
    """``refused``: limits | pacing | quota (why the first candidate was refused);
    ``class``: the quota pool a granted credit was charged to."""

    @property
    def granted(self) -> bool:
        """True when a strategy took the credit."""
        return self.credit is not None


class LimitStore(Protocol):
    """Atomic check-and-consume of per-strategy window limits and the batch cap."""

    @property
    def name(self) -> str:
        """Backend name in use: "local" or "redis"."""

    def try_consume(self, request: CreditRequest, now: datetime) -> ConsumeResult:
        """Give the credit to the first candidate whose limits all have room.

        All three windows (minute, hour, day) of that strategy are counted, and the
        batch counter, in one atomic step. The batch cap is checked first: a full
        batch refuses the frame whatever the strategies say.
        """

    def give_back(self, credit: Credit) -> None:
        """Return a credit to exactly the windows and batch it was taken from."""

    def usage(self, strategy: str, now: datetime) -> dict[str, int]:
        """Current count per window type for one strategy."""

    def close(self) -> None:
        """Release connections/files."""
