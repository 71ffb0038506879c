"""Spool factories: every semantics test runs against DiskSpool and MemorySpool."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.spool.disk_spool import DiskSpool
from agent.spool.memory_spool import MemorySpool, MemoryStore
from agent.spool.record_queue import RecordQueue


@dataclass
class FakeClocks:
    """Wall clock (seconds since the epoch) and monotonic clock (seconds), moved by hand."""

    wall_s: float = 1_000_000.0
    mono_s: float = 100.0

    def wall(self) -> float:
        return self.wall_s

    def mono(self) -> float:
        return self.mono_s


@dataclass
class SpoolFactory:
    """Opens spools of one kind; ``open`` again on the same factory is a reopen (same records)."""

    kind: str
    tmp_path: Path
    clocks: FakeClocks = field(default_factory=FakeClocks)
    _store: MemoryStore = field(default_factory=MemoryStore)
    _opened: list[RecordQueue] = field(default_factory=list)

    def open(self, **options: Any) -> RecordQueue:
        options.setdefault("clock", self.clocks.wall)
        options.setdefault("monotonic", self.clocks.mono)
        if self.kind == "disk":
            spool: RecordQueue = DiskSpool(self.tmp_path / "spool", **options)
        else:
            spool = MemorySpool(store=self._store, **options)
        self._opened.append(spool)
        return spool

    def reopen(self, spool: RecordQueue, **options: Any) -> RecordQueue:
        """Close ``spool`` and open the same records again (leases are forgotten)."""
        spool.close()
        return self.open(**options)

    def close_all(self) -> None:
        for spool in self._opened:
            spool.close()
        self._opened.clear()


@pytest.fixture(params=["disk", "memory"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpoolFactory]:
    made = SpoolFactory(request.param, tmp_path)
    yield made
    made.close_all()
