"""Parse an active-learning config request body without ever raising anything but ConfigError.

Refused with the JSON path of the offending value: bodies that are not UTF-8, not JSON,
nested deeper than ``MAX_DEPTH``, integers beyond 64 bits (a 5,000-digit number included),
``NaN``/``Infinity``; then the config validator's own issues.
"""

from __future__ import annotations

import json
from typing import Any

from agent.config.al_config import validate_al_config
from agent.errors import ConfigError, ConfigIssue

MAX_DEPTH = 32
MAX_ABS_INT = 2**63 - 1


class _Refused:
    """A value the JSON parser met but the config may not hold."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse_int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_ABS_INT:
        return _Refused(f"integer {text[:24]}{'…' if len(text) > 24 else ''} is larger than 64 bits")
    return int(text)


def _parse_constant(text: str) -> _Refused:
    return _Refused(f"{text} is not a number JSON allows")


def _depth_ok(text: str) -> bool:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _refusals(value: Any, path: str) -> list[ConfigIssue]:
    if isinstance(value, _Refused):
        return [ConfigIssue(path, value.reason)]
    if isinstance(value, dict):
        return [i for k, v in value.items() for i in _refusals(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [i for n, v in enumerate(value) for i in _refusals(v, f"{path}[{n}]")]
    return []


def parse_config_body(body: bytes) -> dict[str, Any]:
    """The validated ``config`` of a ``{"config": {...}}`` body.

    Raises:
        ConfigError: with one issue per problem, each with its JSON path.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue("$", f"the body is not UTF-8 (byte {exc.start})")]) from None
    if not _depth_ok(text):
        raise ConfigError([ConfigIssue("$", f"nested deeper than {MAX_DEPTH} levels")])
    try:
        envelope = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ConfigError([ConfigIssue("$", f"not valid JSON ({str(exc)[:120]})")]) from None
    if not isinstance(envelope, dict) or "config" not in envelope:
        raise ConfigError([ConfigIssue("$", 'body must be {"config": {...}}')])
    issues = _refusals(envelope["config"], "$")
    if issues:
        raise ConfigError(issues)
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
