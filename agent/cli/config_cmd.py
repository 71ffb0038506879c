"""``framesift config validate FILE`` and ``framesift config schema``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.config.al_config import ActiveLearningConfig, config_json_schema, load_al_config
from agent.config.al_extensions import extensions_summary
from agent.errors import ConfigError


def add_parser(sub: Any) -> None:
    """Register ``config validate`` and ``config schema``."""
    p = sub.add_parser("config", help="validate the active-learning config or print its JSON Schema")
    csub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    vp = csub.add_parser("validate", help="check a config file; print every error with its JSON path")
    vp.add_argument("file", type=Path, help="active-learning config (JSON)")
    vp.set_defaults(run=run_validate)
    sp = csub.add_parser("schema", help="print the JSON Schema of the config")
    sp.set_defaults(run=run_schema)


def summary_table(cfg: ActiveLearningConfig, title: str) -> Table:
    """A one-screen summary of a valid config."""
    table = Table(title=title, show_header=False)
    table.add_row("enabled", str(cfg.enabled))
    if cfg.batching_strategy:
        bs = cfg.batching_strategy
        cap = f", max {bs.max_batch_images} images" if bs.max_batch_images else ""
        table.add_row("batches", f"{bs.batches_name_prefix} ({bs.recreation_interval}{cap})")
    table.add_row("persist predictions", str(cfg.persist_predictions))
    size = f"{cfg.max_image_size[0]}x{cfg.max_image_size[1]} (h x w)" if cfg.max_image_size else "original"
    table.add_row("image", f"{size}, JPEG quality {cfg.jpeg_compression_level}")
    if cfg.tags:
        table.add_row("tags", ", ".join(cfg.tags))
    if cfg.target_project:
        table.add_row("target project", cfg.target_project)
    if cfg.near_duplicate_filter:
        nd = cfg.near_duplicate_filter
        table.add_row("near-duplicates", f"dHash distance <= {nd.max_hamming_distance}, last {nd.history_size}")
    for s in cfg.sampling_strategies:
        params = s.model_dump(exclude={"name", "type", "tags", "limits", "framesift"}, exclude_none=True)
        limits = ", ".join(f"{k} {v}" for k, v in s.limit_values().items()) or "no limits"
        extensions = extensions_summary(s.framesift, s.limit_values())
        table.add_row(f"strategy {s.name}", f"{s.type} {json.dumps(params)}; {limits}"
                      + (f"; framesift: {extensions}" if extensions else ""))  # fmt: skip
    return table


def run_validate(args: argparse.Namespace) -> int:
    """Exit 0 and a summary when valid; 1 and every error with its path when not."""
    console = Console()
    try:
        cfg = load_al_config(args.file)
    except ConfigError as exc:
        console.print(f"[red]invalid[/red] {args.file}: {len(exc.issues)} error(s)")
        for issue in exc.issues:
            console.print(f"  {issue.path}: {issue.message}", markup=False, highlight=False, soft_wrap=True)
        return 1
    console.print(f"[green]valid[/green] {args.file}")
    console.print(summary_table(cfg, str(args.file)))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema."""
    print(json.dumps(config_json_schema(), indent=2))
    return 0
