"""Builds the Slack app: a Bolt App wired to one Toprank core. Tests build it the same way.

    app = build_app(Toprank.open(), token=..., signing_secret=..., base_url=...)

`base_url` is Slack's Web API base (SLACK_API_BASE_URL); tests point it at a local mock
server. The token is checked once here with auth.test (Bolt's token verification), which
also tells the app its own bot user id, used to ignore its own messages.

Every Web API call (and every response_url post) honours Slack's HTTP 429 with its
Retry-After: it waits that long and sends again (slack_sdk does not by default), so an
answer is never lost to a rate limit. `OpsSettings` carry what operations configure
(the per-user question limit, the digests' time zone, the usage log's salt);
`toprank serve` reads them from the environment with `ops_settings_from_env`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timezone, tzinfo

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from toprank.bot.delivery import Deduper, MemoryDeduper, WorkPool, delivery_key
from toprank.bot.digests import DEFAULT_INTERVAL_SECONDS, DigestScheduler
from toprank.bot.listeners import register_listeners
from toprank.bot.listeners.common import RATE_LIMIT_RETRIES, SLACK_TIMEOUT_SECONDS, Core, Runtime
from toprank.bot.ratelimit import RateLimiter, RateSettingError, rate_from_env
from toprank.bot.state import StateStore
from toprank.bot.usage import SALT_ENV, UsageLog, log_salt
from toprank.bot.zone import ZoneError, zone_from_env, zone_label

SLACK_API_BASE_URL = WebClient.BASE_URL  # "https://slack.com/api/"


@dataclass(frozen=True)
class OpsSettings:
    """What operations configure. The defaults (for tests and embedding) set no
    question limit; `toprank serve` reads TOPRANK_RATE_PER_MINUTE (default 20)."""

    rate_per_minute: int = 0
    zone: tzinfo = field(default=timezone.utc)
    log_salt: str | None = None  # None: the salt kept in the state store
    digest_interval: float = DEFAULT_INTERVAL_SECONDS


def ops_settings_from_env(environ: Mapping[str, str] = os.environ) -> OpsSettings | str:
    """The settings, or a one-line reason why a value is refused."""
    try:
        return OpsSettings(
            rate_per_minute=rate_from_env(environ),
            zone=zone_from_env(environ),
            log_salt=environ.get(SALT_ENV, "").strip() or None,
        )
    except (RateSettingError, ZoneError) as error:
        return str(error)


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
                retries = req.headers.get("x-slack-retry-num") or []
                retry = retries[0] if retries else None
                logger.info("repeat delivery %s (retry %s): acknowledged only", key[:40], retry)
                return BoltResponse(status=200, body="")
        return next()

    return middleware


class ToprankApp(App):
    """Bolt's App with the runtime it was built with (tests and shutdown reach the
    work pool and the digest scheduler through it; listeners get it from the context)."""

    runtime: Runtime


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
    ops: OpsSettings | None = None,
) -> ToprankApp:
    """A Bolt App answering with `core` (bot.pipeline.Toprank or anything with ask/coverage).

    `listener_executor` runs Bolt's listeners (default: 5 threads), which only ack and
    hand off; `pool` runs the answers (bot.delivery.WorkPool). `deduper` remembers the
    deliveries answered (one process by default; the store itself when it is a server
    that several replicas share).
    Every call to Slack gives up after `slack_timeout` seconds. `store` keeps the
    conversations, the answers behind refine menus, the usage log, feedback and digests
    (bot.state; in memory if None). The digest scheduler is made here (its clock is the
    store's) and started by `toprank serve` (`app.runtime.scheduler.start()`).
    """
    logger = logger or _app_logger()
    ops = ops or OpsSettings()
    client = WebClient(
        token=token,
        base_url=web_api_base_url(base_url),
        logger=logger,
        timeout=int(slack_timeout),
    )
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    app = ToprankApp(
        name="toprank",
        client=client,
        signing_secret=signing_secret,
        listener_executor=listener_executor,
        logger=logger,
    )
    store = store or StateStore()
    salt = ops.log_salt or log_salt(store, {})
    if deduper is None:  # replicas sharing a store share what they answered
        deduper = store if store.shared else MemoryDeduper()
    runtime = Runtime(
        core,
        slack_timeout=slack_timeout,
        deduper=deduper,
        store=store,
        usage=UsageLog(store, salt),
        limiter=RateLimiter(ops.rate_per_minute),
    )
    runtime.scheduler = DigestScheduler(runtime, client, ops.zone, interval=ops.digest_interval)
    logger.info(
        "usage log: user ids hashed with %s; digests in %s; %s",
        "TOPRANK_LOG_SALT" if ops.log_salt else "the salt kept in the state store",
        zone_label(ops.zone),
        f"at most {ops.rate_per_minute} questions a minute per user"
        if ops.rate_per_minute
        else "no per-user question limit",
    )
    if pool is not None:
        runtime.pool = pool
    app.use(dedupe_middleware(runtime.deduper, logger))
    register_listeners(app, runtime)
    app.runtime = runtime
    return app
