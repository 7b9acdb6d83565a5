"""Test harness for the Slack app: a local mock of Slack's Web API, and Slack's side of HTTP.

Only Slack is simulated. The Bolt app under test is the real one (bot.app.build_app on a
real Toprank core), served by the real HTTP server of `toprank serve --http`
(bot.serve.make_http_server); tests POST to it signed requests built exactly as Slack
builds them, and the app's Web API calls land on `SlackMock`, which records them and
answers like Slack.

    SlackMock            http://127.0.0.1:PORT/api/<method>    Web API methods (and, once
                                                               per `rate_limit_once`, HTTP
                                                               429 with Retry-After)
                         http://127.0.0.1:PORT/upload/<file>   files_upload_v2's upload URL
                         http://127.0.0.1:PORT/response/<key>  response_url of commands/actions
    sign / post_signed   Slack's request signing (v0 HMAC-SHA256 of "v0:{ts}:{body}")
    TrackingExecutor     Bolt's listener executor, able to say when all work is done

No test waits on a clock: waits are bounded (they fail after `timeout`), never asserted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import socket
import socketserver
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_USER_ID = "UTOPRANK"
BOT_ID = "BTOPRANK"
TEAM_ID = "T0TEAM"
APP_ID = "A0TOPRANK"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
WAIT_SECONDS = 30.0  # bounded waits: a failing test fails, it never hangs


@dataclass(frozen=True)
class Call:
    """One request the app made to "Slack"."""

    kind: str  # "api", "upload" or "response"
    method: str  # Web API method, upload file id, or response_url key
    body: dict[str, Any]  # form or JSON body, parsed (empty for uploads)
    headers: dict[str, str]
    raw: bytes = field(repr=False, default=b"")
    at: float = field(default_factory=time.monotonic)  # when "Slack" received it

    def json_field(self, name: str) -> Any:
        """A field that WebClient may send as a JSON string inside a form."""
        value = self.body.get(name)
        if isinstance(value, str) and value[:1] in "[{":
            return json.loads(value)
        return value


class SlackMock:
    """A threaded local HTTP server answering Slack Web API calls and recording them."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        self._changed = threading.Condition()
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.failures: dict[str, str] = {}  # method -> Slack error to answer with
        # method (or "response") -> Retry-After seconds: the next such call gets HTTP 429
        # {"ok": false, "error": "ratelimited"} with that Retry-After header, once.
        self.rate_limit_once: dict[str, int] = {}
        # Seconds "Slack" takes to answer each Web API and response_url call (a slow
        # Slack, for the reliability tests and the load run); auth.test is never slowed.
        self.delay = 0.0
        self.socket: SocketModeServer | None = None  # set by start_socket_mode()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if mock.delay and "auth.test" not in self.path:
                    time.sleep(mock.delay)
                retry_after = mock._take_rate_limit(self.path, dict(self.headers), raw)
                if retry_after is not None:
                    status, payload, content_type = (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        "application/json",
                    )
                else:
                    status, payload, content_type = mock._handle(self.path, dict(self.headers), raw)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ addresses

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{key}"

    def start_socket_mode(self) -> SocketModeServer:
        """Serve Socket Mode too: apps.connections.open then hands out its ws:// URL."""
        self.socket = SocketModeServer()
        return self.socket

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ recording

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def find(self, predicate: Callable[[Call], bool]) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if predicate(c)]

    def api_calls(self, method: str | None = None) -> list[Call]:
        return self.find(lambda c: c.kind == "api" and (method is None or c.method == method))

    def responses(self, key: str) -> list[Call]:
        return self.find(lambda c: c.kind == "response" and c.method == key)

    def wait_for(
        self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[Call]:
        """The first `count` calls matching `predicate`; AssertionError if they never come."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: len([c for c in self.calls if predicate(c)]) >= count, timeout
            )
            found = [c for c in self.calls if predicate(c)]
        if not ok:
            seen = [(c.kind, c.method) for c in self.calls]
            raise AssertionError(f"expected {count} matching call(s), got {len(found)}: {seen}")
        return found[:count]

    def wait_api(self, method: str, count: int = 1, **match: Any) -> list[Call]:
        return self.wait_for(
            lambda c: (
                c.kind == "api"
                and c.method == method
                and all(c.body.get(k) == v for k, v in match.items())
            ),
            count,
        )

    def wait_response(self, key: str, count: int = 1) -> list[Call]:
        return self.wait_for(lambda c: c.kind == "response" and c.method == key, count)

    # ------------------------------------------------------------------ answering

    def _take_rate_limit(self, path: str, headers: dict[str, str], raw: bytes) -> int | None:
        """Seconds of Retry-After when this call is to be refused with a 429 (recorded
        as a call of kind "429"), else None."""
        parts = urllib.parse.urlparse(path).path.strip("/").split("/", 1)
        kind, name = (parts + [""])[:2]
        method = name if kind == "api" else kind
        with self._changed:
            seconds = self.rate_limit_once.pop(method, None)
        if seconds is not None:
            body = _parse_body(headers, raw, urllib.parse.urlparse(path).query)
            self._record(Call("429", method, body, headers, raw))
        return seconds

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        parsed = urllib.parse.urlparse(path)
        parts = parsed.path.strip("/").split("/", 1)
        kind, name = (parts + [""])[:2]
        if kind == "upload":
            self.uploads[name] = raw
            self._record(Call("upload", name, {}, headers, raw))
            return 200, b"OK - " + str(len(raw)).encode(), "text/plain"
        body = _parse_body(headers, raw, parsed.query)
        if kind == "response":
            self._record(Call("response", name, body, headers, raw))
            return 200, b"ok", "text/plain"
        if kind != "api":
            return 404, {"ok": False, "error": "not_found"}, "application/json"
        self._record(Call("api", name, body, headers, raw))
        token_prefix = "Bearer xapp-" if name == "apps.connections.open" else "Bearer xoxb-"
        if not headers.get("Authorization", "").startswith(token_prefix):
            return 200, {"ok": False, "error": "not_authed"}, "application/json"
        if name in self.failures:
            return 200, {"ok": False, "error": self.failures[name]}, "application/json"
        return 200, self._answer(name, body), "application/json"

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1700000000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://toprank-test.slack.com/",
                "team": "Test team",
                "user": "toprank",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.update"):
            message = {k: body.get(k) for k in ("text", "blocks", "thread_ts") if k in body}
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.delete":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0HOME", **(body.get("view") or {})}}
        if method == "views.open":
            view = body.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": "V0MODAL", **view}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D0" + str(body.get("users", "X"))}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._file_ids):06d}"
            return {
                "ok": True,
                "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
                "file_id": file_id,
            }
        if method == "apps.connections.open":
            if self.socket is None:
                return {"ok": False, "error": "socket_mode_not_started"}
            return {"ok": True, "url": self.socket.url}
        if method in (
            "assistant.threads.setStatus",
            "assistant.threads.setSuggestedPrompts",
            "assistant.threads.setTitle",
        ):
            return {"ok": True}
        if method == "files.completeUploadExternal":
            files = json.loads(body.get("files") or "[]")
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {"ok": False, "error": "unknown_method"}


def _parse_body(headers: Mapping[str, str], raw: bytes, query: str) -> dict[str, Any]:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        body.update(json.loads(text or "{}"))
    elif text:
        body.update(urllib.parse.parse_qsl(text, keep_blank_values=True))
    return body


# ---------------------------------------------------------------------- Slack's side of HTTP


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    seconds: float  # measured, reported by tests, never asserted on


def post_signed(
    url: str,
    body: bytes,
    content_type: str,
    *,
    timestamp: int | str | None = None,
    signature: str | None = None,
    secret: str = SIGNING_SECRET,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """POST like Slack does: X-Slack-Request-Timestamp and X-Slack-Signature headers
    (plus any `headers`, such as Slack's X-Slack-Retry-Num on a retry)."""
    ts = int(time.time()) if timestamp is None else timestamp
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature
            or sign(body, int(ts) if str(ts).isdigit() else 0, secret),
            **(headers or {}),
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
            return Reply(response.status, response.read(), time.perf_counter() - started)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), time.perf_counter() - started)


