"""ConfigHolder and ConfigSyncer: the active-learning config, kept fresh and kept offline.

Precedence: a local override (``SetConfig``) > the last good remote config > the
local ``config_file`` > ``{"enabled": false}``. The last good remote config is
persisted (atomic write) and used at start when the server cannot be reached
(the reference disables active learning in that case). An invalid remote config
keeps the previous one and is reported. Swaps happen between batches: the
pipeline reads ``holder.current`` once per batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config.al_config import validate_al_config
from agent.config.snapshot import EMBEDDED_DEFAULT, ConfigSnapshot
from agent.control.facade import SyncResult, SyncState
from agent.errors import ConfigError, UploadError
from agent.runtime.atomic_file import write_atomic
from agent.runtime.threads import join_or_warn
from agent.upload.client import UploadClient

logger = logging.getLogger(__name__)


class ConfigHolder:
    """Holds the current snapshot; thread-safe; notifies subscribers on change."""

    def __init__(self, state_dir: Path, config_file: Path | None = None) -> None:
        self.last_good_path = state_dir / "al-config.json"
        self.override_path = state_dir / "al-override.json"
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ConfigSnapshot], None]] = []
        self._version = 0
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
        for snap in (self.override, self.remote, self.file):
            if snap is not None:
                return snap
        return ConfigSnapshot(validate_al_config(EMBEDDED_DEFAULT), EMBEDDED_DEFAULT, "default")

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
        """Validate and adopt a remote config; persist it as last good."""
        config = validate_al_config(document, source="remote")
        self.remote = ConfigSnapshot(config, document, "remote", etag)
        write_atomic(self.last_good_path, json.dumps({"config": document, "etag": etag}))
        return self._publish()

    def set_override(self, document: dict[str, Any] | None) -> ConfigSnapshot:
        """Set (or clear with None) the local override; persisted across restarts."""
        if document is None:
            self.override = None
            self.override_path.unlink(missing_ok=True)
        else:
            self.override = ConfigSnapshot(validate_al_config(document, source="override"), document,
                                           "local-override")  # fmt: skip
            write_atomic(self.override_path, json.dumps(document))
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
        etag = self.holder.remote.etag if self.holder.remote else None
        try:
            status, body, new_etag = self.client.get_json(self.path, etag)
        except UploadError as exc:
            self.last_result = SyncResult(SyncState.OFFLINE, str(exc))
            return self.last_result
        self.last_sync_mono = time.monotonic()
        if status == 304 or body is None:
            self.last_result = SyncResult(SyncState.NOT_MODIFIED)
            return self.last_result
        if self.holder.remote is not None and body == self.holder.remote.document:
            self.last_result = SyncResult(SyncState.UNCHANGED)
            return self.last_result
        try:
            self.holder.set_remote(body, new_etag)
        except ConfigError as exc:
            self.last_result = SyncResult(SyncState.INVALID, str(exc))
            logger.warning("remote active-learning config refused, keeping the previous one: %s", exc)
            return self.last_result
        self.last_result = SyncResult(SyncState.OK)
        logger.warning("active-learning config updated from %s", self.client.base_url)
        return self.last_result

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
