"""The HTTP server under bursts and idle connections, before and after its bounds.
Prints figures for the README; asserts nothing.

    python -m tests.bench_serve [--bursts 50,200,1000] [--idle 1100] [--nofile 1024]
                                [--seconds 20] [--servers before,after] [--db PATH]

Two servers, each a real process on 127.0.0.1 answering the real Slack app (Web API on
the local mock, tests/slack_mock.py), with RLIMIT_NOFILE set to --nofile:
  - before: the server as this branch found it (wsgiref's threaded server, listen
    backlog 5, a 10 s timeout on each read, no cap), rebuilt here by `--serve-before`;
  - after:  `toprank serve --http` (bot/http_server.py).

Burst: N threads wait on a barrier, then each connects and sends one signed slash
command; counted by outcome (200, and of those the acks saying "busy"; 503; reset;
closed without an answer; no answer in 30 s) with the time to the answer.

Idle, then real: K connections made (100 at a time) that send nothing, or headers
promising a body never sent, or a header a byte every 2 s; then one real signed slash
command: its answer and time, the server's descriptors and CPU, and how many idle
connections the server has not closed --seconds later.

Sustained: K such connections kept open for --seconds (each one the server closes is
reopened at once), and a real signed slash command every 0.5 s meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.slack_mock import BOT_TOKEN, SIGNING_SECRET, SlackMock, sign, slash_command_body

WAIT_SECONDS = 30.0
LISTENING = re.compile(r"toprank: listening on http://127\.0\.0\.1:(\d+)/slack/events")


# ---------------------------------------------------------------------- the servers


def serve_before(db: str | None) -> int:
    """The server of commit d5c8802, unchanged: backlog 5, 10 s per read, no cap."""
    import logging
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from toprank.bot.app import build_app
    from toprank.bot.pipeline import Toprank
    from toprank.bot.serve import guarded_app
    from toprank.data.db import db_path

    class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        timeout = 10.0

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    logging.basicConfig(level=logging.WARNING)
    core = Toprank.open(db_path(db), build_if_missing=True, warm=True)
    app = build_app(
        core,
        token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        base_url=os.environ["SLACK_API_BASE_URL"],
    )
    server = make_server(
        "127.0.0.1",
        0,
        guarded_app(app, SIGNING_SECRET),
        server_class=ThreadingWSGIServer,
        handler_class=QuietHandler,
    )
    port = server.server_address[1]
    print(f"toprank: listening on http://127.0.0.1:{port}/slack/events", flush=True)
    server.serve_forever()
    return 0


@dataclass(frozen=True)
class Server:
    name: str
    process: subprocess.Popen[str]
    port: int

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running(name: str, mock: SlackMock, db: str | None, nofile: int) -> Iterator[Server]:
    command = (
        [sys.executable, "-m", "tests.bench_serve", "--serve-before"]
        if name == "before"
        else [sys.executable, "-m", "toprank.bot.cli", "serve", "--http", "--host", "127.0.0.1"]
        + ["--port", "0"]
    )
    command += ["--db", db] if db else []
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": mock.base_url,
    }

    def limit_descriptors() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    log_path = Path(tempfile.gettempdir()) / f"bench_serve-{name}.log"
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_path.open("w"),
        text=True,
        preexec_fn=limit_descriptors,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = LISTENING.search(line)
        if not match:
            raise SystemExit(f"the {name} server did not start: {line!r}")
        yield Server(name, process, int(match[1]))
        if process.poll() is not None:
            print(f"  (the {name} server ended with {process.returncode}; see {log_path})")
    finally:
        process.terminate()
        process.wait(timeout=30)


# ---------------------------------------------------------------------- clients


def signed_request(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> bytes:
    ts = int(time.time())
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sign(body, ts)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass(frozen=True)
class Outcome:
    kind: str  # "200", "503", ..., "reset", "closed", "timeout", "refused"
    seconds: float
    busy: bool = False  # a 200 whose ack says the answer pool is full


def exchange(port: int, request: bytes, timeout: float = WAIT_SECONDS) -> Outcome:
    from toprank.bot.listeners.common import BUSY_TEXT

    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except ConnectionResetError:
        return Outcome("reset", time.perf_counter() - started)
    except ConnectionRefusedError:
        return Outcome("refused", time.perf_counter() - started)
    except TimeoutError:
        return Outcome("timeout", time.perf_counter() - started)
    except OSError as error:
        return Outcome(type(error).__name__, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    status = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    if not status:
        return Outcome("closed", seconds)
    body = data.partition(b"\r\n\r\n")[2]
    busy = body.startswith(b"{") and json.loads(body).get("text") == BUSY_TEXT
    return Outcome(status[1].decode(), seconds, busy)


def burst(server: Server, mock: SlackMock, n: int) -> list[Outcome]:
    requests = [
        signed_request(slash_command_body("ot 2022", mock.response_url(f"{server.name}-{n}-{k}")))
        for k in range(n)
    ]
    barrier = threading.Barrier(n)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def send(request: bytes) -> None:
        barrier.wait()
        outcome = exchange(server.port, request)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


HEADERS_ONLY = (
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
)
# What the idle connections send: nothing; headers promising a body never sent; the
# start of a header, then a byte every 2 s (under the old 10 s per-read timeout).
ATTACKS = (
    ("nothing", b"", 0.0),
    ("headers", HEADERS_ONLY, 0.0),
    ("trickle", b"POST /slack/events HTTP/1.1\r\nX-Pad: ", 2.0),
)


class Attacker:
    """Keeps K connections open that send nothing, or only headers (a body promised and
    never sent), or headers a byte every `trickle` seconds (never ending them), opening
    a new connection for each the server closes."""

    def __init__(self, port: int, k: int, send: bytes, trickle: float = 0.0) -> None:
        self.port, self.k, self.send, self.trickle = port, k, send, trickle
        self.sockets: dict[socket.socket, float] = {}  # -> when it last sent (0: not yet)
        self.opened = self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Attacker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()

    def _open(self) -> None:
        sock = socket.socket()
        # From 127.0.1.x: this many connections a second would use up one address's
        # ephemeral ports (and the real requests, from 127.0.0.1, would fail for that).
        sock.bind((f"127.0.1.{1 + self.opened % 250}", 0))
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))  # no waiting on a server that stalls
        self.sockets[sock] = 0.0
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            while len(self.sockets) < self.k:
                self._open()
            now = time.monotonic()
            for sock, sent in list(self.sockets.items()):
                if not sent and _connected(sock):
                    with suppress(OSError):
                        sock.send(self.send)
                    self.sockets[sock] = now
                elif sent and _closed(sock):
                    del self.sockets[sock]
                    sock.close()
                    self.closed_by_server += 1
                elif sent and self.trickle and now - sent >= self.trickle:
                    with suppress(OSError):
                        sock.send(b"a")
                    self.sockets[sock] = now
            self._stop.wait(0.1)


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def _closed(sock: socket.socket) -> bool:
    """The server ended the connection (end-of-file or a reset), read without waiting."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


