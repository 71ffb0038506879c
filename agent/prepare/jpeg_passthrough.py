"""Upload a JPEG source's own bytes instead of decoding and re-encoding them.

The reference decodes every selected frame and encodes it again at
``jpeg_compression_level``. For a JPEG that already fits ``max_image_size`` that costs a
full decode and an encode (about 8 ms for 1280×720 on a small CPU, more than the model's
share of the frame) and loses quality a second time. :func:`passthrough_jpeg` returns the
bytes to upload as they are when that is safe:

* the file is a baseline or progressive JPEG in YCbCr or grayscale (not CMYK/YCCK, which
  labeling tools render inconsistently);
* its EXIF orientation is 1 (upright as stored), so the stored pixels are the pixels the
  annotation's coordinates refer to;
* its quality, estimated from the luminance quantisation table against the IJG scale, is
  at most ``jpeg_compression_level`` (a camera's quality-98 file is still re-encoded when
  the config asks for 75: it asked for smaller uploads);
* the caller has checked that no resize is needed.

What is uploaded keeps only the segments a decoder needs (and JFIF, Adobe and ICC colour
segments): EXIF (GPS position, camera serial numbers), XMP, comments, thumbnails, MPF and
anything after the end-of-image marker (a motion photo's video) are removed, as a
re-encode would have removed them. Anything unexpected in the file's structure returns
None, and the frame is re-encoded as before.
"""

from __future__ import annotations

import struct
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from agent.images.exif import read_jpeg_orientation
from agent.prepare.encode import fit_size

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended sequential, progressive (Huffman)
_REFUSED_MARKERS = frozenset({0xC3, *range(0xC5, 0xD0)} - {0xC4})
"""Lossless, hierarchical and arithmetic-coded frames (and DAC): rare enough to re-encode."""
_DROPPED_APP = frozenset(range(0xE0, 0xF0)) - {0xE0, 0xE2, 0xEE}  # keep APP0 (JFIF), APP2 (ICC), APP14 (Adobe)

_IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], np.int32)  # fmt: skip
"""The JPEG standard's luminance table (Annex K) in natural order; libjpeg scales it by quality."""

_ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
], np.int32)  # fmt: skip
"""Natural index of each zig-zag position (DQT tables are stored in zig-zag order)."""


@lru_cache(maxsize=1)
def _ijg_tables() -> NDArray[np.int32]:
    """(100, 64) int32: the luminance table libjpeg writes at quality 1..100, zig-zag order."""
    quality = np.arange(1, 101, dtype=np.int32)[:, None]
    scale = np.where(quality < 50, 5000 // quality, 200 - 2 * quality)
    tables = np.clip((_IJG_LUMINANCE[None, :] * scale + 50) // 100, 1, 255)
    return tables[:, _ZIGZAG].astype(np.int32)


def estimate_quality(luminance_zigzag: NDArray[np.int32]) -> int:
    """The IJG quality (1..100) whose luminance table is closest to ``luminance_zigzag`` (64,) int32."""
    distance = np.abs(_ijg_tables() - luminance_zigzag[None, :]).sum(axis=1)
    return int(np.argmin(distance)) + 1


def _luminance_table(segment: bytes) -> NDArray[np.int32] | None:
    """Table 0 of a DQT segment's payload (zig-zag order), or None when it is not in this segment."""
    pos = 0
    while pos < len(segment):
        precision, table_id = segment[pos] >> 4, segment[pos] & 0x0F
        size = 128 if precision else 64
        values = segment[pos + 1 : pos + 1 + size]
        if len(values) != size:
            return None
        if table_id == 0:
            dtype = ">u2" if precision else "u1"
            return np.frombuffer(values, dtype=dtype).astype(np.int32)
        pos += 1 + size
    return None


def passthrough_jpeg(data: bytes, max_quality: int) -> bytes | None:
    """``data`` without metadata, when it can be uploaded as it is; None: decode and re-encode it.

    Args:
        data: the JPEG file a frame was decoded from (its size already fits the upload).
        max_quality: the config's ``jpeg_compression_level``: files above it are re-encoded.
    """
    if data[:3] != b"\xff\xd8\xff" or read_jpeg_orientation(data) != 1:
        return None
    out = [b"\xff\xd8"]
    pos, end = 2, len(data)
    luminance: NDArray[np.int32] | None = None
    frame_seen = False
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > end:
            return None
        segment = data[pos : pos + 2 + length]
        payload = segment[4:]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data and later scans
            if not frame_seen or luminance is None:
                return None
            scans = _scans_until_eoi(data, pos)
            if scans is None or estimate_quality(luminance) > max_quality:
                return None
            out.append(scans)
            return b"".join(out)
        if marker in _REFUSED_MARKERS:
            return None
        if marker in _SOF_MARKERS:
            components = payload[5] if len(payload) > 5 else 0
            if components not in (1, 3) or frame_seen:
                return None
            frame_seen = True
        elif marker == 0xDB and luminance is None:
            luminance = _luminance_table(payload)
        elif marker == 0xEE and len(payload) >= 12 and payload[:5] == b"Adobe" and payload[11] == 2:
            return None  # Adobe transform 2: YCCK
        if marker == 0xFE or marker in _DROPPED_APP or (marker == 0xE2 and not payload.startswith(b"ICC_PROFILE")):
            pos += 2 + length  # comment, EXIF/XMP/thumbnails, MPF: not uploaded
            continue
        out.append(segment)
        pos += 2 + length
    return None


def _scans_until_eoi(data: bytes, pos: int) -> bytes | None:
    """``data[pos:]`` up to and including the end-of-image marker (trailing bytes dropped), or None."""
    end = len(data)
    cursor = pos
    while True:
        # a marker segment (the SOS, a DHT or SOS between progressive scans): skip its header
        (length,) = struct.unpack(">H", data[cursor + 2 : cursor + 4]) if cursor + 4 <= end else (0,)
        if length < 2:
            return None
        cursor += 2 + length
        while True:  # entropy-coded bytes: 0xFF is followed by 0x00 (stuffing), RSTn, or a marker
            cursor = data.find(b"\xff", cursor)
            if cursor < 0 or cursor + 1 >= end:
                return None  # no end-of-image marker: truncated
            following = data[cursor + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                cursor += 1 if following == 0xFF else 2
                continue
            break
        if following == 0xD9:
            return data[pos : cursor + 2]
        if following not in (0xC4, 0xDA, 0xDB, 0xDD):  # only tables and scans may sit between scans
            return None


def passthrough_for_upload(encoded: bytes | None, full_hw: tuple[int, int], max_image_size: list[int] | None,
                           max_quality: int) -> bytes | None:  # fmt: skip
    """The bytes to upload for a frame read from ``encoded``, or None when it must be (re-)encoded.

    Args:
        encoded: the file the frame was decoded from (None: video or raw pixels).
        full_hw: (height, width) of the whole frame, upright.
        max_image_size: the config's [height, width] uploads must fit in, or None.
        max_quality: the config's ``jpeg_compression_level``.
    """
    if encoded is None or fit_size(full_hw[0], full_hw[1], max_image_size) != full_hw:
        return None
    return passthrough_jpeg(encoded, max_quality)
