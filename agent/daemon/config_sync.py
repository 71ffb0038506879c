"""ConfigHolder and ConfigSyncer: the active-learning config, kept fresh and kept offline.

Precedence, decided in one place (``ConfigHolder._pick``):

1. a local override (``SetConfig`` / ``ctl set-config``), persisted, until cleared;
2. the server's config, once the server has answered with one;
3. the last good config the server sent (persisted), while the server has not answered
   (unreachable, or not asked yet) — the reference disables active learning instead;
4. the local ``[active_learning] config_file``;
5. the built-in default (``EMBEDDED_DEFAULT``).

A server that has no config for the project (404, or the bare ``{"enabled": false}``
that the reference treats as "none") drops 2 and 3, so the file or the default apply:
a project nobody configured does not silently switch capture off. A server config
that disables collection explicitly (``enabled: false`` with anything else set) is
obeyed. An invalid remote config keeps the previous one and is reported. Swaps happen
between batches: the pipeline reads ``holder.current`` once per batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.config.al_config import validate_al_config
from agent.config.snapshot import EMBEDDED_DEFAULT, ConfigSnapshot
from agent.control.facade import SyncResult, SyncState
from agent.errors import ConfigError, DiskFullError, UploadError, UploadRejectedError
from agent.runtime.atomic_file import write_atomic
from agent.runtime.disk_full import disk_full_as_error
from agent.runtime.threads import join_or_warn
from agent.upload.client import UploadClient

logger = logging.getLogger(__name__)


def _persist(path: Path, text: str) -> None:
    """Write a config cache file; on a full disk keep going with the config in memory (warned)."""
    try:
        with disk_full_as_error(f"config cache {path}", path.parent):
            write_atomic(path, text)
    except DiskFullError as exc:
        logger.warning("%s: the config applies now but is not saved for the next start", exc)


def means_no_config(document: dict[str, Any]) -> bool:
    """True for the document a server sends for a project without a config: ``{"enabled": false}`` alone."""
    return set(document) == {"enabled"} and document["enabled"] is False


class ConfigHolder:
    """Holds the current snapshot; thread-safe; notifies subscribers on change."""

    def __init__(self, state_dir: Path, config_file: Path | None = None) -> None:
        self.last_good_path = state_dir / "al-config.json"
        self.override_path = state_dir / "al-override.json"
        self.config_file = config_file
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ConfigSnapshot], None]] = []
        self._version = 0
        self.server_has_config: bool | None = None  # None until the server answers
        self.remote: ConfigSnapshot | None = self._load(self.last_good_path, "last-good")
        self.override: ConfigSnapshot | None = self._load(self.override_path, "local-override")
        self.file: ConfigSnapshot | None = self._load(config_file, "file") if config_file else None
        self.current = self._pick()

    def _load(self, path: Path | None, origin: str) -> ConfigSnapshot | None:
        if path is None or not path.exists():
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if origin == "last-good" and isinstance(document, dict) and "config" in document:
                etag = document.get("etag")
                document = document["config"]
            else:
                etag = None
            return ConfigSnapshot(validate_al_config(document, source=str(path)), document, origin, etag)
        except (OSError, json.JSONDecodeError, ConfigError) as exc:
            logger.warning("ignoring active-learning config %s: %s", path, exc)
            return None

    def _pick(self) -> ConfigSnapshot:
        """The precedence of the module docstring."""
        for snap in (self.override, self.remote, self.file):
            if snap is not None:
                return snap
        return ConfigSnapshot(validate_al_config(EMBEDDED_DEFAULT), EMBEDDED_DEFAULT, "default")

    def reason(self, sync: SyncResult) -> str:
        """Why the config in force is the one it is (for ``status``)."""
        origin = self.current.origin
        if origin == "local-override":
            return "local override set with `framesift ctl set-config FILE` (wins until `framesift ctl set-config -`)"
        if origin == "remote":
            return "the server's config for this project"
        if origin == "last-good":
            why = "the server has not answered yet" if sync.state is SyncState.NEVER else f"config sync: {sync}"
            return f"{why}; using the last good config the server sent"
        lead = ("the server has no config for this project" if self.server_has_config is False
                else "the server has not answered yet" if sync.state is SyncState.NEVER
                else f"config sync: {sync}")  # fmt: skip
        if origin == "file":
            return f"{lead}; using the local config file {self.config_file}"
        return f"{lead}; using the built-in default (10 % of frames, at most 100 an hour)"

    def subscribe(self, listener: Callable[[ConfigSnapshot], None]) -> None:
        """Call ``listener(snapshot)`` after every change."""
        self._listeners.append(listener)

    def _publish(self) -> ConfigSnapshot:
        with self._lock:
            self._version += 1
            pick = self._pick()
            self.current = ConfigSnapshot(pick.config, pick.document, pick.origin, pick.etag, self._version)
            snap = self.current
        for listener in self._listeners:
            listener(snap)
        return snap

    def set_remote(self, document: dict[str, Any], etag: str | None) -> ConfigSnapshot:
        """Validate and adopt the server's config; persist it as last good."""
        config = validate_al_config(document, source="remote")
        self.remote = ConfigSnapshot(config, document, "remote", etag)
        self.server_has_config = True
        _persist(self.last_good_path, json.dumps({"config": document, "etag": etag}))
        return self._publish()

    def confirm_remote(self) -> ConfigSnapshot:
        """The server answered with the config already held (304 or the same document)."""
        self.server_has_config = True
        if self.remote is not None and self.remote.origin != "remote":
            self.remote = replace(self.remote, origin="remote")
            return self._publish()
        return self.current

    def set_remote_absent(self) -> ConfigSnapshot:
        """The server has no config for this project: the local file or the default apply."""
        self.server_has_config = False
        if self.remote is None:
            return self.current
        self.remote = None
        self.last_good_path.unlink(missing_ok=True)
        return self._publish()

    def set_override(self, document: dict[str, Any] | None) -> ConfigSnapshot:
        """Set (or clear with None) the local override; persisted across restarts."""
        if document is None:
            self.override = None
            self.override_path.unlink(missing_ok=True)
        else:
            self.override = ConfigSnapshot(validate_al_config(document, source="override"), document,
                                           "local-override")  # fmt: skip
            _persist(self.override_path, json.dumps(document))
        return self._publish()


