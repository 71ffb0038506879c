"""``framesift top`` (also ``status --watch``): a live terminal view of a running agent.

Polls ``GetStatus`` (and ``GetConfig`` for the config version) every ``--interval-s`` and
follows ``WatchEvents`` on a background thread for the recent-events panel. Rates (frames/s per
source, uploads/s, selections/min) are differences between two polls. Plain rich output, no
alternate screen: it works in any terminal, over SSH and in tmux; Ctrl-C ends it with exit 0.
"""

from __future__ import annotations

import argparse
import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent.cli.common import add_control_target_arguments, control_client_from, positive_float, report_rpc_error
from agent.control.client import ControlClient
from agent.control.v1 import control_pb2 as pb
from agent.runtime.threads import join_or_warn

RECENT_EVENTS = 8
EVENTS_STOP_TIMEOUT_S = 2.0
EVENTS_RECONNECT_S = 1.0


def add_parser(sub: Any) -> None:
    """Register ``top``."""
    p = sub.add_parser("top", help="live view of a running agent (refreshes every second; Ctrl-C exits)")
    add_control_target_arguments(p)
    p.add_argument("--interval-s", type=positive_float, default=1.0, help="seconds between refreshes")
    p.add_argument("--once", action="store_true", help="print one screen (rates over one interval) and exit")
    p.set_defaults(run=run)


@dataclass
class Rates:
    """Per-second rates between the last two polls."""

    source_fps: dict[str, float] = field(default_factory=dict)
    upload_per_s: float = 0.0
    selected_per_min: dict[str, float] = field(default_factory=dict)


def rates_between(old: pb.Status | None, new: pb.Status, elapsed_s: float) -> Rates:
    """Rates from two status snapshots ``elapsed_s`` apart (zero for the first snapshot)."""
    if old is None or elapsed_s <= 0:
        return Rates()
    frames = {s.id: s.frames for s in old.sources}
    selected = {s.name: s.selected for s in old.strategies}
    return Rates(
        source_fps={s.id: max(0, s.frames - frames.get(s.id, s.frames)) / elapsed_s for s in new.sources},
        upload_per_s=max(0, new.spool.delivered - old.spool.delivered) / elapsed_s,
        selected_per_min={
            s.name: 60 * max(0, s.selected - selected.get(s.name, s.selected)) / elapsed_s for s in new.strategies
        },
    )


