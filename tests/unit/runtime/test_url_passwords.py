"""A URL's password never reaches a log line, whichever URL it is (destination, PostgreSQL, Redis)."""

from __future__ import annotations

import logging

import pytest

from agent.runtime.log_redaction import SecretRedactingFilter, redact

CASES = [
    ("destination https://admin:S3cretPass@hub.example/", "destination https://admin:***@hub.example/"),
    ("postgresql://fs:S3cretPass@db:5432/hub", "postgresql://fs:***@db:5432/hub"),
    ("redis://:S3cretPass@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("two: http://a:S3cretPass@x and http://b:S3cretPass@y", "two: http://a:***@x and http://b:***@y"),
    ("postgresql://user:S3c@ret@db/hub", "postgresql://user:***@db/hub"),  # an '@' inside the password
    ("see:http://u:S3cretPass@h", "see:http://u:***@h"),
    ("no password: http://user@host/ and http://host:8080/a@b", "no password: http://user@host/ and "
     "http://host:8080/a@b"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "masked"), CASES)
def test_a_urls_password_is_masked(line, masked):
    assert redact(line) == masked


def test_the_log_filter_masks_a_url_given_as_an_argument():
    record = logging.LogRecord("agent", logging.INFO, __file__, 1, "destination %s", ("https://u:S3cretPass@h/",), None)
    SecretRedactingFilter().filter(record)
    assert record.getMessage() == "destination https://u:***@h/"
