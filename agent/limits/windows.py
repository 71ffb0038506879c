"""Fixed UTC limit windows and their counter keys.

Unlike the reference (``minute_{M}`` / ``hour_{H}`` keys reused every hour/day
and kept apart only by TTL), keys carry the full UTC timestamp of the window,
so a counter can never be confused with the same minute of another hour and a
returned credit goes back to the window it was taken from.
"""

from __future__ import annotations

from datetime import datetime, timezone

WINDOWS = ("minutely", "hourly", "daily")
WINDOW_TTL_S = {"minutely": 120, "hourly": 7200, "daily": 90000}
_FORMATS = {"minutely": "%Y_%m_%d_%H_%M", "hourly": "%Y_%m_%d_%H", "daily": "%Y_%m_%d"}
BATCH_COUNTER_TTL_S = 40 * 86400
"""Per-batch-name counters outlive the longest dated batch (a month) with margin."""


def utc(now: datetime) -> datetime:
    """``now`` in UTC (naive datetimes are taken as UTC)."""
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def window_stamp(window: str, now: datetime) -> str:
    """The stamp of the fixed UTC window containing ``now``."""
    return utc(now).strftime(_FORMATS[window])


def usage_key(scope: str, strategy: str, window: str, now: datetime) -> str:
    """Counter key of one strategy's window, e.g. ``framesift:usage:ws:proj:s1:minutely:2023_10_26_21_37``."""
    return f"framesift:usage:{scope}:{strategy}:{window}:{window_stamp(window, now)}"


def pace_key(scope: str, strategy: str) -> str:
    """Token bucket of a paced strategy (no window: the bucket is continuous)."""
    return f"framesift:pace:{scope}:{strategy}"


def quota_key(scope: str, strategy: str, window: str, now: datetime, pool: str) -> str:
    """Counter of one class pool of a strategy's quota in the window containing ``now``."""
    return f"framesift:quota:{scope}:{strategy}:{window}:{window_stamp(window, now)}:{pool}"


def quota_seen_key(scope: str, strategy: str, window: str, now: datetime) -> str:
    """The classes a balanced quota has seen in the window containing ``now``."""
    return f"framesift:quota_seen:{scope}:{strategy}:{window}:{window_stamp(window, now)}"


def batch_key(scope: str, batch_name: str) -> str:
    """Counter key of the images given to one batch name."""
    return f"framesift:batch:{scope}:{batch_name}"
