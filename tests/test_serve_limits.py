"""The bounded HTTP server of `toprank serve --http` (bot/http_server.py), on loopback.

- A burst of 200 concurrent signed slash commands: every one acknowledged (200, no
  reset) and every one not told "busy" answered at its response_url.
- Connections that send nothing, or headers without their body, or headers a byte at a
  time, are closed by the server (408 when a request had begun) while a real request
  gets through; more idle connections than the cap still leave a real request answered,
  and the server never holds more than the cap; with every slot busy, a quick 503 with
  Retry-After.
- `toprank serve --http` start-up failures (a port already taken, port 99999, a host
  that is not this machine's, a privileged port): one line on stderr, a non-zero exit,
  no traceback, nothing opened or asked of Slack.

Short deadlines (ServerLimits) keep the tests quick; every wait is bounded (WAIT_SECONDS)
and no assertion is about elapsed time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TODAY
from tests.slack_mock import (
    BOT_TOKEN,
    SIGNING_SECRET,
    WAIT_SECONDS,
    SlackMock,
    TrackingExecutor,
    sign,
    slash_command_body,
)
from toprank.bot.app import build_app
from toprank.bot.http_server import ServerLimits, bind_http_server
from toprank.bot.listeners.common import BUSY_TEXT
from toprank.bot.serve import EVENTS_PATH, EXIT_CANNOT_LISTEN, EXIT_USAGE, make_http_server

FORM = "application/x-www-form-urlencoded"
QUICK = ServerLimits(idle_timeout=0.5, header_timeout=0.5, body_timeout=0.5)


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


class Rig:
    """The real Slack app behind the bounded server, Slack's Web API on the mock."""

    def __init__(self, core: Any, limits: ServerLimits) -> None:
        self.mock = SlackMock()
        self.executor = TrackingExecutor()
        self.app = build_app(
            core,
            token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            base_url=self.mock.base_url,
            listener_executor=self.executor,
        )
        self.server = make_http_server(self.app, "127.0.0.1", 0, limits=limits)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.mock.close()


@pytest.fixture()
def rig_factory(toprank) -> Iterator[Any]:
    rigs: list[Rig] = []

    def make(limits: ServerLimits = QUICK) -> Rig:
        rigs.append(Rig(toprank, limits))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


# --------------------------------------------------------------------------- raw HTTP


def signed_request(body: bytes, content_type: str = FORM) -> bytes:
    ts = int(time.time())
    head = (
        f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {ts}\r\n"
        f"X-Slack-Signature: {sign(body, ts)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after a response is an end)."""
    sock.settimeout(WAIT_SECONDS)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
        sock.sendall(request)
        return read_to_end(sock)


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:80]
    return int(response.split(b" ", 2)[1])


def real_command(rig: Rig, key: str) -> bytes:
    return exchange(
        rig.port, signed_request(slash_command_body("ot 2022", rig.mock.response_url(key)))
    )


def open_idle(port: int, count: int, send: bytes = b"") -> list[socket.socket]:
    idle = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
        if send:
            sock.sendall(send)
        idle.append(sock)
    return idle


def still_open(sock: socket.socket) -> bool:
    """Not closed by the server: nothing to read and no end-of-file, without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


# --------------------------------------------------------------------------- bursts


def test_a_burst_of_200_concurrent_signed_commands_is_answered_in_full(rig_factory) -> None:
    rig = rig_factory(ServerLimits())  # the defaults: backlog 1024
    n = 200
    barrier = threading.Barrier(n)
    keys = [f"burst-{k}" for k in range(n)]

    def send(key: str) -> bytes:
        request = signed_request(slash_command_body("ot 2022", rig.mock.response_url(key)))
        barrier.wait(WAIT_SECONDS)
        try:
            return exchange(rig.port, request)
        except ConnectionResetError:
            return b"reset"

    with ThreadPoolExecutor(n) as senders:
        replies = dict(zip(keys, senders.map(send, keys), strict=True))
    assert [k for k, r in replies.items() if r == b"reset"] == []
    assert [status(r) for r in replies.values()] == [200] * n
    answered = [k for k, r in replies.items() if BUSY_TEXT.encode() not in r]
    for key in answered:  # every ack that did not say "busy" was followed by its answer
        assert "occupational therapy" in str(rig.mock.wait_response(key)[0].body)


# --------------------------------------------------------------------------- idle and slow


HEADERS_ONLY = (
    f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
).encode()


def test_a_connection_that_sends_nothing_is_closed_while_a_real_request_gets_through(
    rig_factory,
) -> None:
    rig = rig_factory()
    idle = open_idle(rig.port, 5)
    assert status(real_command(rig, "beside-idle")) == 200
    for sock in idle:
        assert read_to_end(sock) == b""  # closed, nothing said: nothing was asked
        sock.close()
    assert "occupational therapy" in str(rig.mock.wait_response("beside-idle")[0].body)


def test_headers_without_their_body_get_408_and_are_closed(rig_factory) -> None:
    rig = rig_factory()
    waiting = open_idle(rig.port, 5, HEADERS_ONLY)
    assert status(real_command(rig, "beside-headers")) == 200
    for sock in waiting:
        response = read_to_end(sock)  # returns only once the server has closed
        assert status(response) == 408
        sock.close()


def test_headers_sent_a_byte_at_a_time_are_cut_off(rig_factory) -> None:
    """Per-read timeouts never end this; the headers' deadline does."""
    rig = rig_factory()
    sock = socket.create_connection(("127.0.0.1", rig.port), timeout=WAIT_SECONDS)
    sock.sendall(b"POST /slack/events HTTP/1.1\r\nX-Pad: ")
    sock.settimeout(0.05)
    response = b""
    for _ in range(int(WAIT_SECONDS / 0.05)):  # bounded: a byte every 50 ms for at most 30 s
        try:
            sock.sendall(b"a")
            response = sock.recv(65536)
            break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    sock.close()
    assert response.startswith(b"HTTP/1.0 408")


