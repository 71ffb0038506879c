"""A JPEG that needs no resize is uploaded as it is, minus its metadata; anything doubtful is re-encoded."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest
import simplejpeg

from agent.prepare.jpeg_passthrough import passthrough_jpeg

RNG = np.random.default_rng(7)
PIXELS = np.ascontiguousarray(
    cv2.GaussianBlur(RNG.integers(0, 255, (120, 160, 3), dtype=np.uint8), (5, 5), 0)
)  # a textured image: every quantisation step matters


ADOBE_YCCK = b"Adobe\x00\x64\x00\x00\x00\x00\x02"  # version 100, flags, transform 2


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _exif(orientation: int, secret: bytes = b"") -> bytes:
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + b"\0\0\0\0"
    return _segment(0xE1, b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd + secret)


def _jpeg(quality: int = 85, subsampling: str = "420") -> bytes:
    return simplejpeg.encode_jpeg(PIXELS, quality=quality, colorspace="BGR", colorsubsampling=subsampling)


def _with_header_segments(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def _pixels(jpeg: bytes) -> np.ndarray:
    return simplejpeg.decode_jpeg(jpeg, colorspace="BGR")


@pytest.mark.parametrize("quality", [30, 50, 75, 85, 95, 100])
@pytest.mark.parametrize("subsampling", ["444", "420"])
def test_quality_is_read_from_the_file(quality: int, subsampling: str) -> None:
    jpeg = _jpeg(quality, subsampling)
    assert passthrough_jpeg(jpeg, quality) == jpeg  # nothing to remove: the very same bytes
    assert passthrough_jpeg(jpeg, quality - 1) is None  # the config asks for smaller files: re-encode


def test_progressive_jpeg_passes_unchanged() -> None:
    ok, encoded = cv2.imencode(".jpg", PIXELS, [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    jpeg = encoded.tobytes()
    assert passthrough_jpeg(jpeg, 95) == jpeg


def test_metadata_and_trailing_bytes_are_removed_and_pixels_kept() -> None:
    plain = _jpeg()
    jpeg = (
        _with_header_segments(
            plain,
            _exif(1, secret=b"GPS 48.8584N 2.2945E"),
            _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>serial 4711</x:xmpmeta>"),
            _segment(0xE2, b"MPF\x00secondary image index"),
            _segment(0xE2, b"ICC_PROFILE\x00\x01\x01colour profile"),
            _segment(0xFE, b"camera serial 4711"),
        )
        + b"MOTION-PHOTO-VIDEO" * 100
    )
    out = passthrough_jpeg(jpeg, 95)
    assert out is not None
    for secret in (b"GPS", b"4711", b"MPF", b"MOTION-PHOTO", b"Exif"):
        assert secret not in out
    assert b"ICC_PROFILE" in out  # colour, not metadata: kept
    assert out.endswith(b"\xff\xd9")
    np.testing.assert_array_equal(_pixels(out), _pixels(plain))


def _patched_sof(jpeg: bytes, marker: int | None = None, components: int | None = None) -> bytes:
    data = bytearray(jpeg)
    pos = data.index(b"\xff\xc0")
    if marker is not None:
        data[pos + 1] = marker
    if components is not None:
        data[pos + 9] = components
    return bytes(data)


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("rotated by EXIF: the stored pixels are not the upright ones", _with_header_segments(_jpeg(), _exif(6))),
        ("not a JPEG", cv2.imencode(".png", PIXELS)[1].tobytes()),
        ("truncated: no end-of-image marker", _jpeg()[:-200]),
        ("arithmetic coding", _patched_sof(_jpeg(), marker=0xC9)),
        ("lossless", _patched_sof(_jpeg(), marker=0xC3)),
        ("four components (CMYK)", _patched_sof(_jpeg(), components=4)),
        (
            "YCCK (Adobe transform 2)",
            _with_header_segments(_jpeg(), _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x02")),
        ),
        ("a segment running past the end", _jpeg()[:2] + b"\xff\xe1\xff\xf0" + b"x" * 10),
        ("garbage where a marker should be", _jpeg()[:2] + b"\x00\x00" + _jpeg()[2:]),
        ("empty", b""),
    ],
)
def test_doubtful_files_are_re_encoded(case: str, data: bytes) -> None:
    assert passthrough_jpeg(data, 100) is None, case