class EventFollower:
    """Keeps the last ``RECENT_EVENTS`` events of ``WatchEvents`` (reconnects until stopped)."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self.events: collections.deque[pb.Event] = collections.deque(maxlen=RECENT_EVENTS)
        self._stop = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, name="top-events", daemon=True)

    def start(self) -> EventFollower:
        self._thread.start()
        return self

    def _follow(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._stop.is_set():
                    return
                self._call = self.client.watch_events()
            try:
                for event in self._call:
                    self.events.append(event)
            except grpc.RpcError:
                pass  # cancelled by stop(), or the agent went away: retry until stopped
            self._stop.wait(EVENTS_RECONNECT_S)

    def stop(self) -> None:
        """Cancel the stream and join the thread."""
        with self._lock:
            self._stop.set()
            if self._call is not None:
                self._call.cancel()
        join_or_warn(self._thread, EVENTS_STOP_TIMEOUT_S, "top event follower")


def render(status: pb.Status, config: pb.ConfigDocument | None, rates: Rates,
           events: list[pb.Event], unreachable: str = "", live: bool = True) -> Group:  # fmt: skip
    """One screen of the live view."""
    capture = "on" if status.active_learning_enabled else f"off ({status.capture_reason or 'paused'})"
    head = Text.assemble(
        (f"framesift {status.version}", "bold"), f"  up {status.uptime_s:.0f} s  model ",
        (status.model_id or "(none)", "cyan"), f" on {', '.join(status.providers) or 'n/a'}  capture {capture}",
    )  # fmt: skip
    state = status.destination_state or ("online" if status.online else _offline_reason(status))
    dest = Text(f"destination {state}", style="green" if state == "online" else "bold red")
    sync_age = "never" if status.last_sync_age_s < 0 else f"{status.last_sync_age_s:.0f} s ago"
    version = f", version {config.etag[:12]}" if config is not None and config.etag else ""
    conf = Text(f"config {status.config_origin}{version}; last sync {status.last_sync_result or 'none'} ({sync_age})")
    parts: list[Any] = [head, dest, conf]
    if unreachable:
        parts.insert(0, Text(f"{unreachable}; showing the last answer, retrying", style="bold red"))
    parts.append(_sources_table(status, rates))
    parts.append(Text(
        f"inference: {status.batches} batches, mean size {status.mean_batch_size:.1f}, last batch "
        f"{status.last_batch_latency_ms:.1f} ms; frames in {status.frames_in}, inferred {status.frames_inferred}, "
        f"dropped {status.frames_dropped}, near-duplicates {status.near_duplicates}, limited {status.limited}"
    ))  # fmt: skip
    parts.append(_strategies_table(status, rates))
    if status.limits:
        parts.append(_limits_table(status))
    sp = status.spool
    age = f", oldest {status.spool_oldest_age_s:.0f} s" if status.spool_oldest_age_s >= 0 else ""
    parts.append(Text(
        f"spool: {sp.count} frames waiting ({sp.ready} ready, {sp.leased} uploading{age}), {sp.bytes / 1e6:.1f} MB, "
        f"dead {sp.dead}, dropped {sp.dropped}; uploads {rates.upload_per_s:.1f}/s, delivered {sp.delivered}"
    ))  # fmt: skip
    if status.class_psi:
        drift = ", ".join(f"{name} {psi:.2f}" for name, psi in sorted(status.class_psi.items()))
        parts.append(Text(f"drift (PSI, last hour vs reference day): {drift}"))
    recent = Table(title="recent events", title_justify="left", show_header=False, box=None)
    for e in events[-RECENT_EVENTS:]:
        recent.add_row(time.strftime("%H:%M:%S", time.localtime(e.time_s)), e.kind, e.source_id, e.detail[:80])
    parts.append(recent if events else Text("recent events: none yet", style="dim"))
    if live:
        parts.append(Text("Ctrl-C to exit", style="dim"))
    return Group(*parts)


def _offline_reason(status: pb.Status) -> str:
    if status.last_sync_result.startswith(("offline", "invalid")):
        return f"config sync {status.last_sync_result}"
    if status.spool.dead:
        return f"uploads failing ({status.spool.dead} dead letters: framesift spool list --dead)"
    return "uploads failing (retrying with backoff)"


def _sources_table(status: pb.Status, rates: Rates) -> Table:
    table = Table(title="sources", title_justify="left")
    for col in ("source", "kind", "state", "frames", "frames/s", "dropped", "last error"):
        table.add_column(col)
    for s in status.sources:
        table.add_row(s.id, s.kind, s.state, str(s.frames), f"{rates.source_fps.get(s.id, 0.0):.1f}",
                      str(s.dropped), s.last_error[:60])  # fmt: skip
    if not status.sources:
        table.add_row("(none)", "", "", "", "", "", "")
    return table


def _limits_table(status: pb.Status) -> Table:
    table = Table(title="limits remaining", title_justify="left")
    for col in ("strategy", "window", "used", "cap", "remaining"):
        table.add_column(col)
    for lim in status.limits:
        remaining = str(max(0, lim.cap - lim.used)) if lim.cap else "unlimited"
        table.add_row(lim.strategy, lim.window, str(lim.used), str(lim.cap) if lim.cap else "-", remaining)
    return table


def _strategies_table(status: pb.Status, rates: Rates) -> Table:
    table = Table(title="sampling", title_justify="left")
    for col in ("strategy", "matched", "selected", "selected/min"):
        table.add_column(col)
    for s in status.strategies:
        table.add_row(s.name, str(s.matched), str(s.selected), f"{rates.selected_per_min.get(s.name, 0.0):.1f}")
    return table


def _config_or_none(client: ControlClient) -> pb.ConfigDocument | None:
    try:
        doc: pb.ConfigDocument = client.stub.GetConfig(pb.GetConfigRequest(), timeout=client.timeout_s,
                                                       metadata=client.metadata)  # fmt: skip
        return doc
    except grpc.RpcError:
        return None


def run(args: argparse.Namespace) -> int:
    """Show the live view until Ctrl-C (or one screen with --once)."""
    client = control_client_from(args)
    console = Console()
    interval_s = max(0.1, getattr(args, "interval_s", 1.0))
    try:
        status, t_status = client.status(), time.monotonic()
    except grpc.RpcError as exc:
        client.close()
        return report_rpc_error(client, exc)
    follower = EventFollower(client).start()
    try:
        if getattr(args, "once", False):
            time.sleep(interval_s)
            new, t_new = client.status(), time.monotonic()
            rates = rates_between(status, new, t_new - t_status)
            console.print(render(new, _config_or_none(client), rates, list(follower.events), live=False))
            return 0
        _live(client, console, follower, status, t_status, interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        follower.stop()
        client.close()
    return 0


def _live(client: ControlClient, console: Console, follower: EventFollower, status: pb.Status,
          t_status: float, interval_s: float) -> None:  # fmt: skip
    rates, config = Rates(), _config_or_none(client)
    with Live(render(status, config, rates, []), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval_s)
            unreachable = ""
            try:
                new, t_new = client.status(), time.monotonic()
                rates = rates_between(status, new, t_new - t_status)
                status, t_status, config = new, t_new, _config_or_none(client) or config
            except grpc.RpcError as exc:
                unreachable = client.not_running_reason(exc) or f"{exc.code().name}: {exc.details()}"
            live.update(render(status, config, rates, list(follower.events), unreachable), refresh=True)
