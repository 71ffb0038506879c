"""The two database engines behind the hub's store: embedded SQLite and PostgreSQL.

Each gives :class:`~agent.hub.store.HubStore` a transaction (a cursor taking ``?``
placeholders) and maps "disk full" to :class:`InsufficientStorageError`. The schema is the
same on both; uniqueness (one SHA-256 per project, one id per class) is a constraint.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from agent.errors import ConfigError, ConfigIssue, DependencyError
from agent.hub.errors import InsufficientStorageError, StorageUnavailableError

POSTGRES_URL_FORM = "postgresql://[user[:password]@]host[:port]/dbname, or libpq's key=value form"

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, batch TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
  format TEXT NOT NULL, blob TEXT NOT NULL, size_bytes BIGINT NOT NULL, width INTEGER NOT NULL,
  height INTEGER NOT NULL, split TEXT NOT NULL, tags TEXT NOT NULL, metadata TEXT NOT NULL,
  sequence_number BIGINT, sequence_size BIGINT, inference_id TEXT, created DOUBLE PRECISION NOT NULL,
  annotation_path TEXT, annotation_format TEXT, annotation_raw TEXT, annotation_model TEXT,
  prediction INTEGER NOT NULL DEFAULT 0, job_name TEXT, annotated DOUBLE PRECISION,
  UNIQUE (project, sha256))""",
    "CREATE INDEX IF NOT EXISTS images_batch ON images (project, batch)",
    """CREATE TABLE IF NOT EXISTS classes (
  project TEXT NOT NULL, name TEXT NOT NULL, class_id INTEGER NOT NULL,
  PRIMARY KEY (project, name), UNIQUE (project, class_id))""",
    """CREATE TABLE IF NOT EXISTS projects (
  name TEXT PRIMARY KEY, type TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS configs (
  workspace TEXT NOT NULL, project TEXT NOT NULL, config TEXT NOT NULL, etag TEXT NOT NULL,
  updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (workspace, project))""",
    # the web app (agent/hub/web): accounts, sessions, keys made in the app, review state, assignments, agents
    """CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
  expires DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api_keys (
  key_hash TEXT PRIMARY KEY, label TEXT NOT NULL, prefix TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
  created_by TEXT NOT NULL, revoked DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS reviews (
  image_id TEXT PRIMARY KEY, project TEXT NOT NULL, batch TEXT NOT NULL, state TEXT NOT NULL, annotation TEXT,
  reviewer TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS reviews_batch ON reviews (project, batch)",
    """CREATE TABLE IF NOT EXISTS assignments (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, batch TEXT NOT NULL, reviewer TEXT NOT NULL, image_ids TEXT NOT NULL,
  instructions TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, created_by TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY, version TEXT NOT NULL, workspace TEXT NOT NULL, project TEXT NOT NULL,
  etag TEXT NOT NULL, first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
  frames BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS agent_images (
  image_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL)""",
]


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses (``?`` placeholders)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlEngine(Protocol):
    """A database the store runs on."""

    for_update: str

    def transaction(self) -> Any: ...
    def close(self) -> None: ...


def _full(exc: BaseException) -> InsufficientStorageError:
    return InsufficientStorageError("the hub's database is full; nothing was stored",
                                    hint="free disk space on the hub, then retry")  # fmt: skip


def equal_filters(filters: Iterable[tuple[str, object | None]]) -> tuple[str, list[object]]:
    """``" AND column = ?"`` for each (column, value) whose value is not None, and the values in order.

    Column names come from the caller's code, never from a request; values are always parameters.
    """
    clause, args = "", []
    for column, value in filters:
        if value is not None:
            clause += f" AND {column} = ?"
            args.append(value)
    return clause, args


class SqliteEngine:
    """One SQLite file in WAL mode (``synchronous=FULL``), one connection behind a lock."""

    for_update = ""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""
        with self._lock:
            cursor = self._db.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                if "full" in str(exc).lower():
                    raise _full(exc) from None
                raise
            except BaseException:
                self._rollback()
                raise
            finally:
                cursor.close()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the file."""
        self._db.close()


class _QmarkCursor:
    """Wrap a psycopg cursor so the store's ``?`` placeholders work."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


class PostgresEngine:
    """PostgreSQL through psycopg 3: a small pool of connections, one transaction per call."""

    for_update = " FOR UPDATE"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise DependencyError(
                f"--database postgresql://… needs psycopg: pip install 'framesift[hub]' ({exc})"
            ) from exc
        self._psycopg = psycopg
        self._url = url
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._size = pool_size
        self._made = 0
        self._lock = threading.Lock()
        with self.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(72771)")  # replicas create the schema one at a time
            for statement in SCHEMA:
                cursor.execute(statement)

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._url, connect_timeout=10)
        except self._psycopg.OperationalError:
            raise StorageUnavailableError("the hub's database is unreachable", hint="retry later") from None
        except self._psycopg.ProgrammingError:  # libpq's reason may quote the URL, password included: not shown
            raise ConfigError([ConfigIssue("--database", f"not a PostgreSQL URL ({POSTGRES_URL_FORM})")]) from None

    def _acquire(self) -> Any:
        with self._lock:
            if self._pool.empty() and self._made < self._size:
                self._made += 1
                try:
                    return self._connect()
                except BaseException:
                    self._made -= 1
                    raise
        return self._pool.get(timeout=60)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction on a pooled connection (a broken connection is replaced)."""
        conn = self._acquire()
        broken = False
        try:
            with conn.transaction(), conn.cursor() as cursor:
                yield _QmarkCursor(cursor)
        except self._psycopg.errors.DiskFull as exc:
            raise _full(exc) from None
        except self._psycopg.OperationalError:
            broken = True
            raise StorageUnavailableError("the hub's database connection failed", hint="retry later") from None
        finally:
            if broken or conn.closed:
                conn.close()
                with self._lock:
                    self._made -= 1
            else:
                self._pool.put(conn)

    def is_unique_violation(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a unique-constraint violation."""
        return isinstance(exc, self._psycopg.errors.UniqueViolation)

    def close(self) -> None:
        """Close every pooled connection."""
        while not self._pool.empty():
            self._pool.get_nowait().close()
