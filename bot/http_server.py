"""The HTTP server behind `toprank serve --http`: requests gathered by one event loop,
answered by a few worker threads, every phase of a connection bounded.

A Slack endpoint is public. A thread per connection lets anyone hold the threads (and the
descriptors) with connections that send nothing, or headers and no body. Here a
connection costs no thread until its whole request has arrived: the accepting thread
reads every connection without blocking (selectors) and hands only complete requests to
the workers that run the WSGI app. The bounds:

    LISTEN_BACKLOG            1024  connections the kernel queues for accept (the default
                                    5 dropped or stalled part of a 50-connection burst)
    MAX_CONNECTIONS           1024  open at once, lowered to fit the descriptor limit; at
                                    the cap the oldest connection whose request is still
                                    arriving is closed to make room; when every one holds
                                    a whole request, the newcomer gets a 503 with
                                    Retry-After at once
    IDLE_TIMEOUT_SECONDS         5  a connection that sends nothing is closed
    HEADER_TIMEOUT_SECONDS      10  request line and headers, from their first byte (408)
    BODY_TIMEOUT_SECONDS        10  the body, from the end of the headers (408)
    WRITE_TIMEOUT_SECONDS       10  writing the response to a client that does not read
    MAX_HEAD_BYTES          64 KiB  request line and headers (431 past it)
    MAX_BUFFERED_BYTES      64 MiB  bytes held for requests still arriving, all together
    WORKERS                     32  requests answered at once (the rest wait their turn)

Deadlines are per phase, not per read: a client sending a byte every few seconds is cut
off all the same. A body longer than MAX_BODY_BYTES, or without a length, is not waited
for: the request goes to the app at once, and RequestGuard (bot/serve.py) refuses it.
Each response closes its connection (wsgiref speaks HTTP/1.0), so there is no keep-alive
idle time beyond IDLE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import logging
import math
import re
import selectors
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

log = logging.getLogger("toprank.serve")

LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 1024
IDLE_TIMEOUT_SECONDS = 5.0
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 10.0
WRITE_TIMEOUT_SECONDS = 10.0
# Slack's payloads are a few kilobytes; a longer body is refused unread (413).
MAX_BODY_BYTES = 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_BUFFERED_BYTES = 64 * 1024 * 1024
WORKERS = 32
RETRY_AFTER_SECONDS = 2
# A refused connection is half-closed and drained this long (at most MAX_LINGERING at
# once) so the client reads its 503 instead of a reset caused by its unread request.
LINGER_SECONDS = 2.0
MAX_LINGERING = 64
# Descriptors kept for everything else: the database, Slack's Web API, logs, imports.
FD_RESERVE = 128
# After an accept fails for want of descriptors, accepting waits this long (no busy loop).
ACCEPT_PAUSE_SECONDS = 0.1
# Connections accepted per wake-up before the others' bytes are read (no starvation).
ACCEPTS_PER_TURN = 64
# A connection younger than this is never closed to make room (its request may be on
# its way); at most EVICTION_SCAN of the oldest are looked at per accept.
EVICT_AFTER_SECONDS = 0.25
EVICTION_SCAN = 16
# Deadlines are checked this often.
SWEEP_SECONDS = 0.1
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
    max_body_bytes: int = MAX_BODY_BYTES
    max_head_bytes: int = MAX_HEAD_BYTES
    max_buffered_bytes: int = MAX_BUFFERED_BYTES
    workers: int = WORKERS
    evict_after: float = EVICT_AFTER_SECONDS
    retry_after: int = RETRY_AFTER_SECONDS
    linger: float = LINGER_SECONDS
    max_lingering: int = MAX_LINGERING

    def fitted_to(self, open_files: int) -> ServerLimits:
        """These limits with the connection cap lowered to fit a descriptor limit, so
        accept() does not run out of descriptors because of connections."""
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


# ---------------------------------------------------------------------- canned responses


def plain_response(status: str, text: str, *headers: str) -> bytes:
    body = (text + "\n").encode()
    head = [f"HTTP/1.0 {status}", *headers, "Content-Type: text/plain; charset=utf-8"]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


REQUEST_TIMEOUT = plain_response("408 Request Timeout", "the request did not arrive in time")
HEAD_TOO_LARGE = plain_response(
    "431 Request Header Fields Too Large", "the request line and headers are too long"
)


def busy_response(retry_after: int) -> bytes:
    return plain_response(
        "503 Service Unavailable",
        f"the server is at its connection limit; retry in {retry_after} s",
        f"Retry-After: {retry_after}",
    )


# ---------------------------------------------------------------------- requests arriving


class Phase(Enum):
    IDLE = "idle"  # accepted, nothing received yet
    HEADERS = "headers"  # request line and headers arriving
    BODY = "body"  # headers in, the body they announce arriving


CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,19})[ \t]*\r?\n", re.IGNORECASE)


def head_end(data: bytearray, start: int) -> int:
    """The index just past the blank line that ends the headers (CRLF, or bare LF as
    http.client also accepts), or -1."""
    ends = [
        i + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (i := data.find(blank, start)) >= 0
    ]
    return min(ends, default=-1)


class Arriving:
    """A connection whose request is still arriving (the event loop's thread only)."""

    __slots__ = ("sock", "address", "accepted", "data", "head_end", "need", "deadline", "phase")

    def __init__(self, sock: socket.socket, address: Any, now: float, limits: ServerLimits):
        self.sock = sock
        self.address = address
        self.accepted = now
        self.data = bytearray()
        self.head_end = -1  # index just past the blank line, once seen
        self.need = -1  # bytes that make the whole request, once known
        self.deadline = now + limits.idle_timeout
        self.phase = Phase.IDLE

    def take(self, chunk: bytes, now: float, limits: ServerLimits) -> bool:
        """Add received bytes; True once the request is whole (or should go to the app as
        it is, for RequestGuard to refuse: no length, or one past the body limit)."""
        if self.phase is Phase.IDLE:
            self.phase, self.deadline = Phase.HEADERS, now + limits.header_timeout
        searched_from = max(0, len(self.data) - 3)
        self.data += chunk
        if self.phase is Phase.HEADERS:
            self.head_end = head_end(self.data, searched_from)
            if self.head_end < 0:
                return False
            self.phase, self.deadline = Phase.BODY, now + limits.body_timeout
            found = CONTENT_LENGTH.search(self.data, 0, self.head_end)
            length = int(found[1]) if found else -1
            body_expected = 0 <= length <= limits.max_body_bytes
            self.need = self.head_end + length if body_expected else self.head_end
        return len(self.data) >= self.need

    def head_too_large(self, limits: ServerLimits) -> bool:
        return self.phase is Phase.HEADERS and len(self.data) > limits.max_head_bytes


@dataclass(frozen=True)
class Arrived:
    """A whole request, handed from the event loop to a worker."""

    sock: socket.socket
    data: bytes


class Lingering:
    """Refused sockets, half-closed after their canned response and drained until the
    client closes or `linger` seconds pass: closing with unread request bytes would send
    a reset that can destroy the response before the client reads it."""

    def __init__(self, linger: float, max_sockets: int) -> None:
        self.linger = linger
        self.max_sockets = max_sockets
        self.deadlines: dict[socket.socket, float] = {}  # oldest first


def _has_unread(sock: socket.socket) -> bool:
    """Bytes (or the end) wait to be read on this socket, without waiting."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


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


# ---------------------------------------------------------------------- answering


class QuietServerHandler(ServerHandler):
    """wsgiref's response writer, logging an app failure in one line (no traceback on
    stderr; the traceback goes to the debug log)."""

    def log_exception(self, exc_info: Any) -> None:
        log.error("a request failed: %s: %s", exc_info[0].__name__, exc_info[1])
        log.debug("the failure in full", exc_info=exc_info)


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


class WholeRequestHandler(WSGIRequestHandler):
    """wsgiref's request handler, reading from the request's bytes already gathered
    (never from the socket: no read can wait on the client)."""

    server: BoundedWSGIServer
    request: Arrived

    def setup(self) -> None:
        self.connection = self.request.sock
        self.rfile = io.BytesIO(self.request.data)
        self.wfile = TimedWriter(self.connection, self.server.limits.write_timeout)

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # it has sent its own 400/431
            return
        app = self.server.get_app()
        assert app is not None, "set_app before serve_forever"
        handler = QuietServerHandler(
            cast(IO[bytes], self.rfile),
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's backpointer
        handler.run(app)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s - %s", self.address_string(), format % args)


# ---------------------------------------------------------------------- the server

_LISTENER, _WAKE = "listener", "wake"


class BoundedWSGIServer(WSGIServer):
    """A WSGI server that stays answerable under bursts and idle or slow clients.

    serve_forever runs the event loop: accept, read every arriving request without
    blocking, enforce the deadlines and the caps, hand whole requests to `workers`
    threads. shutdown() (from another thread) ends it promptly.
    """

    def __init__(
        self,
        server_address: tuple[str, int],
        limits: ServerLimits = ServerLimits(),  # noqa: B008 (frozen, shared safely)
        handler_class: type[WholeRequestHandler] = WholeRequestHandler,
    ) -> None:
        self.limits = limits.fitted_to(open_file_limit())
        self.request_queue_size = self.limits.backlog
        self._arriving: dict[socket.socket, Arriving] = {}  # oldest first
        self._buffered = 0  # bytes held in _arriving
        self._lingering = Lingering(self.limits.linger, self.limits.max_lingering)
        self._busy_response = busy_response(self.limits.retry_after)
        self._lock = threading.Lock()
        self._answering = 0  # whole requests with the workers (queued or running)
        self._workers = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="http")
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._accepting = False  # the listener is in the selector
        self._accept_paused_until = 0.0
        # What was refused or closed, for the log and the benchmark.
        self.counts: dict[str, int] = dict.fromkeys(
            ("refused", "evicted", "idle", "headers", "body", "too_large", "no_descriptors"), 0
        )
        self._logged_counts = dict(self.counts)
        self._logged_at = -math.inf
        try:
            super().__init__(server_address, handler_class)  # binds and listens, or raises
        except BaseException:
            self._close_own()
            raise

    # ------------------------------------------------------------------ the loop

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        self._running.set()
        self.socket.setblocking(False)
        selector = self._selector
        selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        self._accepting = True
        selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        next_sweep = 0.0
        try:
            while not self._stop:
                for key, _ in selector.select(min(poll_interval, SWEEP_SECONDS)):
                    self._guarded(self._on_event, key.fileobj, key.data)
                now = time.monotonic()
                if now >= next_sweep:
                    self._guarded(self._sweep, now)
                    next_sweep = now + SWEEP_SECONDS
        finally:
            for fileobj in (self.socket, self._wake_r):
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(fileobj)
            self._stop = False
            self._running.clear()
            self._stopped.set()

    def _on_event(self, fileobj: Any, data: Any) -> None:
        now = time.monotonic()
        if data is _LISTENER:
            self._accept(now)
        elif data is _WAKE:
            with contextlib.suppress(OSError):
                self._wake_r.recv(64)
        # An earlier event of the same batch may have closed this connection (to make
        # room, or on a deadline): its event is stale then, and skipped.
        elif isinstance(data, Arriving):
            if self._arriving.get(data.sock) is data:
                self._receive(data, now)
        elif fileobj in self._lingering.deadlines:
            self._linger_read(fileobj)

    def _guarded(self, step: Any, *args: Any) -> None:
        """One step of the loop; a failure is logged in one line and the loop goes on
        (one connection's trouble never stops the server)."""
        try:
            step(*args)
        except Exception as error:
            log.error("the HTTP server's loop failed a step: %r", error)
            log.debug("the failure in full", exc_info=True)

    def shutdown(self) -> None:
        """Stop serve_forever and wait for it to return (call from another thread)."""
        if not self._running.is_set():
            return
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait()

    def handle_request(self) -> None:
        raise NotImplementedError("BoundedWSGIServer serves with serve_forever")

    # ------------------------------------------------------------------ accepting

    def _accept(self, now: float) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            room = self.open_connections() < self.limits.max_connections or self._make_room(now)
            if not room and len(self._lingering.deadlines) >= self._lingering.max_sockets:
                # Not even a 503 can be said now: the rest wait in the kernel's backlog.
                self._pause_accepting(now, SWEEP_SECONDS)
                return
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    # The listener stays readable: without a pause this would spin.
                    self.counts["no_descriptors"] += 1
                    self._pause_accepting(now, ACCEPT_PAUSE_SECONDS)
                return
            sock.setblocking(False)
            if not room:
                self._refuse(sock, self._busy_response, now, "refused")
                continue
            arriving = Arriving(sock, address, now, self.limits)
            self._arriving[sock] = arriving
            self._selector.register(sock, selectors.EVENT_READ, arriving)

    def _make_room(self, now: float) -> bool:
        """Close the oldest connection whose request is stalled: nothing unread, and open
        longer than `evict_after` (an honest request arrives right behind its handshake).
        One with bytes waiting is read instead (the loop was behind, not the client)."""
        for arriving in list(itertools.islice(self._arriving.values(), EVICTION_SCAN)):
            if now - arriving.accepted < self.limits.evict_after:
                return False  # the rest are younger still
            if _has_unread(arriving.sock):
                self._receive(arriving, now)
                if self.open_connections() < self.limits.max_connections:
                    return True  # it had closed
                continue
            self._forget(arriving).close()
            self.counts["evicted"] += 1
            return True
        return False

    def _pause_accepting(self, now: float, seconds: float) -> None:
        if self._accepting:
            self._selector.unregister(self.socket)
            self._accepting = False
        self._accept_paused_until = now + seconds

    def _forget(self, arriving: Arriving) -> socket.socket:
        del self._arriving[arriving.sock]
        self._buffered -= len(arriving.data)
        self._selector.unregister(arriving.sock)
        return arriving.sock

    # ------------------------------------------------------------------ reading

    def _receive(self, arriving: Arriving, now: float) -> None:
        try:
            chunk = arriving.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._forget(arriving).close()
            return
        self._buffered += len(chunk)
        whole = arriving.take(chunk, now, self.limits)
        if whole:
            self._dispatch(arriving)
        elif arriving.head_too_large(self.limits):
            self._refuse(self._forget(arriving), HEAD_TOO_LARGE, now, "too_large")
        while self._buffered > self.limits.max_buffered_bytes and self._arriving:
            # Memory is the harder bound: the oldest partial request goes, whatever its age.
            self._forget(next(iter(self._arriving.values()))).close()
            self.counts["evicted"] += 1

    def _dispatch(self, arriving: Arriving) -> None:
        sock = self._forget(arriving)
        with self._lock:
            self._answering += 1
        self._workers.submit(self._answer, Arrived(sock, bytes(arriving.data)), arriving.address)

    def _answer(self, request: Arrived, address: Any) -> None:
        """A worker: the WSGI app on a whole request, then the connection closed."""
        try:
            self.RequestHandlerClass(request, address, self)  # type: ignore[arg-type]
        except OSError as error:  # the client went away, or stopped reading
            log.debug("connection from %s ended: %s", address[0], error)
        except Exception:
            self.handle_error(request, address)
        finally:
            with contextlib.suppress(OSError):
                request.sock.shutdown(socket.SHUT_WR)
            request.sock.close()
            with self._lock:
                self._answering -= 1

    # ------------------------------------------------------------------ deadlines

    def _sweep(self, now: float) -> None:
        if not self._accepting and now >= self._accept_paused_until:
            self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
            self._accepting = True
        for arriving in list(self._arriving.values()):
            if now >= arriving.deadline:
                sock = self._forget(arriving)
                if arriving.phase is Phase.IDLE:
                    self.counts["idle"] += 1
                    sock.close()  # nothing was asked: nothing to answer
                else:
                    self._refuse(sock, REQUEST_TIMEOUT, now, arriving.phase.value)
        for sock, deadline in list(self._lingering.deadlines.items()):
            if now >= deadline:
                self._linger_close(sock)
        self._log_counts(now)

    # ------------------------------------------------------------------ refusing

    def _refuse(self, sock: socket.socket, response: bytes, now: float, why: str) -> None:
        """A canned response (small: it fits a fresh socket's buffer), then a lingering
        close so the client reads it."""
        self.counts[why] += 1
        try:
            sock.send(response)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        lingering = self._lingering
        lingering.deadlines[sock] = now + lingering.linger
        self._selector.register(sock, selectors.EVENT_READ, None)
        while len(lingering.deadlines) > lingering.max_sockets:
            self._linger_close(next(iter(lingering.deadlines)))

    def _linger_read(self, sock: socket.socket) -> None:
        if _drained(sock):
            self._linger_close(sock)

    def _linger_close(self, sock: socket.socket) -> None:
        del self._lingering.deadlines[sock]
        self._selector.unregister(sock)
        sock.close()

    # ------------------------------------------------------------------ bookkeeping

    def open_connections(self) -> int:
        """Connections holding a descriptor: arriving, and with the workers."""
        with self._lock:
            return len(self._arriving) + self._answering

    def _log_counts(self, now: float) -> None:
        if now - self._logged_at < LOG_EVERY_SECONDS:
            return
        news = {k: v - self._logged_counts[k] for k, v in self.counts.items()}
        if any(news.values()):
            said = ", ".join(f"{k} {v}" for k, v in news.items() if v)
            log.warning(
                "connections refused or closed (at most %d open): %s",
                self.limits.max_connections,
                said,
            )
            self._logged_counts, self._logged_at = dict(self.counts), now

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        log.warning("a request from %s failed: %r", client_address[0], error)
        log.debug("the failure in full", exc_info=True)

    def server_close(self) -> None:
        self.shutdown()
        super().server_close()
        for arriving in list(self._arriving.values()):
            self._forget(arriving).close()
        for sock in list(self._lingering.deadlines):
            self._linger_close(sock)
        self._workers.shutdown(wait=False)
        self._close_own()

    def _close_own(self) -> None:
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


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
