"""Where the API key comes from. It is never logged, printed or put in an error."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agent.config.environment import read_environment
from agent.config.secret_files import read_secret_text
from agent.errors import ConfigError, ConfigIssue
from agent.runtime.log_redaction import register_secret


def load_api_key(
    key_file: Path | None = None, environ: Mapping[str, str] | None = None, key_file_option: str = "pass --api-key-file"
) -> str:
    """The key from ``key_file`` when given, else ``FRAMESIFT_API_KEY``.

    ``key_file_option`` names how the caller's user passes a key file (the CLI's flag, or the
    daemon's TOML key), so the "no key" message names an option that exists.

    Raises:
        ConfigError: no key, or an unreadable/empty key file (the message names the file,
            never its content).
    """
    if key_file is not None:
        key = read_secret_text(key_file, "api_key_file").splitlines()[0].strip()
        register_secret(key)
        return key
    key = read_environment(environ).api_key
    if not key:
        raise ConfigError([ConfigIssue("api_key", f"no API key: set FRAMESIFT_API_KEY or {key_file_option}")])
    return key
