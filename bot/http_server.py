"""The HTTP server behind `toprank serve --http`: wsgiref, one thread per connection, bounded.

A Slack endpoint is public, and a connection costs the server a thread and a file
descriptor, so no client may hold either for long or take them all:

    LISTEN_BACKLOG           1024  connections the kernel queues for accept (the default
                                   5 reset 10-52% of a 50-connection burst)
    MAX_CONNECTIONS           256  open at once (lowered to fit the descriptor limit);
                                   past it the oldest connection still without a whole
                                   request is closed to make room, and when every one is
                                   busy with a request the newcomer gets a quick 503
                                   with Retry-After
    IDLE_TIMEOUT_SECONDS        5  a connection that sends nothing is closed
    HEADER_TIMEOUT_SECONDS     10  request line and headers, from their first byte (408)
    BODY_TIMEOUT_SECONDS       10  the body, from the end of the headers (RequestGuard: 408)
    WRITE_TIMEOUT_SECONDS      10  writing the response to a client that does not read

Each response closes its connection (wsgiref speaks HTTP/1.0), so there is no keep-alive
idle time beyond IDLE_TIMEOUT_SECONDS. The deadlines are whole-phase deadlines, not
per-read timeouts: a client sending a byte every few seconds is still cut off.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import math
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass, replace
from enum import Enum
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

log = logging.getLogger("toprank.serve")

LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 256
IDLE_TIMEOUT_SECONDS = 5.0
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 10.0
WRITE_TIMEOUT_SECONDS = 10.0
# A connection younger than this is never closed to make room: an honest client's
# request arrives right behind its handshake, even through a proxy.
EVICT_AFTER_SECONDS = 0.5
RETRY_AFTER_SECONDS = 2
# Refused connections are half-closed and drained this long (at most MAX_LINGERING at
# once) so the client reads its 503 instead of a reset caused by its unread request.
LINGER_SECONDS = 2.0
MAX_LINGERING = 64
# Descriptors kept for everything else: the database, Slack's Web API, logs, imports.
FD_RESERVE = 128
# After a failed accept for want of descriptors, wait before the next (no busy loop).
ACCEPT_PAUSE_SECONDS = 0.1
# The first refusal or closed connection is logged at once, then a summary this often.
LOG_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class ServerLimits:
    """The server's bounds (module constants by default; tests and benchmarks vary them)."""

    backlog: int = LISTEN_BACKLOG
    max_connections: int = MAX_CONNECTIONS
    idle_timeout: float = IDLE_TIMEOUT_SECONDS
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    body_timeout: float = BODY_TIMEOUT_SECONDS
    write_timeout: float = WRITE_TIMEOUT_SECONDS
    evict_after: float = EVICT_AFTER_SECONDS
    retry_after: int = RETRY_AFTER_SECONDS
    linger: float = LINGER_SECONDS
    max_lingering: int = MAX_LINGERING

    def fitted_to(self, open_files: int) -> ServerLimits:
        """These limits with the connection cap lowered to fit a descriptor limit, so
        accept() never runs out of descriptors because of connections."""
        room = open_files - FD_RESERVE - self.max_lingering
        return replace(self, max_connections=max(1, min(self.max_connections, room)))


def open_file_limit() -> int:
    """The process's soft limit on open descriptors (RLIMIT_NOFILE)."""
    try:
        import resource
    except ImportError:  # not Unix: no limit to fit
        return sys.maxsize
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return sys.maxsize if soft == resource.RLIM_INFINITY else soft


# ---------------------------------------------------------------------- start-up failures

LISTEN_FAILURES: dict[int, str] = {
    errno.EADDRINUSE: "port {port} is already in use on {host}; choose another with --port",
    errno.EACCES: (
        "permission denied to listen on port {port} on {host} (ports below 1024 need "
        "privileges); choose a port from 1024 up with --port"
    ),
    errno.EADDRNOTAVAIL: (
        "{host} is not an address of this machine; use --host 127.0.0.1, 0.0.0.0 "
        "or one of its own addresses"
    ),
}


def listen_failure(host: str, port: int, error: OSError) -> str:
    """One line saying why the server could not listen, and what to change."""
    if isinstance(error, socket.gaierror):
        return (
            f"cannot listen on {host!r}: not a host name or address this machine knows "
            f"({error.strerror}); use --host with an address such as 127.0.0.1 or 0.0.0.0"
        )
    template = LISTEN_FAILURES.get(error.errno or 0)
    if template is not None:
        return template.format(host=host or "0.0.0.0", port=port)
    return f"cannot listen on {host}:{port} ({error.strerror or error})"


# ---------------------------------------------------------------------- a connection's life


class Phase(Enum):
    IDLE = "idle"  # accepted, nothing received yet
    HEADERS = "headers"  # request line and headers arriving
    BUSY = "busy"  # a whole request is in: body, app, response


