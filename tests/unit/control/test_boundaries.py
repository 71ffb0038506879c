"""agent.control depends on the facade, never on the daemon's classes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agent.control

PACKAGE = "agent.control"
CONTROL_DIR = Path(agent.control.__file__).parent
MODULES = sorted(CONTROL_DIR.rglob("*.py"))
# beside the daemon, the servicer side must not reach into the pipeline's parts either
PIPELINE = ("agent.daemon", "agent.spool", "agent.inference", "agent.pipeline", "agent.sampling", "agent.upload")
FACADE_SIDE = ("servicer.py", "server.py", "convert.py", "facade.py")


def imports_of(source: str, package: str) -> set[str]:
    """Every module an import statement names (``from a import b`` also yields ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(CONTROL_DIR).parent.parts
    return ".".join((PACKAGE, *rel))


def offending(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_walker_sees_every_import_form():
    source = "import agent.daemon.agent\nfrom agent import daemon\nfrom ..spool import disk_spool\nimport json\n"
    names = imports_of(source, "agent.control")
    assert offending(names, PIPELINE) == ["agent.daemon", "agent.daemon.agent", "agent.spool",
                                          "agent.spool.disk_spool"]  # fmt: skip


def test_there_are_modules_to_check():
    assert {p.name for p in MODULES} >= {"servicer.py", "server.py", "convert.py", "facade.py", "client.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CONTROL_DIR)))
def test_no_control_module_imports_the_daemon(path):
    names = imports_of(path.read_text(encoding="utf-8"), package_of(path))
    assert offending(names, ("agent.daemon",)) == []


@pytest.mark.parametrize("name", FACADE_SIDE)
def test_the_servicer_side_needs_only_the_facade(name):
    names = imports_of((CONTROL_DIR / name).read_text(encoding="utf-8"), PACKAGE)
    assert offending(names, PIPELINE) == []
