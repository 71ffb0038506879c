"""Small distinct JPEG frames for spool and upload tests."""

from __future__ import annotations

import hashlib

import numpy as np
import simplejpeg

from agent.spool.disk_spool import SpoolItem


def jpeg_frame(i: int, size: int = 32) -> bytes:
    """A unique small JPEG (content depends on ``i``)."""
    rng = np.random.default_rng(i)
    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return simplejpeg.encode_jpeg(pixels, quality=80, colorspace="BGR")


def spool_item(i: int, project: str = "proj", size: int = 32, annotate: bool = True) -> SpoolItem:
    data = jpeg_frame(i, size)
    return SpoolItem(
        jpeg=data, sha256=hashlib.sha256(data).hexdigest(), project=project, batch_name="batch-1",
        tags=["t1"], strategy="s", inference_id=f"inf-{i}",
        annotation={"name": f"inf-{i}.json", "body": '{"predictions": [{"x": 1}]}',
                    "content_type": "text/plain"} if annotate else None,
    )  # fmt: skip
