"""What every route needs: the store, the accepted keys, the workspace name, the body limit."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from fastapi import Depends
from starlette.requests import Request

from agent.hub.errors import UnauthorizedError
from agent.hub.store import HubStore


@dataclass(frozen=True)
class HubContext:
    """Configuration of one hub process (keys are never printed: ``repr`` leaves them out)."""

    store: HubStore
    api_keys: frozenset[str] = field(repr=False)
    workspace: str = "framesift"
    require_auth: bool = True
    max_body_bytes: int = 25 * 1024 * 1024
    hosted_images: str = "public"  # public | any | off: which hosts ``image=<url>`` uploads may fetch from

    def key_is_valid(self, api_key: str | None) -> bool:
        """Constant-time check against every accepted key."""
        if not self.require_auth:
            return True
        return bool(api_key) and any(hmac.compare_digest(str(api_key), k) for k in self.api_keys)


def hub_context(request: Request) -> HubContext:
    """The context stored on the application."""
    ctx: HubContext = request.app.state.hub
    return ctx


def authorize(request: Request) -> HubContext:
    """FastAPI dependency: the context, once ``?api_key=`` is known to be valid (else 401)."""
    ctx = hub_context(request)
    if not ctx.key_is_valid(request.query_params.get("api_key")):
        raise UnauthorizedError("This API key does not exist (or has been revoked).",
                                hint="pass a key from the hub's keys file as ?api_key=")  # fmt: skip
    return ctx


AUTHORIZED = Depends(authorize)
