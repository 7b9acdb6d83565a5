"""The engine edge: run a validated Query on a read-only DuckDB file, return rows.

One read-only connection per database generation (see DuckDBEngine), opened lazily and
reused; each run takes its own cursor so a threaded caller (the Slack app) can share
the engine. Every
statement is validated again right before it runs, whatever built it; validation
is a pure function of the SQL text, so each distinct text is checked once per
process (the planner only ever produces one text per template).

`records` returns plain Python rows, which is what answer building consumes. (A
DataFrame path was dropped: building a frame and turning it back into rows took about
2 ms for ten rows, and importing pandas took most of a one-shot question's start-up.)
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from toprank.data.db import (
    QUESTION_TABLES,
    READER_ALIAS,
    ConfigError,
    DatabaseProblem,
    FileIdentity,
    is_corruption,
    open_error_message,
    open_reader,
    read_coverage,
)
from toprank.data.values import Coverage
from toprank.sql.query import Query
from toprank.sql.validate import validate

# Questions read rollups of a few thousand rows: one thread per query beats
# parallel scheduling overhead, and concurrent questions (the Slack app's threads)
# still run side by side on their own cursors.
QUERY_THREADS = 1


@lru_cache(maxsize=256)
def validated(sql: str, dialect: str = "duckdb") -> str:
    """`sql` once it has passed validation in its `dialect` (raises UnsafeQuery otherwise;
    failures are not cached, so a refused text is refused every time)."""
    validate(sql, QUESTION_TABLES, dialect)
    return sql


def _python_value(value: Any) -> Any:
    # DuckDB DECIMAL arrives as Decimal from fetchall; answers compute and print floats
    # (and the JSON contract carries numbers, which Decimal is not).
    return float(value) if isinstance(value, Decimal) else value


# A question's query runs at most this long (TOPRANK_QUERY_TIMEOUT, seconds): answers
# take milliseconds, so a query still running after this is a bug or a machine in
# trouble, and the user hears so instead of waiting on a hung thread.
DEFAULT_QUERY_TIMEOUT = 10.0


class QueryTimeout(TimeoutError):
    """A query ran past its deadline and was interrupted."""


def query_timeout_from_env(environ: Any = os.environ) -> float:
    raw = str(environ.get("TOPRANK_QUERY_TIMEOUT", "")).strip()
    if not raw:
        return DEFAULT_QUERY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"TOPRANK_QUERY_TIMEOUT={raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:  # NaN fails this too
        raise ConfigError(f"TOPRANK_QUERY_TIMEOUT={raw!r} must be between 0 and 3600 seconds")
    return value


class DatabaseMissing(FileNotFoundError, DatabaseProblem):
    """The DuckDB file does not exist (build it with `toprank data demo`)."""


class DatabaseEmpty(RuntimeError):
    """The DuckDB file holds no loaded source yet."""


class DatabaseDamaged(RuntimeError):
    """A block of the database file failed its checksum while a question read it."""


# How often (at most) a question looks at the database path for a new generation: a
# stat() call, about a microsecond.
CHECK_INTERVAL_SECONDS = 1.0

log = logging.getLogger("toprank.engine")


class _Generation:
    """One database file as it was when opened: its connection, the questions running
    on it, and what is read once per file (the coverage)."""

    def __init__(self, number: int, con: duckdb.DuckDBPyConnection, identity: FileIdentity):
        self.number = number
        self.con = con
        self.identity = identity
        self.users = 0  # questions pinned to it right now
        self.retired = False  # a newer generation took its place
        self.coverage: Coverage | None = None

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.close()


def _cursor_on(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor reading the attached database: a cursor is a new DuckDB connection, and
    its default database is the in-memory one until told otherwise (about 20 us)."""
    cursor = con.cursor()
    cursor.execute(f"USE {READER_ALIAS}")
    return cursor


