"""What the web app's routes share: the hub context, its stores, the page renderer.

Also :class:`AppKeysHubContext`: the hub's key check extended to the keys an admin creates in
the app (stored as SHA-256 digests; a revoked key stops working at once).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from agent.errors import DependencyError
from agent.hub.context import HubContext
from agent.hub.web.accounts_store import AccountStore, Session
from agent.hub.web.fleet import FleetStore
from agent.hub.web.review_store import ReviewStore
from agent.hub.web.sign_in_throttle import SignInThrottle

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/-"


@dataclass(frozen=True)
class AppKeysHubContext(HubContext):
    """A hub context that also accepts the live API keys made in the web app."""

    accounts: AccountStore | None = field(default=None, repr=False)

    def key_is_valid(self, api_key: str | None) -> bool:
        """The keys file's keys (constant time), then the app's keys (by digest)."""
        if super().key_is_valid(api_key):
            return True
        return bool(api_key) and self.accounts is not None and self.accounts.key_is_live(str(api_key))


def with_app_keys(ctx: HubContext) -> AppKeysHubContext:
    """``ctx`` extended to the app's keys (the same context when it already is)."""
    if isinstance(ctx, AppKeysHubContext):
        return ctx
    values = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx)}
    return AppKeysHubContext(**values, accounts=AccountStore(ctx.store.engine))


def _when(seconds: float | None) -> str:
    if not seconds:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class WebApp:
    """The web app's state: stores on the hub's database and the Jinja2 environment."""

    def __init__(self, hub: HubContext) -> None:
        try:
            import jinja2
        except ImportError as exc:
            raise DependencyError(f"the hub's web app needs Jinja2: pip install 'framesift[hub]' ({exc})") from exc
        self.hub = hub
        self.accounts = AccountStore(hub.store.engine)
        self.reviews = ReviewStore(hub.store.engine)
        self.fleet = FleetStore(hub.store.engine)
        self.sign_in_throttle = SignInThrottle()
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                            undefined=jinja2.StrictUndefined)  # fmt: skip
        self.templates.filters["when"] = _when
        self.templates.globals["prefix"] = PREFIX

    def render(self, name: str, session: Session | None, status_code: int = 200, **values: Any) -> HTMLResponse:
        """A page from ``templates/<name>`` (autoescaped), with the signed-in user and CSRF token."""
        page = self.templates.get_template(name).render(
            user=session.user if session else None, csrf_token=session.csrf_token if session else "",
            workspace=self.hub.workspace, **values)  # fmt: skip
        return HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def web_app(request: Request) -> WebApp:
    """The web app stored on the application."""
    app: WebApp = request.app.state.web
    return app