def test_more_idle_connections_than_the_cap_leave_a_real_request_answered(rig_factory) -> None:
    cap = 8
    # Idle connections never time out here: only making room can close them.
    rig = rig_factory(ServerLimits(max_connections=cap, idle_timeout=60, evict_after=0))
    idle = open_idle(rig.port, 3 * cap)
    assert status(real_command(rig, "past-the-cap")) == 200
    assert "occupational therapy" in str(rig.mock.wait_response("past-the-cap")[0].body)
    open_now = [sock for sock in idle if still_open(sock)]
    assert len(open_now) <= cap  # the server never held more than its cap
    assert not still_open(idle[0])  # the oldest made room
    for sock in idle:
        sock.close()


def test_a_request_line_and_headers_past_64_kib_get_431(rig_factory) -> None:
    rig = rig_factory()
    request = b"POST /slack/events HTTP/1.1\r\nX-Pad: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    assert status(exchange(rig.port, request)) == 431


def test_with_every_slot_busy_a_newcomer_gets_a_quick_503_with_retry_after() -> None:
    """A stand-in app that holds its requests, behind the real server: both slots hold
    a whole request, so nothing can be closed to make room."""
    release = threading.Event()

    def held(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        release.wait(WAIT_SECONDS)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    server = bind_http_server("127.0.0.1", 0, ServerLimits(max_connections=2, workers=2))
    server.set_app(held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    get = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        held_socks = open_idle(port, 2, get)
        for _ in range(int(WAIT_SECONDS / 0.01)):  # both requests reach the app (bounded)
            if server.open_connections() == 2:
                break
            time.sleep(0.01)
        refused = exchange(port, get)
        assert status(refused) == 503
        assert b"\r\nRetry-After: " in refused
        release.set()
        assert [status(read_to_end(sock)) for sock in held_socks] == [200, 200]
    finally:
        release.set()
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- start-up


SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_BASE_URL")


@pytest.fixture()
def serve_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], SlackMock, Path]]:
    mock = SlackMock()
    db = tmp_path / "never-built.duckdb"
    env = {k: v for k, v in os.environ.items() if k not in SLACK_VARS}
    env.update(
        TOPRANK_DB=str(db),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=mock.base_url,
    )
    yield env, mock, db
    mock.close()


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "serve", "--http", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def test_a_port_already_in_use_is_one_line(serve_env) -> None:
    env, mock, db = serve_env
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(env, "--host", "127.0.0.1", "--port", str(port))
    assert_one_line(result, EXIT_CANNOT_LISTEN, f"port {port} is already in use", "--port")
    assert not db.exists() and mock.calls == []  # said before opening data or asking Slack


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_one_line(serve_env, port: str) -> None:
    env, mock, db = serve_env
    assert_one_line(serve(env, "--port", port), EXIT_USAGE, "65535", repr(port))
    assert not db.exists() and mock.calls == []


def test_a_host_that_is_not_this_machines_is_one_line(serve_env) -> None:
    env, mock, db = serve_env
    # 192.0.2.0/24 is reserved for documentation (RFC 5737): never a local address.
    result = serve(env, "--host", "192.0.2.1", "--port", "0")
    assert_one_line(result, EXIT_CANNOT_LISTEN, "192.0.2.1 is not an address of this machine")
    assert not db.exists() and mock.calls == []


def _without_the_right_to_bind_low_ports() -> list[str] | None:
    """A command prefix that runs without the right to listen on ports below 1024
    (as root: setpriv drops CAP_NET_BIND_SERVICE), or None when none is possible here."""
    try:
        start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        start = 1024
    if start <= 80:
        return None  # port 80 is not privileged on this machine
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set=-net_bind_service", "--"] if setpriv else None


def test_permission_denied_is_one_line(serve_env) -> None:
    prefix = _without_the_right_to_bind_low_ports()
    if prefix is None:
        pytest.skip("cannot be denied port 80 here")
    env, mock, db = serve_env
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "toprank.bot.cli", "serve", "--http"]
        + ["--host", "127.0.0.1", "--port", "80"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line(result, EXIT_CANNOT_LISTEN, "permission denied", "port 80")
    assert not db.exists() and mock.calls == []
