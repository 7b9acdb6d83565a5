"""`toprank serve`: run the Slack app in Socket Mode, or over HTTP with --http.

    toprank serve                     Socket Mode (SLACK_BOT_TOKEN + SLACK_APP_TOKEN)
    toprank serve --http --port 3000  POST /slack/events (SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET)

SLACK_API_BASE_URL overrides Slack's Web API base URL (tests use a local mock). The
Toprank core is opened once, before connecting, and builds the demo data if missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from toprank.bot.http_server import (
    MAX_BODY_BYTES,
    BoundedWSGIServer,
    ServerLimits,
    bind_http_server,
    listen_failure,
)

if TYPE_CHECKING:  # Slack libraries load only when serving: `toprank ask` never needs them
    from slack_bolt import App

EVENTS_PATH = "/slack/events"
DEFAULT_PORT = 3000
EXIT_USAGE = 2
EXIT_UNREACHABLE = 1
EXIT_CANNOT_LISTEN = 3  # the port or host cannot be listened on (in use, denied, unknown)

Mode = Literal["socket", "http"]

log = logging.getLogger("toprank.serve")


@dataclass(frozen=True)
class SlackSettings:
    mode: Mode
    bot_token: str
    signing_secret: str
    app_token: str | None
    base_url: str | None


def settings_from_env(env: Mapping[str, str], *, http: bool) -> SlackSettings | str:
    """The settings for the chosen mode, or a one-line explanation of what is missing."""
    bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
    signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip()
    app_token = env.get("SLACK_APP_TOKEN", "").strip()
    base_url = env.get("SLACK_API_BASE_URL", "").strip() or None
    if http:
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", bot_token),
                ("SLACK_SIGNING_SECRET", signing_secret),
            )
            if not value
        ]
        if missing:
            return (
                f"toprank serve --http needs {' and '.join(missing)} "
                "(from your Slack app's settings); without Slack, run `toprank chat`."
            )
        return SlackSettings("http", bot_token, signing_secret, app_token or None, base_url)
    missing = [
        name
        for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token))
        if not value
    ]
    if missing:
        return (
            f"toprank serve needs {' and '.join(missing)} for Socket Mode "
            "(or SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET with --http); "
            "without Slack, run `toprank chat`."
        )
    return SlackSettings("socket", bot_token, signing_secret, app_token, base_url)


class RequestGuard:
    """WSGI middleware in front of Bolt: checks what Bolt would otherwise trip on.

    A body over MAX_BODY_BYTES is refused from its Content-Length, before it is read
    (413); a missing length 411; a body that stops coming in time 408. The signature is
    checked on the bytes read (401). Then the body must be what Slack sends: a JSON
    object, or a form whose `payload` (if any) is a JSON object; and the timestamp a
    number. Anything else is 400 with one log line, never a 500 with a traceback.
    """

    def __init__(self, app: Any, signing_secret: str, max_bytes: int = MAX_BODY_BYTES) -> None:
        from slack_sdk.signature import SignatureVerifier

        self.app = app
        self.max_bytes = max_bytes
        self.verifier = SignatureVerifier(signing_secret)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        refused = self._check(environ)
        if refused is not None:
            status, reason = refused
            log.info(
                "refused %s %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), reason
            )
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [reason.encode()]
        return self.app(environ, start_response)

    def _check(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        import io
        import json
        import urllib.parse

        if environ.get("REQUEST_METHOD") != "POST":
            return None  # Bolt answers the rest (404/405)
        raw_length = environ.get("CONTENT_LENGTH") or ""
        if not raw_length.strip():
            return "411 Length Required", "a Content-Length is required"
        try:
            length = int(raw_length)
        except ValueError:
            return "400 Bad Request", "Content-Length is not a number"
        if length < 0:
            return "400 Bad Request", "Content-Length is negative"
        if length > self.max_bytes:
            return "413 Content Too Large", f"bodies over {self.max_bytes:,} bytes are refused"
        try:
            body = environ["wsgi.input"].read(length)
        except OSError:  # socket.timeout included
            return "408 Request Timeout", "the body did not arrive in time"
        if len(body) != length:
            return "400 Bad Request", "the body is shorter than its Content-Length"
        environ["wsgi.input"] = io.BytesIO(body)
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not timestamp.strip().isdigit():
            return "400 Bad Request", "X-Slack-Request-Timestamp is not a number"
        headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}
        if not self.verifier.is_valid_request(body, headers):
            return "401 Unauthorized", "invalid signature or stale timestamp"
        text = body.decode("utf-8", errors="replace")
        content_type = environ.get("CONTENT_TYPE", "")
        try:
            if "json" in content_type:
                if not isinstance(json.loads(text), dict):
                    return "400 Bad Request", "the JSON body is not an object"
            else:
                fields = urllib.parse.parse_qs(text, keep_blank_values=True)
                payload = fields.get("payload")
                if payload is not None and not isinstance(json.loads(payload[0]), dict):
                    return "400 Bad Request", "payload is not a JSON object"
        except ValueError:
            return "400 Bad Request", "the body is not valid JSON"
        return None


def guarded_app(app: App, signing_secret: str | None = None) -> RequestGuard:
    """The WSGI app answering Slack at EVENTS_PATH, behind RequestGuard.

    RequestGuard refuses oversized, malformed and unsigned requests before Bolt reads
    them; Bolt verifies the signature and timestamp again.
    """
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    # The App keeps the secret it verifies with; the guard checks with the same one.
    secret = signing_secret if signing_secret is not None else app._signing_secret
    return RequestGuard(SlackRequestHandler(app, path=EVENTS_PATH), secret or "")


def make_http_server(
    app: App,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    signing_secret: str | None = None,
    limits: ServerLimits = ServerLimits(),  # noqa: B008 (frozen, shared safely)
) -> BoundedWSGIServer:
    """The bounded threaded server (bot.http_server) answering Slack at EVENTS_PATH
    (port 0 picks a free port); OSError when it cannot listen."""
    server = bind_http_server(host, port, limits)
    server.set_app(guarded_app(app, signing_secret))
    return server


def port_number(text: str) -> int:
    """--port: 0 to 65535 (0 picks a free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"a port is a whole number from 0 to 65535 (0 picks a free one), not {text!r}"
        )
    return port


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Slack app (Socket Mode, or HTTP with --http)",
        description="Run the Slack app: Socket Mode with SLACK_BOT_TOKEN and SLACK_APP_TOKEN, "
        "or an HTTP endpoint at /slack/events with --http, SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET. SLACK_API_BASE_URL overrides the Web API base URL.",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve Events/Commands/Interactivity over HTTP"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help="HTTP port, 0 to 65535 (default 3000; 0 picks a free one)",
    )
    parser.add_argument("--host", default="0.0.0.0", help="HTTP interface (default 0.0.0.0)")
    parser.add_argument("--db", help="DuckDB file (default: TOPRANK_DB or data/claims.duckdb)")
    parser.set_defaults(func=run)
    _say_usage_errors_in_one_line(parser)


