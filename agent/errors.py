"""The one error hierarchy of framesift.

Every error the agent raises on purpose derives from :class:`FramesiftError`.
``retryable`` says whether trying the same operation again later can succeed
(a network blip, a busy server) or not (bad input, a rejected upload)::

    FramesiftError
    ├── DependencyError            a Python package is missing (names the package)
    ├── PathArgumentError          a command-line path is missing or of the wrong kind
    ├── ConfigError                invalid configuration; carries JSON-path issues
    ├── ImageError                 a frame could not be read
    │   ├── ImageDecodeError       truncated, empty, not an image, unsupported
    │   └── ImageTooLargeError     pixel count above the decompression-bomb limit
    ├── InferenceError
    │   ├── ModelNotFoundError     model id/path resolves to nothing
    │   ├── ModelLoadError         onnxruntime refused the file or a provider
    │   ├── ProviderUnavailableError  requested execution provider not present
    │   └── ModelOutputError       outputs do not have the expected layout
    ├── AgentUnavailableError      (retryable) no model loaded, or the agent is stopping
    ├── DiskFullError              (retryable) a write found the disk full (ENOSPC, SQLITE_FULL)
    ├── LimitBackendError          (retryable) the shared limit store is unreachable
    ├── CorruptStateError          the local limit store is not a readable SQLite file (the spool: SpoolError)
    ├── SourceFailedError          a source cannot go on (a missing video file)
    ├── SpoolError
    │   └── SpoolFullError         the spool is at its cap and the policy rejects
    └── UploadError
        ├── UploadTransportError   (retryable) connect/read errors, timeouts
        ├── UploadServerError      (retryable) 5xx, 408, 429
        └── UploadRejectedError    4xx: permanent, goes to the dead-letter area
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class FramesiftError(Exception):
    """Base of every error framesift raises deliberately."""

    retryable: ClassVar[bool] = False


class DependencyError(FramesiftError):
    """A required Python package is not installed."""


class PathArgumentError(FramesiftError):
    """A path given on the command line does not exist or is not what the option needs."""

    def __init__(self, option: str, path: object, reason: str) -> None:
        super().__init__(f"{option} {path}: {reason}")


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration document.

    Attributes:
        path: JSON path of the offending field, e.g. ``$.sampling_strategies[0].name``.
        message: Why the value is refused.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(FramesiftError):
    """Invalid configuration. ``issues`` lists every problem with its JSON path."""

    def __init__(self, issues: list[ConfigIssue] | str, *, source: str | None = None) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue("$", issues)]
        self.issues = issues
        self.source = source
        where = f"{source}: " if source else ""
        lines = "; ".join(str(i) for i in issues)
        super().__init__(f"{where}invalid configuration: {lines}")


class ImageError(FramesiftError):
    """A frame could not be turned into pixels."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ImageDecodeError(ImageError):
    """The bytes are not a decodable image (empty, truncated, unknown format)."""


class ImageTooLargeError(ImageError):
    """The image declares more pixels than the configured limit."""


class InferenceError(FramesiftError):
    """Base for model loading and running errors."""


class ModelNotFoundError(InferenceError):
    """A model id or path does not resolve to a model file."""


class ModelLoadError(InferenceError):
    """onnxruntime could not load the model."""


class ProviderUnavailableError(InferenceError):
    """An explicitly requested execution provider is not available."""


class ModelOutputError(InferenceError):
    """The model's outputs do not match the layout its task requires."""


class AgentUnavailableError(FramesiftError):
    """The request needs something the agent does not have right now (no model, stopping)."""

    retryable = True


class DiskFullError(FramesiftError):
    """A write found no space left (ENOSPC/EDQUOT, SQLite's "database or disk is full").

    Retryable: uploads drain the spool and free space, then writes succeed again.
    """

    retryable = True


class LimitBackendError(FramesiftError):
    """The limit store (Redis) could not be reached."""

    retryable = True


class SourceFailedError(FramesiftError):
    """A source cannot go on, for the reason its message states (a missing video file, say)."""


class CorruptStateError(FramesiftError):
    """A local database is unreadable (not SQLite, or damaged); the message says which and what to do."""


class SpoolError(FramesiftError):
    """The durable spool failed."""


class SpoolFullError(SpoolError):
    """The spool is at its cap and its overflow policy is ``reject_new``.

    ``stored`` holds the sequence numbers of the frames of the group that did fit (the
    cap counts frames: a group fills the spool up to the cap, the rest is refused).
    """

    def __init__(self, message: str, *, stored: list[int] | None = None) -> None:
        self.stored = list(stored or [])
        super().__init__(message)


class UploadError(FramesiftError):
    """Base for errors talking to the upload destination."""


class UploadTransportError(UploadError):
    """Connection refused, reset, DNS failure or timeout."""

    retryable = True


class UploadServerError(UploadError):
    """The server answered 5xx, 408 or 429; try again later."""

    retryable = True

    def __init__(self, message: str, *, status_code: int, retry_after_s: float | None = None):
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        super().__init__(message)


class UploadRejectedError(UploadError):
    """The server refused the request (4xx); retrying the same request cannot succeed."""

    def __init__(self, message: str, *, status_code: int):
        self.status_code = status_code
        super().__init__(message)
