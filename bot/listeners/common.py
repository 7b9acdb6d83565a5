"""What every listener shares: cleaning Slack text, asking the core, handing the work to
the answer pool, and failing politely.

Listeners stay thin: they ack, pick the question out of the payload and hand a job to
`Runtime.pool` (bot.delivery.WorkPool); the job calls `answer_message_for` and gives the
result to a Slack send function through `deliver`. A full pool gets a quick "busy"
instead. Any exception on the way becomes the friendly failure message (and a log
entry with the traceback); users never see a stack trace.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from toprank.bot.answer_model import Answer
from toprank.bot.controls import menus_for
from toprank.bot.delivery import Deduper, MemoryDeduper, WorkPool
from toprank.bot.ratelimit import RateLimiter, limit_text
from toprank.bot.render_blocks import answer_message, failure_message, notice_message
from toprank.bot.state import StateStore, Subscription
from toprank.bot.usage import Stopwatch, UsageLog, is_rateable
from toprank.data.catalog import Catalog, load_catalog
from toprank.intents.conversation import Context
from toprank.intents.model import Coverage
from toprank.intents.phrase import question_for
from toprank.intents.spec import Spec
from toprank.intents.text import strip_slack_markup

SLASH_COMMAND = "/toprank"
# Every call to Slack (Web API, response_url) gives up after this long.
SLACK_TIMEOUT_SECONDS = 10.0
# Times a call answered 429 is sent again, each after the Retry-After Slack gave.
RATE_LIMIT_RETRIES = 5
BUSY_TEXT = "I'm answering a lot of questions right now; please ask again in a moment."


Send = Callable[..., Any]


class Core(Protocol):
    """What the Slack app needs from the core (bot.pipeline.Toprank)."""

    def ask(self, text: str) -> Answer: ...

    def converse(
        self, text: str, context: Context | None = None
    ) -> tuple[Answer, Context | None]: ...

    def answer_spec(self, spec: Spec, *, question: str | None = None) -> Answer: ...

    @property
    def coverage(self) -> Coverage | None: ...

    # Counts under this are hidden; the App Home says so with this number.
    min_cell: int


@dataclass(frozen=True)
class Asker:
    """Who asked, and where: what the usage log keeps of a question's origin (the user
    id is hashed before it is kept) and what the per-user limit counts by."""

    surface: str  # slash, mention, dm, assistant, refine, button, digest
    team: str | None = None
    channel: str | None = None
    user: str | None = None


class AnswerGone(LookupError):
    """A button or control names an answer the state store no longer keeps."""


GONE_TEXT = (
    "That answer is too old to reuse (answers are kept for a day). Please ask the question again."
)


@dataclass
class Runtime:
    """What the listeners share: the core, the answer pool, a small pool for "busy"
    notices (so telling users we are busy never waits on the answers), the deduper."""

    core: Core
    pool: WorkPool = field(default_factory=WorkPool)
    notices: WorkPool = field(default_factory=lambda: WorkPool(2, 64, "toprank-notice"))
    deduper: Deduper = field(default_factory=MemoryDeduper)
    slack_timeout: float = SLACK_TIMEOUT_SECONDS
    store: StateStore = field(default_factory=StateStore)  # in memory unless given one
    catalog: Catalog = field(default_factory=load_catalog)
    usage: UsageLog | None = None  # the usage and audit log (none: nothing is logged)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    scheduler: Any = None  # bot.digests.DigestScheduler, set by build_app
    _turns: dict[str, deque[Callable[[], Any]]] = field(default_factory=dict, repr=False)
    _turns_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def converse_message(
        self,
        question: str,
        key: str | None,
        logger: logging.Logger,
        *,
        continues: bool = True,
        asker: Asker | None = None,
        **render: Any,
    ) -> dict[str, Any]:
        """Answer one turn of the conversation kept under `key` (a fresh question when
        `continues` is false or there is no key) and render it with refine menus. The
        conversation moves on in the store and the question goes into the usage log
        (as asked by `asker`); a failure becomes the failure message."""
        try:
            context = self.store.load_context(key) if key and continues else None
            watch = Stopwatch()
            answer, after = self.core.converse(question, context)
            latency = watch.seconds()
            if key:
                self.store.save_context(key, after)
            log_id = self.log(answer, asker, latency, follows=context)
            spec = after.spec if after is not None and answer.shape else None
            return self.render(answer, spec, follows=context is not None, log_id=log_id, **render)
        except Exception:
            logger.exception("answering %r failed", question)
            self._log_failure(question, asker)
            return failure_message()

    def _log_failure(self, question: str, asker: Asker | None) -> None:
        """A question whose answering broke is in the log too, as an error."""
        from toprank.bot.answer import internal_error_answer

        try:
            self.log(internal_error_answer(question[:500]), asker, 0.0)
        except Exception:
            logging.getLogger("toprank").exception("usage log: the failure was not logged")

    def log(
        self,
        answer: Answer,
        asker: Asker | None,
        latency_seconds: float,
        *,
        follows: Context | None = None,
    ) -> str | None:
        """Keep the question in the usage log; the entry's id (None when not kept)."""
        if self.usage is None or asker is None:
            return None
        previous = None
        if follows is not None:
            try:
                previous = question_for(follows.spec)
            except Exception:  # a phrase for the log is never worth a failed answer
                previous = None
        return self.usage.record(
            answer,
            surface=asker.surface,
            latency_seconds=latency_seconds,
            team=asker.team,
            channel=asker.channel,
            user=asker.user,
            follows=previous,
        )

    def over_limit(self, asker: Asker) -> str | None:
        """The friendly message when this user asked too many questions this minute."""
        if not asker.user:
            return None
        wait = self.limiter.wait_for(f"{asker.team or '-'}:{asker.user}")
        return limit_text(self.limiter.per_minute, wait) if wait > 0 else None

    def digest_message(self, subscription: Subscription, due: Any, zone: Any) -> dict[str, Any]:
        """A digest's message: its question answered now, on the data loaded now."""
        from toprank.bot.digests import schedule_text

        watch = Stopwatch()
        # asked as the slash command asks it: "/toprank subscribe weekly ot 2022" works
        answer, after = self.core.converse(slash_question(subscription.question), None)
        asker = Asker("digest", subscription.team, subscription.channel)
        log_id = self.log(answer, asker, watch.seconds())
        spec = after.spec if after is not None and answer.shape else None
        lead = (
            f":calendar: *{subscription.cadence.capitalize()} digest #{subscription.id}*, "
            f"{schedule_text(subscription.cadence, subscription.at_minute, zone)} · "
            f"`/toprank unsubscribe {subscription.id}` to stop"
        )
        return self.render(answer, spec, log_id=log_id, lead=lead)

    def render(
        self,
        answer: Answer,
        spec: Spec | None,
        *,
        follows: bool = False,
        log_id: str | None = None,
        **render: Any,
    ) -> dict[str, Any]:
        """The message of an answer: with refine menus when its spec could be kept,
        buttons that re-ask it (by its id when the words alone are not the question),
        and thumbs up / down naming its log entry when it is a data answer."""
        if log_id and is_rateable(answer):
            render["feedback"] = log_id
        answer_id = self.store.save_answer(spec, answer.question) if spec is not None else None
        menus = (
            menus_for(answer_id, answer, self.core.coverage, self.catalog) if answer_id else None
        )
        if answer_id and (follows or render.pop("by_id", False)):
            render["button_value"] = f"@{answer_id}"
        elif follows:
            render["button_value"] = ""  # a follow-up's words are not a question alone
        render.pop("by_id", None)
        return answer_message(answer, cohort_names=cohort_names(), menus=menus, **render)

    def answer_for_value(self, value: str) -> Answer:
        """What a button asks: "@<id>" is a kept answer's spec, anything else a question."""
        if value.startswith("@"):
            stored = self.store.load_answer(value[1:])
            if stored is None:
                raise AnswerGone(value)
            return self.core.answer_spec(stored.spec, question=stored.question)
        return self.core.ask(value)

    def hand_off(
        self,
        job: Callable[[], Any],
        busy: Send | None,
        logger: logging.Logger,
        *,
        key: str | None = None,
    ) -> bool:
        """Run `job` on the answer pool; when it is full, say so through `busy`. Jobs of
        one conversation (`key`) run one after another, in the order they came: a
        follow-up typed before the last answer arrived still continues it."""
        if self.pool.submit(job) if key is None else self._in_turn(key, job):
            return True
        logger.warning("answer pool full: asked to try again")
        if busy is not None:
            self.notices.submit(lambda: deliver(busy, notice_message(BUSY_TEXT), logger))
        return False

    def _in_turn(self, key: str, job: Callable[[], Any]) -> bool:
        with self._turns_lock:
            waiting = self._turns.get(key)
            if waiting is not None:  # a turn of this conversation is running: queue behind it
                waiting.append(job)
                return True
            self._turns[key] = deque([job])

        def run_turns() -> None:
            while True:
                with self._turns_lock:
                    queue = self._turns[key]
                    if not queue:
                        del self._turns[key]
                        return
                    turn = queue.popleft()
                try:
                    turn()
                except Exception:  # a job handles its own failures; never stall the queue
                    logging.getLogger("toprank").exception("a conversation turn failed")

        if self.pool.submit(run_turns):
            return True
        with self._turns_lock:
            del self._turns[key]
        return False

    def responder(self, response_url: str | None, **fixed: Any) -> Send:
        """A send function posting to a response_url, with a timeout (Bolt's respond has
        none of its own: 30 s)."""

        def send(**message: Any) -> Any:
            if not response_url:
                raise ValueError("no response_url to answer through")
            client = WebhookClient(
                url=response_url,
                timeout=int(self.slack_timeout),
                retry_handlers=[
                    *default_retry_handlers(),
                    RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                ],
            )
            response = client.send_dict({**fixed, **message})
            if response.status_code >= 400:
                raise RuntimeError(f"response_url answered {response.status_code}")
            return response

        return send


