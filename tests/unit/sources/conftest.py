"""What the folder-source tests share: the test photos, a progress store, a wait with a deadline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.frames.scan_progress import ScanProgress
from tests.daemon_process import wait_until

DATA = Path(__file__).resolve().parents[2] / "data"


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (polling every 10 ms) until ``condition`` holds; fail the test when it does not in ``timeout_s``."""
    assert wait_until(condition, timeout_s, interval_s=0.01), "condition not met in time"


@pytest.fixture
def progress(tmp_path: Path) -> Iterator[ScanProgress]:
    store = ScanProgress(tmp_path / "progress")
    yield store
    store.close()
