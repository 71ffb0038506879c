"""The fleet: which agents synced with the hub, when, on which config, and what they uploaded.

An agent names itself on its requests with the header ``X-Framesift-Agent: <id>; version=<v>``
(or the query parameters ``agent_id`` and ``agent_version``). :class:`AgentTracker` is an ASGI
middleware that watches two answers and records nothing for a request without an agent id or
one the hub refused:

* ``GET /{workspace}/{project}/active_learning`` answered 200/304: last seen, project and the
  ETag served (the config version the agent now runs);
* ``POST /dataset/{project}/upload`` answered ``{"success": true, "id": …}``: one more frame
  contributed (duplicates are not counted), and the image is linked to the agent.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool

from agent.hub.sql_engines import SqlEngine

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]  # fmt: skip
AGENT_HEADER = "x-framesift-agent"
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,39}$")
_CONFIG_PATH = re.compile(r"^/([^/]+)/([^/]+)/active_learning$")
_UPLOAD_PATH = re.compile(r"^/dataset/([^/]+)/upload$")
_MAX_CAPTURE_BYTES = 4096


@dataclass(frozen=True)
class AgentRow:
    """One agent of the fleet."""

    agent_id: str
    version: str
    workspace: str
    project: str
    etag: str
    first_seen_s: float
    last_seen_s: float
    frames: int


def parse_agent(header: str | None, query: str) -> tuple[str, str] | None:
    """(agent id, version) from the header or the query string; None when absent or malformed."""
    agent_id, version = None, ""
    if header:
        head, _, rest = header.partition(";")
        agent_id = head.strip()
        for part in rest.split(";"):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "version":
                version = value.strip()
    else:
        params = parse_qs(query)
        agent_id = params.get("agent_id", [""])[0]
        version = (params.get("agent_version") or [""])[0]
    if not agent_id or not _AGENT_ID.match(agent_id):
        return None
    return agent_id, version if _VERSION.match(version or "") else ""


class FleetStore:
    """The ``agents`` and ``agent_images`` tables."""

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    def seen(self, agent_id: str, version: str, workspace: str, project: str, etag: str | None) -> None:
        """Record a config sync (``etag`` None: an upload, which keeps the last config version)."""
        now = time.time()
        with self.engine.transaction() as cur:
            cur.execute(
                "INSERT INTO agents (agent_id, version, workspace, project, etag, first_seen, last_seen, frames) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (agent_id) DO UPDATE SET version = CASE WHEN "
                "excluded.version <> '' THEN excluded.version ELSE agents.version END, "
                "project = excluded.project, last_seen = excluded.last_seen"
                + (", workspace = excluded.workspace, etag = excluded.etag" if etag is not None else ""),
                (agent_id, version, workspace, project, etag or "", now, now),
            )  # fmt: skip

    def uploaded(self, agent_id: str, version: str, project: str, image_id: str) -> None:
        """One frame contributed by ``agent_id``."""
        self.seen(agent_id, version, "", project, None)
        with self.engine.transaction() as cur:
            cur.execute("INSERT INTO agent_images (image_id, agent_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (image_id, agent_id))  # fmt: skip
            if cur.rowcount == 1:
                cur.execute("UPDATE agents SET frames = frames + 1 WHERE agent_id = ?", (agent_id,))

    def agents(self) -> list[AgentRow]:
        """Every agent, most recently seen first."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT agent_id, version, workspace, project, etag, first_seen, last_seen, frames FROM agents "
                        "ORDER BY last_seen DESC")  # fmt: skip
            return [AgentRow(a, v, w, p, e, float(f), float(s), int(n)) for a, v, w, p, e, f, s, n in cur.fetchall()]

    def image_agents(self, project: str) -> dict[str, str]:
        """Which agent uploaded each image of a project (images from unnamed clients are absent)."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT a.image_id, a.agent_id FROM agent_images a JOIN images i ON i.id = a.image_id "
                        "WHERE i.project = ?", (project,))  # fmt: skip
            return {i: a for i, a in cur.fetchall()}


class AgentTracker:
    """ASGI middleware recording the fleet from config syncs and uploads (never fails a request)."""

    def __init__(self, app: ASGIApp, fleet: FleetStore) -> None:
        self.app = app
        self.fleet = fleet

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw_header = headers.get(AGENT_HEADER.encode())
        agent = parse_agent(raw_header.decode("latin-1") if raw_header else None,
                            scope.get("query_string", b"").decode("latin-1"))  # fmt: skip
        path, method = scope.get("path", ""), scope.get("method", "")
        config = _CONFIG_PATH.match(path) if method == "GET" else None
        upload = _UPLOAD_PATH.match(path) if method == "POST" else None
        if agent is None or (config is None and upload is None):
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"status": 0, "etag": None, "body": b""}

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["etag"] = dict(message.get("headers") or []).get(b"etag", b"").decode("latin-1")
            elif message["type"] == "http.response.body" and len(answer["body"]) < _MAX_CAPTURE_BYTES:
                answer["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, watching_send)
        try:
            if config is not None and answer["status"] in (200, 304):
                await run_in_threadpool(self.fleet.seen, agent[0], agent[1], config.group(1), config.group(2),
                                        answer["etag"] or "")  # fmt: skip
            elif upload is not None and answer["status"] == 200:
                body = json.loads(answer["body"] or b"{}")
                if isinstance(body, dict) and body.get("success") and body.get("id"):
                    await run_in_threadpool(self.fleet.uploaded, agent[0], agent[1], upload.group(1), str(body["id"]))
        except Exception as exc:  # the fleet page is best effort; the agent's request already succeeded
            logger.warning("could not record agent %s: %s", agent[0], type(exc).__name__)