@lru_cache(maxsize=1)
def cohort_names() -> Mapping[str, str]:
    catalog = load_catalog()
    return {key: info.name for key, info in catalog.cohorts.items()}


def clean_slack_text(text: str) -> str:
    """Slack's wire text -> what the user typed: user mentions (ours above all) removed,
    markup unwrapped, &amp; &lt; &gt; unescaped (so "PM&amp;R" is "PM&R" again)."""
    return " ".join(strip_slack_markup(text).split())


def slash_question(text: str) -> str:
    """The slash command's arguments as the core's slash form; no arguments is help."""
    args = clean_slack_text(text)
    return f"{SLASH_COMMAND} {args}" if args else f"{SLASH_COMMAND} help"


def is_ignorable_message(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Bot posts (ours or any), edits, deletions and every other subtype are not questions."""
    return bool(
        event.get("subtype")
        or event.get("bot_id")
        or event.get("bot_profile")
        or not event.get("user")
        or (bot_user_id and event.get("user") == bot_user_id)
    )


def answer_message_for(
    core: Core, question: str, logger: logging.Logger, **render: Any
) -> dict[str, Any]:
    """Ask and render; a failure anywhere becomes the friendly failure message (logged)."""
    try:
        answer = core.ask(question)
        return answer_message(answer, cohort_names=cohort_names(), **render)
    except Exception:
        logger.exception("answering %r failed", question)
        return failure_message()


def deliver(send: Send, message: Mapping[str, Any], logger: logging.Logger) -> bool:
    """Send a message; if Slack refuses it, log why and send the failure notice instead."""
    try:
        send(**message)
        return True
    except Exception:
        logger.exception("sending a message to Slack failed")
        try:
            send(**failure_message())
        except Exception:
            logger.exception("sending the failure notice failed too")
        return False


@contextmanager
def apologise_on_failure(logger: logging.Logger, send: Send | None) -> Iterator[None]:
    """Run a listener's work; on any exception log it and tell the user, politely."""
    try:
        yield
    except AnswerGone:
        logger.info("a button named an answer no longer kept")
        if send is not None:
            try:
                send(**notice_message(GONE_TEXT))
            except Exception:
                logger.exception("sending the notice failed")
    except Exception:
        logger.exception("a Slack listener failed")
        if send is not None:
            try:
                send(**failure_message())
            except Exception:
                logger.exception("sending the failure notice failed too")


# Where the listeners find the runtime: Bolt's per-request context, filled by the
# middleware `register_listeners` installs first (listeners are plain module-level
# functions, so a unit test calls one with a context of its own).
RUNTIME_KEY = "toprank"


def runtime_middleware(rt: Runtime) -> Callable[..., Any]:
    """A global Bolt middleware putting `rt` into every request's context."""

    def put_runtime(context: Any, next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's name)
        context[RUNTIME_KEY] = rt
        return next()

    return put_runtime


def runtime_of(context: Mapping[str, Any]) -> Runtime:
    """The runtime the middleware put into a listener's context."""
    rt = context.get(RUNTIME_KEY)
    if not isinstance(rt, Runtime):
        raise LookupError("no toprank runtime in the Bolt context (register_listeners adds it)")
    return rt
