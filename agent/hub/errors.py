"""The hub's errors, each with the HTTP status and Roboflow error ``type`` it answers with.

They derive from :class:`agent.errors.FramesiftError` (the one hierarchy). Every error the
hub sends has Roboflow's shape::

    {"error": {"message": "...", "type": "...", "hint": "..."}}

Messages never contain an API key: they are built from names and ids only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.errors import FramesiftError


class HubError(FramesiftError):
    """A request the hub refuses; ``status`` and ``kind`` become the HTTP answer."""

    status: ClassVar[int] = 400
    kind: ClassVar[str] = "InvalidParameterException"

    def __init__(self, message: str, hint: str | None = None, **extra: Any) -> None:
        self.message = message
        self.hint = hint
        self.extra = extra
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        """The Roboflow-shaped JSON body."""
        inner: dict[str, Any] = {"message": self.message, "type": self.kind}
        if self.hint:
            inner["hint"] = self.hint
        inner.update(self.extra)
        return {"error": inner}


class HubInputError(HubError):
    """Bad parameter, name or body (400)."""


class InvalidImageError(HubError):
    """The upload is not an image the hub accepts (400)."""

    kind = "InvalidImageException"


class AnnotationFormatError(HubError):
    """An annotation file that cannot be parsed; the message says where and why (400)."""

    kind = "InvalidAnnotationException"


class UnsupportedError(HubError):
    """A Roboflow feature this hub does not implement (501)."""

    status = 501
    kind = "NotSupportedException"


class UnauthorizedError(HubError):
    """Missing or unknown API key (401)."""

    status = 401
    kind = "UnauthorizedError"


class NotFoundError(HubError):
    """No such image, project or route (404)."""

    status = 404


class AlreadyAnnotatedError(HubError):
    """The image has an annotation and ``overwrite`` was not asked for (409)."""

    status = 409
    kind = "AlreadyAnnotatedException"


class PayloadTooLargeError(HubError):
    """The body is over the configured limit (413)."""

    status = 413
    kind = "PayloadTooLargeException"


class FetchError(HubError):
    """A hosted image URL could not be fetched (400; 502 with ``retryable`` when the host failed)."""

    kind = "ImageFetchException"


class FetchUnavailableError(FetchError):
    """The hosted image's host failed or was unreachable; trying later may work (502)."""

    status = 502
    retryable = True


class InsufficientStorageError(HubError):
    """The disk or database is full (ENOSPC, SQLITE_FULL); nothing was stored (507)."""

    status = 507
    kind = "InsufficientStorageException"
    retryable = True


class StorageUnavailableError(HubError):
    """The database could not be reached (503)."""

    status = 503
    kind = "ServiceUnavailableException"
    retryable = True
