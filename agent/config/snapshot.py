"""ConfigSnapshot: an active-learning config with where it came from, and its sources.

The pipeline reads ``source.current`` once per batch; the daemon's ConfigHolder
(sync, last-good, override, file) and :class:`StaticConfig` (``scan``, the SDK
function: one config for the whole run) both provide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from agent.config.al_config import ActiveLearningConfig

EMBEDDED_DEFAULT: dict[str, Any] = {
    "enabled": True,
    "persist_predictions": True,
    "sampling_strategies": [
        {"name": "default_random", "type": "random", "traffic_percentage": 0.1,
         "limits": [{"type": "hourly", "value": 100}, {"type": "daily", "value": 1000}]}
    ],
    "batching_strategy": {"batches_name_prefix": "framesift", "recreation_interval": "daily"},
}  # fmt: skip
"""Used until a config is synced, set or configured: 10 % of frames, at most 100 an hour, so
that ``framesift run`` with no file collects something at once (the reference is off instead)."""


@dataclass(frozen=True)
class ConfigSnapshot:
    """An immutable config with where it came from."""

    config: ActiveLearningConfig
    document: dict[str, Any]
    origin: str  # remote | last-good | local-override | file | default
    etag: str | None = None
    version: int = 0


class ConfigSource(Protocol):
    """Anything that holds the config in force."""

    @property
    def current(self) -> ConfigSnapshot:
        """The snapshot to apply to the next batch (``version`` changes when it does)."""


@dataclass(frozen=True)
class StaticConfig:
    """One config for the whole run (``scan``, the SDK function)."""

    current: ConfigSnapshot

    @classmethod
    def of(cls, config: ActiveLearningConfig, origin: str = "file") -> StaticConfig:
        """Wrap an already validated config."""
        return cls(ConfigSnapshot(config, {}, origin))
