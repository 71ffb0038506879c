"""The spool's on-disk encoding: explicit, versioned, and able to read every earlier version.

A record is two values, each a dict of plain types (str, int, float, bytes, lists,
None; the storage layer pickles it):

* the item, ``encode_record`` / ``decode_record``::

    {"v": 2, "jpeg": bytes, "sha256": str, "project": str, "batch_name": str,
     "tags": [str, ...], "strategy": str, "inference_id": str,
     "annotation": {"name": str, "body": str, "content_type": str} | None,
     "credit": {"strategy": str, "batch_name": str, "keys": [str, ...], "backend": str} | None,
     "source": str, "created_s": float}

* its delivery state, ``encode_delivery`` / ``decode_delivery``::

    {"v": 2, "state": "ready" | "dead", "attempts": int, "server_id": str | None,
     "last_error": str | None, "bytes": int, "created_s": float, "not_before_s": float}

Version 1 (releases up to dd5c4aa) wrote ``dataclasses.asdict`` of the same fields with
no ``"v"`` key; it is read field by field like version 2, with the defaults that
release's reader applied (annotation ``content_type`` "text/plain", credit ``backend``
"local"). Anything newer than ``FORMAT_VERSION`` is refused with ``SpoolFormatError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from agent.errors import SpoolError
from agent.limits.store import Credit
from agent.predictions.annotation import Annotation
from agent.spool.records import DeliveryState, RecordState, SpoolItem

FORMAT_VERSION = 2
"""The version ``encode_*`` writes; ``decode_*`` reads 1 and 2."""

_READABLE = (1, 2)
_T = TypeVar("_T")


class SpoolFormatError(SpoolError):
    """A stored value this version cannot read (written by a newer framesift, or damaged)."""


def _version(raw: Mapping[str, Any], what: str) -> int:
    version = raw.get("v", 1)  # v1 had no version key
    if version not in _READABLE:
        raise SpoolFormatError(
            f"spool {what} has format version {version!r}; this framesift reads versions "
            f"{', '.join(map(str, _READABLE))} (was the spool written by a newer framesift?)"
        )
    return int(version)


def _field(raw: Mapping[str, Any], key: str, kind: type[_T], what: str) -> _T:
    if key not in raw:
        raise SpoolFormatError(f"spool {what}: field {key!r} is missing")
    value = raw[key]
    if not isinstance(value, kind):
        raise SpoolFormatError(f"spool {what}: field {key!r} is {type(value).__name__}, expected {kind.__name__}")
    return value


def _optional_str(raw: Mapping[str, Any], key: str, what: str) -> str | None:
    return None if raw.get(key) is None else _field(raw, key, str, what)


def _seconds(raw: Mapping[str, Any], key: str, what: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpoolFormatError(f"spool {what}: field {key!r} is {type(value).__name__}, expected float")
    return float(value)


def _strings(raw: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    values = raw.get(key)
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise SpoolFormatError(f"spool {what}: field {key!r} must be a list of strings")
    return tuple(values)


def _mapping(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise SpoolFormatError(f"spool {what} is {type(raw).__name__}, expected dict")
    return raw


# ------------------------------------------------------------------ item


def encode_record(item: SpoolItem) -> dict[str, Any]:
    """The stored form (current version) of ``item``."""
    annotation = item.annotation
    credit = item.credit
    return {
        "v": FORMAT_VERSION,
        "jpeg": bytes(item.jpeg),
        "sha256": item.sha256,
        "project": item.project,
        "batch_name": item.batch_name,
        "tags": list(item.tags),
        "strategy": item.strategy,
        "inference_id": item.inference_id,
        "annotation": None
        if annotation is None
        else {"name": annotation.name, "body": annotation.body, "content_type": annotation.content_type},
        "credit": None
        if credit is None
        else {
            "strategy": credit.strategy,
            "batch_name": credit.batch_name,
            "keys": list(credit.keys),
            "backend": credit.backend,
        },
        "source": item.source,
        "created_s": float(item.created_s),
    }


def decode_record(stored: object, seq: int) -> SpoolItem:
    """The item stored as ``stored`` (any readable version) for record ``seq``.

    Raises:
        SpoolFormatError: not a dict, unknown version, missing or mistyped field.
    """
    what = f"record {seq}"
    raw = _mapping(stored, what)
    version = _version(raw, what)
    return SpoolItem(
        jpeg=_field(raw, "jpeg", bytes, what),
        sha256=_field(raw, "sha256", str, what),
        project=_field(raw, "project", str, what),
        batch_name=_field(raw, "batch_name", str, what),
        tags=_strings(raw, "tags", what),
        strategy=_field(raw, "strategy", str, what),
        inference_id=_field(raw, "inference_id", str, what),
        annotation=_decode_annotation(raw.get("annotation"), version, what),
        credit=_decode_credit(raw.get("credit"), version, what),
        source=_field(raw, "source", str, what),
        created_s=_seconds(raw, "created_s", what),
    )


def _decode_annotation(raw: object, version: int, what: str) -> Annotation | None:
    if raw is None:
        return None
    what = f"{what} annotation"
    fields = _mapping(raw, what)
    v1_default = version == 1 and "content_type" not in fields  # v1's reader defaulted it
    return Annotation(
        _field(fields, "name", str, what),
        _field(fields, "body", str, what),
        "text/plain" if v1_default else _field(fields, "content_type", str, what),
    )


def _decode_credit(raw: object, version: int, what: str) -> Credit | None:
    if raw is None:
        return None
    what = f"{what} credit"
    fields = _mapping(raw, what)
    v1_default = version == 1 and "backend" not in fields  # v1's reader defaulted it
    return Credit(
        _field(fields, "strategy", str, what),
        _field(fields, "batch_name", str, what),
        _strings(fields, "keys", what),
        "local" if v1_default else _field(fields, "backend", str, what),
    )


# ------------------------------------------------------------------ delivery state


def encode_delivery(delivery: DeliveryState) -> dict[str, Any]:
    """The stored form (current version) of a record's delivery state."""
    return {
        "v": FORMAT_VERSION,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "server_id": delivery.server_id,
        "last_error": delivery.last_error,
        "bytes": delivery.bytes,
        "created_s": float(delivery.created_s),
        "not_before_s": float(delivery.not_before_s),
    }


def decode_delivery(stored: object, seq: int) -> DeliveryState:
    """The delivery state stored as ``stored`` (any readable version) for record ``seq``.

    Raises:
        SpoolFormatError: not a dict, unknown version, unknown state, missing or mistyped field.
    """
    what = f"delivery state {seq}"
    raw = _mapping(stored, what)
    _version(raw, what)
    state = _field(raw, "state", str, what)
    if state not in ("ready", "dead"):
        raise SpoolFormatError(f"spool {what}: unknown state {state!r}")
    record_state: RecordState = "ready" if state == "ready" else "dead"
    return DeliveryState(
        state=record_state,
        attempts=_field(raw, "attempts", int, what),
        server_id=_optional_str(raw, "server_id", what),
        last_error=_optional_str(raw, "last_error", what),
        bytes=_field(raw, "bytes", int, what),
        created_s=_seconds(raw, "created_s", what),
        not_before_s=_seconds(raw, "not_before_s", what),
    )
