"""Writes a spool in the v1 on-disk format (release dd5c4aa), like ``tests/data/spool_v1``.

Kept for provenance: ``tests/data/spool_v1/queue/cache.db`` was made with it. It only
runs against that release's code::

    git worktree add /tmp/fs-old dd5c4aa
    PYTHONPATH=/tmp/fs-old python tests/data/spool_v1/make_spool_v1.py /tmp/v1
    cp /tmp/v1/queue/cache.db tests/data/spool_v1/queue/   # closed cleanly: WAL checkpointed

v1 stores ``dataclasses.asdict(SpoolItem)`` with ``annotation`` and ``credit`` as plain
dicts (``keys`` a list) and no version key. The records (sequence numbers 1-5):

1. annotation + local credit; the test's fake server answers "duplicate" for it;
2. no annotation, no credit;
3. annotation + redis credit, dead-lettered ("HTTP 400: Invalid image.");
4. annotation + credit, server id "server-4" already known (annotation-only retry);
5. annotation + credit, nacked once ("HTTP 503"), ready again.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from agent.spool.disk_spool import DiskSpool, SpoolItem  # the v1 release's classes

CREATED_S = 1_700_000_000.0


def _jpeg(i: int) -> bytes:
    pixels = np.random.default_rng(100 + i).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    return bytes(simplejpeg.encode_jpeg(pixels, quality=80, colorspace="BGR"))


def _item(i: int, annotate: bool, credit: dict[str, Any] | None) -> SpoolItem:
    data = _jpeg(i)
    annotation = {"name": f"v1-{i}.json", "body": f'{{"predictions": [{{"x": {i}}}]}}',
                  "content_type": "application/json"}  # fmt: skip
    return SpoolItem(
        jpeg=data, sha256=hashlib.sha256(data).hexdigest(), project="v1proj", batch_name="v1-batch",
        tags=["site-a", f"t{i}"], strategy=f"strategy-{i}", inference_id=f"v1-inf-{i}",
        annotation=annotation if annotate else None, credit=credit, source=f"/frames/{i}.jpg",
        created_s=CREATED_S + i,
    )  # fmt: skip


def _credit(i: int, backend: str = "local") -> dict[str, Any]:
    return {"strategy": f"strategy-{i}", "batch_name": "v1-batch",
            "keys": [f"fs:strategy-{i}:minutely", f"fs:strategy-{i}:daily"], "backend": backend}  # fmt: skip


def main(directory: Path) -> None:
    spool = DiskSpool(directory, clock=lambda: CREATED_S + 10)
    seqs = spool.put_many([
        _item(1, True, _credit(1)),
        _item(2, False, None),
        _item(3, True, _credit(3, "redis")),
        _item(4, True, _credit(4)),
        _item(5, True, _credit(5)),
    ])  # fmt: skip
    assert seqs == [1, 2, 3, 4, 5], seqs
    leased = {}
    while (record := spool.lease()) is not None:
        leased[record.seq] = record
    spool.dead_letter(3, "HTTP 400: Invalid image.")
    spool.set_server_id(4, "server-4")
    spool.nack(5, 0.0, "HTTP 503")
    for seq in (1, 2, 4):
        spool.release(seq)
    spool.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
