"""Sign-in, sign-out, the session and CSRF checks every page and form goes through.

* Session cookie ``framesift_session``: random, ``HttpOnly``, ``SameSite=Strict``, ``Secure``
  when served over HTTPS; only its SHA-256 is stored.
* CSRF: every form carries the session's token (``csrf_token``), every JSON call sends it as
  ``X-CSRF-Token``; a cross-site ``Origin`` is refused as well. The sign-in form, which has
  no session yet, uses a double-submit cookie.
* A page without a session redirects to the sign-in page; a JSON call answers 401.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.hub.errors import HubError
from agent.hub.web.accounts_store import SESSION_TTL_S, Session
from agent.hub.web.web_context import PREFIX, web_app

SESSION_COOKIE = "framesift_session"
LOGIN_CSRF_COOKIE = "framesift_login_csrf"
router = APIRouter(prefix=PREFIX)


class SignInRequiredError(HubError):
    """No live session: pages redirect to the sign-in page, JSON calls answer 401."""

    status = 401
    kind = "SignInRequired"


class ForbiddenError(HubError):
    """Signed in, but not allowed (a reviewer on an admin page, a bad CSRF token): 403."""

    status = 403
    kind = "Forbidden"


async def current_session(request: Request) -> Session:
    """The signed-in session, else :class:`SignInRequiredError`."""
    token = request.cookies.get(SESSION_COOKIE)
    session = await run_in_threadpool(web_app(request).accounts.session, token)
    if session is None:
        raise SignInRequiredError("sign in first", hint=f"open {PREFIX}/login")
    return session


async def admin_session(request: Request) -> Session:
    """The session of an admin, else :class:`ForbiddenError`."""
    session = await current_session(request)
    if not session.user.is_admin:
        raise ForbiddenError("only an admin can do this (you are signed in as a reviewer)")
    return session


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def form_fields(request: Request, session: Session) -> dict[str, str]:
    """The posted form (multi-valued fields joined by ``,``) once its CSRF token is checked."""
    form = await request.form()
    token = str(form.get("csrf_token") or "")
    if not _same_origin(request) or not hmac.compare_digest(token, session.csrf_token):
        raise ForbiddenError("the form's CSRF token is missing or wrong: reload the page and submit it again")
    return {key: ",".join(str(v) for v in form.getlist(key)) for key in form}


def check_csrf_header(request: Request, session: Session) -> None:
    """For JSON calls: ``X-CSRF-Token`` must be the session's token."""
    token = request.headers.get("x-csrf-token", "")
    if not _same_origin(request) or not hmac.compare_digest(token, session.csrf_token):
        raise ForbiddenError("the X-CSRF-Token header is missing or wrong: reload the page")


def _safe_next(target: str | None) -> str:
    """Only a local app path (never another site) after sign-in."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")  # fmt: skip


@router.get("/login", response_model=None)
async def login_page(request: Request) -> Response:
    """The sign-in form (with a fresh double-submit CSRF cookie)."""
    token = secrets.token_urlsafe(24)
    app = web_app(request)
    no_users = await run_in_threadpool(app.accounts.user_count) == 0
    response = app.render("login.html", None, login_csrf=token, next=_safe_next(request.query_params.get("next")),
                          error=None, no_users=no_users)  # fmt: skip
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Check the password; open a session and go to ``next``."""
    form = await request.form()
    app = web_app(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    posted = str(form.get("csrf_token") or "")
    target = _safe_next(str(form.get("next") or ""))
    if not cookie or not _same_origin(request) or not hmac.compare_digest(cookie, posted):
        return app.render("login.html", None, status_code=403, login_csrf=cookie, next=target, no_users=False,
                          error="The sign-in form expired (CSRF check failed): please try again.")  # fmt: skip
    name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    client = request.client.host if request.client else "?"
    wait_s = app.sign_in_throttle.retry_after_s(name, client)
    if wait_s > 0:
        refused = app.render("login.html", None, status_code=429, login_csrf=cookie, next=target, no_users=False,
                              error=f"Too many failed sign-ins: try again in {wait_s / 60:.0f} minute(s).")  # fmt: skip
        refused.headers["Retry-After"] = str(int(wait_s) + 1)
        return refused
    user = await run_in_threadpool(app.accounts.authenticate, name, password)
    if user is None:
        app.sign_in_throttle.failed(name, client)
        return app.render("login.html", None, status_code=401, login_csrf=cookie, next=target, no_users=False,
                          error="Wrong user name or password.")  # fmt: skip
    app.sign_in_throttle.succeeded(name)
    token = await run_in_threadpool(app.accounts.open_session, user)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_TTL_S))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request) -> Response:
    """End the session (CSRF-checked) and go back to the sign-in page."""
    session = await current_session(request)
    await form_fields(request, session)
    await run_in_threadpool(web_app(request).accounts.close_session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def sign_in_redirect(request: Request) -> Response:
    """Where a page without a session goes."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303)
