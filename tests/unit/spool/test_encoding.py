"""The versioned on-disk encoding: round trips, v1 values, refusals."""

from __future__ import annotations

import dataclasses

import pytest

from agent.limits.store import Credit
from agent.predictions.annotation import Annotation
from agent.spool.encoding import (
    FORMAT_VERSION,
    SpoolFormatError,
    decode_delivery,
    decode_record,
    encode_delivery,
    encode_record,
)
from agent.spool.records import DeliveryState, SpoolItem

ITEM = SpoolItem(
    jpeg=b"\xff\xd8jpeg", sha256="ab" * 32, project="p", batch_name="b", tags=("x", "y"), strategy="s",
    inference_id="inf", annotation=Annotation("inf.json", '{"predictions": []}', "application/json"),
    credit=Credit("s", "b", ("k1", "k2"), "redis"), source="cam-1", created_s=12.5,
)  # fmt: skip
DELIVERY = DeliveryState("dead", attempts=3, server_id="srv", last_error="HTTP 400", bytes=99, created_s=1.0,
                         not_before_s=2.0)  # fmt: skip


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(ITEM, id="full"),
        pytest.param(dataclasses.replace(ITEM, annotation=None, credit=None, tags=()), id="bare"),
        pytest.param(dataclasses.replace(ITEM, annotation=Annotation("a.txt", "cat")), id="text-annotation"),
    ],
)
def test_record_round_trip(item):
    encoded = encode_record(item)
    assert encoded["v"] == FORMAT_VERSION
    assert decode_record(encoded, 1) == item


def test_delivery_round_trip():
    encoded = encode_delivery(DELIVERY)
    assert encoded["v"] == FORMAT_VERSION and decode_delivery(encoded, 1) == DELIVERY


def _v1_record(**changes):
    """What release dd5c4aa stored: asdict(SpoolItem) with dict annotation/credit, no "v"."""
    raw = {"jpeg": b"\xff\xd8jpeg", "sha256": "ab" * 32, "project": "p", "batch_name": "b", "tags": ["x", "y"],
           "strategy": "s", "inference_id": "inf",
           "annotation": {"name": "inf.json", "body": '{"predictions": []}', "content_type": "application/json"},
           "credit": {"strategy": "s", "batch_name": "b", "keys": ["k1", "k2"], "backend": "redis"},
           "source": "cam-1", "created_s": 12.5}  # fmt: skip
    raw.update(changes)
    return raw


def test_v1_record_decodes_typed():
    assert decode_record(_v1_record(), 1) == ITEM


def test_v1_defaults_of_its_reader():
    item = decode_record(_v1_record(annotation={"name": "a.json", "body": "{}"},
                                    credit={"strategy": "s", "batch_name": "b", "keys": []}), 1)  # fmt: skip
    assert item.annotation == Annotation("a.json", "{}", "text/plain")
    assert item.credit == Credit("s", "b", (), "local")


def test_v1_delivery_decodes():
    raw = {"state": "ready", "attempts": 1, "server_id": None, "last_error": "HTTP 503", "bytes": 10,
           "created_s": 5.0, "not_before_s": 0}  # fmt: skip
    assert decode_delivery(raw, 1) == DeliveryState("ready", 1, None, "HTTP 503", 10, 5.0, 0.0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({**encode_record(ITEM), "v": 3}, "format version 3", id="newer"),
        pytest.param("not a dict", "expected dict", id="not-a-dict"),
        pytest.param(
            {k: v for k, v in encode_record(ITEM).items() if k != "sha256"}, "'sha256' is missing", id="missing"
        ),
        pytest.param({**encode_record(ITEM), "jpeg": "text"}, "'jpeg' is str, expected bytes", id="mistyped"),
        pytest.param({**encode_record(ITEM), "tags": ["a", 1]}, "list of strings", id="tags"),
        pytest.param(
            {**encode_record(ITEM), "annotation": {"name": "a", "body": "b"}},
            "'content_type' is missing",
            id="v2-requires-content-type",
        ),
    ],
)
def test_unreadable_records_are_refused(raw, message):
    with pytest.raises(SpoolFormatError, match=message):
        decode_record(raw, 7)


def test_unknown_delivery_state_is_refused():
    with pytest.raises(SpoolFormatError, match="unknown state 'lost'"):
        decode_delivery({**encode_delivery(DELIVERY), "state": "lost"}, 1)