class ConfigSyncer:
    """A thread that fetches ``/{workspace}/{project}/active_learning`` periodically."""

    def __init__(self, holder: ConfigHolder, client: UploadClient, workspace: str, project: str,
                 interval_s: float) -> None:  # fmt: skip
        self.holder = holder
        self.client = client
        self.path = f"{workspace}/{project}/active_learning"
        self.interval_s = interval_s
        self.last_result = SyncResult()
        self.last_sync_mono: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="config-sync", daemon=True)

    def start(self) -> None:
        """Sync now, then every ``interval_s``."""
        self._thread.start()

    def sync_now(self) -> SyncResult:
        """One fetch; returns the result (also kept in ``last_result``)."""
        self.last_result = self._fetch()
        return self.last_result

    def _fetch(self) -> SyncResult:
        remote = self.holder.remote
        etag = remote.etag if remote is not None and self.holder.server_has_config is not False else None
        try:
            status, body, new_etag = self.client.get_json(self.path, etag)
        except UploadRejectedError as exc:
            if exc.status_code == 404:
                self.last_sync_mono = time.monotonic()
                self.holder.set_remote_absent()
                return SyncResult(SyncState.NO_CONFIG)
            return SyncResult(SyncState.REJECTED, str(exc))
        except UploadError as exc:
            return SyncResult(SyncState.OFFLINE, str(exc))
        self.last_sync_mono = time.monotonic()
        if status == 304 or body is None:
            self.holder.confirm_remote()
            return SyncResult(SyncState.NOT_MODIFIED)
        if means_no_config(body):
            self.holder.set_remote_absent()
            return SyncResult(SyncState.NO_CONFIG)
        if remote is not None and body == remote.document:
            self.holder.confirm_remote()
            return SyncResult(SyncState.UNCHANGED)
        try:
            self.holder.set_remote(body, new_etag)
        except ConfigError as exc:
            logger.warning("remote active-learning config refused, keeping the previous one: %s", exc)
            return SyncResult(SyncState.INVALID, str(exc))
        logger.warning("active-learning config updated from %s", self.client.base_url)
        return SyncResult(SyncState.OK)

    def trigger(self) -> None:
        """Sync as soon as possible (ReloadConfig)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sync_now()
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        join_or_warn(self._thread, timeout_s, "config sync")
