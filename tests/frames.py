"""Small distinct JPEG frames for spool and upload tests."""

from __future__ import annotations

import hashlib

import numpy as np
import simplejpeg

from agent.limits.store import Credit
from agent.predictions.annotation import Annotation
from agent.spool.records import SpoolItem


def jpeg_frame(i: int, size: int = 32) -> bytes:
    """A unique small JPEG (content depends on ``i``)."""
    rng = np.random.default_rng(i)
    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return bytes(simplejpeg.encode_jpeg(pixels, quality=80, colorspace="BGR"))


def spool_item(i: int, project: str = "proj", size: int = 32, annotate: bool = True, credit: bool = False) -> SpoolItem:
    """A SpoolItem for frame ``i`` (with an annotation unless ``annotate`` is False; with a
    local limit credit when ``credit`` is True)."""
    data = jpeg_frame(i, size)
    return SpoolItem(
        jpeg=data, sha256=hashlib.sha256(data).hexdigest(), project=project, batch_name="batch-1",
        tags=("t1",), strategy="s", inference_id=f"inf-{i}",
        annotation=Annotation(f"inf-{i}.json", '{"predictions": [{"x": 1, "y": 1, "width": 2, "height": 2, "class": "c"}]}')  # noqa: E501
        if annotate else None,
        credit=Credit("s", "batch-1", (f"s:minutely:{i}",)) if credit else None,
    )  # fmt: skip
