"""``framesift bench …``: benchmarks that print ratios against a same-run baseline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.cli.common import (
    add_model_arguments,
    model_section_from,
    non_negative_float,
    positive_float,
    positive_int,
    seed_int,
)
from agent.errors import PathArgumentError
from agent.frames.files import iter_image_files
from agent.inference.loading import load_model
from agent.inference.model import VisionModel


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("batch sizes must be positive integers")
    return values


def add_parser(sub: Any) -> None:
    """Register ``bench inference``."""
    p = sub.add_parser("bench", help="benchmarks (throughput, latency, memory)")
    bsub = p.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    ip = bsub.add_parser("inference", help="bare onnxruntime vs full pipeline per batch size")
    add_model_arguments(ip)
    ip.add_argument("--images", type=Path, nargs="+", required=True,
                    help="image files (JPEG, PNG, ...) or folders, used as frames (cycled)")  # fmt: skip
    ip.add_argument("--batch-sizes", type=_int_list, default=[1, 4, 8, 16], help="comma list of batch sizes")
    ip.add_argument("--frames", type=positive_int, default=128, help="frames per measurement")
    ip.add_argument("--json", type=Path, default=None, help="also write results as JSON here (default: no file)")
    ip.set_defaults(run=run_inference)
    sp = bsub.add_parser("sampling", help="vectorized strategies vs the per-frame reference loops")
    sp.add_argument("--frames", type=positive_int, default=64, help="frames per batch")
    sp.add_argument("--detections", type=positive_int, default=100, help="detections per frame")
    sp.add_argument("--repeats", type=positive_int, default=200, help="batches timed")
    sp.set_defaults(run=run_sampling)
    qp = bsub.add_parser("spool", help="durable put vs raw fsync, drain rate to a hub, memory over 10k frames")
    qp.add_argument("--dir", type=Path, default=None, help="filesystem to measure (default: the temp dir)")
    qp.add_argument("--no-drain", action="store_true", help="skip the hub drain measurement")
    qp.set_defaults(run=run_spool)
    bp = bsub.add_parser("batcher", help="added batching latency with simulated streams")
    bp.add_argument("--streams", type=positive_int, default=4, help="simulated streams")
    bp.add_argument("--fps", type=positive_float, default=15.0, help="frames per second per stream")
    bp.add_argument("--max-delay-ms", type=non_negative_float, default=20.0, help="batcher max_delay_ms")
    bp.add_argument("--seconds", type=positive_float, default=6.0, help="how long the streams run")
    bp.set_defaults(run=run_batcher)
    dp = bsub.add_parser("daemon", help="cold start to READY, idle CPU and RSS of `framesift run`")
    dp.add_argument("--model", default="nudenet/1", help="model the daemon loads")
    dp.add_argument("--idle-s", type=positive_float, default=10.0, help="seconds of idle CPU measured")
    dp.set_defaults(run=run_daemon)
    hp = bsub.add_parser("hub", help="concurrent uploaders through the hub: SQLite, and 2 replicas on PostgreSQL")
    hp.add_argument("--frames", type=positive_int, default=2000, help="frames uploaded in total")
    hp.add_argument("--uploaders", type=positive_int, default=50, help="concurrent uploaders")
    hp.add_argument("--database", default=None, help="postgresql://… (empty database) for the 2-replica scenario")
    hp.set_defaults(run=run_hub)
    pp = bsub.add_parser("pipeline", help="the real daemon end to end (folder 5 %% / 100 %%, SubmitFrames, Infer) "
                         "vs bare onnxruntime in the same run; PASS/FAIL per target")  # fmt: skip
    pp.add_argument("--model", default="nudenet/1", help="model the daemon and the bare baseline load")
    pp.add_argument("--frames", type=positive_int, default=400, help="distinct 1280x720 JPEGs per scenario")
    pp.add_argument(
        "--runs",
        type=positive_int,
        default=5,
        help="runs of every scenario (medians: one disturbed run of a shared machine does not move them)",
    )
    pp.add_argument(
        "--batch-size", type=positive_int, default=8, help="[model] batch_size of the daemon and the baseline"
    )
    pp.add_argument(
        "--subsampling",
        choices=("420", "444"),
        default="420",
        help="chroma subsampling of the generated JPEGs: 420 as cameras write them, 444 noisier",
    )
    pp.add_argument("--json", type=Path, default=None, help="also write every run as JSON here (default: no file)")
    pp.set_defaults(run=run_pipeline)
    lp = bsub.add_parser("selection", help="a simulated day: first-come vs paced vs class quota vs uncertainty")
    lp.add_argument("--daily-cap", type=positive_int, default=100, help="daily limit of every compared strategy")
    lp.add_argument("--frame-interval-s", type=positive_float, default=30.0, help="seconds between simulated frames")
    lp.add_argument("--seed", type=seed_int, default=0, help="seed of the simulated day and the probability gates")
    lp.set_defaults(run=run_selection)


def _require_json_dir(path: Path | None) -> None:
    """Refuse a ``--json`` file whose directory does not exist, before minutes of measuring."""
    if path is not None and not path.parent.is_dir():
        raise PathArgumentError("--json", path, f"its directory {path.parent} does not exist")


def run_pipeline(args: argparse.Namespace) -> int:
    """Run the end-to-end benchmark; exit 1 when a target is missed."""
    from agent.bench.pipeline_bench import report_json, run_pipeline_bench
    from agent.bench.pipeline_report import print_report

    _require_json_dir(args.json)
    console = Console(width=None if Console().is_terminal else 160)
    report = run_pipeline_bench(args.model, frames=args.frames, runs=args.runs, batch_size=args.batch_size,
                                subsampling=args.subsampling,
                                progress=lambda line: console.print(line, markup=False, highlight=False))  # fmt: skip
    if args.json:
        args.json.write_text(report_json(report))
    return 0 if print_report(report, console) else 1


def run_selection(args: argparse.Namespace) -> int:
    """Print the selection measures of each config over the same simulated day."""
    from agent.bench.selection_bench import run_selection_bench

    rows = run_selection_bench(args.daily_cap, args.frame_interval_s, seed=args.seed)
    table = Table(title=f"bench selection: one simulated day, daily cap {args.daily_cap}, seed {args.seed}")
    for col in ("config", "hours covered", "rare class share", "near-duplicate share", "uncertain share",
                "budget used"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r.name, f"{r.hours_covered}/24", f"{r.rare_share:.0%}", f"{r.near_duplicate_share:.0%}",
                      f"{r.uncertain_share:.0%}", f"{r.budget_used:.0%}")  # fmt: skip
    Console().print(table)
    return 0


def run_batcher(args: argparse.Namespace) -> int:
    """Print batching latency percentiles against the max_delay budget."""
    from agent.bench.daemon_bench import run_batcher_bench

    r = run_batcher_bench(args.streams, args.fps, args.max_delay_ms, args.seconds)
    table = Table(title=f"bench batcher: {r.streams} streams x {r.fps:g} fps, max_delay_ms={r.max_delay_ms:g}")
    for col in ("frames", "mean batch", "p50 ms", "p99 ms", "max ms", "p99 - max_delay"):
        table.add_column(col, justify="right")
    table.add_row(str(r.frames), f"{r.mean_batch:.2f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.max_ms:.1f}",
                  f"{r.p99_ms - r.max_delay_ms:+.1f} ms")  # fmt: skip
    Console().print(table)
    return 0


def run_daemon(args: argparse.Namespace) -> int:
    """Print cold start, idle CPU and RSS."""
    from agent.bench.daemon_bench import run_daemon_bench

    r = run_daemon_bench(args.model, args.idle_s)
    table = Table(title=f"bench daemon: framesift run with {r.model_id} (CPU)")
    for col in ("cold start to READY", "idle CPU", "RSS"):
        table.add_column(col, justify="right")
    table.add_row(f"{r.ready_s:.2f} s", f"{r.idle_cpu_percent:.2f} %", f"{r.rss_mb:.0f} MiB")
    Console().print(table)
    return 0


def run_spool(args: argparse.Namespace) -> int:
    """Print the spool benchmark."""
    from agent.bench.spool_bench import run_spool_bench

    if args.dir is not None and not args.dir.is_dir():
        raise PathArgumentError("--dir", args.dir, "not a directory (the filesystem to measure must exist)")
    r = run_spool_bench(args.dir, drain=not args.no_drain)
    table = Table(title=f"bench spool: {r.frame_bytes // 1000} KB frames")
    for col in ("measurement", "value", "vs baseline"):
        table.add_column(col, justify="right")
    table.add_row("raw write+fsync per frame (baseline)", f"{r.raw_ms:.3f} ms", "1.00")
    table.add_row("durable put, one frame per commit", f"{r.put_ms:.3f} ms", f"{r.put_ratio:.2f}")
    table.add_row(f"durable put_many, {r.group} frames per commit", f"{r.put_group_ms:.3f} ms",
                  f"{r.group_ratio:.2f}")  # fmt: skip
    if r.drain_fps:
        table.add_row(f"drain to hub over loopback, 4 connections ({r.drain_frames} x 50 KB)",
                      f"{r.drain_fps:.0f} frames/s", "")  # fmt: skip
    rss = r.rss_mb
    table.add_row("RSS over 10,000 frames put/lease/ack (min..max)", f"{min(rss):.1f}..{max(rss):.1f} MiB",
                  f"+{rss[-1] - rss[1]:.1f} MiB after the first 1,000")  # fmt: skip
    Console().print(table)
    return 0


def run_sampling(args: argparse.Namespace) -> int:
    """Print both timings and the speed-up, measured in this run."""
    from agent.bench.sampling_bench import run_sampling_bench

    r = run_sampling_bench(args.frames, args.detections, args.repeats)
    table = Table(title=f"bench sampling: {r.strategies} strategies, {r.frames} frames x {r.detections} detections")
    for col in ("implementation", "ms per batch", "speed-up"):
        table.add_column(col, justify="right")
    table.add_row("per-frame reference loops", f"{r.reference_ms:.3f}", "1.0x")
    table.add_row("framesift vectorized", f"{r.vectorized_ms:.3f}", f"{r.speedup:.1f}x")
    Console().print(table)
    return 0


def run_inference(args: argparse.Namespace) -> int:
    """Print bare vs pipeline throughput, ratio, latency and peak RSS."""
    from agent.bench.inference_bench import bench_batch_size, peak_rss_mb

    _require_json_dir(args.json)
    console = Console(width=None if Console().is_terminal else 140)
    jpegs = [p.read_bytes() for p in iter_image_files(args.images)]
    if not jpegs:
        console.print("[red]error:[/red] no images found")
        return 2
    model = load_model(model_section_from(args, max(args.batch_sizes)), args.models_dir, warm=False)
    if not isinstance(model, VisionModel):
        console.print("[red]error:[/red] the stub model has nothing to benchmark")
        return 2
    table = Table(title=f"bench inference: {model.model_id} on {', '.join(model.providers)}")
    for col in ("batch", "bare img/s", "pipeline img/s", "ratio", "bare p50/p99 ms",
                "pipeline p50/p99 ms", "pre ms/img", "post+NMS ms/img"):  # fmt: skip
        table.add_column(col, justify="right")
    rows = []
    for bs in args.batch_sizes:
        row = bench_batch_size(model, jpegs, bs, args.frames)
        rows.append(row)
        table.add_row(
            str(bs), f"{row.bare_fps:.1f}", f"{row.pipeline_fps:.1f}", f"{row.ratio:.3f}",
            f"{row.bare_p50_ms:.1f}/{row.bare_p99_ms:.1f}",
            f"{row.pipeline_p50_ms:.1f}/{row.pipeline_p99_ms:.1f}",
            f"{row.preprocess_ms_per_frame:.3f}", f"{row.postprocess_ms_per_frame:.3f}",
        )  # fmt: skip
    console.print(table)
    rss = peak_rss_mb()
    console.print(f"peak RSS: {rss:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.__dict__ | {"ratio": r.ratio} for r in rows],
                                         "peak_rss_mb": rss}, indent=2))  # fmt: skip
    return 0


def run_hub(args: argparse.Namespace) -> int:
    """Print uploads/s, latency, lost and duplicated per scenario; exit 1 on any loss or duplicate."""
    from agent.bench.hub_bench import run_hub_bench

    results = run_hub_bench(args.frames, args.uploaders, args.database)
    table = Table(title=f"bench hub: {args.frames} frames + annotations, {args.uploaders} uploaders")
    for col in ("scenario", "uploads/s", "vs sqlite", "p50 ms", "p99 ms", "lost", "duplicated", "errors"):
        table.add_column(col, justify="right")
    base = results[0].uploads_per_s
    for r in results:
        table.add_row(r.scenario, f"{r.uploads_per_s:.0f}", f"{r.uploads_per_s / base:.2f}x", f"{r.p50_ms:.0f}",
                      f"{r.p99_ms:.0f}", str(r.lost), str(r.duplicated), str(r.errors))  # fmt: skip
    Console().print(table)
    return 0 if all(r.lost == r.duplicated == r.errors == 0 for r in results) else 1
