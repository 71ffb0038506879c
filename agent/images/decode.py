"""Turn encoded image bytes into 8-bit BGR pixels.

The content decides the decoder (magic bytes), not the file name: JPEG goes
through simplejpeg (libjpeg-turbo, EXIF orientation honoured), PNG, BMP, TIFF
and WebP through OpenCV. Grayscale, alpha and 16-bit images are normalised to
(H, W, 3) uint8 BGR. Image dimensions are read from the header *before*
decoding where the format allows, so a decompression bomb is refused without
allocating its pixels.

``min_hw`` asks for a reduced decode: a JPEG is then decoded with libjpeg's DCT
scaling at the smallest of 1/1, 1/2, 1/4, 1/8 whose *upright* size is at least
``min_hw`` (much cheaper than decoding every pixel and resizing) — a (height, width)
both sides must reach, or :class:`FitInside` for a consumer that scales the image to fit
inside a box (a letterbox: a 1280×720 frame for a 320×320 model needs 320×180, a 1/4
decode, not 640×360); ``full_hw`` always gives the upright size of the whole image.
Other formats ignore it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import simplejpeg
from numpy.typing import NDArray

from agent.errors import ImageDecodeError, ImageTooLargeError
from agent.images.exif import apply_orientation, read_jpeg_orientation

DEFAULT_MAX_PIXELS = 100_000_000
"""Default decompression-bomb limit: 100 megapixels (about 300 MB of BGR pixels)."""

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp"})
"""File extensions picked up when a folder is scanned."""


@dataclass(frozen=True)
class FitInside:
    """A reduced-decode target: the consumer scales the image, aspect kept, to fit inside (height, width).

    The decode must then cover the fitted size (never more than the image itself), not the box.
    """

    height: int
    width: int

    def needed_hw(self, full_hw: tuple[int, int]) -> tuple[int, int]:
        """(height, width) a decode of an image of upright size ``full_hw`` must reach at least."""
        h, w = full_hw
        ratio = min(self.height / h, self.width / w)
        if ratio >= 1:
            return full_hw
        return max(1, math.ceil(h * ratio)), max(1, math.ceil(w * ratio))


MinHW = tuple[int, int] | FitInside
"""What a reduced decode must reach: both sides at least (height, width), or a fitted size."""


@dataclass(frozen=True)
class DecodedImage:
    """A decoded frame.

    Attributes:
        pixels: (H, W, 3) uint8 BGR, upright.
        format: "jpeg", "png", "bmp", "tiff" or "webp".
        full_hw: (height, width) of the whole image, upright; differs from ``pixels.shape[:2]``
            only after a reduced decode (``min_hw``).
    """

    pixels: NDArray[np.uint8]
    format: str
    full_hw: tuple[int, int] = (0, 0)

    @property
    def reduced(self) -> bool:
        """True when ``pixels`` is smaller than the image (a DCT-scaled decode)."""
        return self.pixels.shape[:2] != self.full_hw


def sniff_format(data: bytes) -> str | None:
    """Return the image format named by the magic bytes of ``data``, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Return (height, width) from the header, or None when the format hides it."""
    try:
        if fmt == "png" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            return int(height), int(width)
        if fmt == "bmp" and len(data) >= 26:
            width, height = struct.unpack("<ii", data[18:26])
            return abs(int(height)), abs(int(width))
        if fmt == "webp" and len(data) >= 30:
            chunk = data[12:16]
            if chunk == b"VP8X":
                w = 1 + int.from_bytes(data[24:27], "little")
                h = 1 + int.from_bytes(data[27:30], "little")
                return h, w
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return h & 0x3FFF, w & 0x3FFF
    except struct.error:
        return None
    return None


def _check_pixels(source: str, height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise ImageTooLargeError(
            source,
            f"image is {width}x{height} = {height * width} pixels, above the limit of "
            f"{max_pixels} (raise the pixel limit, e.g. --max-pixels, if this is intended)",
        )


def normalize_to_bgr8(pixels: NDArray[Any], source: str) -> NDArray[np.uint8]:
    """Convert grayscale/alpha/16-bit/float pixels to (H, W, 3) uint8 BGR."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype in (np.float32, np.float64):
        pixels = np.clip(np.asarray(pixels) * 255.0, 0, 255).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ImageDecodeError(source, f"unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR))
    channels = pixels.shape[2]
    if channels == 1:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR))
    if channels == 4:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR))
    if channels == 3:
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    raise ImageDecodeError(source, f"unsupported channel count {channels}")


def decode_image(
    data: bytes,
    source: str = "<bytes>",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_hw: MinHW | None = None,
) -> DecodedImage:
    """Decode ``data`` into upright 8-bit BGR pixels.

    Args:
        data: the encoded file content.
        source: a name for error messages (usually the file path).
        max_pixels: refuse images with more pixels than this (counted at full size).
        min_hw: (height, width) the caller needs at least, upright, or :class:`FitInside`: a JPEG is
            decoded at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) that is at least this large. None:
            full size.

    Returns:
        The decoded image, (H, W, 3) uint8 BGR.

    Raises:
        ImageDecodeError: empty, truncated, unsupported or not an image.
        ImageTooLargeError: above ``max_pixels``.
    """
    if not data:
        raise ImageDecodeError(source, "file is empty (0 bytes)")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageDecodeError(source, "not an image: content is not JPEG, PNG, BMP, TIFF or WebP")
    if fmt == "gif":
        raise ImageDecodeError(source, "GIF is not supported; convert it to PNG or JPEG")
    if fmt == "jpeg":
        return _decode_jpeg(data, source, max_pixels, min_hw)
    size = _header_size(data, fmt)
    if size is not None:
        _check_pixels(source, size[0], size[1], max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        pixels = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageDecodeError(source, f"{fmt.upper()} decoder failed: {exc}") from exc
    if pixels is None or pixels.size == 0:
        raise ImageDecodeError(source, f"{fmt.upper()} data is truncated or corrupt")
    _check_pixels(source, pixels.shape[0], pixels.shape[1], max_pixels)
    out = normalize_to_bgr8(pixels, source)
    return DecodedImage(out, fmt, (out.shape[0], out.shape[1]))


_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
"""EXIF orientations that swap width and height (the stored image is rotated by 90°)."""


def _decode_jpeg(data: bytes, source: str, max_pixels: int, min_hw: MinHW | None) -> DecodedImage:
    try:
        height, width, _colorspace, _subsampling = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise ImageDecodeError(source, f"JPEG header is corrupt: {exc}") from exc
    _check_pixels(source, height, width, max_pixels)
    orientation = read_jpeg_orientation(data)
    transposed = orientation in _TRANSPOSING_ORIENTATIONS
    full_hw = (width, height) if transposed else (height, width)
    need_h = need_w = 0  # 0: full size
    if min_hw is not None:
        need = min_hw.needed_hw(full_hw) if isinstance(min_hw, FitInside) else min_hw
        need_h, need_w = max(1, int(need[0])), max(1, int(need[1]))
        if transposed:  # libjpeg scales the stored image, which is the upright one turned by 90°
            need_h, need_w = need_w, need_h
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="BGR", strict=True,
                                     min_height=need_h, min_width=need_w)  # fmt: skip
    except ValueError as exc:
        reason = str(exc)
        if "premature" in reason.lower():
            reason = "JPEG data is truncated (premature end of file)"
        raise ImageDecodeError(source, f"JPEG decode failed: {reason}") from exc
    return DecodedImage(apply_orientation(pixels, orientation), "jpeg", full_hw)
