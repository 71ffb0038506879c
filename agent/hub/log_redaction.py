"""Keep API keys out of every log line: a filter that masks ``api_key=…`` and any known key.

Installed on the root logger's handlers and on uvicorn's loggers (its access log prints the
query string, which carries ``api_key``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_QUERY_KEY = re.compile(r"(api_key=)[^&\s\"']*", re.IGNORECASE)
MASK = "***"


class ApiKeyRedactor(logging.Filter):
    """Rewrites each record's message with ``api_key=***`` and known keys masked."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        super().__init__()
        self._keys = sorted((k for k in keys if k), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every key masked."""
        text = _QUERY_KEY.sub(r"\1" + MASK, text)
        for key in self._keys:
            text = text.replace(key, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the message now, masked, and drop the arguments."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(keys: Iterable[str]) -> ApiKeyRedactor:
    """Attach one redactor to uvicorn's loggers and to every root handler."""
    redactor = ApiKeyRedactor(keys)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "agent"):
        logging.getLogger(name).addFilter(redactor)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor
