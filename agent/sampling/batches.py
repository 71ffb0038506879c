"""Labeling batch names and upload tags, as the reference builds them (with fixes).

Differences from the reference, deliberate:
  * batch dates are UTC (the reference uses the machine's local time while its limit
    windows are UTC, so the two disagree around midnight, and a fleet spread over time
    zones splits one day into several batches);
  * ``ACTIVE_LEARNING_TAGS`` entries are stripped and validated (invalid ones are
    dropped with a warning, never the frame), and duplicate tags are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from agent.config.al_config import TAG_PATTERN
from agent.config.environment import read_environment
from agent.limits.windows import utc

logger = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y_%m_%d"


def batch_name(prefix: str, recreation_interval: str, now: datetime) -> str:
    """``prefix`` for never; ``prefix_YYYY_MM_DD`` of the day, ISO Monday or first of month."""
    today: date = utc(now).date()
    if recreation_interval == "never":
        return prefix
    if recreation_interval == "daily":
        day = today
    elif recreation_interval == "weekly":
        day = today - timedelta(days=today.weekday())
    elif recreation_interval == "monthly":
        day = today.replace(day=1)
    else:
        raise ValueError(f"unknown recreation_interval {recreation_interval!r}")
    return f"{prefix}_{day.strftime(TIMESTAMP_FORMAT)}"


def env_tags(environ: Mapping[str, str] | None = None) -> list[str]:
    """Tags from ``ACTIVE_LEARNING_TAGS`` (comma separated; default: the process environment), stripped;
    invalid ones dropped."""
    raw = read_environment(environ).active_learning_tags
    out = []
    for part in raw.split(","):
        tag = part.strip()
        if not tag:
            continue
        if TAG_PATTERN.match(tag):
            out.append(tag)
        else:
            logger.warning("ignoring invalid tag %r from ACTIVE_LEARNING_TAGS", tag)
    return out


def model_tag(model_id: str) -> str | None:
    """The model id as a tag (``/`` → ``-``), or None if it cannot be a valid tag."""
    tag = model_id.replace("/", "-")
    return tag if TAG_PATTERN.match(tag) else None


def collect_tags(
    environment: Iterable[str],
    config_tags: Iterable[str],
    strategy_tags: Iterable[str],
    model_id: str,
    persist_predictions: bool,
) -> list[str]:
    """Tags in the reference order: env, config, winning strategy, model id (if persisting)."""
    ordered = [*environment, *config_tags, *strategy_tags]
    if persist_predictions and model_id:
        tag = model_tag(model_id)
        if tag:
            ordered.append(tag)
    return list(dict.fromkeys(ordered))
