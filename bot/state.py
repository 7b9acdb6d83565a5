"""The state store: what the Slack app remembers between messages and across restarts.

- conversations: the last question of each Slack thread or DM (a follow-up continues it),
  kept for a set time (TOPRANK_CONTEXT_HOURS, default 24);
- answers: the spec behind each answer posted with refine controls, so a control can
  change one part of it (same time limit);
- deliveries: Slack deliveries already answered (bot.delivery.Deduper), for several app
  replicas sharing one store;
- usage_log and feedback (schema v2): every question asked on every surface and the
  thumbs up/down on its answer, kept TOPRANK_LOG_DAYS days (default 90; bot/usage.py);
- subscriptions and claims (schema v2): scheduled digests, and the sends claimed before
  they go out, so replicas sharing the store send each digest once (bot/digests.py).

An embedded SQLite file by default (TOPRANK_STATE, default `toprank-state.sqlite` beside
the database); any SQLAlchemy URL in TOPRANK_STATE_URL (PostgreSQL for several replicas)
uses the same code: SQLAlchemy Core writes the SQL for either. The schema is versioned
and migrated when the store opens. Store failures never stop an answer: reads give
"nothing stored", writes are logged and dropped (`safe`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from toprank.bot.state_settings import (  # noqa: F401 (part of this module's interface)
    DEFAULT_LOG_DAYS,
    LOG_DAYS_ENV,
    StateError,
    log_days_from_env,
)
from toprank.intents.conversation import Context
from toprank.intents.spec import Spec
from toprank.intents.spec_codec import (
    SpecDecodeError,
    context_from_json,
    context_to_json,
    spec_from_json,
    spec_to_json,
)

log = logging.getLogger("toprank.state")

STATE_PATH_ENV = "TOPRANK_STATE"
STATE_URL_ENV = "TOPRANK_STATE_URL"
CONTEXT_HOURS_ENV = "TOPRANK_CONTEXT_HOURS"
DEFAULT_CONTEXT_HOURS = 24.0
DELIVERY_TTL_SECONDS = 3600.0
STATE_FILE_NAME = "toprank-state.sqlite"
MEMORY_URLS = frozenset({"sqlite://", "sqlite:///:memory:"})
# After a server store fails (PostgreSQL down or unreachable), answers go without it
# this long before it is tried again; its connections time out after CONNECT_SECONDS.
SERVER_REST_SECONDS = 30.0
CONNECT_SECONDS = 5
# A digest's claim outlives any schedule's period (monthly), so it is never sent twice.
CLAIM_SECONDS = 62 * 86400.0

metadata = sa.MetaData()
meta = sa.Table(
    "toprank_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
)
values = sa.Table(
    "kv",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False, index=True),
)


# --- schema v2: operations (usage and audit log, feedback, digests) -----------------

usage_log = sa.Table(
    "usage_log",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("surface", sa.String(16), nullable=False),
    sa.Column("team", sa.String(64)),
    sa.Column("channel", sa.String(64)),
    sa.Column("user_hash", sa.String(64)),  # HMAC of the user id with the log salt
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("follows", sa.Text),  # the question a follow-up continued, as understood
    sa.Column("intent", sa.String(32), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: the understood params
    sa.Column("template", sa.String(64)),  # the SQL shape that ran (Answer.shape)
    sa.Column("sql_params", sa.Text, nullable=False),  # JSON: its bound parameters
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # answered|refused|error|no_data
    sa.Column("error", sa.String(32)),
)
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("log_id", sa.String(32), primary_key=True),
    sa.Column("user_hash", sa.String(64), primary_key=True),
    sa.Column("rating", sa.String(8), nullable=False),  # up | down
    sa.Column("comment", sa.Text),
    sa.Column("at", sa.Float, nullable=False, index=True),
)
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("cadence", sa.String(16), nullable=False),  # daily | weekly | monthly
    sa.Column("at_minute", sa.Integer, nullable=False),  # minutes after local midnight
    sa.Column("created_by", sa.String(64)),  # user hash
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_subscriptions_channel", "team", "channel"),
    sqlite_autoincrement=True,  # a removed digest's number is never given to another
)
claims = sa.Table(
    "claims",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("claimed_at", sa.Float, nullable=False, index=True),
)


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[conversations, answers, values, deliveries])


def _v2(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[usage_log, feedback, subscriptions, claims])


# Schema versions in order; a store at version k runs MIGRATIONS[k:] when it opens.
MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreUnavailable(sa.exc.OperationalError):
    """The store's server failed moments ago and is rested (SERVER_REST_SECONDS)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None, ConnectionError(message))


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    spec: Spec
    question: str


