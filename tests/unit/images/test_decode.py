"""Image decoding: formats, normalisation, EXIF orientation and the bad-file corpus."""

from __future__ import annotations

import struct
import zlib
from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest
import simplejpeg

from agent.errors import ImageDecodeError, ImageTooLargeError
from agent.images.decode import FitInside, decode_image, sniff_format
from agent.images.exif import read_jpeg_orientation


def _png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def _jpeg_with_orientation(pixels: np.ndarray, orientation: int) -> bytes:
    jpeg = simplejpeg.encode_jpeg(pixels, quality=95, colorspace="BGR")
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + b"\0\0\0\0"
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


@pytest.fixture
def photo(data_dir) -> bytes:
    return (data_dir / "astronaut.jpg").read_bytes()


def test_jpeg_decodes_to_bgr(photo):
    image = decode_image(photo)
    assert image.format == "jpeg"
    assert image.pixels.shape == (512, 512, 3) and image.pixels.dtype == np.uint8


@pytest.mark.parametrize(
    ("array", "expected_shape"),
    [
        pytest.param(np.full((10, 20), 200, np.uint8), (10, 20, 3), id="grayscale"),
        pytest.param(np.full((10, 20, 4), 9, np.uint8), (10, 20, 3), id="alpha"),
        pytest.param(np.full((10, 20, 3), 65535, np.uint16), (10, 20, 3), id="16-bit"),
        pytest.param(np.full((10, 20), 4096, np.uint16), (10, 20, 3), id="16-bit-gray"),
    ],
)
def test_png_is_normalised_to_8bit_bgr(array, expected_shape):
    image = decode_image(_png(array))
    assert image.pixels.shape == expected_shape
    assert image.pixels.dtype == np.uint8
    if array.dtype == np.uint16 and array.ndim == 3:
        assert image.pixels.max() == 255


@pytest.mark.parametrize("ext", [".bmp", ".tiff", ".webp"])
def test_other_formats(ext):
    pixels = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, pixels)
    assert ok
    assert decode_image(buf.tobytes()).pixels.shape == (16, 24, 3)


@pytest.mark.parametrize(
    ("orientation", "expected_hw"),
    [(1, (20, 40)), (3, (20, 40)), (6, (40, 20)), (8, (40, 20))],
)
def test_exif_orientation_is_applied(orientation, expected_hw):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    data = _jpeg_with_orientation(pixels, orientation)
    assert read_jpeg_orientation(data) == orientation
    out = decode_image(data).pixels
    assert out.shape[:2] == expected_hw
    if orientation == 3:  # rotated 180: white half is now on the right
        assert out[:, 30].mean() > 200 and out[:, 5].mean() < 50
    if orientation == 6:  # rotate 90 CW: the left half goes to the top
        assert out[5, :].mean() > 200 and out[35, :].mean() < 50


def _png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 32
    )


def _bad_corpus(photo: bytes) -> list:
    return [
        pytest.param(b"", ImageDecodeError, "0 bytes", id="empty"),
        pytest.param(photo[: len(photo) // 2], ImageDecodeError, "truncated", id="truncated-jpeg"),
        pytest.param(b"hello, I am text named .jpg", ImageDecodeError, "not an image", id="text"),
        pytest.param(b"GIF89a" + b"\0" * 20, ImageDecodeError, "GIF", id="gif"),
        pytest.param(_png_claiming(50_000, 50_000), ImageTooLargeError, "pixels", id="png-bomb"),
        pytest.param(_png(np.zeros((64, 64, 3), np.uint8))[:60], ImageDecodeError, "truncated", id="truncated-png"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\0" * 10, ImageDecodeError, "JPEG", id="jpeg-header-only"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_bad_files_raise_specific_errors(photo, case):
    param = _bad_corpus(photo)[case]
    data, error, fragment = param.values
    with pytest.raises(error) as info:
        decode_image(data, source="frames/cam1/0001.jpg")
    message = str(info.value)
    assert "frames/cam1/0001.jpg" in message
    assert fragment.lower() in message.lower()


def test_pixel_limit_applies_to_jpeg(photo):
    with pytest.raises(ImageTooLargeError, match="512x512"):
        decode_image(photo, "a.jpg", max_pixels=1000)
    with does_not_raise():
        decode_image(photo, "a.jpg", max_pixels=512 * 512)


def test_sniff_format():
    assert sniff_format(b"\xff\xd8\xff\xdb") == "jpeg"
    assert sniff_format(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff_format(b"nope") is None


@pytest.mark.parametrize(
    ("size_hw", "min_hw", "expected_hw"),
    [
        pytest.param((720, 1280), (320, 320), (360, 640), id="720p-for-320-is-half"),
        pytest.param((720, 1280), (180, 320), (180, 320), id="720p-quarter"),
        pytest.param((720, 1280), (1000, 1000), (720, 1280), id="never-upscaled"),
        pytest.param((720, 1280), (1, 1), (90, 160), id="at-most-an-eighth"),
        pytest.param((720, 1280), FitInside(320, 320), (180, 320), id="letterbox-720p-into-320-is-a-quarter"),
        pytest.param((1080, 1920), FitInside(320, 320), (270, 480), id="letterbox-1080p-smallest-covering-180x320"),
        pytest.param((720, 1280), FitInside(640, 640), (360, 640), id="letterbox-720p-into-640-is-half"),
        pytest.param((200, 300), FitInside(640, 640), (200, 300), id="letterbox-never-upscaled"),
        pytest.param((720, 1280), FitInside(720, 1), (90, 160), id="letterbox-a-thin-box"),
    ],
)
def test_reduced_jpeg_decode_picks_the_smallest_dct_scale_at_least_min_hw(size_hw, min_hw, expected_hw):
    pixels = np.random.default_rng(0).integers(0, 255, (*size_hw, 3), dtype=np.uint8)
    data = simplejpeg.encode_jpeg(pixels, quality=90, colorspace="BGR")
    image = decode_image(data, min_hw=min_hw)
    assert image.pixels.shape == (*expected_hw, 3)
    assert image.full_hw == size_hw
    assert image.reduced == (expected_hw != size_hw)


@pytest.mark.parametrize(
    ("orientation", "full_hw"), [(1, (160, 320)), (3, (160, 320)), (6, (320, 160)), (8, (320, 160))]
)
def test_reduced_decode_is_upright_and_its_min_hw_is_upright(orientation, full_hw):
    pixels = np.zeros((160, 320, 3), np.uint8)
    pixels[:, :160] = 255  # left half white
    data = _jpeg_with_orientation(pixels, orientation)
    full = decode_image(data).pixels
    # upright 80 rows x 40 cols (or 40 x 80) needed: the stored image must reach it once turned
    need = (full_hw[0] // 4, full_hw[1] // 4)
    image = decode_image(data, min_hw=need)
    assert decode_image(data, min_hw=FitInside(*need)).pixels.shape == image.pixels.shape  # same box, same aspect
    assert image.full_hw == full_hw == full.shape[:2]
    assert image.pixels.shape[:2] == need  # a quarter, upright
    upright_small = cv2.resize(full, (need[1], need[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(image.pixels.astype(int) - upright_small).mean() < 8  # same picture, same way up


@pytest.mark.parametrize("ext", [".png", ".bmp"])
def test_min_hw_leaves_other_formats_at_full_size(ext):
    pixels = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, pixels)
    assert ok
    image = decode_image(buf.tobytes(), min_hw=(8, 8))
    assert image.pixels.shape == (64, 96, 3) and image.full_hw == (64, 96) and not image.reduced
