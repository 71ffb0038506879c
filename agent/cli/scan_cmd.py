"""``framesift scan FOLDER --model M --config C``: predict + sample + limits in one pass."""

from __future__ import annotations

import argparse
import json
import os
import time
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
from agent.config.al_config import load_al_config
from agent.frames.files import iter_image_files
from agent.frames.prefetch import FramePrefetcher
from agent.limits.factory import open_limit_store
from agent.sampling.selector import ActiveLearningSelector


def default_state_dir() -> Path:
    """``$FRAMESIFT_STATE_DIR``, else ``$STATE_DIRECTORY`` (systemd), else ``~/.local/state/framesift``."""
    for env in ("FRAMESIFT_STATE_DIR", "STATE_DIRECTORY"):
        if os.environ.get(env):
            return Path(os.environ[env].split(":")[0])
    return Path.home() / ".local" / "state" / "framesift"


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
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict, evaluate strategies, take limit credits, write the selected frame list."""
    console = Console(stderr=True)
    cfg = load_al_config(args.config)
    files = iter_image_files(args.folder)
    model = registry_from(args).load(args.model, max_batch=args.batch_size,
                                     runner_options=runner_options_from(args),
                                     params=params_from(args))  # fmt: skip
    model.warm_up()
    scope = cfg.target_project or model.model_id.split("/")[0]
    store = open_limit_store(args.state_dir or default_state_dir(), scope, args.redis_url)
    selector = ActiveLearningSelector(cfg, store, model_id=model.model_id, seed=args.seed)
    failures = 0
    t0 = time.perf_counter()
    progress = Progress(TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[selected]} selected"), TimeRemainingColumn(),
                        console=console, disable=args.no_progress or not console.is_terminal)  # fmt: skip
    try:
        with args.output.open("w", encoding="utf-8") as out, progress, \
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
                    sources = [str(f.path.parent) for f in good]
                    decision = selector.select(batch, images, sources)
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
                    selected += len(decision.selections)
                progress.update(task, advance=len(chunk.frames), selected=selected)
    finally:
        store.close()
    elapsed = time.perf_counter() - t0
    print_selection_table(console, cfg, selector,
                          f"scan: {len(files)} files, {failures} failed, {elapsed:.1f} s")  # fmt: skip
    console.print(f"selected frames written to {args.output}")
    return 0 if not failures else 3
