"""Builds the Slack app: a Bolt App wired to one Toprank core. Tests build it the same way.

    app = build_app(Toprank.open(), token=..., signing_secret=..., base_url=...)

`base_url` is Slack's Web API base (SLACK_API_BASE_URL); tests point it at a local mock
server. The token is checked once here with auth.test (Bolt's token verification), which
also tells the app its own bot user id, used to ignore its own messages.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import register_listeners
from bot.listeners.common import Core

SLACK_API_BASE_URL = WebClient.BASE_URL  # "https://slack.com/api/"


def web_api_base_url(base_url: str | None) -> str:
    """The WebClient joins method names onto the base URL, so it must end with "/"."""
    url = base_url or SLACK_API_BASE_URL
    return url if url.endswith("/") else url + "/"


class _TokenFromClientNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever that variable is set and a client
    is given. Here the client carries exactly that token (with our base URL), so the
    warning is noise at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _app_logger() -> logging.Logger:
    logger = logging.getLogger("toprank.slack")
    if not any(isinstance(f, _TokenFromClientNotice) for f in logger.filters):
        logger.addFilter(_TokenFromClientNotice())
    return logger


def build_app(
    core: Core,
    *,
    token: str,
    signing_secret: str,
    base_url: str | None = None,
    listener_executor: Executor | None = None,
    logger: logging.Logger | None = None,
) -> App:
    """A Bolt App answering with `core` (bot.pipeline.Toprank or anything with ask/coverage).

    `listener_executor` runs listeners and lazy listeners (Bolt's default: 5 threads).
    """
    logger = logger or _app_logger()
    client = WebClient(token=token, base_url=web_api_base_url(base_url), logger=logger)
    app = App(
        name="toprank",
        client=client,
        signing_secret=signing_secret,
        listener_executor=listener_executor,
        logger=logger,
    )
    register_listeners(app, core)
    return app
