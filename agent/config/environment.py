"""The one place that reads environment variables.

Every other module receives an :class:`Environment` (or a value taken from one)
instead of looking at ``os.environ`` itself, so the variables framesift honours
are listed here and nowhere else, and tests pass a plain dict.

| variable | meaning |
|---|---|
| ``FRAMESIFT_STATE_DIR``, else ``STATE_DIRECTORY`` (systemd) | state directory |
| ``FRAMESIFT_MODELS_DIR`` | models directory (``project/version/model.onnx``) |
| ``FRAMESIFT_REDIS_URL`` | share limits through Redis (``scan``) |
| ``FRAMESIFT_API_KEY``, ``ROBOFLOW_API_KEY`` (SDK function only) | upload API key |
| ``API_URL`` | destination base URL of the SDK function (as the Roboflow SDK) |
| ``ACTIVE_LEARNING_ENABLED`` | ``false``/``0``/``no`` turns capture off (as the reference) |
| ``ACTIVE_LEARNING_TAGS`` | extra upload tags, comma separated (as the reference) |
| ``FRAMESIFT_CONTROL``, ``FRAMESIFT_CONTROL_TOKEN`` | ``ctl``/``status`` target and bearer token |
| ``FRAMESIFT_HUB_KEYS_FILE`` | the hub's API keys file |
| ``NOTIFY_SOCKET``, ``WATCHDOG_USEC``, ``WATCHDOG_PID`` | systemd notify and watchdog |
| ``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_`` | glibc's own; when set, ``run`` leaves that setting alone |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class Environment:
    """The environment variables framesift reads, parsed (secrets are left out of ``repr``)."""

    state_dir: Path | None = None
    models_dir: Path | None = None
    redis_url: str | None = None
    api_key: str = field(default="", repr=False)
    roboflow_api_key: str = field(default="", repr=False)
    api_url: str | None = None
    active_learning_enabled: bool = True
    active_learning_tags: str = ""
    control_target: str | None = None
    control_token: str | None = field(default=None, repr=False)
    hub_keys_file: Path | None = None
    notify_socket: str | None = None
    watchdog_usec: int | None = None
    watchdog_pid: int | None = None
    malloc_arena_max: int | None = None
    malloc_mmap_threshold: int | None = None


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """Parse ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    state = env.get("FRAMESIFT_STATE_DIR") or env.get("STATE_DIRECTORY") or ""
    return Environment(
        state_dir=_path(state.split(":")[0]),  # systemd may list several directories
        models_dir=_path(env.get("FRAMESIFT_MODELS_DIR")),
        redis_url=env.get("FRAMESIFT_REDIS_URL") or None,
        api_key=env.get("FRAMESIFT_API_KEY", "").strip(),
        roboflow_api_key=env.get("ROBOFLOW_API_KEY", "").strip(),
        api_url=env.get("API_URL") or None,
        active_learning_enabled=env.get("ACTIVE_LEARNING_ENABLED", "true").strip().lower() not in _FALSE,
        active_learning_tags=env.get("ACTIVE_LEARNING_TAGS", ""),
        control_target=env.get("FRAMESIFT_CONTROL") or None,
        control_token=env.get("FRAMESIFT_CONTROL_TOKEN") or None,
        hub_keys_file=_path(env.get("FRAMESIFT_HUB_KEYS_FILE")),
        notify_socket=env.get("NOTIFY_SOCKET") or None,
        watchdog_usec=_int(env.get("WATCHDOG_USEC")),
        watchdog_pid=_int(env.get("WATCHDOG_PID")),
        malloc_arena_max=_int(env.get("MALLOC_ARENA_MAX")),
        malloc_mmap_threshold=_int(env.get("MALLOC_MMAP_THRESHOLD_")),
    )
