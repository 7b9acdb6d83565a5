"""Throwaway warehouse services for the parity tests and CI: a PostgreSQL cluster and a
Spark Connect server (local mode), both on 127.0.0.1, both stopped by process id.

    python -m tests.services start --dir DIR     prints `export ...` lines for a shell
    python -m tests.services stop --dir DIR      stops what DIR's pid files name

What it needs and where it comes from:
- PostgreSQL: Debian's server binaries (`apt-get install -y postgresql`), found under
  /usr/lib/postgresql/<version>/bin. The cluster is made with initdb in DIR, owned by the
  `postgres` system user when running as root (the server refuses to run as root), with
  the C locale (codes sort bytewise, as in DuckDB) and trust auth on loopback only.
- Spark Connect: the server jar ships inside pyspark's wheel (jars/spark-connect_*.jar
  since Spark 4), so nothing is downloaded at run time. It runs as
  `spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer` in
  local mode, bound to 127.0.0.1, with its warehouse and logs in DIR. Java 17 must be on
  PATH (Debian's openjdk-17-jre-headless).

A service that cannot start is an error with the reason (and its log's tail), never a
silent skip: the parity tests fail without them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POSTGRES_URL_ENV = "TOPRANK_TEST_POSTGRES_URL"
SPARK_URL_ENV = "TOPRANK_TEST_SPARK_URL"
PG_DATABASE = "toprank"
# Spark's JVM takes 10-20 s to start on 2 cores; a minute is plenty and still ends a hang.
START_TIMEOUT_S = {"postgres": 60.0, "spark": 180.0}
STOP_TIMEOUT_S = 30.0


class ServiceError(RuntimeError):
    """A service could not be started (missing binaries, a crash at start, a timeout)."""


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    pid: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, pid: int, name: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise ServiceError(f"{name} exited while starting:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.25)
    raise ServiceError(f"{name} did not listen on 127.0.0.1:{port} in {timeout:g} s:\n{_tail(log)}")


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return waited == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path:
    """The directory of Debian's PostgreSQL server binaries (the newest version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=_version_key)
    if found:
        return found[-1].parent
    which = shutil.which("postgres")
    if which:
        return Path(which).resolve().parent
    raise ServiceError(
        "no PostgreSQL server binaries (install Debian's: apt-get install -y postgresql)"
    )


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.parent.parent.name.split(".") if p.isdigit())


def _as_postgres_user() -> dict[str, object]:
    """Run as the `postgres` system user when root (the server refuses root)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def start_postgres(directory: Path) -> Service:
    bindir = postgres_bin()
    data = directory / "pgdata"
    sockets = directory / "pgsock"
    log = directory / "postgres.log"
    for path in (directory, sockets):
        path.mkdir(parents=True, exist_ok=True)
    ids = _as_postgres_user()
    if ids:
        for path in (directory, sockets):
            os.chown(path, int(ids["user"]), int(ids["group"]))  # type: ignore[call-overload]
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "--username=postgres",
                "--auth=trust",
                "--locale=C",
                "--encoding=UTF8",
            ],
            check=True,
            capture_output=True,
            **ids,  # type: ignore[arg-type]
        )
    port = free_port()
    with open(log, "ab") as out:
        if ids:
            os.chown(log, int(ids["user"]), int(ids["group"]))  # type: ignore[call-overload]
        proc = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(sockets),
                "-c",
                "fsync=off",  # a throwaway cluster: durability buys nothing here
                "-c",
                "max_connections=50",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **ids,  # type: ignore[arg-type]
        )
    (directory / "postgres.pid").write_text(str(proc.pid))
    _wait_for_port(port, proc.pid, "PostgreSQL", log, START_TIMEOUT_S["postgres"])
    _wait_for_postgres(port, proc.pid, log)
    return Service("postgres", f"postgresql://postgres@127.0.0.1:{port}/{PG_DATABASE}", proc.pid)


def _wait_for_postgres(port: int, pid: int, log: Path) -> None:
    """The port opens before the server accepts connections: retry creating the database."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT_S["postgres"]
    while True:
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
            ) as con:
                exists = con.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
                ).fetchone()
                if not exists:
                    con.execute(f"CREATE DATABASE {PG_DATABASE}")
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline or not _alive(pid):
                raise ServiceError(f"PostgreSQL did not accept connections: {error}") from None
            time.sleep(0.25)


# ---------------------------------------------------------------- Spark Connect


def spark_home() -> Path:
    try:
        import pyspark
    except ModuleNotFoundError:
        raise ServiceError("pyspark is not installed (pip install -e '.[test]')") from None
    home = Path(pyspark.__file__).resolve().parent
    if not list((home / "jars").glob("spark-connect_*.jar")):
        raise ServiceError(f"no Spark Connect server jar under {home / 'jars'} (pyspark >= 4)")
    return home


def start_spark(directory: Path) -> Service:
    home = spark_home()
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ServiceError("no java on PATH (install Debian's: apt-get install -y openjdk-17-jre)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = directory / "spark.log"
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1")
    env.setdefault("SPARK_LOG_DIR", str(directory))
    confs = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.warehouse.dir": str(directory / "spark-warehouse"),
        # two cores, small test data: the default 200 shuffle partitions is pure overhead
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "2g",
        "spark.log.level": "WARN",  # INFO logs every task: megabytes per test run
    }
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name",
        "toprank-spark-connect",
        "--master",
        "local[2]",
        "--driver-java-options",
        f"-Dderby.system.home={directory / 'derby'}",
    ]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    with open(log, "ab") as out:
        # spark-submit execs java, so this pid is the server's own
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
            env=env,
            start_new_session=True,
        )
    (directory / "spark.pid").write_text(str(proc.pid))
    _wait_for_port(port, proc.pid, "Spark Connect", log, START_TIMEOUT_S["spark"])
    return Service("spark", f"sc://127.0.0.1:{port}", proc.pid)


# ---------------------------------------------------------------- both


STARTERS = {"postgres": start_postgres, "spark": start_spark}
URL_ENV = {"postgres": POSTGRES_URL_ENV, "spark": SPARK_URL_ENV}


def start_all(directory: Path) -> list[Service]:
    started: list[Service] = []
    try:
        for starter in STARTERS.values():
            started.append(starter(directory))
    except BaseException:
        stop_all(directory)
        raise
    return started


# PostgreSQL: SIGINT is its "fast" shutdown (clients disconnected, a clean checkpoint);
# SIGTERM would wait for every client to leave. Spark's JVM runs its hooks on SIGTERM.
STOP_SIGNALS = {"postgres": signal.SIGINT, "spark": signal.SIGTERM}


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM) -> None:
    """`sig`, then SIGKILL if the process is still there after `timeout` seconds."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_all(directory: Path) -> None:
    for name in STARTERS:
        pid_file = directory / f"{name}.pid"
        if pid_file.exists():
            stop_pid(int(pid_file.read_text().strip()), sig=STOP_SIGNALS[name])
            pid_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.services", description=__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", required=True, type=Path, help="where clusters and logs go")
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop_all(args.dir)
        return 0
    try:
        services = start_all(args.dir)
    except (ServiceError, OSError, subprocess.CalledProcessError) as error:
        print(f"services: {error}", file=sys.stderr)
        return 1
    for service in services:
        print(f"export {URL_ENV[service.name]}={shlex.quote(service.url)}")
        print(f"{service.name}: {service.url} (pid {service.pid})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