@dataclass(frozen=True)
class LogEntry:
    """One question as the usage and audit log keeps it (bot/usage.py builds it)."""

    id: str
    at: float
    surface: str
    team: str | None
    channel: str | None
    user_hash: str | None
    question: str
    follows: str | None
    intent: str
    params: str  # JSON
    template: str | None
    sql_params: str  # JSON
    latency_ms: float
    outcome: str
    error: str | None


@dataclass(frozen=True)
class Rating:
    """A thumbs up or down on one logged answer, with its optional comment."""

    log_id: str
    user_hash: str
    rating: str  # "up" | "down"
    comment: str | None
    at: float


@dataclass(frozen=True)
class Subscription:
    id: int
    team: str
    channel: str
    question: str
    cadence: str  # daily | weekly | monthly
    at_minute: int  # minutes after local midnight
    created_by: str | None
    created_at: float


def context_ttl_from_env(environ: Mapping[str, str] = os.environ) -> float:
    """TOPRANK_CONTEXT_HOURS as seconds; a value that is not a positive number is refused."""
    raw = environ.get(CONTEXT_HOURS_ENV, "").strip()
    if not raw:
        return DEFAULT_CONTEXT_HOURS * 3600
    try:
        hours = float(raw)
    except ValueError:
        raise StateError(f"{CONTEXT_HOURS_ENV}={raw!r} is not a number of hours") from None
    if not hours > 0 or hours != hours or hours == float("inf"):
        raise StateError(f"{CONTEXT_HOURS_ENV}={raw!r} must be a positive number of hours")
    return hours * 3600


