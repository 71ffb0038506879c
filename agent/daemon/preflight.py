"""preflight: every check ``framesift run`` would fail on, made before anything starts.

``run --check`` and ``run`` call the same function, so a configuration that ``--check``
accepts starts, and one that would stop the daemon is refused up front with every
problem named by its TOML path.
"""

from __future__ import annotations

from pathlib import Path

from agent.config.agent_settings import AgentSettings
from agent.config.al_config import load_al_config
from agent.config.secret_files import read_secret_text
from agent.errors import ConfigError, ConfigIssue, ModelNotFoundError
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.limits.redis_store import RedisLimitStore


def _readable(path: Path | None, where: str, issues: list[ConfigIssue]) -> None:
    if path is None:
        return
    try:
        path.read_bytes()
    except OSError as exc:
        issues.append(ConfigIssue(where, f"cannot read {path}: {exc.strerror or exc}"))


def _tls_pair(cert: Path, key: Path, issues: list[ConfigIssue]) -> None:
    """The certificate and key must be PEM and belong together (else gRPC fails to bind, with no reason)."""
    import ssl

    try:
        # password: an encrypted key must fail here, not make OpenSSL ask for a pass phrase on the terminal
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=lambda: b"")
    except (ssl.SSLError, OSError):  # OpenSSL's own reason ("PEM lib") says no more than this
        issues.append(ConfigIssue("$.control.tls_cert", f"{cert} and {key} are not a PEM certificate and its "
                                  "matching private key (unencrypted: gRPC cannot ask for a pass phrase)"))  # fmt: skip


def _listen_address(value: str, where: str, issues: list[ConfigIssue]) -> None:
    _, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        issues.append(ConfigIssue(where, f"{value!r} is not HOST:PORT"))


def preflight(settings: AgentSettings, *, source: str | None = None) -> None:
    """Raise ConfigError listing everything that would keep the daemon from starting.

    Checks: the control listener (TCP needs TLS and a token, each file readable), the metrics
    address, the model id or file, the local active-learning config file, the Redis URL.
    """
    issues: list[ConfigIssue] = []
    control = settings.control
    listen = settings.control_listen
    issues += control.tcp_issues(listen)
    if not listen.startswith("unix:"):
        _listen_address(listen.removeprefix("tcp:"), "$.control.listen", issues)
    unreadable = len(issues)
    _readable(control.tls_cert, "$.control.tls_cert", issues)
    _readable(control.tls_key, "$.control.tls_key", issues)
    if len(issues) == unreadable and control.tls_cert is not None and control.tls_key is not None:
        _tls_pair(control.tls_cert, control.tls_key, issues)
    if control.token_file is not None:
        try:
            read_secret_text(control.token_file, "$.control.token_file")
        except ConfigError as exc:
            issues.extend(exc.issues)
    if settings.metrics.listen:
        _listen_address(settings.metrics.listen, "$.metrics.listen", issues)
    for index, section in enumerate(settings.sources):  # a stream may come back later; a file or folder will not
        path = Path(section.path)
        plain_file = "://" not in section.path and "%" not in section.path  # not a stream, an image sequence
        if section.type == "video" and plain_file and not path.exists():
            issues.append(ConfigIssue(f"$.sources[{index}].path", f"{path}: no such video file"))
        elif section.type == "folder" and path.exists() and not path.is_dir():
            issues.append(ConfigIssue(f"$.sources[{index}].path", f"{path} is a file, not a folder"))
    try:
        ModelRegistry(settings.agent.models_dir or default_models_dir()).resolve(settings.model.id)
    except ModelNotFoundError as exc:
        issues.append(ConfigIssue("$.model.id", str(exc)))
    if settings.active_learning.config_file is not None:
        try:
            load_al_config(settings.active_learning.config_file)
        except ConfigError as exc:
            issues.extend(ConfigIssue(f"$.active_learning.config_file ({i.path})", i.message) for i in exc.issues)
    if settings.active_learning.redis_url:  # the store's own reading of the URL (no connection is made)
        try:
            RedisLimitStore(settings.active_learning.redis_url)
        except ConfigError as exc:
            issues.extend(ConfigIssue("$.active_learning.redis_url", i.message) for i in exc.issues)
    if issues:
        raise ConfigError(issues, source=source)
