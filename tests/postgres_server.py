"""Start a real PostgreSQL server (Debian ``postgresql``) as an unprivileged user on a free loopback port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import stop_process
from tests.redis_server import free_port


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """Yield ``postgresql://hub@127.0.0.1:PORT/hub`` of a fresh cluster in ``workdir``; stop it afterwards.

    As root the cluster runs as ``nobody`` (PostgreSQL refuses to run as root).
    """
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql when run as root)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'framesift[hub]')")
    run_as: dict[str, object] = {}
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "pgdata"
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
        os.chmod(workdir, 0o755)
        for parent in workdir.parents:  # nobody must be able to reach the directory
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
        run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid}
    made = subprocess.run([initdb, "-D", str(data), "-U", "hub", "--auth=trust", "-E", "UTF8", "--no-sync"],
                          capture_output=True, text=True, cwd=workdir, **run_as)  # type: ignore[call-overload]  # fmt: skip
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed: {made.stderr[-1000:]}")
    port = free_port()
    proc = subprocess.Popen([postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(workdir),
                             "-c", "fsync=off", "-c", "max_connections=200"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir, **run_as)  # type: ignore[call-overload]  # fmt: skip
    import psycopg

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"postgresql://hub@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                    conn.execute("CREATE DATABASE hub")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("postgres did not start") from None
                time.sleep(0.1)
        yield f"postgresql://hub@127.0.0.1:{port}/hub"
    finally:
        stop_process(proc, timeout_s=10)
