"""Read a secret (API key, bearer token, the hub's key list) from a file: clear errors that name the
file and what is wrong with it, never its content."""

from __future__ import annotations

from pathlib import Path

from agent.errors import ConfigError, ConfigIssue


def read_secret_text(path: Path, where: str, *, allow_empty: bool = False) -> str:
    """The file's text, stripped (``where`` names the setting or option in the error).

    Raises:
        ConfigError: missing, unreadable, a directory, not UTF-8 text, or empty (unless ``allow_empty``).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(where, f"cannot read {path}: {exc.strerror or type(exc).__name__}")]) from None
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(where, f"{path} is not UTF-8 text (a binary file?)")]) from None
    if not text and not allow_empty:
        raise ConfigError([ConfigIssue(where, f"{path} is empty")])
    return text
