"""A real PostgreSQL server for the state store's tests: a throwaway cluster.

`pg_server` (session fixture) gives a SQLAlchemy URL of a running server:

- TOPRANK_TEST_POSTGRES_URL, when set (.ci/run passes the server tests/services.py
  started, which the parity tests use too; a postgresql:// URL is used through
  psycopg 3, as the app uses it);
- otherwise a cluster made here with Debian's postgresql package (initdb and pg_ctl
  from /usr/lib/postgresql/*/bin): in a temporary directory, trust authentication,
  listening on 127.0.0.1 only, on a free port, run as the `postgres` user when the
  tests run as root (PostgreSQL refuses root), stopped by its process id at the end
  and its directory removed.

A missing or broken PostgreSQL fails the tests that use it; they never skip.
`fresh_database(server)` makes a new empty database on it, one per test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL_ENV = "TOPRANK_TEST_POSTGRES_URL"
START_SECONDS = 60.0
_databases = itertools.count(1)


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "apt-get install -y postgresql, or set TOPRANK_TEST_POSTGRES_URL"
        )
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(url: str) -> str:
    """postgresql://... through psycopg 3 (SQLAlchemy's default driver is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Cluster:
    """initdb + pg_ctl start in a temporary directory; stop() by the postmaster's pid."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync  # off for tests (nothing to keep); on for benchmarks
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="toprank-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.pid: int | None = None
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=START_SECONDS, check=False
        )

    def start(self) -> str:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        done = self._run(
            self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if not self.fsync:
            options += " -c fsync=off"
        done = self._run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            self.root / "server.log",
            "-w",
            "-t",
            str(int(START_SECONDS)),
            "start",
        )
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-800:]
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()} {log}")
        self.pid = int((self.data / "postmaster.pid").read_text().split("\n")[0])
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
            deadline = time.monotonic() + START_SECONDS
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.05)
            if _alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    given = os.environ.get(PG_URL_ENV, "").strip()
    if given:
        yield sqlalchemy_url(given)
        return
    cluster = Cluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    import sqlalchemy as sa

    name = f"toprank_test_{os.getpid()}_{next(_databases)}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return str(sa.engine.make_url(server_url).set(database=name).render_as_string(False))
