"""``framesift run [--config agent.toml]``: the long-running edge agent.

Lifecycle: SIGTERM/SIGINT → stop sources, finish the batch in flight, spool every
selected frame, exit within 10 s. SIGHUP → re-read the TOML (an invalid file is
reported and ignored) and restart the pipeline in-process; the control socket
stays up. Under systemd (``NOTIFY_SOCKET``): READY=1 once serving, WATCHDOG=1 only
while the inference loop makes progress, STOPPING=1 on the way out.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from agent.config.agent_settings import AgentSettings, load_settings
from agent.config.environment import read_environment
from agent.control.server import build_server, set_serving
from agent.daemon.agent import Agent
from agent.daemon.control_adapter import DaemonControl
from agent.daemon.events import EventBus
from agent.daemon.metrics import AgentMetrics
from agent.daemon.preflight import preflight
from agent.daemon.systemd import SystemdNotifier, sd_notify
from agent.daemon.telemetry import AgentTelemetry, bind_gauges
from agent.errors import ConfigError, FramesiftError
from agent.runtime.malloc_tuning import fix_mmap_threshold, limit_malloc_arenas

logger = logging.getLogger("framesift.run")


def add_parser(sub: Any) -> None:
    """Register ``run``."""
    p = sub.add_parser("run", help="run the agent daemon (see examples/agent.toml)")
    p.add_argument("--config", type=Path, default=None, help="agent TOML (default: built-in defaults)")
    p.add_argument("--check", action="store_true", help="validate the TOML and exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT."""
    t0 = time.monotonic()
    settings = load_settings(args.config)
    preflight(settings, source=str(args.config) if args.config else None)  # the same checks as --check
    if args.check:
        print(f"valid: {args.config or 'built-in defaults'}")
        return 0
    logging.getLogger().setLevel(settings.agent.log_level.upper())
    environment = read_environment()  # before the threads start: bounded RSS (see agent/runtime/malloc_tuning.py)
    if environment.malloc_arena_max is None:
        limit_malloc_arenas()
    if environment.malloc_mmap_threshold is None:
        fix_mmap_threshold()
    stop, reload = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    events = EventBus()
    metrics = AgentMetrics()
    telemetry = AgentTelemetry(metrics, events)
    metrics_server = metrics.serve(settings.metrics.listen) if settings.metrics.listen else None
    notifier = SystemdNotifier()
    try:
        with notifier.extending(f"loading model {settings.model.id}"):
            agent = Agent(settings, telemetry)
        agent.start()
        control = DaemonControl(agent, events)
        bind_gauges(metrics, control.spool_stats, lambda: control.agent.sync_age_s(), lambda: control.agent.online(),
                    lambda: control.agent.link_state())  # fmt: skip
        server, health, _ = build_server(control, settings.control_listen, settings.control)
    except BaseException:
        if metrics_server is not None:
            metrics_server.stop()
        raise
    server.start()
    set_serving(health, True)
    ready_s = time.monotonic() - t0
    sd_notify("READY=1")
    print(f"framesift ready in {ready_s:.2f} s; control {settings.control_listen}", flush=True)
    try:
        while not stop.wait(0.5):
            notifier.ping(control.agent.loop.healthy())
            if notifier.enabled:  # the line costs spool reads: only built when systemd listens
                notifier.status(status_line(control))
            if reload.is_set():
                reload.clear()
                with notifier.extending("reloading the configuration (SIGHUP)"):
                    settings = _reload(args.config, control, settings, telemetry)
    finally:
        t_stop = time.monotonic()
        sd_notify("STOPPING=1")
        set_serving(health, False)
        control.agent.stop(timeout_s=8.0)
        server.stop(grace=0.5).wait(1.0)
        if metrics_server is not None:
            metrics_server.stop()
        logger.warning("stopped in %.2f s", time.monotonic() - t_stop)
    return 0


def status_line(control: DaemonControl) -> str:
    """systemd's STATUS: capture, destination and spool in words (sent when it changes, not every count)."""
    agent = control.agent  # the few facts it needs, not the whole status (limit-store reads) twice a second
    stats, caps = control.spool_stats(), agent.settings.spool
    near_cap = stats.count >= 0.9 * caps.max_count or stats.bytes >= 0.9 * caps.max_mb * 1024**2
    reason = agent.capture_reason()
    capture = f"capture off: {reason}" if reason else "capture on"
    destination = agent.destination_state().split(" for ")[0]  # "paused for 12 s: …" → "paused"; no countdown
    return f"{capture}; destination {destination}; spool {'near its cap' if near_cap else 'ok'}"


def _reload(path: Path | None, control: DaemonControl, settings: AgentSettings,
            telemetry: AgentTelemetry) -> AgentSettings:  # fmt: skip
    """Rebuild the agent from the re-read TOML; on any failure go on with the running settings."""
    try:
        new_settings = load_settings(path)
        preflight(new_settings, source=str(path) if path else None)
    except ConfigError as exc:
        logger.error("SIGHUP: keeping the running configuration, the new one is invalid: %s", exc)
        return settings
    for section in ("control", "metrics"):
        if getattr(new_settings, section) != getattr(settings, section):
            logger.warning("SIGHUP: [%s] changes need a restart; other sections are reloaded", section)
    logger.warning("SIGHUP: reloading %s", path or "built-in defaults")
    control.begin_reload()  # control calls wait for the new agent instead of failing
    try:
        control.agent.stop(timeout_s=8.0)  # releases the spool and the limit store for the new agent
        for attempt, candidate in (("new", new_settings), ("previous", settings)):
            try:
                agent = Agent(candidate, telemetry)
            except FramesiftError as exc:
                logger.error("SIGHUP: cannot start the %s configuration: %s", attempt, exc)
                continue
            agent.start()
            control.swap(agent)  # the control socket stays up; RPCs now reach the new pipeline
            return candidate
    finally:
        control.end_reload()
    raise FramesiftError("SIGHUP: neither the new nor the previous configuration starts")
