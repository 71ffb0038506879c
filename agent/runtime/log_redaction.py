"""Keep secrets out of every log line, for the agent, scan, the SDK function and the hub.

Two layers, both installed by :func:`install_redaction`:

* a filter on the root handlers and on chatty libraries' loggers (httpx logs every
  request URL at INFO, and Roboflow's API carries the key in the query string;
  uvicorn's access log prints query strings): it formats the message now, masked;
* a formatter wrapper on the root handlers that masks the final line, traceback
  included (exception text is formatted after filters run).

Masked: ``api_key=…`` in any URL, the password of ``scheme://user:password@host``, ``Bearer …``
tokens, and every secret registered
with :func:`register_secret` (the API key once it is loaded, the hub's keys, the
control token).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "***"
_QUERY_KEY = re.compile(r"(api_key=)[^&\s\"'<>]*", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"((?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/@\s:]*:)[^/\s]*(@)")
"""``scheme://user:password@host``: the password (destination, PostgreSQL and Redis URLs)."""
_LOGGERS = ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error", "agent", "framesift")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Mask ``value`` from now on wherever it appears (values shorter than 4 characters are ignored)."""
    global _secrets
    if not value or len(value) < 4:
        return
    with _lock:
        if value not in _secrets:
            _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` with query-string keys, bearer tokens and registered secrets masked."""
    text = _QUERY_KEY.sub(r"\1" + MASK, text)
    text = _BEARER.sub(r"\1" + MASK, text)
    text = _URL_PASSWORD.sub(r"\1" + MASK + r"\2", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretRedactingFilter(logging.Filter):
    """Formats each record's message now, masked, and drops its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class SecretRedactingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks the finished line (tracebacks included)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


_FILTER = SecretRedactingFilter()


def install_redaction(secrets: Iterable[str] = ()) -> SecretRedactingFilter:
    """Register ``secrets`` and mask them on every root handler and on the libraries that log URLs.

    Idempotent: call it again after adding handlers (e.g. once the log level is configured).
    """
    for secret in secrets:
        register_secret(secret)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
        if not isinstance(handler.formatter, SecretRedactingFormatter):
            handler.setFormatter(SecretRedactingFormatter(handler.formatter))
    return _FILTER
