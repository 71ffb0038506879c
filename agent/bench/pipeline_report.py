"""Prints ``bench pipeline``: medians over runs with their spread, stage costs, PASS/FAIL per target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from agent.bench.pipeline_bench import INFER_PARTS, STAGES, PipelineBenchReport, ScenarioRun


@dataclass(frozen=True)
class Target:
    """One line the benchmark checks: ``value`` (median) against ``limit``."""

    what: str
    value: float
    limit: float
    higher_is_better: bool
    unit: str = "x"

    @property
    def met(self) -> bool:
        """The median meets the limit."""
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        """``PASS  what: value (target >= limit)``."""
        op = ">=" if self.higher_is_better else "<="
        return (f"{'PASS' if self.met else 'FAIL'}  {self.what}: {self._fmt(self.value)} "
                f"(target {op} {self._fmt(self.limit)})")  # fmt: skip

    def _fmt(self, value: float) -> str:
        return f"{value:.2f}{self.unit}" if self.unit == "x" else f"{value:.0f} {self.unit}"


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else 0.0


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else "—"


def _infer_ratio(report: PipelineBenchReport) -> float:
    """Median over runs of Infer p50 / bare batch-1 p50 (each run's pair measured interleaved)."""
    return _median([a / b for a, b in zip(report.infer_p50_ms, report.bare1_p50_ms, strict=True)])


def _floor_ratio(report: PipelineBenchReport) -> float:
    """Median over runs of Infer's floor / bare batch-1 p50."""
    return _median([report.infer_floor_ms(i) / report.bare1_p50_ms[i] for i in range(len(report.rpc_floor_ms))])


def targets(report: PipelineBenchReport) -> list[Target]:
    """The issue's targets, checked against the medians of the runs."""
    by_name: dict[str, list[ScenarioRun]] = {}
    for rows in report.runs:
        for r in rows:
            by_name.setdefault(r.name, []).append(r)
    ratio = {n: _median([r.ratio for r in rs]) for n, rs in by_name.items()}
    ceiling = {n: _median([r.ceiling for r in rs]) for n, rs in by_name.items()}
    full = "folder, 100 % selected"
    infer_ratio = _infer_ratio(report)
    out = [Target("folder source, 5 % selected, vs bare", ratio.get("folder, 5 % selected", 0.0), 0.90, True),
           Target("folder source, 100 % selected, vs bare", ratio.get(full, 0.0), 0.70, True),
           Target(f"folder source, 100 % selected, vs its CPU-bound ceiling {ceiling.get(full, 0.0):.2f}x",
                  ratio.get(full, 0.0) / max(1e-9, ceiling.get(full, 1.0)), 0.90, True),
           Target("SubmitFrames, 5 % selected, vs bare", ratio.get("SubmitFrames, 5 % selected", 0.0), 0.90, True),
           Target("Infer p50 vs bare batch-1 p50", infer_ratio, 1.10, False),
           Target("daemon peak RSS under load", report.peak_rss_mb, 300.0, False, "MiB")]  # fmt: skip
    return out


def print_report(report: PipelineBenchReport, console: Console | None = None) -> bool:
    """Print the tables and the PASS/FAIL lines; True when every target is met."""
    console = console or Console(width=None if Console().is_terminal else 160)
    runs = len(report.runs)
    table = Table(title=f"bench pipeline: {report.frames} distinct 1280x720 JPEGs ({report.subsampling}), "
                        f"batch {report.batch_size}, "
                        f"{report.cores} cores; medians of {runs} run(s) (a ratio: the median of the runs' "
                        f"ratios), min–max across runs")  # fmt: skip
    for col in (
        "scenario",
        "daemon frames/s",
        "bare frames/s",
        "ratio",
        "ratio min–max",
        "CPU-bound ceiling",
        "daemon / bare CPU ms per frame",
    ):
        table.add_column(col, justify="right")
    names = [r.name for r in report.runs[0]] if report.runs else []
    for i, name in enumerate(names):
        rs = [rows[i] for rows in report.runs]
        table.add_row(name, f"{_median([r.daemon_fps for r in rs]):.1f}", f"{_median([r.bare_fps for r in rs]):.1f}",
                      f"{_median([r.ratio for r in rs]):.2f}x", _spread([r.ratio for r in rs]),
                      f"{_median([r.ceiling for r in rs]):.2f}x",
                      f"{_median([r.cpu_ms for r in rs]):.1f} / {_median([r.ort_cpu_ms for r in rs]):.1f}")  # fmt: skip
    if report.infer_p50_ms:
        infer, bare1 = _median(report.infer_p50_ms), _median(report.bare1_p50_ms)
        table.add_row("Infer RPC p50 (one frame)", f"{infer:.1f} ms", f"{bare1:.1f} ms",
                      f"{_infer_ratio(report):.2f}x",
                      _spread([a / b for a, b in zip(report.infer_p50_ms, report.bare1_p50_ms, strict=True)]),
                      f"floor {_floor_ratio(report):.2f}x" if report.rpc_floor_ms else "", "")  # fmt: skip
    console.print(table)
    stages = Table(
        title="where frames spend wall time (ms per inferred frame, medians; framesift_stage_seconds; "
        "background stages include the time they yield to the model)"
    )
    stages.add_column("scenario")
    for stage in STAGES:
        stages.add_column(stage, justify="right")
    for i, name in enumerate(names):
        rs = [rows[i] for rows in report.runs]
        stages.add_row(name, *[f"{_median([r.stage_ms[s] for r in rs]):.2f}" for s in STAGES])
    console.print(stages)
    if report.infer_parts_ms:
        parts = Table(title="where an Infer call's time goes (ms per call, means; rpc = gRPC both ways, the "
                            "servicer and the JSON reply; floor: a plain gRPC server's round trip around a "
                            "handler as long as the model)")  # fmt: skip
        columns = (*INFER_PARTS, "rpc")
        for col in (*columns, "rpc floor"):
            parts.add_column(col, justify="right")
        parts.add_row(*[f"{_median([p.get(c, 0.0) for p in report.infer_parts_ms]):.2f}" for c in columns],
                      f"{_median(report.rpc_floor_ms):.2f}")  # fmt: skip
        console.print(parts)
    console.print(f"daemon RSS: idle {report.idle_rss_mb:.0f} MiB, peak under load {report.peak_rss_mb:.0f} MiB")
    checks = targets(report)
    for target in checks:
        console.print(target.line(), markup=False, highlight=False)
    if report.rpc_floor_ms:
        runs_ = range(len(report.infer_p50_ms))
        console.print(f"note  Infer's floor on this machine: {_floor_ratio(report):.2f}x bare batch-1 (+ the JPEG "
                      f"decode, + {_median(report.rpc_floor_ms):.2f} ms for a plain gRPC round trip); Infer p50 vs "
                      f"that floor: {_median([report.infer_p50_ms[i] / report.infer_floor_ms(i) for i in runs_]):.2f}x",
                      markup=False, highlight=False)  # fmt: skip
    return all(t.met for t in checks)
