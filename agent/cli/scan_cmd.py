"""``framesift scan FOLDER --model M --config C``: predict + sample + limits in one pass."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agent.cli.common import (
    add_model_arguments,
    http_url,
    int_between,
    model_section_from,
    non_negative_float,
    positive_int,
    seed_int,
)
from agent.cli.sample_cmd import print_selection_table
from agent.config.agent_settings import (
    ActiveLearningSection,
    AgentSection,
    AgentSettings,
    DestinationSection,
    default_state_dir,
)
from agent.config.al_config import ActiveLearningConfig, load_al_config
from agent.config.environment import read_environment
from agent.config.snapshot import StaticConfig
from agent.frames.files import iter_image_files
from agent.frames.prefetch import FileFrame
from agent.inference.registry import ModelRef, ModelRegistry, default_models_dir
from agent.pipeline.assembly import Pipeline, build_pipeline
from agent.pipeline.stage_result import StageResult
from agent.predictions.batch import PredictionBatch
from agent.upload.credentials import load_api_key


def add_parser(sub: Any) -> None:
    """Register ``scan``."""
    p = sub.add_parser("scan", help="predict a folder and select the frames worth labeling")
    p.add_argument("folder", type=Path, nargs="+", metavar="FOLDER", help="image files or folders (recursive)")
    add_model_arguments(p)
    p.add_argument("--config", type=Path, required=True, help="active-learning config (JSON)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="frames per inference batch")
    p.add_argument("--seed", type=seed_int, default=None, help="seed the probability gates (default: random)")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="limit counters, spool and scan progress (default $FRAMESIFT_STATE_DIR, "
                        "else ~/.local/state/framesift)")  # fmt: skip
    p.add_argument("--redis-url", default=read_environment().redis_url,
                   help="share limits through Redis, redis://host:port/db (default $FRAMESIFT_REDIS_URL, "
                        "else local limits)")  # fmt: skip
    p.add_argument("--output", "-o", type=Path, default=Path("selected.jsonl"),
                   help="selected frames, one JSON line each; a resumed scan appends")  # fmt: skip
    p.add_argument("--dest", type=http_url, default=None,
                   help="upload to this Roboflow-compatible base URL, https://api.roboflow.com or a hub "
                        "(default: none, select only)")  # fmt: skip
    p.add_argument(
        "--project", default=None, help="destination project (default: config target_project, else the model's project)"
    )
    p.add_argument(
        "--api-key-file", type=Path, default=None, help="file holding the API key (default: $FRAMESIFT_API_KEY)"
    )
    p.add_argument("--concurrency", type=int_between(1, 32), default=2, help="parallel uploads")
    p.add_argument("--drain-timeout", type=non_negative_float, default=120.0,
                   help="seconds to wait at the end for uploads; the rest stays spooled")  # fmt: skip
    p.add_argument("--rescan", action="store_true",
                   help="evaluate every file again, even those a scan with the same config, model, "
                        "project and destination already finished")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


EXIT_FILES_FAILED = 3
"""Some files could not be read or decoded (each was reported); the others were scanned."""
EXIT_UNDELIVERED = 4
"""Frames were selected but not delivered: dead-lettered, or still spooled when the drain timed out."""


@dataclass(frozen=True)
class ScanSummary:
    """One scan: files that failed, seconds it took, frames that could not be kept per reason."""

    failed: int
    elapsed_s: float
    dropped: dict[str, int]


def settings_from(args: argparse.Namespace, project: str) -> AgentSettings:
    """The pipeline settings equivalent to the scan arguments (no ``--dest``: select only)."""
    return AgentSettings(
        agent=AgentSection(state_dir=args.state_dir or default_state_dir(), models_dir=args.models_dir),
        model=model_section_from(args, args.batch_size),
        destination=DestinationSection(url=args.dest or "", project=project, upload_concurrency=args.concurrency),
        active_learning=ActiveLearningSection(redis_url=args.redis_url, seed=args.seed),
    )


def scan_fingerprint(args: argparse.Namespace, cfg: ActiveLearningConfig, model: ModelRef, project: str) -> str:
    """A short hash of everything that decides a file's fate: config, model (file identity and
    thresholds), seed, project and destination. Scan progress is kept per fingerprint, so a scan
    with anything of these changed evaluates every file again."""
    model_file: list[object] = []
    if model.path is not None:
        st = model.path.stat()
        model_file = [str(model.path.resolve()), st.st_size, st.st_mtime_ns]
    decided_by = {
        "config": cfg.model_dump(mode="json"),
        "model": [model.model_id, *model_file, args.confidence, args.iou],
        "seed": args.seed,
        "project": project,
        "dest": (args.dest or "").rstrip("/"),
    }
    return hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()[:16]


def run(args: argparse.Namespace) -> int:
    """Predict, select, and either list the selection or spool and upload it."""
    console = Console(stderr=True)
    cfg = load_al_config(args.config)
    api_key = load_api_key(args.api_key_file) if args.dest else ""
    files = iter_image_files(args.folder)
    model = ModelRegistry(args.models_dir or default_models_dir()).resolve(args.model)
    project = args.project or cfg.target_project or model.model_id.split("/")[0]
    settings = settings_from(args, project)
    resume = bool(args.dest)
    progress_dir = settings.agent.state_dir / "scan" / scan_fingerprint(args, cfg, model, project)
    pipeline = build_pipeline(settings, StaticConfig.of(cfg), api_key=api_key,
                              progress_dir=progress_dir if resume else None)  # fmt: skip
    try:
        progress_db = pipeline.stage.progress
        if progress_db is not None and not args.rescan:
            before = len(files)
            files = [f for f in files if not progress_db.is_done(f)]
            if before != len(files):
                console.print(f"resuming: {before - len(files)} file(s) already scanned with this config, model, "
                              "project and destination (--rescan evaluates them again)")  # fmt: skip
        pipeline.start_uploads()
        summary = _scan(args, console, files, pipeline, append=resume)
        print_selection_table(console, cfg, pipeline.stage.selector,
                              f"scan: {len(files)} files, {summary.failed} failed, "
                              f"{summary.elapsed_s:.1f} s")  # fmt: skip
        console.print(f"selected frames written to {args.output}")
        undelivered = sum(summary.dropped.values())
        if undelivered:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.dropped.items()))
            console.print(f"[red]dropped:[/red] {undelivered} selected or sampled frame(s) could not be kept "
                          f"({reasons})", highlight=False)  # fmt: skip
        if pipeline.uploader is not None and pipeline.spool is not None:
            drained = pipeline.drain(args.drain_timeout)
            stats = pipeline.spool.stats()
            counts = pipeline.uploader.counters.counts
            console.print(f"uploaded {counts['uploaded']}, duplicates {counts['duplicate']}, "
                          f"retries {counts['retry']}, dead letters {stats.dead}, still spooled {stats.ready}"
                          + ("" if drained else " (destination slow or offline: `framesift scan` again or "
                             "`framesift run` delivers them later)"))  # fmt: skip
            undelivered += stats.dead + stats.ready + stats.leased
            if undelivered:
                console.print(f"[red]not delivered:[/red] {stats.dead} frame(s) dead-lettered (`framesift spool "
                              f"--spool {pipeline.spool.directory} list --dead`), {stats.ready + stats.leased} still "
                              f"spooled; destination {pipeline.uploader.link.describe()}", highlight=False)  # fmt: skip
    finally:
        pipeline.close()
    if undelivered:
        return EXIT_UNDELIVERED
    return 0 if not summary.failed else EXIT_FILES_FAILED


def _scan(
    args: argparse.Namespace, console: Console, files: list[Path], pipeline: Pipeline, *, append: bool
) -> ScanSummary:
    t0 = time.perf_counter()
    progress = Progress(TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[selected]} selected"), TimeRemainingColumn(),
                        console=console, disable=args.no_progress or not console.is_terminal)  # fmt: skip
    with args.output.open("a" if append else "w", encoding="utf-8") as out, progress:
        task = progress.add_task("scan", total=len(files), selected=0)
        selected = 0

        dropped: Counter[str] = Counter()

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
                        "top": _top_prediction(batch, sel.frame),
                        "inference_id": batch.inference_ids[sel.frame],
                    }
                    out.write(json.dumps(line) + "\n")
                out.flush()
                selected += len(decision.selections)
            for _, reason in result.drops:
                dropped[reason] += 1
            progress.update(task, advance=len(chunk), selected=selected)

        failures = pipeline.run_files(files, on_batch)
    return ScanSummary(failures, time.perf_counter() - t0, dict(dropped))


def _top_prediction(batch: PredictionBatch, frame: int) -> dict[str, object] | None:
    """The frame's most confident class and its confidence (None: nothing predicted)."""
    if batch.class_scores is not None:
        scores = batch.class_scores[frame]
        if scores.size == 0 or bool(np.isnan(scores).all()):
            return None
        best = int(np.nanargmax(scores))
        return {"class": batch.class_names[best], "confidence": round(float(scores[best]), 3)}
    mine = np.flatnonzero(batch.frame_index == frame)
    if mine.size == 0:
        return None
    best = int(mine[np.argmax(batch.confidence[mine])])
    return {
        "class": batch.class_names[int(batch.class_id[best])],
        "confidence": round(float(batch.confidence[best]), 3),
    }
