"""Accounts of the web app, on the hub's database (SQLite or PostgreSQL).

* users: name, role (``admin`` or ``reviewer``), an argon2 password hash;
* sessions: the SHA-256 of the cookie's random token (a stolen database holds no usable
  cookie), the session's CSRF token, an expiry;
* API keys made in the app: only their SHA-256 and a short prefix to recognise them by;
  a revoked key stays listed, with the time it was revoked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from agent.hub.errors import HubInputError
from agent.hub.sql_engines import SqlEngine
from agent.hub.web.passwords import hash_password, verify_password

ROLES = ("admin", "reviewer")
SESSION_TTL_S = 12 * 3600.0
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """A signed-up person."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Admins configure projects, manage keys and assign reviewers."""
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the token its forms must send back."""

    user: User
    csrf_token: str


@dataclass(frozen=True)
class ApiKeyRow:
    """An API key made in the app (the key itself is shown once, at creation)."""

    prefix: str
    label: str
    created_s: float
    created_by: str
    revoked_s: float | None
    key_hash: str


def check_user_name(name: str) -> str:
    """1-64 letters, digits, ``. _ @ -``, starting with a letter or digit."""
    if not _USER_NAME.match(name):
        raise HubInputError(f"invalid user name {name[:80]!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


class AccountStore:
    """Users, sessions and app-made API keys (thread-safe: one transaction per call)."""

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    # users ------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> None:
        """Create a user, or set the role and password of an existing one."""
        check_user_name(name)
        if role not in ROLES:
            raise HubInputError(f"invalid role {role[:40]!r}: use admin or reviewer")
        if len(password) < 8:
            raise HubInputError("the password must have at least 8 characters")
        with self.engine.transaction() as cur:
            cur.execute("INSERT INTO users (name, role, password_hash, created) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
                        (name, role, hash_password(password), time.time()))  # fmt: skip

    def users(self) -> list[User]:
        """Every user, by name."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT name, role FROM users ORDER BY name")
            return [User(n, r) for n, r in cur.fetchall()]

    def user_count(self) -> int:
        """How many users exist."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM users")
            return int(cur.fetchone()[0])

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches (an unknown name costs the same time)."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT role, password_hash FROM users WHERE name = ?", (name,))
            row = cur.fetchone()
        if row is None:
            verify_password(None, password)
            return None
        return User(name, row[0]) if verify_password(row[1], password) else None

    # sessions ---------------------------------------------------------------------------

    def open_session(self, user: User) -> str:
        """A new session; returns the cookie token (only its digest is stored)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            cur.execute("INSERT INTO sessions (token_hash, user_name, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                        (_digest(token), user.name, secrets.token_urlsafe(32), now, now + SESSION_TTL_S))  # fmt: skip
        return token

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token or len(token) > 200:
            return None
        with self.engine.transaction() as cur:
            cur.execute("SELECT u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name "
                        "WHERE s.token_hash = ? AND s.expires > ?", (_digest(token), time.time()))  # fmt: skip
            row = cur.fetchone()
        return Session(User(row[0], row[1]), row[2]) if row else None

    def close_session(self, token: str | None) -> None:
        """Log out: the token no longer opens anything."""
        if token:
            with self.engine.transaction() as cur:
                cur.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    # API keys ---------------------------------------------------------------------------

    def create_key(self, label: str, created_by: str) -> str:
        """A new upload key; returns it (the only time it is visible)."""
        key = secrets.token_urlsafe(24)
        with self.engine.transaction() as cur:
            cur.execute("INSERT INTO api_keys (key_hash, label, prefix, created, created_by, revoked) "
                        "VALUES (?, ?, ?, ?, ?, NULL)",
                        (_digest(key), label, key[:6], time.time(), created_by))  # fmt: skip
        return key

    def keys(self) -> list[ApiKeyRow]:
        """Every app-made key, newest first, revoked ones included."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT prefix, label, created, created_by, revoked, key_hash FROM api_keys "
                        "ORDER BY created DESC")  # fmt: skip
            return [ApiKeyRow(p, lb, float(c), by, None if r is None else float(r), h) for p, lb, c, by, r, h in
                    cur.fetchall()]  # fmt: skip

    def revoke_key(self, key_hash: str) -> bool:
        """Revoke a key by its digest; False when there is no such live key."""
        with self.engine.transaction() as cur:
            cur.execute("UPDATE api_keys SET revoked = ? WHERE key_hash = ? AND revoked IS NULL",
                        (time.time(), key_hash))  # fmt: skip
            return bool(cur.rowcount == 1)

    def key_is_live(self, key: str) -> bool:
        """Whether ``key`` is an app-made key that was not revoked."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT 1 FROM api_keys WHERE key_hash = ? AND revoked IS NULL", (_digest(key),))
            return cur.fetchone() is not None

    def live_key_count(self) -> int:
        """How many app-made keys are not revoked."""
        with self.engine.transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL")
            return int(cur.fetchone()[0])
