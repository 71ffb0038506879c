"""Strict JSON for configuration documents: nothing but ConfigError, whatever the bytes.

Shared by ``framesift config validate``/``scan``/``sample`` (files), ``ctl set-config``
(the daemon's override) and the hub (request bodies). Refused, each with the JSON
path of the offending value: text that is not UTF-8 or not JSON, nesting deeper than
``MAX_DEPTH``, integers beyond 64 bits (a 5,000-digit number included — Python would
refuse to convert it), ``NaN`` and ``Infinity``.
"""

from __future__ import annotations

import json
from typing import Any

from agent.errors import ConfigError, ConfigIssue

MAX_DEPTH = 32
MAX_ABS_INT = 2**63 - 1


class _Refused:
    """A value the JSON parser met but a config may not hold."""

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


def parse_config_json(raw: bytes | str, *, source: str | None = None) -> Any:
    """The decoded document (any JSON value; the caller checks its shape).

    Raises:
        ConfigError: one issue per problem, each with its JSON path (``source`` names the file or body).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([ConfigIssue("$", f"not UTF-8 text (byte {exc.start})")], source=source) from None
    if not _depth_ok(raw):
        raise ConfigError([ConfigIssue("$", f"nested deeper than {MAX_DEPTH} levels")], source=source)
    try:
        document = json.loads(raw, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")],
                          source=source) from None  # fmt: skip
    except (RecursionError, ValueError) as exc:
        raise ConfigError([ConfigIssue("$", f"not valid JSON ({str(exc)[:120]})")], source=source) from None
    issues = _refusals(document, "$")
    if issues:
        raise ConfigError(issues, source=source)
    return document
