"""A loopback HTTP server that answers like the Roboflow upload API, from a script."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _file_part(body: bytes, content_type: str) -> bytes:
    """The content of the multipart field named "file"."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return content[:-2] if content.endswith(b"\r\n") else content
    return b""


class FakeRoboflow:
    """``script`` maps "upload" / "annotate" to a queue of (status, body, headers, delay_s).

    When a queue is empty the server answers success. Every request is recorded.
    """

    def __init__(self) -> None:
        self.script: dict[str, deque[tuple[int, Any, dict[str, str], float]]] = {
            "upload": deque(), "annotate": deque()}  # fmt: skip
        self.requests: list[tuple[str, str]] = []
        self.images: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                kind = "annotate" if "/annotate/" in self.path else "upload"
                fake.requests.append((kind, self.path))
                if fake.script[kind]:
                    status, reply, headers, delay = fake.script[kind].popleft()
                else:
                    status, headers, delay = 200, {}, 0.0
                    if kind == "upload":
                        import hashlib

                        digest = hashlib.sha256(_file_part(body, self.headers["content-type"])).hexdigest()
                        dup = digest in fake.images
                        fake.images.setdefault(digest, f"id{len(fake.images)}")
                        reply = {"duplicate": True, "id": fake.images[digest]} if dup else {
                            "success": True, "id": fake.images[digest]}  # fmt: skip
                    else:
                        reply = {"success": True}
                time.sleep(delay)
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "text/html" if isinstance(reply, str) else "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRoboflow:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def then(self, kind: str, status: int, body: Any, headers: dict[str, str] | None = None,
             delay_s: float = 0.0) -> FakeRoboflow:  # fmt: skip
        self.script[kind].append((status, body, headers or {}, delay_s))
        return self
