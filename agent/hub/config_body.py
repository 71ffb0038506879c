"""Parse an active-learning config request body without ever raising anything but ConfigError.

Refused with the JSON path of the offending value: whatever ``parse_config_json`` refuses
(not UTF-8, not JSON, too deep, integers beyond 64 bits, ``NaN``), a body that is not
``{"config": {...}}``, then the config validator's own issues.
"""

from __future__ import annotations

from typing import Any

from agent.config.al_config import validate_al_config
from agent.config.config_json import parse_config_json
from agent.errors import ConfigError, ConfigIssue


def parse_config_body(body: bytes) -> dict[str, Any]:
    """The validated ``config`` of a ``{"config": {...}}`` body.

    Raises:
        ConfigError: with one issue per problem, each with its JSON path.
    """
    try:
        envelope = parse_config_json(body)
    except ConfigError as exc:  # paths relative to the config, as the validator reports them
        raise ConfigError([ConfigIssue("$" + i.path.removeprefix("$.config"), i.message) if i.path.startswith(
            "$.config") else i for i in exc.issues]) from None  # fmt: skip
    if not isinstance(envelope, dict) or "config" not in envelope:
        raise ConfigError([ConfigIssue("$", 'body must be {"config": {...}}')])
    config = envelope["config"]
    if not isinstance(config, dict):
        raise ConfigError([ConfigIssue("$", "config must be a JSON object")])
    try:
        validate_al_config(config)
    except ConfigError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConfigError([ConfigIssue("$", f"invalid configuration ({type(exc).__name__})")]) from None
    return config
