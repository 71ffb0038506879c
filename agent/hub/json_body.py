"""Parse JSON a client sent the hub: every refusal is one :class:`HubInputError`, never a 500.

Python's parser accepts more than JSON (``NaN``, ``Infinity``, ``1e999`` as infinity) and raises
``ValueError`` for an integer over 4,300 digits, ``RecursionError`` for deep nesting; each of those
is refused here with what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agent.hub.errors import HubInputError


class _NotJsonError(ValueError):
    """A value Python reads but JSON has no such thing (raised inside the parser)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonError(f"{text[:20]} is beyond a 64-bit float")
    return value


def _no_constant(name: str) -> Any:
    raise _NotJsonError(f"{name} is not JSON")


def parse_json(data: bytes | str, what: str, hint: str | None = None) -> Any:
    """The JSON document in ``data`` (``what`` names it in the error, e.g. "query parameter 'metadata'").

    Raises:
        HubInputError: not UTF-8, not JSON, nested too deeply, a number too long or not finite.
    """
    try:
        return json.loads(data, parse_float=_finite, parse_constant=_no_constant)
    except _NotJsonError as exc:
        reason = str(exc)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    except RecursionError:
        reason = "nested too deeply"
    except ValueError:  # int() refuses more than 4,300 digits
        reason = "a number has too many digits"
    raise HubInputError(f"{what} is not valid JSON: {reason}", hint=hint)
