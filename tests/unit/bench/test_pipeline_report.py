"""bench pipeline's arithmetic and verdicts: each target line passes or fails on its own limit."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from agent.bench.pipeline_bench import STAGES, PipelineBenchReport, ScenarioRun, _ceiling, _mean_baseline
from agent.bench.pipeline_report import print_report, targets

FOLDER5, FOLDER100, SUBMIT = "folder, 5 % selected", "folder, 100 % selected", "SubmitFrames, 5 % selected"


def report(folder5=0.95, folder100=0.8, ceiling100=0.85, submit=0.93, infer=(15.0, 14.0), rss=250.0):
    stages = dict.fromkeys(STAGES, 0.5)
    rows = [ScenarioRun(FOLDER5, folder5 * 100, 100.0, stages),
            ScenarioRun(FOLDER100, folder100 * 100, 100.0, stages, ceiling=ceiling100),
            ScenarioRun(SUBMIT, submit * 100, 100.0, stages)]  # fmt: skip
    r = PipelineBenchReport(frames=400, batch_size=8, cores=2, runs=[rows], peak_rss_mb=rss, idle_rss_mb=200.0)
    r.infer_p50_ms, r.bare1_p50_ms = [infer[0]], [infer[1]]
    r.infer_parts_ms = [{"decode": 1.1, "preprocess": 0.1, "infer": 13.5, "postprocess": 0.3, "rpc": 0.77}]
    r.rpc_floor_ms = [0.9]
    return r


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({}, []),
        ({"folder5": 0.89}, ["folder source, 5 % selected"]),
        ({"folder100": 0.69, "ceiling100": 0.69}, ["folder source, 100 % selected, vs bare"]),
        ({"folder100": 0.75, "ceiling100": 0.9}, ["vs its CPU-bound ceiling"]),
        ({"submit": 0.85}, ["SubmitFrames"]),
        ({"infer": (15.5, 14.0)}, ["Infer p50"]),
        ({"rss": 301.0}, ["peak RSS"]),
    ],
)
def test_each_target_fails_alone(changes, failing):
    missed = [t.what for t in targets(report(**changes)) if not t.met]
    assert len(missed) == len(failing) and all(f in m for f, m in zip(failing, missed, strict=True))


def test_printed_report_has_a_line_per_target_and_the_infer_parts():
    out = io.StringIO()
    ok = print_report(report(submit=0.5), Console(file=out, width=200))
    text = out.getvalue()
    assert not ok
    assert text.count("PASS ") == 5 and text.count("FAIL ") == 1 and "FAIL  SubmitFrames" in text
    assert "where an Infer call's time goes" in text and "0.77" in text
    # floor = 14.0 bare + 1.1 decode + 0.9 gRPC = 16.0 ms = 1.14x bare; the 15.0 ms p50 is 0.94x of it
    assert "floor on this machine: 1.14x" in text and "floor: 0.94x" in text


def test_baseline_is_the_mean_of_before_and_after_and_the_ceiling_is_capped():
    assert _mean_baseline((100.0, 0.02), (80.0, 0.03)) == pytest.approx((90.0, 0.025))
    # 2 cores, 25 ms of daemon CPU per frame -> 80 frames/s at best; bare at 100 frames/s -> 0.8x
    assert _ceiling(daemon_cpu_s=10.0, frames=400, bare_fps=100.0, cores=2) == pytest.approx(0.8)
    assert _ceiling(daemon_cpu_s=1.0, frames=400, bare_fps=100.0, cores=2) == 1.0
