"""Read an upload request in any of Roboflow's three forms into (name, bytes, fields).

* multipart: fields ``name``, ``split``, ``file``, optional ``metadata`` (a JSON string);
* base64 body: the whole body is the image's base64 text (``application/x-www-form-urlencoded``
  as Roboflow's cURL example sends it); ``name``/``split`` in the query;
* hosted URL: empty body, ``?image=<url>``; the hub fetches it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.datastructures import UploadFile
from starlette.requests import Request

from agent.errors import ImageError
from agent.hub.errors import FetchError, FetchUnavailableError, HubError, HubInputError, InvalidImageError
from agent.hub.json_body import parse_json
from agent.hub.names import MAX_TEXT_CHARS
from agent.images.decode import decode_image, sniff_format

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class UploadBody:
    """The image bytes and the fields that came with them."""

    data: bytes
    name: str | None
    split: str | None
    metadata: dict[str, Any] | None


def parse_metadata(text: str | None, where: str) -> dict[str, Any] | None:
    """``metadata`` must be a JSON object of string/number/boolean values."""
    if text is None or text == "":
        return None
    value = parse_json(text, f"{where} 'metadata'", hint='send {"key": "value", ...}')
    return check_metadata(value, f"{where} 'metadata'")


def check_metadata(value: Any, where: str) -> dict[str, Any]:
    """A metadata object: keys of 1-255 characters, values strings, finite numbers or booleans."""
    if not isinstance(value, dict):
        raise HubInputError(f"{where} must be a JSON object", hint='send {"key": "value", ...}')
    long_keys = [k[:40] for k in value if not 0 < len(k) <= MAX_TEXT_CHARS]
    if long_keys:
        raise HubInputError(f"{where} keys must have 1-{MAX_TEXT_CHARS} characters (bad: {long_keys[:3]})")
    bad = [k[:40] for k, v in value.items() if not isinstance(v, (str, int, float, bool))]
    if bad:
        raise HubInputError(f"{where} values must be strings, numbers or booleans (bad keys: {bad[:5]})")
    return value


async def read_upload(request: Request, image_url: str | None, max_bytes: int,
                      hosted_images: str = "public") -> UploadBody:  # fmt: skip
    """Read whichever form the request uses (``hosted_images``: see :func:`fetch_hosted_image`)."""
    content_type = request.headers.get("content-type", "")
    if image_url:
        return UploadBody(await fetch_hosted_image(image_url, max_bytes, hosted_images), None, None, None)
    if content_type.startswith("multipart/form-data"):
        return await _multipart(request)
    body = await request.body()
    if not body:
        raise HubInputError("the request has no image",
                            hint="send multipart field 'file', a base64 body, or ?image=<url>")  # fmt: skip
    text = body.strip()
    if text.startswith(b"data:") and b"," in text:
        text = text.split(b",", 1)[1]
    try:
        data = base64.b64decode(text.replace(b"\n", b"").replace(b"\r", b""), validate=True)
    except (binascii.Error, ValueError):
        raise HubInputError("the body is neither multipart nor base64 image data",
                            hint="send multipart field 'file', a base64 body, or ?image=<url>") from None  # fmt: skip
    return UploadBody(data, None, None, None)


async def _multipart(request: Request) -> UploadBody:
    try:
        form = await request.form()
    except HubError:
        raise
    except Exception as exc:  # python-multipart / starlette raise several parser errors
        raise HubInputError(f"malformed multipart body: {exc}") from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise HubInputError("multipart field 'file' is missing", hint="send the image as multipart field 'file'")
    data = await file.read()
    name = form.get("name")
    name = name if isinstance(name, str) and name else file.filename
    split = form.get("split")
    metadata = form.get("metadata")
    return UploadBody(data, name, split if isinstance(split, str) else None,
                      parse_metadata(metadata if isinstance(metadata, str) else None, "multipart field"))  # fmt: skip


async def _refuse_private_hosts(request: httpx.Request) -> None:
    """An httpx request hook (every redirect hop too): the host must resolve to public addresses only."""
    host = request.url.host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, request.url.port or 443)
    except (OSError, UnicodeError):  # UnicodeError: a label over 63 characters fails IDNA encoding
        raise FetchError(f"Could not fetch image URL: cannot resolve {host[:100]!r}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(f"Could not fetch image URL: {host[:100]} is a private, loopback or reserved address "
                             "(this hub fetches from public addresses only: `framesift hub --hosted-images any` "
                             "allows others)")  # fmt: skip


async def fetch_hosted_image(url: str, max_bytes: int, hosted_images: str = "public") -> bytes:
    """GET ``url`` (http/https only, at most ``max_bytes``); errors as Roboflow answers them.

    ``hosted_images``: ``public`` (default) fetches only from hosts that resolve to public
    addresses — a hub on a site network must not be turned into a probe of that network —,
    ``any`` from any host, ``off`` refuses hosted-image uploads.
    """
    if hosted_images == "off":
        raise FetchError("Could not fetch image URL: hosted-image uploads are turned off on this hub "
                         "(upload the bytes instead)")  # fmt: skip
    if not url.lower().startswith(("http://", "https://")):  # not echoed: a signed URL carries its signature
        raise FetchError("Could not fetch image URL: the URL is not http:// or https://")
    hooks = {"request": [_refuse_private_hosts]} if hosted_images == "public" else {}
    try:
        async with (
            httpx.AsyncClient(timeout=30, follow_redirects=True, max_redirects=3, event_hooks=hooks) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 500:
                raise FetchUnavailableError(f"Could not fetch image URL: the host answered {response.status_code}",
                                            retryable=True)  # fmt: skip
            if response.status_code != 200:
                raise FetchError(f"Could not fetch image URL: the host answered {response.status_code}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"Could not fetch image URL: the image is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.InvalidURL:  # not echoed: a signed URL carries its signature
        raise FetchError("Could not fetch image URL: the URL is malformed (host, port or characters)") from None
    except httpx.HTTPError as exc:
        raise FetchUnavailableError(f"Could not fetch image URL: {type(exc).__name__}", retryable=True) from None


_ACCEPTED = ("jpeg", "png", "bmp", "tiff", "webp")


def image_format_and_size(data: bytes, name: str) -> tuple[str, int, int]:
    """(format, width, height) of an upload; InvalidImageError for anything that is not an image."""
    fmt = sniff_format(data)
    if fmt not in _ACCEPTED:
        raise InvalidImageError("Invalid image.", hint="upload a JPEG, PNG, BMP, TIFF or WebP")
    try:
        decoded = decode_image(data, name)
    except ImageError as exc:
        raise InvalidImageError("Invalid image.", hint=exc.reason) from None
    height, width = decoded.pixels.shape[:2]
    return str(fmt), int(width), int(height)