def _say_usage_errors_in_one_line(parser: argparse.ArgumentParser) -> None:
    """argparse prints the usage block before an error; serve says one line instead."""

    def error(message: str) -> NoReturn:
        parser.exit(EXIT_USAGE, f"{parser.prog}: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env(os.environ, http=args.http)
    if isinstance(settings, str):
        print(settings, file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    server: BoundedWSGIServer | None = None
    if settings.mode == "http":
        # Listen first: a port in use is said at once, before the data is opened.
        try:
            server = bind_http_server(args.host, args.port)
        except OSError as error:
            print(f"toprank serve: {listen_failure(args.host, args.port, error)}", file=sys.stderr)
            return EXIT_CANNOT_LISTEN
    try:
        return _serve(args, settings, server)
    finally:
        if server is not None:
            server.server_close()


def _serve(
    args: argparse.Namespace, settings: SlackSettings, server: BoundedWSGIServer | None
) -> int:
    # Imported here so a missing-token run stays instant.
    from slack_bolt.error import BoltError

    from toprank.bot.app import build_app, ops_settings_from_env
    from toprank.bot.pipeline import Toprank
    from toprank.bot.state import StateError, StateStore
    from toprank.data.db import db_path

    ops = ops_settings_from_env(os.environ)  # question limit, time zone, log salt
    if isinstance(ops, str):
        print(f"toprank serve: {ops}", file=sys.stderr)
        return EXIT_USAGE
    # --db, else TOPRANK_ENGINE_URL (a warehouse or a file), else TOPRANK_DB or the default
    toprank = Toprank.open(args.db, build_if_missing=True, warm=True)
    try:  # after the database: a mistyped path must not leave a state file behind
        store = StateStore.from_env(db_path(args.db))
    except StateError as error:
        toprank.close()
        print(f"toprank serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = build_app(
            toprank,
            token=settings.bot_token,
            signing_secret=settings.signing_secret,
            base_url=settings.base_url,
            store=store,
            ops=ops,
        )
    except BoltError as error:  # auth.test refused the token
        print(f"toprank serve: Slack did not accept the bot token ({error})", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # Slack (or SLACK_API_BASE_URL) unreachable
        where = settings.base_url or "https://slack.com/api/"
        reason = getattr(error, "reason", error)
        print(f"toprank serve: cannot reach Slack's Web API at {where} ({reason})", file=sys.stderr)
        return EXIT_UNREACHABLE

    app.runtime.scheduler.start()  # scheduled digests (bot/digests.py)
    if server is not None:
        server.set_app(guarded_app(app, settings.signing_secret))
        host, port = server.socket.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
        limits = server.limits
        log.info(
            "limits: %d connections open at once, backlog %d, idle %g s, headers %g s, body %g s",
            limits.max_connections,
            limits.backlog,
            limits.idle_timeout,
            limits.header_timeout,
            limits.body_timeout,
        )
        print(f"toprank: listening on http://{host}:{port}{EVENTS_PATH}", flush=True)
        server.serve_forever()
        return 0

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    print("toprank: connecting to Slack in Socket Mode", flush=True)
    SocketModeHandler(app, settings.app_token).start()
    return 0
