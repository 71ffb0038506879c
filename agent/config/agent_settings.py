"""AgentSettings: the daemon's TOML configuration (every field has a default).

``framesift run`` with no file uses the defaults: the stub model, no sources but
gRPC submissions, a local hub at http://127.0.0.1:9200 as destination, control
on a Unix socket in the state directory. See ``examples/agent.toml``.
"""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config.environment import read_environment
from agent.errors import ConfigError, ConfigIssue
from agent.runtime.thread_priority import ThreadPriority

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # inf: a timer that never fires


def default_state_dir() -> Path:
    """``$FRAMESIFT_STATE_DIR``, else ``$STATE_DIRECTORY`` (systemd), else ``~/.local/state/framesift``."""
    return read_environment().state_dir or Path.home() / ".local" / "state" / "framesift"


AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"


def default_agent_id() -> str:
    """This machine's host name (how the hub's Fleet page names the agent)."""
    name = socket.gethostname().split(".")[0] or "framesift"
    return name if re.fullmatch(AGENT_ID_PATTERN, name) else "framesift"


class AgentSection(_Section):
    id: str = Field(default_factory=default_agent_id, pattern=AGENT_ID_PATTERN,
                    description="names this agent to the hub (Fleet page); default: the host name")  # fmt: skip
    state_dir: Path = Field(default_factory=default_state_dir)
    models_dir: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    background_priority: ThreadPriority = Field(
        ThreadPriority.LOW, description="scheduling of the threads around the model (decode, prepare, upload): "
        "low = nice 19, idle = SCHED_IDLE, normal; see agent/runtime/thread_priority.py")  # fmt: skip


class ModelSection(_Section):
    id: str = "framesift/0"
    providers: str = "auto"
    batch_size: int = Field(8, ge=1, le=256)
    max_delay_ms: float = Field(50.0, ge=0)
    confidence: float = Field(0.25, ge=0, le=1)
    iou: float = Field(0.45, ge=0, le=1)
    threads: int = Field(0, ge=0, le=1024)
    cpu_mem_arena: bool = Field(True, description="keep onnxruntime's CPU arena: activation buffers are reused "
                                "(measured: Infer p50 3 ms faster on 2 cores) at the price of holding their peak "
                                "(about 40 MiB idle RSS for YOLOv8n 320, batch 8)")  # fmt: skip
    trt_cache_dir: Path | None = None
    trt_fp16: bool = False
    stuck_timeout_s: float = Field(60.0, gt=0)
    stub_task: Literal["object-detection", "instance-segmentation", "classification",
                       "keypoint-detection"] = "object-detection"  # fmt: skip


class DestinationSection(_Section):
    url: str = "http://127.0.0.1:9200"
    workspace: str = "default"
    project: str = "framesift"
    api_key_file: Path | None = None
    sync_interval_s: float = Field(60.0, gt=0)
    upload_concurrency: int = Field(2, ge=1, le=32)
    max_bytes_per_s: float = Field(0.0, ge=0)
    backoff_cap_s: float = Field(300.0, gt=0)
    jpeg_passthrough: bool = Field(True, description="upload a selected JPEG's own bytes (metadata removed) when "
                                   "it needs no resize and its quality is at most jpeg_compression_level; false: "
                                   "always decode and re-encode, like the reference")  # fmt: skip


class ActiveLearningSection(_Section):
    config_file: Path | None = None
    redis_url: str | None = None
    seed: int | None = Field(None, ge=0, lt=2**64)  # numpy's generators take 0 <= seed < 2**64


class SpoolSection(_Section):
    max_mb: float = Field(2048.0, gt=0)
    max_count: int = Field(100_000, ge=1)
    overflow: Literal["drop_oldest", "reject_new"] = "drop_oldest"
    max_age_h: float = Field(0.0, ge=0)


class ControlSection(_Section):
    listen: str = ""  # default unix:<state_dir>/control.sock
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_file: Path | None = None
    max_message_mb: float = Field(16.0, gt=0, le=2047)  # gRPC counts bytes in a signed 32-bit int

    def tcp_issues(self, listen: str) -> list[ConfigIssue]:
        """What listening on ``listen`` lacks: TCP needs TLS (cert and key) and a bearer token file."""
        if listen.startswith("unix:"):
            return []
        return [ConfigIssue(f"$.control.{name}", f"required to listen on TCP ({listen})")
                for name in ("tls_cert", "tls_key", "token_file") if getattr(self, name) is None]  # fmt: skip


class MetricsSection(_Section):
    listen: str = "127.0.0.1:9464"  # "" disables


class SourceSection(_Section):
    type: Literal["folder", "video", "stream"]
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    path: str = Field(min_length=1, description="folder, video file or stream URL")
    poll_interval_s: float = Field(1.0, gt=0)
    settle_ms: float = Field(500.0, ge=0)
    fps: float = Field(0.0, ge=0)
    every_nth: int = Field(1, ge=1)
    queue_size: int = Field(32, ge=1)
    loop: bool = False


class AgentSettings(_Section):
    """The whole TOML document."""

    agent: AgentSection = Field(default_factory=AgentSection)
    model: ModelSection = Field(default_factory=ModelSection)
    destination: DestinationSection = Field(default_factory=DestinationSection)
    active_learning: ActiveLearningSection = Field(default_factory=ActiveLearningSection)
    spool: SpoolSection = Field(default_factory=SpoolSection)
    control: ControlSection = Field(default_factory=ControlSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    sources: list[SourceSection] = Field(default_factory=list)

    @property
    def control_listen(self) -> str:
        """The control address, defaulting to a Unix socket in the state directory."""
        return self.control.listen or f"unix:{self.agent.state_dir / 'control.sock'}"


def load_settings(path: Path | None) -> AgentSettings:
    """Read and validate a TOML file (None → all defaults).

    Raises:
        ConfigError: unreadable TOML or invalid fields, each with its path.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", source=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
        except RecursionError:
            raise ConfigError("not valid TOML: nested too deeply", source=str(path)) from None
    try:
        settings = AgentSettings.model_validate(data)
    except ValidationError as exc:
        issues = [ConfigIssue("$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                              "unknown key" if e["type"] == "extra_forbidden" else e["msg"])
                  for e in exc.errors(include_url=False)]  # fmt: skip
        raise ConfigError(issues, source=str(path) if path else None) from None
    ids = [s.id for s in settings.sources]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError([ConfigIssue("$.sources", f"duplicate source ids: {', '.join(dupes)}")],
                          source=str(path) if path else None)  # fmt: skip
    return settings
