"""``framesift scan FOLDER --model M --config C``: predict + sample + limits in one pass."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agent.cli.common import add_model_arguments, model_section_from, positive_int
from agent.cli.sample_cmd import print_selection_table
from agent.config.agent_settings import (
    ActiveLearningSection,
    AgentSection,
    AgentSettings,
    DestinationSection,
    default_state_dir,
)
from agent.config.al_config import load_al_config
from agent.config.environment import read_environment
from agent.config.snapshot import StaticConfig
from agent.frames.files import iter_image_files
from agent.frames.prefetch import FileFrame
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.pipeline.assembly import Pipeline, build_pipeline
from agent.pipeline.stage import StageResult
from agent.upload.credentials import load_api_key


def add_parser(sub: Any) -> None:
    """Register ``scan``."""
    p = sub.add_parser("scan", help="predict a folder and select the frames worth labeling")
    p.add_argument("folder", type=Path, nargs="+", metavar="FOLDER")
    add_model_arguments(p)
    p.add_argument("--config", type=Path, required=True, help="active-learning config (JSON)")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--seed", type=int, default=None, help="seed the probability gates")
    p.add_argument("--state-dir", type=Path, default=None, help="limit counters live here")
    p.add_argument("--redis-url", default=read_environment().redis_url,
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


def settings_from(args: argparse.Namespace, project: str) -> AgentSettings:
    """The pipeline settings equivalent to the scan arguments (no ``--dest``: select only)."""
    return AgentSettings(
        agent=AgentSection(state_dir=args.state_dir or default_state_dir(), models_dir=args.models_dir),
        model=model_section_from(args, args.batch_size),
        destination=DestinationSection(url=args.dest or "", project=project, upload_concurrency=args.concurrency),
        active_learning=ActiveLearningSection(redis_url=args.redis_url, seed=args.seed),
    )


def run(args: argparse.Namespace) -> int:
    """Predict, select, and either list the selection or spool and upload it."""
    console = Console(stderr=True)
    cfg = load_al_config(args.config)
    api_key = load_api_key(args.api_key_file) if args.dest else ""
    files = iter_image_files(args.folder)
    model_id = ModelRegistry(args.models_dir or default_models_dir()).resolve(args.model).model_id
    project = args.project or cfg.target_project or model_id.split("/")[0]
    settings = settings_from(args, project)
    resume = bool(args.dest)
    pipeline = build_pipeline(settings, StaticConfig.of(cfg), api_key=api_key,
                              progress_dir=settings.agent.state_dir / "scan" if resume else None)  # fmt: skip
    try:
        progress_db = pipeline.stage.progress
        if progress_db is not None:
            before = len(files)
            files = [f for f in files if not progress_db.is_done(f)]
            if before != len(files):
                console.print(f"resuming: {before - len(files)} file(s) already scanned")
        pipeline.start_uploads()
        summary = _scan(args, console, files, pipeline, append=resume)
        print_selection_table(console, cfg, pipeline.stage.selector,
                              f"scan: {len(files)} files, {summary['failed']} failed, "
                              f"{summary['elapsed_s']:.1f} s")  # fmt: skip
        console.print(f"selected frames written to {args.output}")
        if pipeline.uploader is not None and pipeline.spool is not None:
            drained = pipeline.drain(args.drain_timeout)
            stats = pipeline.spool.stats()
            counts = pipeline.uploader.counters.counts
            console.print(f"uploaded {counts['uploaded']}, duplicates {counts['duplicate']}, "
                          f"retries {counts['retry']}, dead letters {stats.dead}, still spooled {stats.ready}"
                          + ("" if drained else " (destination slow or offline: `framesift scan` again or "
                             "`framesift run` delivers them later)"))  # fmt: skip
    finally:
        pipeline.close()
    return 0 if not summary["failed"] else 3


def _scan(
    args: argparse.Namespace, console: Console, files: list[Path], pipeline: Pipeline, *, append: bool
) -> dict[str, float]:
    t0 = time.perf_counter()
    progress = Progress(TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[selected]} selected"), TimeRemainingColumn(),
                        console=console, disable=args.no_progress or not console.is_terminal)  # fmt: skip
    with args.output.open("a" if append else "w", encoding="utf-8") as out, progress:
        task = progress.add_task("scan", total=len(files), selected=0)
        selected = 0

        def on_batch(chunk: list[FileFrame], result: StageResult) -> None:
            nonlocal selected
            for frame in chunk:
                if frame.error is not None:
                    console.print(f"[red]failed[/red] {frame.error}", highlight=False)
            decision, batch = result.decision, result.batch
            if decision is not None and batch is not None:
                for sel in decision.selections:
                    line = {
                        "path": result.frames[sel.frame].frame_id,
                        "strategy": sel.strategy,
                        "matched": list(sel.matched),
                        "batch": sel.batch_name,
                        "tags": list(sel.tags),
                        "inference_id": batch.inference_ids[sel.frame],
                    }
                    out.write(json.dumps(line) + "\n")
                out.flush()
                selected += len(decision.selections)
            progress.update(task, advance=len(chunk), selected=selected)

        failures = pipeline.run_files(files, on_batch)
    return {"failed": failures, "elapsed_s": time.perf_counter() - t0}