@dataclass(frozen=True)
class IdleRun:
    real: list[Outcome]
    cpu: float  # the server's CPU use during the attack, in cores
    opened: int  # idle connections the attacker opened (K, plus one per one closed)
    closed_by_server: int


def idle_run(
    server: Server, mock: SlackMock, k: int, send: bytes, trickle: float, seconds: float
) -> IdleRun:
    """K idle connections kept open for `seconds`; meanwhile a real signed slash command
    every half second (each waited on up to 10 s)."""
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    real: list[Outcome] = []
    with Attacker(server.port, k, send, trickle) as attacker:
        time.sleep(2.0)  # the attack is in place
        while time.perf_counter() - started < seconds:
            key = f"{server.name}-idle-{len(real)}"
            body = slash_command_body("ot 2022", mock.response_url(key))
            real.append(exchange(server.port, signed_request(body), timeout=10.0))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        cpu = (server.cpu_seconds() - cpu_before) / elapsed
    return IdleRun(real, cpu, attacker.opened, attacker.closed_by_server)


def hold_idle(port: int, k: int, send: bytes) -> list[socket.socket]:
    """K connections, each opened (and its bytes sent) as soon as the server lets it,
    by 100 threads; a connection not made within 20 s is left out."""

    def connect(i: int) -> socket.socket | None:
        sock = socket.socket()
        sock.bind((f"127.0.1.{1 + i % 250}", 0))
        sock.settimeout(20.0)
        try:
            sock.connect(("127.0.0.1", port))
            if send:
                sock.sendall(send)
        except OSError:
            sock.close()
            return None
        return sock

    with ThreadPoolExecutor(100) as openers:
        return [sock for sock in openers.map(connect, range(k)) if sock is not None]


@contextmanager
def trickling(sockets: list[socket.socket], every: float) -> Iterator[None]:
    """One more header byte on each socket every `every` seconds, in the background."""
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(every):
            for sock in sockets:
                with suppress(OSError):
                    sock.send(b"a")

    thread = threading.Thread(target=trickle, daemon=True)
    if every:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if every:
            thread.join()


@dataclass(frozen=True)
class LockoutRun:
    held: int  # idle connections made
    opening: float  # seconds to make them
    descriptors: int  # the server's open descriptors once they were made
    real: Outcome  # the real request sent then
    cpu: float  # the server's CPU use from then until counted, in cores
    still_open: int  # idle connections the server had not closed when counted


