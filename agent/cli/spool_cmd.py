"""``framesift spool stats|list|retry|purge``: look into and repair the offline queue."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.cli.common import positive_int
from agent.errors import SpoolError
from agent.spool.disk_spool import DiskSpool


def default_spool_dir() -> Path:
    """``<state dir>/spool``."""
    from agent.config.agent_settings import default_state_dir

    return default_state_dir() / "spool"


def add_parser(sub: Any) -> None:
    """Register the spool commands."""
    p = sub.add_parser("spool", help="inspect the offline upload queue")
    p.add_argument("--spool", type=Path, default=None,
                   help="spool directory (default <state dir>/spool: $FRAMESIFT_STATE_DIR/spool, "
                        "else ~/.local/state/framesift/spool)")  # fmt: skip
    ssub = p.add_subparsers(dest="spool_command", metavar="SUBCOMMAND", required=True)
    ssub.add_parser("stats", help="counts, bytes, drops").set_defaults(run=run_stats)
    lp = ssub.add_parser("list", help="records, oldest first")
    lp.add_argument("--dead", action="store_true", help="only dead letters")
    lp.add_argument("--limit", type=positive_int, default=50, help="at most this many records")
    lp.set_defaults(run=run_list)
    rp = ssub.add_parser("retry", help="move dead letters back to the queue")
    rp.add_argument("seq", nargs="*", type=int, help="only these records (default: all dead)")
    rp.set_defaults(run=run_retry)
    pp = ssub.add_parser("purge", help="delete dead letters (or everything with --all)")
    pp.add_argument("--all", action="store_true", help="also frames not yet delivered")
    pp.set_defaults(run=run_purge)


def _open(args: argparse.Namespace, read_only: bool) -> DiskSpool:
    """Open an existing spool; a directory that holds none is an error (a typo must not create one).

    Raises:
        SpoolError: no spool database under the directory.
    """
    directory: Path = args.spool or default_spool_dir()
    if not (directory / "queue" / "cache.db").is_file():
        raise SpoolError(f"no spool at {directory} (nothing was ever spooled there; "
                         "the agent's is <state dir>/spool, a scan's --state-dir DIR/spool)")  # fmt: skip
    return DiskSpool(directory, read_only=read_only)


def run_stats(args: argparse.Namespace) -> int:
    """Print the spool's counters."""
    spool = _open(args, read_only=True)
    stats = spool.stats()
    spool.close()
    table = Table(title=f"spool {args.spool or default_spool_dir()}", show_header=False)
    for key, value in stats.__dict__.items():
        table.add_row(key, f"{value / 1e6:.1f} MB" if key == "bytes" else str(value))
    Console().print(table)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print records with their state and last error."""
    spool = _open(args, read_only=True)
    entries = spool.list("dead" if args.dead else None, args.limit)
    spool.close()
    table = Table(title="spool records")
    for col in ("seq", "state", "attempts", "KB", "age", "project/batch", "strategy", "last error"):
        table.add_column(col)
    now = time.time()
    for e in entries:
        table.add_row(str(e.seq), e.state, str(e.attempts), f"{e.bytes / 1024:.0f}", f"{now - e.created_s:.0f} s",
                      f"{e.project}/{e.batch_name}", e.strategy, (e.last_error or "")[:80])  # fmt: skip
    Console().print(table)
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Requeue dead letters."""
    spool = _open(args, read_only=False)
    n = spool.retry_dead(args.seq or None)
    spool.close()
    print(f"requeued {n} record(s)")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    """Delete dead letters (or all)."""
    spool = _open(args, read_only=False)
    n = spool.purge(dead_only=not args.all)
    spool.close()
    print(f"purged {n} record(s)")
    return 0
