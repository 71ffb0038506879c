"""preflight: every check ``framesift run`` would fail on, made before anything starts.

``run --check`` and ``run`` call the same function, so a configuration that ``--check``
accepts starts, and one that would stop the daemon is refused up front with every
problem named by its TOML path.
"""

from __future__ import annotations

from pathlib import Path

from agent.config.agent_settings import AgentSettings
from agent.config.al_config import load_al_config
from agent.errors import ConfigError, ConfigIssue, ModelNotFoundError
from agent.inference.registry import ModelRegistry, default_models_dir


def _readable(path: Path | None, where: str, issues: list[ConfigIssue], *, non_empty: bool = False) -> None:
    if path is None:
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        issues.append(ConfigIssue(where, f"cannot read {path}: {exc.strerror or exc}"))
        return
    if non_empty and not data.strip():
        issues.append(ConfigIssue(where, f"{path} is empty"))


def _listen_address(value: str, where: str, issues: list[ConfigIssue]) -> None:
    _, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
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
    _readable(control.tls_cert, "$.control.tls_cert", issues)
    _readable(control.tls_key, "$.control.tls_key", issues)
    _readable(control.token_file, "$.control.token_file", issues, non_empty=True)
    if settings.metrics.listen:
        _listen_address(settings.metrics.listen, "$.metrics.listen", issues)
    try:
        ModelRegistry(settings.agent.models_dir or default_models_dir()).resolve(settings.model.id)
    except ModelNotFoundError as exc:
        issues.append(ConfigIssue("$.model.id", str(exc)))
    if settings.active_learning.config_file is not None:
        try:
            load_al_config(settings.active_learning.config_file)
        except ConfigError as exc:
            issues.extend(ConfigIssue(f"$.active_learning.config_file ({i.path})", i.message) for i in exc.issues)
    redis_url = settings.active_learning.redis_url
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        issues.append(ConfigIssue("$.active_learning.redis_url", "must start with redis://, rediss:// or unix://"))
    if issues:
        raise ConfigError(issues, source=source)
