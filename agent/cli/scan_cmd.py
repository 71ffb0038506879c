"""``framesift scan FOLDER --model M --config C``: predict + sample + limits in one pass."""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agent.cli.common import (
    add_model_arguments,
    params_from,
    positive_int,
    registry_from,
    runner_options_from,
)
from agent.cli.sample_cmd import print_selection_table
from agent.config.agent_settings import default_state_dir
from agent.config.al_config import load_al_config
from agent.frames.files import iter_image_files
from agent.frames.prefetch import FramePrefetcher
from agent.frames.scan_progress import ScanProgress
from agent.inference.model import Model
from agent.limits.factory import open_limit_store
from agent.pipeline.collector import FrameCollector
from agent.sampling.selector import ActiveLearningSelector
from agent.spool.disk_spool import DiskSpool
from agent.upload.client import UploadClient
from agent.upload.credentials import load_api_key
from agent.upload.worker import Uploader, UploaderOptions


def add_parser(sub: Any) -> None:
    """Register ``scan``."""
    p = sub.add_parser("scan", help="predict a folder and select the frames worth labeling")
    p.add_argument("folder", type=Path, nargs="+", metavar="FOLDER")
    add_model_arguments(p)
    p.add_argument("--config", type=Path, required=True, help="active-learning config (JSON)")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--seed", type=int, default=None, help="seed the probability gates")
    p.add_argument("--state-dir", type=Path, default=None, help="limit counters live here")
    p.add_argument("--redis-url", default=os.environ.get("FRAMESIFT_REDIS_URL"),
                   help="share limits through Redis (redis://host:port/db)")  # fmt: skip
    p.add_argument("--output", "-o", type=Path, default=Path("selected.jsonl"),
                   help="selected frames (JSONL), default selected.jsonl")  # fmt: skip
    p.add_argument(
        "--dest",
        default=None,
        help="upload to this Roboflow-compatible base URL (https://api.roboflow.com or a hub)",
    )
    p.add_argument(
        "--project",
        default=None,
        help="destination project (default: config target_project, else the model's project)",
    )
    p.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        help="file holding the API key (default: $FRAMESIFT_API_KEY)",
    )
    p.add_argument("--concurrency", type=positive_int, default=2, help="parallel uploads (default 2)")
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait at the end for uploads; the rest stays spooled (default 120)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict, select, and either list the selection or spool and upload it."""
    console = Console(stderr=True)
    cfg = load_al_config(args.config)
    api_key = load_api_key(args.api_key_file) if args.dest else None
    files = iter_image_files(args.folder)
    model = registry_from(args).load(args.model, max_batch=args.batch_size,
                                     runner_options=runner_options_from(args),
                                     params=params_from(args))  # fmt: skip
    model.warm_up()
    project = args.project or cfg.target_project or model.model_id.split("/")[0]
    state_dir: Path = args.state_dir or default_state_dir()
    with ExitStack() as stack:
        store = open_limit_store(state_dir, project, args.redis_url)
        stack.callback(store.close)
        selector = ActiveLearningSelector(cfg, store, model_id=model.model_id, seed=args.seed)
        uploader = collector = None
        progress_db = None
        if args.dest:
            assert api_key is not None
            spool = DiskSpool(state_dir / "spool")
            stack.callback(spool.close)
            collector = FrameCollector(selector, spool, project)
            client = UploadClient(args.dest, api_key)
            stack.callback(client.close)
            uploader = Uploader(spool, client, UploaderOptions(concurrency=args.concurrency),
                                on_duplicate=collector.on_duplicate)  # fmt: skip
            uploader.start()
            stack.callback(uploader.stop)
            progress_db = ScanProgress(state_dir / "scan")
            stack.callback(progress_db.close)
            before = len(files)
            files = [f for f in files if not progress_db.is_done(f)]
            if before != len(files):
                console.print(f"resuming: {before - len(files)} file(s) already scanned")
        summary = _scan(args, console, files, model, selector, collector, progress_db)
        print_selection_table(console, cfg, selector,
                              f"scan: {len(files)} files, {summary['failed']} failed, "
                              f"{summary['elapsed_s']:.1f} s")  # fmt: skip
        console.print(f"selected frames written to {args.output}")
        if uploader is not None:
            drained = uploader.drain(args.drain_timeout)
            stats = uploader.spool.stats()
            counts = uploader.counters.counts
            console.print(f"uploaded {counts['uploaded']}, duplicates {counts['duplicate']}, "
                          f"retries {counts['retry']}, dead letters {stats.dead}, still spooled {stats.ready}"
                          + ("" if drained else " (destination slow or offline: `framesift scan` again or "
                             "`framesift run` delivers them later)"))  # fmt: skip
    return 0 if not summary["failed"] else 3


def _scan(
    args: argparse.Namespace,
    console: Console,
    files: list[Path],
    model: Model,
    selector: ActiveLearningSelector,
    collector: FrameCollector | None,
    progress_db: ScanProgress | None,
) -> dict[str, float]:
    failures = 0
    t0 = time.perf_counter()
    progress = Progress(TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[selected]} selected"), TimeRemainingColumn(),
                        console=console, disable=args.no_progress or not console.is_terminal)  # fmt: skip
    with args.output.open("a" if progress_db else "w", encoding="utf-8") as out, progress, \
            FramePrefetcher(files, args.batch_size) as prefetch:  # fmt: skip
        task = progress.add_task("scan", total=len(files), selected=0)
        selected = 0
        for chunk in prefetch:
            good = chunk.good
            failures += len(chunk.frames) - len(good)
            for frame in chunk.frames:
                if frame.error is not None:
                    console.print(f"[red]failed[/red] {frame.error}", highlight=False)
            if good:
                images = [f.pixels for f in good if f.pixels is not None]
                batch = model.predict(images)
                sources = [str(f.path) for f in good]
                if collector is not None:
                    decision = collector.collect(batch, images, sources).decision
                else:
                    decision = selector.select(batch, images, [str(f.path.parent) for f in good])
                for sel in decision.selections:
                    line = {
                        "path": str(good[sel.frame].path),
                        "strategy": sel.strategy,
                        "matched": list(sel.matched),
                        "batch": sel.batch_name,
                        "tags": list(sel.tags),
                        "inference_id": batch.inference_ids[sel.frame],
                    }
                    out.write(json.dumps(line) + "\n")  # fmt: skip
                out.flush()
                selected += len(decision.selections)
            if progress_db is not None:
                progress_db.mark_done(f.path for f in chunk.frames)
            progress.update(task, advance=len(chunk.frames), selected=selected)
    return {"failed": failures, "elapsed_s": time.perf_counter() - t0}