def with_driver(url: str) -> str:
    """A postgresql:// URL goes through psycopg 3 (SQLAlchemy's default is psycopg2,
    which toprank does not install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def state_url(db_path: Path | None, environ: Mapping[str, str] = os.environ) -> str:
    """TOPRANK_STATE_URL, else the SQLite file TOPRANK_STATE, else beside the database."""
    url = environ.get(STATE_URL_ENV, "").strip()
    if url:
        return url
    path = environ.get(STATE_PATH_ENV, "").strip()
    if path:
        return f"sqlite:///{Path(path).resolve()}"
    base = db_path.resolve().parent if db_path is not None else Path.cwd()
    return f"sqlite:///{base / STATE_FILE_NAME}"


class StateStore:
    """Conversations, answers to refine and deliveries seen, behind SQLAlchemy Core."""

    def __init__(
        self,
        url: str = "sqlite://",
        *,
        context_ttl: float = DEFAULT_CONTEXT_HOURS * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        url = with_driver(url)
        self.url = url
        self.context_ttl = context_ttl
        self.clock = clock
        self._purged = 0.0
        self._lock = threading.Lock()
        self.log_seconds = DEFAULT_LOG_DAYS * 86400.0
        # The in-memory store is one connection shared by every thread (StaticPool),
        # which sqlite3 cannot use from two threads at once: its work goes one at a time.
        self._serial = threading.RLock() if url in MEMORY_URLS else None
        self._down_until = 0.0
        try:
            self.engine = _engine(url)
            _migrate_with_retry(self.engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StateError(f"cannot open the state store {_redacted(url)}: {exc}") from exc

    @classmethod
    def from_env(cls, db_path: Path | None, environ: Mapping[str, str] = os.environ) -> StateStore:
        url = state_url(db_path, environ)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        store = cls(url, context_ttl=context_ttl_from_env(environ))
        store.log_seconds = log_days_from_env(environ) * 86400.0
        return store

    def close(self) -> None:
        self.engine.dispose()

    @property
    def shared(self) -> bool:
        """A server several app replicas can share (not an SQLite file)."""
        return not self.url.startswith("sqlite")

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A transaction (committed at the end, rolled back on an exception)."""
        self._check_server()
        try:
            with self._one_at_a_time(), self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self._server_failed(exc)
            raise

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        self._check_server()
        try:
            with self._one_at_a_time(), self.engine.connect() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self._server_failed(exc)
            raise

    def _check_server(self) -> None:
        """While a server that failed is rested, calls fail at once: an unreachable
        PostgreSQL costs one connect timeout, not one per store call of every answer."""
        if self._down_until and time.monotonic() < self._down_until:
            raise StoreUnavailable("the state store's server failed moments ago")

    def _server_failed(self, exc: Exception) -> None:
        if not self.shared or isinstance(exc, StoreUnavailable):
            return  # SQLite's "database is locked" is not an outage
        self._down_until = time.monotonic() + SERVER_REST_SECONDS
        log.warning(
            "state store server failed (%s): answering without it for %.0f s",
            str(exc).split("\n")[0][:200],
            SERVER_REST_SECONDS,
        )

    def _one_at_a_time(self) -> AbstractContextManager[Any]:
        return self._serial if self._serial is not None else nullcontext()

    # --- conversations ----------------------------------------------------------

    def load_context(self, key: str) -> Context | None:
        """The conversation kept under `key`, or None (none, expired, unreadable)."""
        row = self._read(
            sa.select(conversations.c.context, conversations.c.updated_at).where(
                conversations.c.key == key
            )
        )
        if row is None or self.clock() - row.updated_at > self.context_ttl:
            return None
        try:
            return context_from_json(row.context)
        except SpecDecodeError:
            log.warning("conversation %s is not readable by this version: starting afresh", key)
            return None

    def save_context(self, key: str, context: Context | None) -> None:
        """Keep `context` under `key` (None forgets the conversation)."""
        if context is None:
            self._write(sa.delete(conversations).where(conversations.c.key == key))
            return
        self._upsert(conversations, "key", key, context=context_to_json(context))

    # --- answers ----------------------------------------------------------------

    def save_answer(self, spec: Spec, question: str) -> str | None:
        """Keep an answer's spec for its refine controls; its id (None if not kept)."""
        text = spec_to_json(spec)
        answer_id = hashlib.sha256(f"{text}\0{question}".encode()).hexdigest()[:16]
        ok = self._upsert(answers, "id", answer_id, spec=text, question=question)
        return answer_id if ok else None

    def load_answer(self, answer_id: str) -> StoredAnswer | None:
        row = self._read(
            sa.select(answers.c.spec, answers.c.question, answers.c.created_at).where(
                answers.c.id == answer_id
            )
        )
        if row is None or self.clock() - row.created_at > self.context_ttl:
            return None
        try:
            return StoredAnswer(answer_id, spec_from_json(row.spec), row.question)
        except SpecDecodeError:
            return None

    # --- small values (an assistant thread's context) ----------------------------

    def put_value(self, key: str, value: str) -> None:
        self._upsert(values, "key", key, value=value)

    def get_value(self, key: str) -> str | None:
        row = self._read(sa.select(values.c.value, values.c.updated_at).where(values.c.key == key))
        if row is None or self.clock() - row.updated_at > self.context_ttl:
            return None
        return str(row.value)

    # --- deliveries (bot.delivery.Deduper) --------------------------------------

    def first(self, key: str) -> bool:
        """True the first time a delivery key is seen by any app sharing this store."""
        now = self.clock()
        try:
            with self._begin() as conn:
                conn.execute(
                    sa.delete(deliveries).where(
                        deliveries.c.key == key, deliveries.c.seen_at < now - DELIVERY_TTL_SECONDS
                    )
                )
                conn.execute(sa.insert(deliveries).values(key=key[:255], seen_at=now))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError:
            log.exception("state store: delivery %s not recorded", key[:40])
            return True  # answering twice beats not answering

    # --- the usage and audit log, feedback ---------------------------------------

    def log_question(self, entry: LogEntry) -> bool:
        """Keep one question's log entry (nothing when the log keeps no days)."""
        if self.log_seconds <= 0:
            return False
        return self._write(sa.insert(usage_log).values(**entry.__dict__))

    def log_entry(self, log_id: str) -> LogEntry | None:
        row = self._read(sa.select(usage_log).where(usage_log.c.id == log_id))
        return LogEntry(*row) if row is not None else None

    def log_entries(
        self, since: float, until: float | None = None, *, strict: bool = False
    ) -> list[LogEntry]:
        """Log entries from `since` (epoch seconds), oldest first (StateError when `strict`
        and the store cannot be read; else none)."""
        statement = sa.select(usage_log).where(usage_log.c.at >= since)
        if until is not None:
            statement = statement.where(usage_log.c.at < until)
        rows = self._read_all(statement.order_by(usage_log.c.at), strict=strict)
        return [LogEntry(*row) for row in rows]  # the table's columns in LogEntry's order

    def rate(self, log_id: str, user_hash: str, rating: str, comment: str | None = None) -> bool:
        """A user's thumbs up or down on a logged answer (their latest click counts); a
        comment (the "what was wrong?" form) is kept with it. False if the entry is gone."""
        if self.log_entry(log_id) is None:
            return False
        values = {"rating": rating, "at": self.clock()}
        if comment is not None:
            values["comment"] = comment
        try:
            with self._begin() as conn:
                done = conn.execute(
                    sa.update(feedback)
                    .where(feedback.c.log_id == log_id, feedback.c.user_hash == user_hash)
                    .values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(
                        sa.insert(feedback).values(log_id=log_id, user_hash=user_hash, **values)
                    )
            return True
        except SQLAlchemyError:
            log.exception("state store: feedback on %s not recorded", log_id)
            return False

    def ratings(self, since: float, *, strict: bool = False) -> list[Rating]:
        """Ratings of the answers logged since `since`."""
        rows = self._read_all(
            sa.select(feedback)
            .join(usage_log, usage_log.c.id == feedback.c.log_id)
            .where(usage_log.c.at >= since)
            .order_by(feedback.c.at),
            strict=strict,
        )
        return [Rating(**row._mapping) for row in rows]

    # --- digests ------------------------------------------------------------------

    def add_subscription(
        self,
        team: str,
        channel: str,
        question: str,
        cadence: str,
        at_minute: int,
        created_by: str | None,
    ) -> Subscription | None:
        created_at = self.clock()
        values = {
            "team": team,
            "channel": channel,
            "question": question,
            "cadence": cadence,
            "at_minute": at_minute,
            "created_by": created_by,
            "created_at": created_at,
        }
        try:
            with self._begin() as conn:
                done = conn.execute(sa.insert(subscriptions).values(**values))
                key = done.inserted_primary_key
                if key is None:
                    raise StateError("the store gave the new subscription no number")
            return Subscription(
                id=int(key[0]),
                team=team,
                channel=channel,
                question=question,
                cadence=cadence,
                at_minute=at_minute,
                created_by=created_by,
                created_at=created_at,
            )
        except (SQLAlchemyError, StateError):
            log.exception("state store: subscription not saved")
            return None

    def list_subscriptions(
        self, team: str | None = None, channel: str | None = None
    ) -> list[Subscription]:
        """A channel's subscriptions (every one when no channel is named), oldest first."""
        statement = sa.select(subscriptions).order_by(subscriptions.c.id)
        if team is not None and channel is not None:
            statement = statement.where(
                subscriptions.c.team == team, subscriptions.c.channel == channel
            )
        return [Subscription(**row._mapping) for row in self._read_all(statement, strict=True)]

    def remove_subscription(self, team: str, channel: str, subscription_id: int) -> bool:
        """Remove a channel's subscription; False when the channel has none of that number."""
        try:
            with self._begin() as conn:
                done = conn.execute(
                    sa.delete(subscriptions).where(
                        subscriptions.c.id == subscription_id,
                        subscriptions.c.team == team,
                        subscriptions.c.channel == channel,
                    )
                )
            return bool(done.rowcount)
        except SQLAlchemyError:
            log.exception("state store: subscription %s not removed", subscription_id)
            return False

    def claim(self, key: str) -> bool:
        """True for exactly one caller among every app sharing this store: the one that
        may do the once-only work named by `key` (a digest's send). A failure claims
        nothing (better a late digest than a doubled one)."""
        try:
            with self._begin() as conn:
                conn.execute(sa.insert(claims).values(key=key[:255], claimed_at=self.clock()))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError:
            log.exception("state store: could not claim %s", key[:60])
            return False

    def release(self, key: str) -> None:
        """Give a claim back (its work failed and may be tried again)."""
        self._write(sa.delete(claims).where(claims.c.key == key[:255]))

    # --- settings kept for good (the log salt, the coverage announced) -------------

    def setting(self, name: str) -> str | None:
        row = self._read(sa.select(meta.c.value).where(meta.c.name == name))
        return None if row is None else str(row.value)

    def put_setting(self, name: str, value: str) -> None:
        self._upsert_meta(name, value)

    def setting_once(self, name: str, value: str) -> str:
        """`name`'s value, set to `value` first if it has none: every replica ends up
        with the one value written first."""
        try:
            with self._begin() as conn:
                conn.execute(sa.insert(meta).values(name=name, value=value))
        except IntegrityError:
            pass
        stored = self.setting(name)
        return stored if stored is not None else value

    # --- housekeeping -----------------------------------------------------------

    def purge(self) -> None:
        """Forget what has expired."""
        now = self.clock()
        with self._begin() as conn:
            conn.execute(sa.delete(usage_log).where(usage_log.c.at < now - self.log_seconds))
            conn.execute(sa.delete(feedback).where(feedback.c.at < now - self.log_seconds))
            conn.execute(
                sa.delete(feedback).where(~sa.exists().where(usage_log.c.id == feedback.c.log_id))
            )
            conn.execute(sa.delete(claims).where(claims.c.claimed_at < now - CLAIM_SECONDS))
            conn.execute(
                sa.delete(conversations).where(conversations.c.updated_at < now - self.context_ttl)
            )
            conn.execute(sa.delete(answers).where(answers.c.created_at < now - self.context_ttl))
            conn.execute(sa.delete(values).where(values.c.updated_at < now - self.context_ttl))
            conn.execute(
                sa.delete(deliveries).where(deliveries.c.seen_at < now - DELIVERY_TTL_SECONDS)
            )

    def _read(self, statement: sa.Select[Any]) -> Any:
        try:
            with self._connect() as conn:
                return conn.execute(statement).first()
        except SQLAlchemyError:
            log.exception("state store read failed: answering without it")
            return None

    def _read_all(self, statement: sa.Select[Any], *, strict: bool = False) -> list[Any]:
        """Every row (none when the store fails, or StateError when `strict`)."""
        try:
            with self._connect() as conn:
                return list(conn.execute(statement).all())
        except SQLAlchemyError as exc:
            if strict:
                raise StateError(
                    f"the state store cannot be read: {exc.__class__.__name__}"
                ) from exc
            log.exception("state store read failed")
            return []

    def _upsert_meta(self, name: str, value: str) -> None:
        try:
            with self._begin() as conn:
                done = conn.execute(sa.update(meta).where(meta.c.name == name).values(value=value))
                if done.rowcount == 0:
                    conn.execute(sa.insert(meta).values(name=name, value=value))
        except IntegrityError:
            pass
        except SQLAlchemyError:
            log.exception("state store: setting %s not saved", name)

    def _write(self, statement: Any) -> bool:
        try:
            with self._begin() as conn:
                conn.execute(statement)
            self._maybe_purge()
            return True
        except SQLAlchemyError:
            log.exception("state store write failed: the answer goes out without it")
            return False

    def _upsert(self, table: sa.Table, key_column: str, key: str, **values: Any) -> bool:
        stamp = "updated_at" if "updated_at" in table.c else "created_at"
        values[stamp] = self.clock()
        try:
            with self._begin() as conn:
                done = conn.execute(
                    sa.update(table).where(table.c[key_column] == key).values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(sa.insert(table).values({key_column: key, **values}))
            self._maybe_purge()
            return True
        except IntegrityError:  # another replica inserted it first: it holds the same
            return True
        except SQLAlchemyError:
            log.exception("state store write failed: the answer goes out without it")
            return False

    def _maybe_purge(self) -> None:
        now = self.clock()
        with self._lock:
            if now - self._purged < 600:
                return
            self._purged = now
        try:
            self.purge()
        except SQLAlchemyError:
            log.exception("state store purge failed")


def _engine(url: str) -> sa.Engine:
    if url in MEMORY_URLS:
        # one shared in-memory database for every thread (tests, a store-less run)
        return sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": CONNECT_SECONDS} if url.startswith("postgresql") else {}
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=4, max_overflow=4, connect_args=connect_args
    )


def _migrate_with_retry(engine: sa.Engine, attempts: int = 3) -> None:
    """Migrate; replicas starting together may race to create a table (SQLite has no
    lock for that): the loser tries again and finds the work done."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                _migrate(conn)
            return
        except (IntegrityError, sa.exc.OperationalError, sa.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _migrate(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":  # one replica migrates at a time
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7428331)"))
    meta.create(conn, checkfirst=True)
    row = conn.execute(sa.select(meta.c.value).where(meta.c.name == "schema_version")).first()
    version = int(row.value) if row else 0
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"its schema is version {version}, newer than this toprank's {SCHEMA_VERSION}"
        )
    for step in MIGRATIONS[version:]:
        step(conn)
    if row is None:
        conn.execute(sa.insert(meta).values(name="schema_version", value=str(SCHEMA_VERSION)))
    elif version != SCHEMA_VERSION:
        conn.execute(
            sa.update(meta).where(meta.c.name == "schema_version").values(value=str(SCHEMA_VERSION))
        )


def _redacted(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(the configured URL)"


def conversation_key(team: str | None, channel: str | None, thread: str | None) -> str:
    """A Slack thread's (or a DM's) conversation: team, channel and thread timestamp."""
    return f"{team or '-'}:{channel or '-'}:{thread or 'dm'}"