class DuckDBEngine:
    """Questions on the DuckDB file at `path`, following it across generations.

    Writers never change the file a reader has open: they rename a new generation over
    the path (data/writer.py). Before a question (at most once a CHECK_INTERVAL_SECONDS)
    the engine stats the path; when it names a new file, the engine opens it and checks
    it in a background thread while questions go on being answered from the old one,
    then switches: new questions read the new file, those already running finish on
    the old connection, which is closed when the last of them is done. A new file that
    cannot be used (damaged, not toprank's) is logged and the old one kept."""

    dialect = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike,
        timeout: float | None = None,
        *,
        check_interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.timeout = query_timeout_from_env() if timeout is None else timeout
        self.check_interval = check_interval
        self._current: _Generation | None = None
        self._checked_at = 0.0
        self._opening: FileIdentity | None = None  # a generation being opened
        self._refused: FileIdentity | None = None  # a file that could not be used
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        self._opener: threading.Thread | None = None
        # Run on a new generation before it serves (bot.pipeline asks its warm-up
        # questions there), so no user pays the first reads of a cold file.
        self.warm: Callable[[], None] | None = None

    # --- generations -----------------------------------------------------------------

    def _open_generation(self, identity: FileIdentity) -> _Generation:
        con = open_reader(self.path)
        try:
            # No file or network access beyond the database itself: a second wall
            # behind validation against read_csv and friends.
            con.execute("SET enable_external_access = false")
            con.execute(f"SET threads = {QUERY_THREADS}")
            generation = _Generation(next(self._numbers), con, identity)
            cursor = _cursor_on(con)
            try:
                generation.coverage = read_coverage(cursor)
            finally:
                cursor.close()
        except duckdb.Error as exc:
            con.close()
            raise DatabaseProblem(open_error_message(self.path, exc)) from None
        except BaseException:
            con.close()
            raise
        return generation

    def _generation(self) -> _Generation:
        """The generation a new question should use (opening the first one if needed)."""
        pinned: _Generation | None = getattr(self._local, "generation", None)
        if pinned is not None:
            return pinned
        with self._lock:
            if self._current is None:
                if self._closed:
                    raise RuntimeError("the engine is closed")
                identity = FileIdentity.of(self.path)
                if identity is None:
                    raise DatabaseMissing(
                        f"no database at {self.path}; build one with `toprank data demo`"
                    )
                self._current = self._open_generation(identity)
                self._checked_at = time.monotonic()
            else:
                self._look_for_new_file()
            return self._current

    def _look_for_new_file(self) -> None:
        """(Lock held.) Start opening the file at the path if it is a new one."""
        now = time.monotonic()
        if now - self._checked_at < self.check_interval or self._opening is not None:
            return
        self._checked_at = now
        identity = FileIdentity.of(self.path)
        current = self._current
        if identity is None or current is None or identity == current.identity:
            return  # a missing path keeps the last generation serving
        if identity == self._refused:
            return
        self._opening = identity
        self._opener = threading.Thread(
            target=self._switch_to, args=(identity,), name="toprank-reopen", daemon=True
        )
        self._opener.start()

    def _switch_to(self, identity: FileIdentity) -> None:
        try:
            fresh = self._open_generation(identity)
            if self.warm is not None:
                self._local.generation = fresh  # this thread's queries read the new file
                try:
                    self.warm()
                finally:
                    self._local.generation = None
        except Exception as exc:
            log.error(
                "keeping the data already open: the new %s cannot be used: %s", self.path, exc
            )
            with self._lock:
                self._opening, self._refused = None, identity
            return
        with self._lock:
            self._opening = None
            old = self._current
            if self._closed or old is None:
                fresh.close()
                return
            self._current = fresh
            old.retired = True
            if old.users == 0:
                old.close()
        log.info("now answering from the new data in %s (generation %d)", self.path, fresh.number)

    def wait_for_switch(self, timeout: float = 10.0) -> bool:
        """Look at the path now and wait until a new file there is in use (tests)."""
        with self._lock:
            self._checked_at = 0.0
            if self._current is not None:
                self._look_for_new_file()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._opening is None:
                    return self._current is not None and (
                        self._current.identity == FileIdentity.of(self.path)
                    )
            time.sleep(0.01)
        return False

    @contextlib.contextmanager
    def pinned(self) -> Iterator[int]:
        """Every query run in this thread inside the block reads one generation (its
        number is yielded): a question never mixes the coverage of one file with the
        rows of the next."""
        if getattr(self._local, "generation", None) is not None:  # nested: already pinned
            yield self._local.generation.number
            return
        generation = self._generation()
        with self._lock:
            generation.users += 1
        self._local.generation = generation
        try:
            yield generation.number
        finally:
            self._local.generation = None
            with self._lock:
                generation.users -= 1
                if generation.retired and generation.users == 0:
                    generation.close()

    @property
    def generation(self) -> int:
        """The number of the generation this thread's queries read (pinned, else current)."""
        return self._generation().number

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return self._generation().con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the generation this thread reads (close it after use)."""
        return _cursor_on(self._connection())

    # --- queries ---------------------------------------------------------------------

    def prepare(self, query: Query) -> Query:
        """The query as this engine runs it: DuckDB runs the templates as written."""
        if query.dialect != self.dialect:
            raise ValueError(f"a {query.dialect} query cannot run on DuckDB")
        validated(query.sql)
        return query

    def records(self, query: Query) -> list[dict[str, Any]]:
        """Validate, then execute with bound parameters: one dict per row of plain Python
        values (None for NULL).
        Raises QueryTimeout when the query runs past the engine's deadline, and
        DatabaseDamaged when a block of the file fails its checksum."""
        sql = validated(query.sql)
        with self.pinned():
            return self._fetch(self.cursor(), sql, query.param_dict)

    def _fetch(self, cursor: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run on `cursor` under the deadline: DuckDB has no statement timeout, so a timer
        interrupts the cursor (its connection stays usable for the next question)."""
        timer = threading.Timer(self.timeout, cursor.interrupt)
        timer.daemon = True
        timer.start()
        try:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        except duckdb.InterruptException as error:
            raise QueryTimeout(f"the query ran past {self.timeout:g} s") from error
        except duckdb.Error as error:
            if is_corruption(error):
                raise DatabaseDamaged(open_error_message(self.path, error)) from None
            raise
        finally:
            timer.cancel()
            cursor.close()
        return [
            {name: _python_value(value) for name, value in zip(names, row, strict=True)}
            for row in rows
        ]

    def coverage(self) -> Coverage:
        """The coverage of the generation this thread reads (read once per file)."""
        generation = self._generation()
        if generation.coverage is None:
            raise DatabaseEmpty(f"the database at {self.path} holds no data yet")
        return generation.coverage

    def close(self) -> None:
        opener = self._opener
        if opener is not None and opener is not threading.current_thread():
            opener.join(timeout=60)  # never leave DuckDB working in a thread at exit
        with self._lock:
            self._closed = True
            if self._current is not None:
                self._current.retired = True
                if self._current.users == 0:
                    self._current.close()
                self._current = None

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