def lockout_run(
    server: Server, mock: SlackMock, k: int, send: bytes, trickle: float, seconds: float
) -> LockoutRun:
    """K idle connections, then one real signed slash command (waited on up to 30 s);
    the idle connections still open are counted `seconds` after they were made."""
    started = time.perf_counter()
    held = hold_idle(server.port, k, send)
    opened = time.perf_counter()
    with trickling(held, trickle):
        descriptors = len(os.listdir(f"/proc/{server.process.pid}/fd"))
        cpu_before = server.cpu_seconds()
        body = slash_command_body("ot 2022", mock.response_url(f"{server.name}-lockout-{k}"))
        real = exchange(server.port, signed_request(body))
        time.sleep(max(0.0, seconds - (time.perf_counter() - opened)))
        cpu = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - opened)
        for sock in held:
            sock.setblocking(False)  # _closed reads without waiting
        still = sum(not _closed(sock) for sock in held)
    for sock in held:
        sock.close()
    return LockoutRun(len(held), opened - started, descriptors, real, cpu, still)


# ---------------------------------------------------------------------- the report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", default="50,200,1000", help="concurrent connections")
    parser.add_argument("--idle", type=int, default=1100, help="idle connections")
    parser.add_argument("--nofile", type=int, default=1024, help="the servers' descriptor limit")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the idle runs")
    parser.add_argument("--servers", default="before,after")
    parser.add_argument("--db", default=None, help="DuckDB file (default: the demo)")
    parser.add_argument("--serve-before", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_before:
        return serve_before(args.db)

    mock = SlackMock()
    sizes = [int(n) for n in args.bursts.split(",") if n]
    names = args.servers.split(",")
    print(f"servers limited to {args.nofile} descriptors; {os.cpu_count()} CPUs")
    print()
    print("Burst: N concurrent signed slash commands, one per connection")
    print("server    N    200  (busy)   503  reset  closed  timeout  p50 ms  max ms")
    for name in names:
        for n in sizes:
            with running(name, mock, args.db, args.nofile) as server:
                outcomes = burst(server, mock, n)
            kinds = Counter(o.kind for o in outcomes)
            times = sorted(o.seconds for o in outcomes if o.kind == "200")
            p50 = 1000 * times[len(times) // 2] if times else float("nan")
            top = 1000 * times[-1] if times else float("nan")
            busy = sum(o.busy for o in outcomes)
            other = {k: v for k, v in kinds.items() if k not in ("200", "503", "reset", "closed")}
            print(
                f"{name:7s} {n:4d}  {kinds['200']:5d}  ({busy:4d})  {kinds['503']:4d}  "
                f"{kinds['reset']:5d}  {kinds['closed']:6d}  {kinds['timeout']:7d}  "
                f"{p50:6.0f}  {top:6.0f}" + (f"  {other}" if other else "")
            )
    print()
    print(
        f"Idle, then real: {args.idle} idle connections made (100 at a time), then one real "
        f"signed slash command; idle ones still open counted {args.seconds:g} s after"
    )
    print("server   idle sends   made  in s   fds  real request       server CPU  still open")
    for name in names:
        for label, send, trickle in ATTACKS:
            with running(name, mock, args.db, args.nofile) as server:
                lock = lockout_run(server, mock, args.idle, send, trickle, args.seconds)
            print(
                f"{name:7s}  {label:10s}  {lock.held:5d}  {lock.opening:4.1f}  {lock.descriptors:4d}"
                f"  {lock.real.kind:>7s} in {lock.real.seconds:5.2f} s  {100 * lock.cpu:8.0f}%"
                f"  {lock.still_open:6d}"
            )
    print()
    print(
        f"Sustained: {args.idle} connections kept open (each one the server closes is reopened) "
        f"for {args.seconds:g} s; meanwhile one real signed slash command every 0.5 s"
    )
    print("server   idle sends  real: 200   503  failed  p50 ms  max ms  server CPU  closed/opened")
    for name in names:
        for label, send, trickle in ATTACKS:
            with running(name, mock, args.db, args.nofile) as server:
                r = idle_run(server, mock, args.idle, send, trickle, args.seconds)
            kinds = Counter(o.kind for o in r.real)
            times = sorted(o.seconds for o in r.real if o.kind in ("200", "503"))
            p50 = 1000 * times[len(times) // 2] if times else float("nan")
            top = 1000 * max(o.seconds for o in r.real)
            failed = len(r.real) - kinds["200"] - kinds["503"]
            how = {k: v for k, v in kinds.items() if k not in ("200", "503")}
            print(
                f"{name:7s}  {label:10s}  {kinds['200']:4d}/{len(r.real):<3d} {kinds['503']:4d}"
                f"  {failed:6d}  {p50:6.0f}  {top:6.0f}  {100 * r.cpu:9.0f}%"
                f"  {r.closed_by_server:6d}/{r.opened}" + (f"  {how}" if how else "")
            )
    with suppress(Exception):
        mock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
