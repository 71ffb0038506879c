"""``framesift models list``: what the models directory holds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.errors import FramesiftError
from agent.inference.registry import ModelRegistry, default_models_dir
from agent.inference.runner import RunnerOptions


def add_parser(sub: Any) -> None:
    """Register ``models list``."""
    p = sub.add_parser("models", help="inspect the models directory")
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    lp = msub.add_parser("list", help="list models with task, classes and input size")
    lp.add_argument("--models-dir", type=Path, default=None,
                    help="default $FRAMESIFT_MODELS_DIR or ~/.cache/framesift/models")  # fmt: skip
    lp.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one row per model; a model that fails to load shows its error."""
    registry = ModelRegistry(args.models_dir or default_models_dir())
    console = Console()
    refs = registry.list()
    table = Table(title=f"models in {registry.models_dir}")
    for col in ("model id", "task", "input", "classes", "file"):
        table.add_column(col)
    for ref in refs:
        try:
            model = registry.load(ref.model_id, max_batch=1,
                                  runner_options=RunnerOptions(providers=["cpu"]))  # fmt: skip
            spec = model.spec  # type: ignore[attr-defined]
            names = ", ".join(spec.class_names[:6])
            if len(spec.class_names) > 6:
                names += f", … ({len(spec.class_names)})"
            table.add_row(ref.model_id, spec.task.value, f"{spec.input_hw[0]}x{spec.input_hw[1]}",
                          names, str(ref.path))  # fmt: skip
        except FramesiftError as exc:
            table.add_row(ref.model_id, "[red]error[/red]", "", str(exc), str(ref.path))
    console.print(table)
    if not refs:
        console.print("no models found; `make models` fetches the test models")
    return 0
