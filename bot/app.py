"""Builds the Slack app: a Bolt App wired to one Toprank core. Tests build it the same way.

    app = build_app(Toprank.open(), token=..., signing_secret=..., base_url=...)

`base_url` is Slack's Web API base (SLACK_API_BASE_URL); tests point it at a local mock
server. The token is checked once here with auth.test (Bolt's token verification), which
also tells the app its own bot user id, used to ignore its own messages.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.delivery import Deduper, MemoryDeduper, WorkPool, delivery_key
from bot.listeners import register_listeners
from bot.listeners.common import SLACK_TIMEOUT_SECONDS, Core, Runtime
from bot.state import StateStore

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


def dedupe_middleware(deduper: Deduper, logger: logging.Logger):
    """A Bolt middleware (after signature checks): a delivery seen before (Slack's retry
    of an event, a replayed request) is acknowledged at once and not answered again."""

    def middleware(req: BoltRequest, resp: BoltResponse, next) -> BoltResponse | None:  # noqa: A002
        body = req.body or {}
        if body.get("type") not in ("url_verification", "ssl_check"):
            key = delivery_key(body, req.raw_body or "")
            if key is not None and not deduper.first(key):
                retry = (req.headers.get("x-slack-retry-num") or [None])[0]
                logger.info("repeat delivery %s (retry %s): acknowledged only", key[:40], retry)
                return BoltResponse(status=200, body="")
        return next()

    return middleware


def build_app(
    core: Core,
    *,
    token: str,
    signing_secret: str,
    base_url: str | None = None,
    listener_executor: Executor | None = None,
    logger: logging.Logger | None = None,
    pool: WorkPool | None = None,
    deduper: Deduper | None = None,
    slack_timeout: float = SLACK_TIMEOUT_SECONDS,
    store: StateStore | None = None,
) -> App:
    """A Bolt App answering with `core` (bot.pipeline.Toprank or anything with ask/coverage).

    `listener_executor` runs Bolt's listeners (default: 5 threads), which only ack and
    hand off; `pool` runs the answers (bot.delivery.WorkPool). `deduper` remembers the
    deliveries answered (one process by default; a shared store for several replicas).
    Every call to Slack gives up after `slack_timeout` seconds. `store` keeps the
    conversations and the answers behind refine menus (bot.state; in memory if None).
    """
    logger = logger or _app_logger()
    client = WebClient(
        token=token,
        base_url=web_api_base_url(base_url),
        logger=logger,
        timeout=int(slack_timeout),
    )
    app = App(
        name="toprank",
        client=client,
        signing_secret=signing_secret,
        listener_executor=listener_executor,
        logger=logger,
    )
    runtime = Runtime(
        core,
        slack_timeout=slack_timeout,
        deduper=deduper or MemoryDeduper(),
        store=store or StateStore(),
    )
    if pool is not None:
        runtime.pool = pool
    app.use(dedupe_middleware(runtime.deduper, logger))
    register_listeners(app, runtime)
    app.runtime = runtime  # type: ignore[attr-defined]  (tests and shutdown reach the pool)
    return app
