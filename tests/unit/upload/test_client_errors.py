"""UploadClient error mapping on httpx.MockTransport (unit level)."""

from __future__ import annotations

import inspect

import httpx
import pytest

from agent.errors import UploadRejectedError, UploadServerError, UploadTransportError
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


def _raiser(exc_type):
    def handler(request: httpx.Request) -> httpx.Response:
        if issubclass(exc_type, httpx.TimeoutException | httpx.NetworkError | httpx.ProtocolError
                      | httpx.ProxyError | httpx.UnsupportedProtocol):  # fmt: skip
            raise exc_type(f"boom {request.url}", request=request)
        raise exc_type(f"boom {request.url}")

    return handler


TRANSPORT_ERRORS = [
    obj for _, obj in inspect.getmembers(httpx, inspect.isclass)
    if issubclass(obj, httpx.TransportError) and obj is not httpx.TransportError
]  # fmt: skip


@pytest.mark.parametrize("exc_type", TRANSPORT_ERRORS, ids=lambda e: e.__name__)
def test_every_httpx_transport_error_is_mapped_and_redacted(exc_type):
    c = client_for(_raiser(exc_type))
    with pytest.raises(UploadTransportError) as info:
        c.upload_image("p", b"x", name="a.jpg", batch="b")
    assert info.value.retryable
    assert KEY not in str(info.value)
