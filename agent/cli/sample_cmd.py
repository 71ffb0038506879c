"""``framesift sample``: dry-run a config on recorded predictions, for tuning."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from agent.cli.common import non_negative_float, seed_int
from agent.config.al_config import ActiveLearningConfig, load_al_config
from agent.limits.local_store import LocalLimitStore
from agent.predictions.batch import PredictionBatch, TaskType
from agent.predictions.roboflow_json import batch_from_roboflow
from agent.sampling.selector import ActiveLearningSelector, utc_now

CHUNK = 256


def add_parser(sub: Any) -> None:
    """Register ``sample``."""
    p = sub.add_parser("sample", help="which frames a config would select, from predictions JSONL")
    p.add_argument("--config", type=Path, required=True, help="active-learning config (JSON)")
    p.add_argument("--predictions", type=Path, required=True,
                   help="JSON lines as `framesift predict` writes them")  # fmt: skip
    p.add_argument("--task", choices=[t.value for t in TaskType], default=None,
                   help="task type (default: guessed from each prediction)")  # fmt: skip
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the probability gates (default 0)")
    p.add_argument("--no-limits", action="store_true", help="ignore strategy limits and batch caps")
    p.add_argument("--model-id", default="", help="model id used for the model tag")
    p.add_argument("--frame-interval-s", type=non_negative_float, default=0.0,
                   help="replay the frames this many seconds apart from now (paced limits, drift); "
                        "0: all at the same instant")  # fmt: skip
    p.add_argument("--output", "-o", type=Path, default=None, help="per-frame decisions (JSONL; default: stdout)")
    p.set_defaults(run=run)


def _chunks(path: Path, stats: dict[str, int], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Consecutive predictions of the same kind (stub / not stub), at most CHUNK at a time."""
    chunk: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:  # a non-UTF-8 line is then skipped as not JSON
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except (json.JSONDecodeError, RecursionError, ValueError) as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply or a number too long"
                print(f"{path}:{lineno}: skipped, not JSON: {reason}", file=sys.stderr)
                stats["skipped"] += 1
                continue
            if not isinstance(doc, dict) or "error" in doc:
                print(f"{path}:{lineno}: skipped, not a prediction object", file=sys.stderr)
                stats["skipped"] += 1
                continue
            doc.setdefault("path", f"{path.name}:{lineno}")
            if chunk and (bool(chunk[0].get("is_stub")) != bool(doc.get("is_stub")) or len(chunk) >= size):
                yield chunk
                chunk = []
            chunk.append(doc)
    if chunk:
        yield chunk


_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)


def _readable_docs(chunk: list[dict[str, Any]], task: TaskType | None, stats: dict[str, int]) -> list[dict[str, Any]]:
    """The documents of ``chunk`` that convert on their own; each other one is reported and counted."""
    kept = []
    for doc in chunk:
        try:
            batch_from_roboflow([doc], task=task)
        except _MALFORMED as exc:
            print(f"{doc['path']}: skipped, malformed prediction: {str(exc)[:200]}", file=sys.stderr)
            stats["skipped"] += 1
            continue
        kept.append(doc)
    return kept


def run(args: argparse.Namespace) -> int:
    """Evaluate the config on every prediction; per-frame lines and a summary table."""
    console = Console(stderr=True)
    cfg = load_al_config(args.config)
    stats = {"frames": 0, "skipped": 0, "selected": 0}
    task = TaskType(args.task) if args.task else None
    with tempfile.TemporaryDirectory(prefix="framesift-sample-") as tmp:
        store = LocalLimitStore(Path(tmp))
        start, interval_s = utc_now(), args.frame_interval_s

        def replay_clock() -> datetime:
            return start + timedelta(seconds=stats["frames"] * interval_s)

        selector = ActiveLearningSelector(cfg, store, model_id=args.model_id, seed=args.seed,
                                          ignore_limits=args.no_limits, clock=replay_clock)  # fmt: skip
        out: IO[str] = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
        try:
            for chunk in _chunks(args.predictions, stats, 1 if interval_s > 0 else CHUNK):
                batch: PredictionBatch | None
                try:
                    batch = batch_from_roboflow(chunk, task=task)
                except _MALFORMED:  # a field of the wrong type: find the line(s), evaluate the rest
                    chunk = _readable_docs(chunk, task, stats)
                    try:  # lines of different tasks each convert alone but not together
                        batch = batch_from_roboflow(chunk, task=task) if chunk else None
                    except _MALFORMED as exc:
                        console.print(f"[red]skipped {len(chunk)} predictions of mixed tasks:[/red] {exc}")
                        stats["skipped"] += len(chunk)
                        batch = None
                if batch is None:
                    continue
                decision = selector.select(batch)
                chosen = {s.frame: s for s in decision.selections}
                for i, doc in enumerate(chunk):
                    matched = [n for j, n in enumerate(selector.engine.names) if decision.matrix[i, j]]
                    pick = chosen.get(i)
                    line = {"path": doc["path"], "matched": matched,
                            "selected": pick.strategy if pick else None}  # fmt: skip
                    if pick:
                        line |= {"batch": pick.batch_name, "tags": list(pick.tags)}
                        if pick.charged_class is not None:
                            line["quota_class"] = pick.charged_class
                    out.write(json.dumps(line) + "\n")
                stats["frames"] += batch.batch_size
                stats["selected"] += len(decision.selections)
        finally:
            if args.output:
                out.close()
            store.close()
    print_selection_table(console, cfg, selector, f"sample: {args.config.name} on {stats['frames']} "
                          f"frames (seed {args.seed})")  # fmt: skip
    if stats["skipped"]:
        console.print(f"skipped lines (errors, not JSON): {stats['skipped']}")
    return 0


def print_selection_table(
    console: Console, cfg: ActiveLearningConfig, selector: ActiveLearningSelector, title: str
) -> None:
    """Per-strategy matched/selected counts and what the limits refused."""
    table = Table(title=title)
    for col in ("strategy", "type", "matched", "selected"):
        table.add_column(col)
    for s in cfg.sampling_strategies:
        table.add_row(s.name, s.type, str(selector.stats.matched[s.name]),
                      str(selector.stats.selected[s.name]))  # fmt: skip
    table.add_row("total", "", "", str(sum(selector.stats.selected.values())))
    console.print(table)
    st = selector.stats
    if st.limited_strategy or st.limited_batch or st.near_duplicates:
        console.print(f"refused: strategy limits {st.limited_strategy}, batch cap {st.limited_batch}, "
                      f"near-duplicates {st.near_duplicates}")  # fmt: skip
    if st.limited_pacing or st.limited_quota:
        console.print(f"framesift: paced out {st.limited_pacing}, over class quota {st.limited_quota}")
    if st.charged_classes:
        console.print("class quota charged: " + ", ".join(f"{k} {v}" for k, v in sorted(st.charged_classes.items())))
    if st.boosted_batches:
        console.print(f"drift boost active in {st.boosted_batches} batch(es)")
