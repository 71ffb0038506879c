"""The package's shape: no import cycles between subpackages, small modules, one assembly."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "agent"
GENERATED = PACKAGE / "control" / "v1"
MAX_LINES = 400


def hand_written_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if GENERATED not in p.parents)


def imported_agent_modules(path: Path) -> set[str]:
    """Absolute ``agent.*`` modules imported anywhere in the file (function-level imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out.update(n for n in names if n == "agent" or n.startswith("agent."))
    return out


def subpackage_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or not (PACKAGE / parts[1]).is_dir():
        return None  # top-level modules (errors, sdk, __main__) are not subpackages
    return parts[1]


def subpackage_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in hand_written_modules():
        rel = path.relative_to(PACKAGE).parts
        if len(rel) < 2:
            continue
        for module in imported_agent_modules(path):
            target = subpackage_of(module)
            if target is not None and target != rel[0]:
                graph[rel[0]].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_import_cycle_between_subpackages():
    graph = subpackage_graph()
    assert {"pipeline", "sources", "daemon", "control", "spool"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize("path", hand_written_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_readable_in_one_sitting(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_no_grab_bag_modules():
    assert not [p for p in hand_written_modules() if p.stem in {"utils", "util", "helpers", "misc", "common_utils"}]


WIRING = {"DiskSpool", "Uploader", "UploadClient", "open_limit_store", "ActiveLearningSelector", "BatchStage"}
"""What only the assembly (agent/pipeline/assembly.py) may construct."""


def constructed_names(path: Path) -> set[str]:
    calls = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            fn = node.func
            calls.add(fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else "")
    return calls


@pytest.mark.parametrize("rel", ["daemon/agent.py", "cli/scan_cmd.py", "sdk.py"])
def test_daemon_scan_and_sdk_are_built_by_the_one_assembly(rel):
    calls = constructed_names(PACKAGE / rel)
    assert "build_pipeline" in calls
    assert not calls & WIRING, f"{rel} wires {sorted(calls & WIRING)} itself"


def test_environment_is_read_in_one_place():
    readers = []
    for path in hand_written_modules():
        text = path.read_text(encoding="utf-8")
        if "os.environ.get(" in text or "os.getenv(" in text or "os.environ[" in text:
            readers.append(str(path.relative_to(PACKAGE)))
    assert readers == [], f"read the environment through agent.config.environment: {readers}"
