"""Password hashing for the web app's users: argon2id (argon2-cffi's maintained defaults)."""

from __future__ import annotations

from typing import Any

from agent.errors import DependencyError

_DUMMY_PASSWORD = "framesift-dummy-password"  # noqa: S105 - hashed to spend time, never accepted


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise DependencyError(f"the hub's web app needs argon2-cffi: pip install 'framesift[hub]' ({exc})") from exc
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with its parameters) of ``password``."""
    return str(_hasher().hash(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no stored hash it spends the same time and says no."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    try:
        if stored_hash is None:
            hasher.verify(hasher.hash(_DUMMY_PASSWORD), password + "x")
            return False
        return bool(hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False
