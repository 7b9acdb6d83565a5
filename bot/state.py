"""The state store: what the Slack app remembers between messages and across restarts.

- conversations: the last question of each Slack thread or DM (a follow-up continues it),
  kept for a set time (TOPRANK_CONTEXT_HOURS, default 24);
- answers: the spec behind each answer posted with refine controls, so a control can
  change one part of it (same time limit);
- deliveries: Slack deliveries already answered (bot.delivery.Deduper), for several app
  replicas sharing one store.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from intents.conversation import Context
from intents.spec import Spec
from intents.spec_codec import (
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


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[conversations, answers, values, deliveries])


# Schema versions in order; a store at version k runs MIGRATIONS[k:] when it opens.
MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1,)
SCHEMA_VERSION = len(MIGRATIONS)


class StateError(RuntimeError):
    """The store cannot be opened (a bad URL, an unreadable file, a newer schema)."""


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    spec: Spec
    question: str


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
        self.url = url
        self.context_ttl = context_ttl
        self.clock = clock
        self._purged = 0.0
        self._lock = threading.Lock()
        try:
            self.engine = _engine(url)
            with self.engine.begin() as conn:
                _migrate(conn)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StateError(f"cannot open the state store {_redacted(url)}: {exc}") from exc

    @classmethod
    def from_env(cls, db_path: Path | None, environ: Mapping[str, str] = os.environ) -> StateStore:
        url = state_url(db_path, environ)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return cls(url, context_ttl=context_ttl_from_env(environ))

    def close(self) -> None:
        self.engine.dispose()

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
            with self.engine.begin() as conn:
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

    # --- housekeeping -----------------------------------------------------------

    def purge(self) -> None:
        """Forget what has expired."""
        now = self.clock()
        with self.engine.begin() as conn:
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
            with self.engine.connect() as conn:
                return conn.execute(statement).first()
        except SQLAlchemyError:
            log.exception("state store read failed: answering without it")
            return None

    def _write(self, statement: Any) -> bool:
        try:
            with self.engine.begin() as conn:
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
            with self.engine.begin() as conn:
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
    if url in ("sqlite://", "sqlite:///:memory:"):
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
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def _migrate(conn: sa.Connection) -> None:
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
