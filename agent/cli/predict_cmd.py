"""``framesift predict PATH... --model M``: predictions for files and folders as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from agent.cli.common import add_model_arguments, model_section_from, positive_int
from agent.frames.files import iter_image_files
from agent.frames.prefetch import FramePrefetcher
from agent.images.decode import DEFAULT_MAX_PIXELS
from agent.inference.loading import load_model
from agent.predictions.roboflow_json import batch_to_roboflow


def add_parser(sub: Any) -> None:
    """Register the ``predict`` command."""
    p = sub.add_parser("predict", help="run a model over image files/folders, write JSON lines")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    add_model_arguments(p)
    p.add_argument("--batch-size", type=positive_int, default=8, help="frames per inference call")
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        help="write JSON lines here (default: stdout when no terminal, else none)",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse images with more pixels (decompression-bomb guard)",
    )
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict every image; one JSON line per file; summary on stderr."""
    console = Console(stderr=True)
    try:
        files = iter_image_files(args.paths)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    model = load_model(model_section_from(args, args.batch_size), args.models_dir)
    stats = PredictStats()
    with ExitStack() as stack:
        out: IO[str] | None = None
        if args.output is not None:
            out = stack.enter_context(args.output.open("w", encoding="utf-8"))
        elif not sys.stdout.isatty():
            out = sys.stdout
        progress = Progress(
            TextColumn("[bold]predict"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=console, disable=args.no_progress or not console.is_terminal,
        )  # fmt: skip
        stack.enter_context(progress)
        task = progress.add_task("predict", total=len(files), rate="")
        prefetch = stack.enter_context(FramePrefetcher(files, args.batch_size, max_pixels=args.max_pixels))
        t0 = time.perf_counter()
        for batch in prefetch:
            good = batch.good
            docs: dict[Path, dict[str, Any]] = {}
            if good:
                preds = model.predict([f.pixels for f in good if f.pixels is not None])
                for frame, doc in zip(good, batch_to_roboflow(preds), strict=True):
                    docs[frame.path] = doc
                stats.count_predictions(preds.class_names, docs.values(), preds.num_detections)
            for frame in batch.frames:
                if frame.error is not None:
                    stats.failures.append((str(frame.path), frame.error.reason))
                    line: dict[str, Any] = {"path": str(frame.path), "error": frame.error.reason}
                else:
                    line = {"path": str(frame.path), **docs[frame.path]}
                if out is not None:
                    out.write(json.dumps(line) + "\n")
            stats.done += len(batch.frames)
            rate = stats.done / max(time.perf_counter() - t0, 1e-9)
            progress.update(task, advance=len(batch.frames), rate=f"{rate:.1f} img/s")
        stats.elapsed_s = time.perf_counter() - t0
    stats.print(console, model.model_id, getattr(model, "providers", []))
    return 0 if not stats.failures else 3


class PredictStats:
    """Counts for the final summary."""

    def __init__(self) -> None:
        self.done = 0
        self.detections = 0
        self.frames_with_detections = 0
        self.classes: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        self.elapsed_s = 0.0

    def count_predictions(self, names: tuple[str, ...], docs: Any, detections: int) -> None:
        """Add one batch's predictions."""
        self.detections += detections
        for doc in docs:
            preds = doc.get("predictions")
            if isinstance(preds, list) and preds and "x" in preds[0]:
                self.frames_with_detections += 1
                self.classes.update(p["class"] for p in preds)
            elif "top" in doc:
                self.classes[doc["top"]] += 1
            elif "predicted_classes" in doc:
                self.classes.update(doc["predicted_classes"])

    def print(self, console: Console, model_id: str, providers: list[str]) -> None:
        """Summary table, then the failed files with their reasons."""
        ok = self.done - len(self.failures)
        table = Table(title=f"framesift predict: {model_id}", show_header=False)
        table.add_row("images", str(self.done))
        table.add_row("predicted", str(ok))
        table.add_row("failed", str(len(self.failures)))
        table.add_row("detections", str(self.detections))
        table.add_row("images with detections", str(self.frames_with_detections))
        table.add_row("providers", ", ".join(providers) or "stub")
        table.add_row("elapsed", f"{self.elapsed_s:.2f} s")
        table.add_row("throughput", f"{self.done / max(self.elapsed_s, 1e-9):.1f} images/s")
        for name, count in self.classes.most_common(10):
            table.add_row(f"class {name}", str(count))
        console.print(table)
        for path, reason in self.failures[:20]:
            console.print(f"[red]failed[/red] {path}: {reason}")
        if len(self.failures) > 20:
            console.print(f"... and {len(self.failures) - 20} more failures")
