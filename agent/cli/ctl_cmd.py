"""``framesift status`` and ``framesift ctl …``: talk to a running agent over gRPC."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

from agent.cli.common import add_control_target_arguments, control_client_from, positive_float, report_rpc_error
from agent.config.config_json import parse_config_json
from agent.errors import ConfigError


def add_parser(sub: Any) -> None:
    """Register ``status`` and ``ctl``."""
    sp = sub.add_parser("status", help="status of the running agent")
    add_control_target_arguments(sp)
    sp.add_argument("--json", action="store_true", help="every field as JSON, zero and false ones included")
    sp.add_argument("--watch", action="store_true", help="live view, refreshed every second (= framesift top)")
    sp.set_defaults(run=run_status)
    cp = sub.add_parser("ctl", help="control the running agent")
    add_control_target_arguments(cp)
    csub = cp.add_subparsers(dest="ctl_command", metavar="ACTION", required=True)
    for name, helptext in (("pause", "pause capture"), ("resume", "resume capture"),
                           ("reload", "fetch the remote config now"), ("get-config", "print the config"),
                           ("models", "list models"), ("unload-model", "unload the model"),
                           ("spool-stats", "spool counters"), ("watch", "stream events")):  # fmt: skip
        csub.add_parser(name, help=helptext)
    p = csub.add_parser("set-config", help="set the local override (FILE, or '-' to clear)")
    p.add_argument("file", help="active-learning config (JSON), or '-' to clear the override")
    p = csub.add_parser("load-model", help="hot-swap the model")
    p.add_argument("model_id", help="project/version or an .onnx path on the agent's machine")
    p = csub.add_parser("flush", help="retry dead letters and wait for the spool to drain")
    p.add_argument("--timeout", type=positive_float, default=30.0, help="seconds to wait for the spool to drain")
    p = csub.add_parser("purge", help="delete dead letters (--all: every frame not in flight)")
    p.add_argument("--all", action="store_true", help="also frames not yet delivered")
    p = csub.add_parser("infer", help="predict one image file")
    p.add_argument("image", type=Path, help="JPEG/PNG/BMP/TIFF/WebP file")
    p.add_argument("--submit", action="store_true", help="also sample/spool it")
    cp.set_defaults(run=run_ctl)


def run_status(args: argparse.Namespace) -> int:
    """Print the status table (or JSON, or the live view with --watch)."""
    if args.watch:
        from agent.cli.top_cmd import run as run_top

        return run_top(args)
    client = control_client_from(args)
    try:
        s = client.status()
    except grpc.RpcError as exc:
        return report_rpc_error(client, exc)
    finally:
        client.close()
    if args.json:
        from google.protobuf.json_format import MessageToDict

        fields = MessageToDict(s, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)
        print(json.dumps(fields, indent=2))
        return 0
    table = Table(title=f"framesift {s.version}, up {s.uptime_s:.0f} s", show_header=False)
    table.add_row("model", f"{s.model_id or '(none)'} on {', '.join(s.providers) or 'n/a'}")
    table.add_row("capture", "on" if s.active_learning_enabled else f"off: {s.capture_reason}")
    table.add_row("destination", s.destination_state or ("online" if s.online else "offline"))
    table.add_row("config", f"{s.config_origin}: {s.config_reason}; last sync: {s.last_sync_result}")
    table.add_row("frames", f"in {s.frames_in}, inferred {s.frames_inferred}, dropped {s.frames_dropped}")
    table.add_row("batches", f"{s.batches}, mean size {s.mean_batch_size:.1f}, last {s.last_batch_latency_ms:.1f} ms")
    table.add_row("spool", f"{s.spool.count} frames, {s.spool.bytes / 1e6:.1f} MB, dead {s.spool.dead}, "
                  f"dropped {s.spool.dropped}, delivered {s.spool.delivered}")  # fmt: skip
    for src in s.sources:
        table.add_row(f"source {src.id}", f"{src.kind} {src.state}: {src.frames} frames, {src.dropped} dropped "
                      f"{src.last_error}")  # fmt: skip
    for st in s.strategies:
        table.add_row(f"strategy {st.name}", f"matched {st.matched}, selected {st.selected}")
    Console().print(table)
    return 0


def run_ctl(args: argparse.Namespace) -> int:
    """Run one control action."""
    client = control_client_from(args)
    action = args.ctl_command
    try:
        if action == "pause":
            print("paused" if client.pause() else "running")
        elif action == "resume":
            if client.resume():
                print("paused")
            else:
                s = client.status()
                print("running" if s.active_learning_enabled else f"resumed, but capture is still off: "
                      f"{s.capture_reason}")  # fmt: skip
        elif action == "reload":
            print(client.reload_config().origin)
        elif action == "get-config":
            print(json.dumps(client.get_config(), indent=2))
        elif action == "set-config":
            try:  # parse_config_json: also refuses deep nesting, NaN and 65-bit integers, with JSON paths
                doc = None if args.file == "-" else parse_config_json(Path(args.file).read_bytes(), source=args.file)
            except OSError as exc:
                print(f"framesift: error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
                return 2
            except ConfigError as exc:
                print(f"framesift: error: cannot read {exc}", file=sys.stderr)
                return 2
            print(client.set_config(doc).origin)
        elif action == "models":
            for m in client.list_models():
                print(f"{'*' if m.loaded else ' '} {m.model_id}")
        elif action == "load-model":
            print(f"loaded {client.load_model(args.model_id).model_id}")
        elif action == "unload-model":
            print(f"unloaded {client.unload_model().model_id}")
        elif action == "spool-stats":
            _print_counters(client.spool_stats())
        elif action == "flush":
            _print_counters(client.flush_spool(args.timeout))
        elif action == "purge":
            _print_counters(client.purge_spool(args.all))
        elif action == "infer":
            r = client.infer(args.image.read_bytes(), "ctl", args.submit)
            print(json.dumps({"prediction": json.loads(r.prediction_json), "matched": list(r.matched_strategies),
                              "selected": r.selected_strategy}, indent=2))  # fmt: skip
        elif action == "watch":
            for event in client.watch_events():
                print(f"{event.time_s:.3f} {event.kind} {event.source_id} {event.detail}", flush=True)
    except grpc.RpcError as exc:
        return report_rpc_error(client, exc)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


def _print_counters(message: Message) -> None:
    """Every field of ``message`` as ``name: value``, zeros included (protobuf's text format drops them)."""
    for field in message.DESCRIPTOR.fields:
        print(f"{field.name}: {getattr(message, field.name)}")
