"""Frame: one decoded image from a source, on its way to the batcher."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass
class Frame:
    """A frame and where it came from.

    Attributes:
        source_id: the source (folder, camera, gRPC client) it belongs to.
        frame_id: file path, stream frame number, or the id a host app gave.
        image: (H, W, 3) uint8 BGR.
        enqueued_mono: monotonic time it entered the batcher (set by the batcher).
        captured_wall: wall-clock capture time.
        origin_path: the file the frame was read from, if any: marked done in the source's
            progress only once the frame's batch has been decided and spooled.
        decode_s: seconds spent reading and decoding it (0 when not measured).
        encoded: the JPEG file ``image`` was decoded from: a selected frame is uploaded as these bytes
            when they can go as they are (``prepare/jpeg_passthrough.py``), else they are decoded again
            at upload size when ``image`` is a reduced (DCT-scaled) decode. None for other formats and
            when ``image`` is all there is (video frames, raw pixels). Released with the pixels.
        full_hw: (height, width) of the whole image, upright, when ``image`` is a reduced decode;
            predictions are mapped back to it. None: ``image`` is full size.
    """

    source_id: str
    frame_id: str
    image: NDArray[np.uint8]
    enqueued_mono: float = 0.0
    captured_wall: float = field(default_factory=time.time)
    origin_path: Path | None = None
    decode_s: float = 0.0
    encoded: bytes | None = None
    full_hw: tuple[int, int] | None = None

    @property
    def held_bytes(self) -> int:
        """Bytes this frame holds: decoded pixels plus the encoded copy."""
        return int(self.image.nbytes) + (len(self.encoded) if self.encoded is not None else 0)