@dataclass(frozen=True)
class Tracked:
    accepted: float  # time.monotonic() at accept
    phase: Phase


class DeadlineReader(io.RawIOBase):
    """The socket's bytes, every read bounded by the time left before `deadline`."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the read deadline passed")
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


class TimedWriter(io.BufferedIOBase):
    """Unbuffered writes to the socket, each bounded by `timeout` in total."""

    def __init__(self, connection: socket.socket, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.connection.settimeout(self.timeout)
        self.connection.sendall(data)
        with memoryview(data) as view:
            return view.nbytes

    def fileno(self) -> int:
        return self.connection.fileno()


class QuietServerHandler(ServerHandler):
    """wsgiref's response writer, logging an app failure in one line (no traceback on
    stderr; the traceback goes to the debug log)."""

    def log_exception(self, exc_info: Any) -> None:
        log.error("a request failed: %s: %s", exc_info[0].__name__, exc_info[1])
        log.debug("the failure in full", exc_info=exc_info)


REQUEST_TIMEOUT = (
    b"HTTP/1.0 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 38\r\nConnection: close\r\n\r\nthe headers did not arrive in time\r\n\r\n"
)


class BoundedHandler(WSGIRequestHandler):
    """wsgiref's request handler, with each phase of the connection under a deadline."""

    server: BoundedWSGIServer

    def setup(self) -> None:
        self.connection = self.request
        self.reader = DeadlineReader(self.connection)
        self.buffered = io.BufferedReader(self.reader)
        self.rfile = self.buffered
        self.wfile = TimedWriter(self.connection, self.server.limits.write_timeout)

    def handle(self) -> None:
        limits = self.server.limits
        phase = Phase.IDLE
        try:
            self.reader.deadline = self.server.accepted_at(self.request) + limits.idle_timeout
            if not self.buffered.peek(1):
                return  # closed by the client, or to make room
            phase = self._enter(Phase.HEADERS, limits.header_timeout)
            if not self._read_head():
                return
            phase = self._enter(Phase.BUSY, limits.body_timeout)
            app = self.server.get_app()
            assert app is not None, "set_app before serve_forever"
            writer = cast(IO[bytes], self.wfile)
            handler = QuietServerHandler(
                self.buffered, writer, self.get_stderr(), self.get_environ(), multithread=True
            )
            handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's backpointer
            handler.run(app)
        except TimeoutError:
            self.server.count_timeout(phase)
            if phase is Phase.HEADERS:
                with contextlib.suppress(OSError):
                    self.wfile.write(REQUEST_TIMEOUT)
        except OSError as error:  # the client went away, or was closed to make room
            log.debug("connection from %s ended: %s", self.client_address[0], error)

    def _enter(self, phase: Phase, seconds: float) -> Phase:
        self.reader.deadline = time.monotonic() + seconds
        self.server.mark(self.request, phase)
        return phase

    def _read_head(self) -> bool:
        """The request line and headers (as wsgiref reads them); False if refused."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return False
        return self.parse_request()  # sends its own 400/431 when it refuses

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s - %s", self.address_string(), format % args)


# ---------------------------------------------------------------------- the server


class LingeringClose:
    """Refused sockets, half-closed after their 503 and drained until the client closes
    or `linger` seconds pass: closing with unread request bytes would send a reset that
    can destroy the 503 before the client reads it. Main thread only."""

    def __init__(self, linger: float, max_sockets: int) -> None:
        self.linger = linger
        self.max_sockets = max_sockets
        self._deadlines: dict[socket.socket, float] = {}  # oldest first

    def __len__(self) -> int:
        return len(self._deadlines)

    def add(self, sock: socket.socket, now: float) -> None:
        self._deadlines[sock] = now + self.linger
        while len(self._deadlines) > self.max_sockets:
            self._close(next(iter(self._deadlines)))

    def sweep(self, now: float) -> None:
        for sock, deadline in list(self._deadlines.items()):
            if _drained(sock) or now >= deadline:
                self._close(sock)

    def close_all(self) -> None:
        for sock in list(self._deadlines):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        del self._deadlines[sock]
        sock.close()


def _drained(sock: socket.socket) -> bool:
    """Read what the client sent, without waiting: True once it has closed (or failed)."""
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def busy_response(retry_after: int) -> bytes:
    text = f"the server is at its connection limit; retry in {retry_after} s\n".encode()
    head = (
        "HTTP/1.0 503 Service Unavailable\r\n"
        f"Retry-After: {retry_after}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(text)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + text


class BoundedWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threaded WSGI server that stays answerable under bursts and idle or slow clients.

    Connections are tracked by phase (idle, headers, busy). At the cap, the oldest one
    without a whole request (older than `evict_after`) is shut down to make room; if all
    are busy with requests, the newcomer gets a 503 with Retry-After from the accepting
    thread, without a thread of its own.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        server_address: tuple[str, int],
        limits: ServerLimits = ServerLimits(),  # noqa: B008 (frozen, shared safely)
        handler_class: type[BoundedHandler] = BoundedHandler,
    ) -> None:
        self.limits = limits.fitted_to(open_file_limit())
        self.request_queue_size = self.limits.backlog
        self._lock = threading.Lock()
        self._open: dict[socket.socket, Tracked] = {}
        self._lingering = LingeringClose(self.limits.linger, self.limits.max_lingering)
        self._busy_response = busy_response(self.limits.retry_after)
        # What was refused or closed, for the logs and the benchmark.
        self.counts: dict[str, int] = dict.fromkeys(
            ("refused", "evicted", "idle", "headers", "body", "no_descriptors"), 0
        )
        self._logged_counts = dict(self.counts)
        self._logged_at = -math.inf
        super().__init__(server_address, handler_class)  # binds and listens, or raises OSError

    # ------------------------------------------------------------------ accepting

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE):
                self.counts["no_descriptors"] += 1
                time.sleep(ACCEPT_PAUSE_SECONDS)  # socketserver would retry at once, forever
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        now = time.monotonic()
        with self._lock:
            admitted = len(self._open) < self.limits.max_connections or self._evict_one(now)
            if admitted:
                self._open[request] = Tracked(now, Phase.IDLE)
        if not admitted:
            self._refuse(request, now)
            return
        super().process_request(request, client_address)

    def _evict_one(self, now: float) -> bool:
        """Shut down the oldest connection still without a whole request (lock held)."""
        waiting = [
            (tracked.accepted, sock)
            for sock, tracked in self._open.items()
            if tracked.phase is not Phase.BUSY and now - tracked.accepted >= self.limits.evict_after
        ]
        if not waiting:
            return False
        _, victim = min(waiting, key=lambda item: item[0])
        del self._open[victim]
        with contextlib.suppress(OSError):
            victim.shutdown(socket.SHUT_RDWR)  # its thread reads end-of-file and ends
        self.counts["evicted"] += 1
        return True

    def _refuse(self, request: socket.socket, now: float) -> None:
        self.counts["refused"] += 1
        try:
            request.setblocking(False)
            request.send(self._busy_response)  # small: fits a fresh socket's buffer
            request.shutdown(socket.SHUT_WR)
        except OSError:
            request.close()
            return
        self._lingering.add(request, now)

    # ------------------------------------------------------------------ bookkeeping

    def accepted_at(self, request: socket.socket) -> float:
        with self._lock:
            tracked = self._open.get(request)
        return tracked.accepted if tracked is not None else time.monotonic()

    def mark(self, request: socket.socket, phase: Phase) -> None:
        with self._lock:
            tracked = self._open.get(request)
            if tracked is not None:
                self._open[request] = replace(tracked, phase=phase)

    def count_timeout(self, phase: Phase) -> None:
        with self._lock:
            key = {Phase.IDLE: "idle", Phase.HEADERS: "headers", Phase.BUSY: "body"}[phase]
            self.counts[key] += 1

    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def shutdown_request(self, request: Any) -> None:
        # Under the lock, so an eviction never shuts down a socket being closed here
        # (whose descriptor number a new connection could already reuse).
        with self._lock:
            self._open.pop(request, None)
            super().shutdown_request(request)

    def service_actions(self) -> None:
        """Run by serve_forever between accepts (at least every 0.5 s)."""
        now = time.monotonic()
        self._lingering.sweep(now)
        if now - self._logged_at >= LOG_EVERY_SECONDS:
            with self._lock:
                counts = dict(self.counts)
            news = {k: v - self._logged_counts[k] for k, v in counts.items()}
            if any(news.values()):
                said = ", ".join(f"{k} {v}" for k, v in news.items() if v)
                log.warning(
                    "connections refused or closed (limit %d open): %s",
                    self.limits.max_connections,
                    said,
                )
                self._logged_counts, self._logged_at = counts, now

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        log.warning("a connection from %s failed: %r", client_address[0], error)
        log.debug("the failure in full", exc_info=True)

    def server_close(self) -> None:
        super().server_close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._lingering.close_all()


class BoundedWSGIServer6(BoundedWSGIServer):
    address_family = socket.AF_INET6


def bind_http_server(
    host: str,
    port: int,
    limits: ServerLimits = ServerLimits(),  # noqa: B008 (frozen, shared safely)
) -> BoundedWSGIServer:
    """A bound, listening server with no app yet (set_app before serve_forever);
    OSError (socket.gaierror included) when the address cannot be listened on."""
    server_class = BoundedWSGIServer6 if ":" in host else BoundedWSGIServer
    return server_class((host, port), limits)
