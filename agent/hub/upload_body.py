"""Read an upload request in any of Roboflow's three forms into (name, bytes, fields).

* multipart: fields ``name``, ``split``, ``file``, optional ``metadata`` (a JSON string);
* base64 body: the whole body is the image's base64 text (``application/x-www-form-urlencoded``
  as Roboflow's cURL example sends it); ``name``/``split`` in the query;
* hosted URL: empty body, ``?image=<url>``; the hub fetches it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.datastructures import UploadFile
from starlette.requests import Request

from agent.hub.errors import FetchError, FetchUnavailableError, HubError, HubInputError

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
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise HubInputError(f"{where} 'metadata' is not valid JSON", hint='send {"key": "value", ...}') from None
    if not isinstance(value, dict):
        raise HubInputError(f"{where} 'metadata' must be a JSON object", hint='send {"key": "value", ...}')
    bad = [k for k, v in value.items() if not isinstance(v, (str, int, float, bool)) or v != v]
    if bad:
        raise HubInputError(f"{where} 'metadata' values must be strings, numbers or booleans (bad keys: {bad[:5]})")
    return value


async def read_upload(request: Request, image_url: str | None, max_bytes: int) -> UploadBody:
    """Read whichever form the request uses."""
    content_type = request.headers.get("content-type", "")
    if image_url:
        return UploadBody(await fetch_hosted_image(image_url, max_bytes), None, None, None)
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


async def fetch_hosted_image(url: str, max_bytes: int) -> bytes:
    """GET ``url`` (http/https only, at most ``max_bytes``); errors as Roboflow answers them."""
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"Could not fetch image URL: {url[:200]!r} is not an http(s) URL")
    try:
        async with (
            httpx.AsyncClient(timeout=30, follow_redirects=True, max_redirects=3) as client,
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
    except httpx.HTTPError as exc:
        raise FetchUnavailableError(f"Could not fetch image URL: {type(exc).__name__}", retryable=True) from None
