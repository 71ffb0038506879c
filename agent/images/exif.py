"""Read the EXIF orientation tag of a JPEG and apply it to decoded pixels.

Only the orientation tag (0x0112) is read; a malformed EXIF block is ignored
(orientation 1), never an error, because the pixels themselves are fine.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
from numpy.typing import NDArray

_ORIENTATION_TAG = 0x0112


def read_jpeg_orientation(data: bytes) -> int:
    """Return the EXIF orientation (1..8) of JPEG ``data``; 1 when absent or unreadable."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return 1
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return 1
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no EXIF before pixels
            return 1
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
            return _orientation_from_tiff(segment[6:])
        pos += 2 + length
    return 1


def _orientation_from_tiff(tiff: bytes) -> int:
    try:
        if tiff[:2] == b"II":
            endian = "<"
        elif tiff[:2] == b"MM":
            endian = ">"
        else:
            return 1
        (ifd_offset,) = struct.unpack(endian + "I", tiff[4:8])
        (count,) = struct.unpack(endian + "H", tiff[ifd_offset : ifd_offset + 2])
        for i in range(count):
            entry = ifd_offset + 2 + 12 * i
            tag, typ, _n = struct.unpack(endian + "HHI", tiff[entry : entry + 8])
            if tag == _ORIENTATION_TAG and typ == 3:
                (value,) = struct.unpack(endian + "H", tiff[entry + 8 : entry + 10])
                return int(value) if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def apply_orientation(image: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    """Rotate/flip ``image`` (H, W, C) uint8 so that it displays upright.

    Args:
        image: decoded pixels as stored in the file, shape (H, W, C).
        orientation: EXIF orientation value 1..8.

    Returns:
        The upright image; a new contiguous array unless orientation is 1.
    """
    if orientation == 1:
        return image
    ops = {
        2: lambda a: cv2.flip(a, 1),
        3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
        4: lambda a: cv2.flip(a, 0),
        5: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
        7: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(image)) if op else image
