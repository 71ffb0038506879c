"""UploadClient: the Roboflow upload and annotate calls over httpx.

Wire format (roboflow-upload-api.md §2–3), also spoken by ``framesift hub``:

* ``POST {base}/dataset/{project}/upload?api_key=…&batch=…&tag=…&inference_id=…``,
  multipart fields ``name`` and ``file`` (the JPEG bytes as they are);
  answers ``{"success": true, "id"}`` or ``{"duplicate": true, "id"}``.
* ``POST {base}/dataset/{project}/annotate/{id}?api_key=…&name=<file>&prediction=true``,
  the annotation file as a ``text/plain`` body; 409 means already annotated.

Every failure becomes an ``UploadError`` (``map_http_errors``): transport problems and
5xx/408/425/429 are retryable (with ``Retry-After`` when the server gives one), other
4xx are permanent. Error bodies may be JSON with a dict or string ``error``, plain
text or an HTML gateway page; none of them crashes the client (the SDK's #322). The
API key never appears in an error message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from agent import __version__
from agent.errors import UploadError, UploadRejectedError, UploadServerError, UploadTransportError

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ROBOFLOW_API_URL = "https://api.roboflow.com"


@dataclass(frozen=True)
class UploadResult:
    """The server's answer to an image upload."""

    image_id: str  # "" when the server reported a duplicate without naming it
    duplicate: bool


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_message(response: httpx.Response) -> str:
    """A readable message from any error body: JSON dict/string ``error``, text or HTML."""
    text = response.text
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        err = body.get("error", body.get("message", body))
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type") or json.dumps(err)
            return str(msg)
        return str(err)
    if isinstance(body, str):
        return body
    if "<" in text and ">" in text:  # an HTML page from a proxy or gateway
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        stripped = re.sub(r"<[^>]+>", " ", title.group(1) if title else text)
        text = " ".join(stripped.split())
    return text.strip()[:300] or response.reason_phrase or "no message"


class UploadClient:
    """Talks to a Roboflow-compatible destination. Thread-safe (one httpx.Client)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 4,
        agent_id: str = "",
    ) -> None:
        """``agent_id`` names this agent on every request (``X-Framesift-Agent``; a hub's Fleet page)."""
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={
                "User-Agent": f"framesift/{__version__}",
                **({"X-Framesift-Agent": f"{agent_id}; version={__version__}"} if agent_id else {}),
            },
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @contextmanager
    def map_http_errors(self, what: str) -> Iterator[None]:
        """Translate every httpx exception into an ``UploadError``, without the key.

        * ``RequestError`` (connect/read/write errors, timeouts, protocol and proxy
          errors, an undecodable body, a redirect loop) and ``InvalidURL`` (like
          ``UnsupportedProtocol``: the destination URL is unusable) → retryable
          ``UploadTransportError``: the record stays in the spool until it goes through.
        * ``HTTPStatusError`` → by its response's status, as for any answer.
        * ``StreamError`` and ``CookieConflict`` are misuses of httpx (a framesift
          bug, not a network condition) → a plain, permanent ``UploadError``: the
          record is dead-lettered instead of being retried forever.
        """
        try:
            yield
        except httpx.TimeoutException as exc:
            raise UploadTransportError(f"{what}: timed out ({type(exc).__name__})") from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise UploadTransportError(f"{what}: {type(exc).__name__}: {self._redact(str(exc))}") from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            try:
                self._raise_for(exc.response, what)
            except UploadError as mapped:
                raise mapped from None  # the httpx message holds the URL, key included
            # 1xx/3xx: an answer we cannot use
            raise UploadRejectedError(self._redact(f"{what}: unexpected HTTP {status}"), status_code=status) from None
        except (httpx.StreamError, httpx.CookieConflict) as exc:
            raise UploadError(f"{what}: {type(exc).__name__}: {self._redact(str(exc))}") from None

    def _raise_for(self, response: httpx.Response, what: str, retry_404: bool = False) -> None:
        status = response.status_code
        if status < 400:
            return
        message = self._redact(f"{what}: HTTP {status}: {error_message(response)}")
        if status in RETRYABLE_STATUS or status >= 500 or (retry_404 and status == 404):
            raise UploadServerError(message, status_code=status, retry_after_s=_retry_after_s(response))
        raise UploadRejectedError(message, status_code=status)

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise UploadServerError(
                f"{what}: HTTP {response.status_code} with a body that is not JSON: "
                f"{self._redact(error_message(response))}",
                status_code=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise UploadServerError(f"{what}: unexpected response {body!r:.200}", status_code=response.status_code)
        return body

    def upload_image(
        self,
        project: str,
        jpeg: bytes,
        *,
        name: str,
        batch: str,
        tags: Sequence[str] = (),
        inference_id: str | None = None,
    ) -> UploadResult:
        """Upload the JPEG bytes; returns the server id and whether it was a duplicate."""
        what = f"upload {name} to {project}"
        params: list[tuple[str, str | int | float | bool | None]] = [("api_key", self._api_key), ("batch", batch)]
        params += [("tag", t) for t in tags]
        if inference_id:
            params.append(("inference_id", inference_id))
        with self.map_http_errors(what):
            response = self.http.post(
                f"{self.base_url}/dataset/{quote(project, safe='')}/upload",
                params=params,
                data={"name": name},
                files={"file": (name, jpeg, "image/jpeg")},
            )
        self._raise_for(response, what)
        body = self._json(response, what)
        image_id = body.get("id")
        if body.get("duplicate"):  # Roboflow may leave the id out of a duplicate answer: still delivered
            return UploadResult(str(image_id) if image_id else "", duplicate=True)
        if body.get("success") and image_id:
            return UploadResult(str(image_id), duplicate=False)
        raise UploadRejectedError(
            self._redact(f"{what}: server refused the image: {error_message(response)}"),
            status_code=response.status_code,
        )

    def annotate(self, project: str, image_id: str, *, name: str, body: str, content_type: str = "text/plain") -> bool:
        """Attach an annotation as a prediction; returns False when it was already annotated."""
        what = f"annotate {image_id} in {project}"
        with self.map_http_errors(what):
            response = self.http.post(
                f"{self.base_url}/dataset/{quote(project, safe='')}/annotate/{quote(image_id, safe='')}",
                params={"api_key": self._api_key, "name": name, "prediction": "true"},
                content=body.encode("utf-8"),
                headers={"Content-Type": content_type},
            )
        if response.status_code == 409:
            return False
        # 404 right after an upload is a known race (image not indexed yet): retry it
        self._raise_for(response, what, retry_404=True)
        result = self._json(response, what)
        if result.get("error") and not result.get("success"):
            raise UploadRejectedError(self._redact(f"{what}: {error_message(response)}"), status_code=200)
        return True

    def get_json(self, path: str, etag: str | None = None) -> tuple[int, dict[str, Any] | None, str | None]:
        """GET ``{base}/{path}``: (status, JSON body or None on 304, ETag)."""
        headers = {"If-None-Match": etag} if etag else {}
        what = f"GET /{path.split('?')[0]}"
        with self.map_http_errors(what):
            response = self.http.get(f"{self.base_url}/{path}", params={"api_key": self._api_key},
                                     headers=headers)  # fmt: skip
        if response.status_code == 304:
            return 304, None, etag
        self._raise_for(response, what)
        return response.status_code, self._json(response, what), response.headers.get("etag")

    def close(self) -> None:
        """Close connections."""
        self.http.close()


def is_retryable(exc: UploadError) -> bool:
    """True when trying again later can succeed."""
    return exc.retryable
