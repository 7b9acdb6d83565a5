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
import socketserver
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

if TYPE_CHECKING:  # Slack libraries load only when serving: `toprank ask` never needs them
    from slack_bolt import App

EVENTS_PATH = "/slack/events"
DEFAULT_PORT = 3000
EXIT_USAGE = 2
EXIT_UNREACHABLE = 1

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


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request: a slow client never holds up another request's ack."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s - %s", self.address_string(), format % args)


def make_http_server(app: App, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> WSGIServer:
    """A threaded WSGI server answering Slack at EVENTS_PATH (port 0 picks a free port).

    Bolt verifies every request's signature and timestamp; rejected ones get 401.
    """
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    return make_server(
        host,
        port,
        SlackRequestHandler(app, path=EVENTS_PATH),
        server_class=ThreadingWSGIServer,
        handler_class=QuietHandler,
    )


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
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (default 3000)")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP interface (default 0.0.0.0)")
    parser.add_argument("--db", help="DuckDB file (default: TOPRANK_DB or data/claims.duckdb)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env(os.environ, http=args.http)
    if isinstance(settings, str):
        print(settings, file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    # Imported here so a missing-token run stays instant.
    from slack_bolt.error import BoltError

    from bot.app import build_app
    from bot.pipeline import Toprank
    from data.db import db_path

    toprank = Toprank.open(db_path(args.db), build_if_missing=True, warm=True)
    try:
        app = build_app(
            toprank,
            token=settings.bot_token,
            signing_secret=settings.signing_secret,
            base_url=settings.base_url,
        )
    except BoltError as error:  # auth.test refused the token
        print(f"toprank serve: Slack did not accept the bot token ({error})", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # Slack (or SLACK_API_BASE_URL) unreachable
        where = settings.base_url or "https://slack.com/api/"
        reason = getattr(error, "reason", error)
        print(f"toprank serve: cannot reach Slack's Web API at {where} ({reason})", file=sys.stderr)
        return EXIT_UNREACHABLE

    if settings.mode == "http":
        server = make_http_server(app, args.host, args.port)
        host, port = server.server_address[:2]
        print(f"toprank: listening on http://{host}:{port}{EVENTS_PATH}", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return 0

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    print("toprank: connecting to Slack in Socket Mode", flush=True)
    SocketModeHandler(app, settings.app_token).start()
    return 0
