"""UploadClient error mapping on httpx.MockTransport (unit level)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import httpx
import pytest

from agent.errors import UploadError, UploadRejectedError, UploadServerError, UploadTransportError
from agent.upload.client import UploadClient

KEY = "sekret-key-42"


def client_for(handler) -> UploadClient:
    return UploadClient("http://hub.test", KEY, transport=httpx.MockTransport(handler))


def test_success_and_wire_format():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = request.url
        seen["body"] = request.read()
        seen["ctype"] = request.headers["content-type"]
        return httpx.Response(200, json={"success": True, "id": "img1"})

    result = client_for(handler).upload_image("proj", b"\xff\xd8\xffjpeg", name="a.jpg", batch="b 1",
                                              tags=["x", "y"], inference_id="inf")  # fmt: skip
    assert result.image_id == "img1" and not result.duplicate
    assert seen["url"].path == "/dataset/proj/upload"
    assert seen["url"].params.get_list("tag") == ["x", "y"]
    assert seen["url"].params["batch"] == "b 1" and seen["url"].params["inference_id"] == "inf"
    assert seen["ctype"].startswith("multipart/form-data")
    assert b'name="name"' in seen["body"] and b'name="file"; filename="a.jpg"' in seen["body"]


def test_duplicate():
    c = client_for(lambda r: httpx.Response(200, json={"duplicate": True, "id": "old"}))
    assert c.upload_image("p", b"x", name="a.jpg", batch="b").duplicate


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        pytest.param(
            httpx.Response(500, json={"error": "Unknown error"}),
            UploadServerError,
            "Unknown error",
            id="string-error-500",
        ),
        pytest.param(
            httpx.Response(400, json={"error": {"message": "Invalid image.", "type": "X"}}),
            UploadRejectedError,
            "Invalid image.",
            id="dict-error-400",
        ),
        pytest.param(
            httpx.Response(502, text="<html><title>502 Bad Gateway</title><body>x</body></html>"),
            UploadServerError,
            "502 Bad Gateway",
            id="html-502",
        ),
        pytest.param(httpx.Response(401, text="nope"), UploadRejectedError, "nope", id="text-401"),
        pytest.param(
            httpx.Response(200, json={"message": "quota"}),
            UploadRejectedError,
            "quota",
            id="200-without-success",
        ),
        pytest.param(httpx.Response(200, text="not json"), UploadServerError, "not JSON", id="200-not-json"),
        pytest.param(httpx.Response(408, text=""), UploadServerError, "408", id="408"),
    ],
)
def test_error_bodies_never_crash(response, error, fragment):
    c = client_for(lambda r: response)
    with pytest.raises(error) as info:
        c.upload_image("p", b"x", name="a.jpg", batch="b")
    assert fragment in str(info.value)
    assert KEY not in str(info.value)


def test_retry_after_is_honoured():
    c = client_for(lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"}))
    with pytest.raises(UploadServerError) as info:
        c.upload_image("p", b"x", name="a.jpg", batch="b")
    assert info.value.retry_after_s == 7.0 and info.value.retryable


def test_annotate_409_and_404_race():
    c = client_for(lambda r: httpx.Response(409, json={"error": {"message": "already annotated"}}))
    assert c.annotate("p", "id1", name="a.json", body="{}") is False
    c = client_for(lambda r: httpx.Response(404, json={"error": {"message": "Image not found in dataset."}}))
    with pytest.raises(UploadServerError):  # retryable: indexing race right after upload
        c.annotate("p", "id1", name="a.json", body="{}")


# What each family of httpx exceptions becomes (agent.upload.client.map_http_errors),
# most specific first: (httpx class, our class, retryable).
MAPPING: list[tuple[type[Exception], type[UploadError], bool]] = [
    # connect/read/write errors, timeouts, protocol and proxy errors, undecodable body, redirect loop
    (httpx.RequestError, UploadTransportError, True),
    (httpx.InvalidURL, UploadTransportError, True),  # the destination URL is unusable, like UnsupportedProtocol
    (httpx.HTTPStatusError, UploadServerError, True),  # raised below with a 503 response
    (httpx.StreamError, UploadError, False),  # misuse of httpx: a bug, dead-lettered
    (httpx.CookieConflict, UploadError, False),
]
NEVER_RAISED = {httpx.HTTPError}  # only a base class: httpx raises its subclasses


def _httpx_exceptions() -> list[type[BaseException]]:
    """Every exception class httpx defines: the exported ones and all their subclasses."""
    found: set[type[BaseException]] = set()
    todo = [v for v in vars(httpx).values() if isinstance(v, type) and issubclass(v, BaseException)]
    while todo:
        cls = todo.pop()
        if cls in found or not cls.__module__.startswith("httpx"):
            continue
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


HTTPX_EXCEPTIONS = [c for c in _httpx_exceptions() if c not in NEVER_RAISED]


def _build(exc_type: type[BaseException], request: httpx.Request) -> BaseException:
    """An instance of ``exc_type`` as httpx would raise it (with the URL, key included, in the message)."""
    params = inspect.signature(exc_type.__init__).parameters
    args = [f"boom {request.url}"] if "message" in params else []
    kwargs = {}
    if "request" in params:
        kwargs["request"] = request
    if "response" in params:
        kwargs["response"] = httpx.Response(503, request=request)
    try:
        return exc_type(*args, **kwargs)
    except TypeError as exc:  # a new constructor: teach _build about it
        pytest.fail(f"cannot build httpx.{exc_type.__name__}: {exc}")


def _raiser(exc_type: type[BaseException]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise _build(exc_type, request)

    return handler


def _outcome(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:  # the point is to see what comes out
        return exc
    pytest.fail("the request did not fail")


def test_the_walk_finds_httpx_exceptions():
    names = {c.__name__ for c in _httpx_exceptions()}
    assert {"ConnectTimeout", "RemoteProtocolError", "DecodingError", "TooManyRedirects", "HTTPStatusError",
            "InvalidURL", "CookieConflict", "StreamConsumed", "ResponseNotRead"} <= names  # fmt: skip


@pytest.mark.parametrize("exc_type", HTTPX_EXCEPTIONS, ids=lambda e: e.__name__)
def test_every_httpx_exception_is_mapped_and_redacted(exc_type):
    decided = [(error, retryable) for family, error, retryable in MAPPING if issubclass(exc_type, family)]
    assert decided, (
        f"httpx.{exc_type.__name__} is new: decide what it becomes in UploadClient.map_http_errors, then add it to "
        "MAPPING"
    )
    error, retryable = decided[0]
    c = client_for(_raiser(exc_type))
    raised = _outcome(lambda: c.upload_image("p", b"x", name="a.jpg", batch="b"))
    assert isinstance(raised, UploadError), f"httpx.{exc_type.__name__} escaped as {type(raised).__name__}"
    assert type(raised) is error and raised.retryable is retryable
    assert KEY not in str(raised)
    assert raised.__cause__ is None and raised.__suppress_context__  # no traceback shows the httpx message


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, UploadServerError), (429, UploadServerError), (400, UploadRejectedError), (302, UploadRejectedError)],
)
def test_http_status_error_maps_by_status(status, error):
    def handler(request: httpx.Request) -> httpx.Response:
        response = httpx.Response(status, request=request, json={"error": "nope"})
        raise httpx.HTTPStatusError(f"HTTP {status} for {request.url}", request=request, response=response)

    raised = _outcome(lambda: client_for(handler).upload_image("p", b"x", name="a.jpg", batch="b"))
    assert type(raised) is error and raised.status_code == status
    assert KEY not in str(raised)


@pytest.mark.parametrize(
    ("exc_type", "error"),
    [
        (httpx.ConnectError, UploadTransportError),
        (httpx.ReadTimeout, UploadTransportError),
        (httpx.StreamConsumed, UploadError),
    ],
    ids=lambda v: v.__name__,
)
def test_annotate_and_get_json_map_errors_too(exc_type, error):
    c = client_for(_raiser(exc_type))
    for call in (lambda: c.annotate("p", "id1", name="a.json", body="{}"), lambda: c.get_json("ws/p/config")):
        raised = _outcome(call)
        assert type(raised) is error and KEY not in str(raised)