def form_body(fields: Mapping[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def slash_command_body(
    text: str, response_url: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE"
) -> bytes:
    return form_body(slash_command_fields(text, response_url, channel=channel, user=user))


def slash_command_fields(
    text: str, response_url: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE"
) -> dict[str, str]:
    """What Slack sends for `/toprank TEXT` (form fields over HTTP, a dict over a socket)."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "toprank-test",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.removeprefix("U0").lower(),
        "command": "/toprank",
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": "1337.42.abcd",
    }


_event_ids = itertools.count(1)


def event_body(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event_callback(event)).encode()


def event_callback(event: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API wrapper around one event."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
    }


def block_actions_body(
    action: Mapping[str, Any],
    response_url: str,
    *,
    channel: str = "C0GENERAL",
    message: Mapping[str, Any] | None = None,
    ephemeral: bool = False,
    user: str = "U0ALICE",
) -> bytes:
    """A button click, form-encoded as Slack sends it: payload=<JSON>."""
    container: dict[str, Any] = {
        "type": "message",
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "1337.43.abcd",
        "team": {"id": TEAM_ID, "domain": "toprank-test"},
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [_action_payload(action)],
    }
    if message is not None:
        container["message_ts"] = message["ts"]
        payload["message"] = dict(message)
    else:
        container["message_ts"] = "1700000000.000001"
    return form_body({"payload": json.dumps(payload)})


def _action_payload(action: Mapping[str, Any]) -> dict[str, Any]:
    """A button's action, or a select menu's (its selected option), as Slack sends them."""
    common = {
        "block_id": action.get("block_id", "b1"),
        "action_id": action["action_id"],
        "action_ts": f"{time.time():.6f}",
    }
    if "selected_option" in action:
        return {"type": "static_select", "selected_option": action["selected_option"], **common}
    if action.get("type") == "feedback_buttons":  # the value of the button clicked
        return {"type": "feedback_buttons", "value": action["value"], **common}
    return {
        "type": "button",
        "text": action.get("text", {"type": "plain_text", "text": "button"}),
        "value": action.get("value", ""),
        **common,
    }


def view_submission_body(
    view: Mapping[str, Any], values: Mapping[str, Any], *, user: str = "U0ALICE"
) -> bytes:
    """A modal's submission as Slack sends it: the view as opened, with the state of its
    inputs (`values`: block_id -> action_id -> {"type", "value"})."""
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "toprank-test"},
        "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": "1337.44.abcd",
        "view": {
            "id": "V0MODAL",
            "team_id": TEAM_ID,
            **dict(view),
            "state": {"values": dict(values)},
            "hash": "1700000000.abcd",
        },
        "response_urls": [],
    }
    return form_body({"payload": json.dumps(payload)})


# ---------------------------------------------------------------------- Bolt's worker threads


class TrackingExecutor(ThreadPoolExecutor):
    """Bolt's listener executor, counting submitted work so tests can wait until all of
    it has finished (and then say "nothing else was sent") without guessing a delay."""

    def __init__(self, max_workers: int = 5) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="bolt-listener")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = WAIT_SECONDS) -> None:
        """Block until every submitted listener (and the lazy ones they start) has ended."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise AssertionError(f"{self._pending} listener task(s) still running")


def iter_blocks(blocks: Any) -> Iterator[dict[str, Any]]:
    """Blocks from a recorded call body (WebClient may send them as a JSON string)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    yield from blocks or []


# ---------------------------------------------------------------------- Socket Mode


WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


class SocketModeServer:
    """Slack's side of Socket Mode: a minimal WebSocket server (RFC 6455, text frames,
    ping/pong, close) that pushes envelopes to the connected app and records its acks."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._connections: list[socket.socket] = []
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def wait_connected(self, timeout: float = WAIT_SECONDS) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._connections), timeout):
                raise AssertionError("the app never opened a Socket Mode connection")

    def send_envelope(self, kind: str, payload: Mapping[str, Any], envelope_id: str) -> None:
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": kind != "events_api",
        }
        with self._changed:
            connection = self._connections[-1]
        connection.sendall(_frame(0x1, json.dumps(envelope).encode()))

    def wait_ack(self, envelope_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id}: {self.acks}")
            return found()  # type: ignore[return-value]

    def close(self) -> None:
        with self._changed:
            for connection in self._connections:
                connection.close()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, connection: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = connection.recv(4096)
            if not chunk:
                return
            request += chunk
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID.encode()).digest())
        connection.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        connection.sendall(
            _frame(0x1, json.dumps({"type": "hello", "num_connections": 1}).encode())
        )
        with self._changed:
            self._connections.append(connection)
            self._changed.notify_all()
        reader = connection.makefile("rb")
        while True:
            frame = _read_frame(reader)
            if frame is None:
                return
            opcode, data = frame
            if opcode == 0x8:  # close
                return
            if opcode == 0x9:  # ping -> pong
                connection.sendall(_frame(0xA, data))
            elif opcode == 0x1:
                with self._changed:
                    self.acks.append(json.loads(data))
                    self._changed.notify_all()


def _frame(opcode: int, data: bytes) -> bytes:
    """A server frame: final, unmasked."""
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        head += bytes([len(data)])
    elif len(data) < 1 << 16:
        head += bytes([126]) + struct.pack("!H", len(data))
    else:
        head += bytes([127]) + struct.pack("!Q", len(data))
    return head + data


def _read_frame(reader: Any) -> tuple[int, bytes] | None:
    """A client frame (clients always mask); None when the connection ends."""
    head = reader.read(2)
    if len(head) < 2:
        return None
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", reader.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", reader.read(8))[0]
    mask = reader.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = reader.read(length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))
