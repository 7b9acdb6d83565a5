"""The engine edge: run a validated Query on a read-only DuckDB file, return a frame.

One read-only connection per engine, opened lazily and reused; each run takes its
own cursor so a threaded caller (the Slack app) can share the engine. Every
statement is validated again right before it runs, whatever built it; validation
is a pure function of the SQL text, so each distinct text is checked once per
process (the planner only ever produces one text per template).

`run` returns a DataFrame (the engine interface in DESIGN.md); `records` returns the
same result as plain Python rows, which is what answer building consumes: for a
ten-row result, building the DataFrame and turning it back into rows took about 2 ms,
as long as the rest of the answer (see the Performance section of the README).
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from data.db import QUESTION_TABLES, connect_ro, read_coverage
from intents.model import Coverage
from sql.query import Query
from sql.validate import validate

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
    # DuckDB DECIMAL arrives as Decimal from fetchall but as float in a DataFrame;
    # rows match the DataFrame's values.
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
    except ValueError as error:
        raise ValueError(f"TOPRANK_QUERY_TIMEOUT={raw!r} is not a number of seconds") from error
    if not 0 < value <= 3600:
        raise ValueError(f"TOPRANK_QUERY_TIMEOUT={raw!r} must be between 0 and 3600 seconds")
    return value


class DatabaseMissing(FileNotFoundError):
    """The DuckDB file does not exist (build it with `toprank data demo`)."""


class DatabaseEmpty(RuntimeError):
    """The DuckDB file holds no loaded source yet."""


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str | os.PathLike, timeout: float | None = None) -> None:
        self.path = Path(path)
        self.timeout = query_timeout_from_env() if timeout is None else timeout
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                if not self.path.exists():
                    raise DatabaseMissing(
                        f"no database at {self.path}; build one with `toprank data demo`"
                    )
                con = connect_ro(self.path)
                # No file or network access beyond the database itself: a second wall
                # behind validation against read_csv and friends. Set after connecting
                # (not as connect config) so other read-only connections to the same
                # file in this process are not refused for a config mismatch.
                con.execute("SET enable_external_access = false")
                con.execute(f"SET threads = {QUERY_THREADS}")
                self._con = con
            return self._con

    def prepare(self, query: Query) -> Query:
        """The query as this engine runs it: DuckDB runs the templates as written."""
        if query.dialect != self.dialect:
            raise ValueError(f"a {query.dialect} query cannot run on DuckDB")
        validated(query.sql)
        return query

    def run(self, query: Query) -> pd.DataFrame:
        """Validate, then execute with bound parameters; the result as a DataFrame."""
        cursor = self._connection().cursor()
        try:
            return cursor.execute(validated(query.sql), query.param_dict).df()
        finally:
            cursor.close()

    def records(self, query: Query) -> list[dict[str, Any]]:
        """The same as `run`, as one dict per row of plain Python values (None for NULL).
        Raises QueryTimeout when the query runs past the engine's deadline."""
        sql = validated(query.sql)
        cursor = self._connection().cursor()
        return self._fetch(cursor, sql, query.param_dict)

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
        finally:
            timer.cancel()
            cursor.close()
        return [
            {name: _python_value(value) for name, value in zip(names, row, strict=True)}
            for row in rows
        ]

    def coverage(self) -> Coverage:
        cursor = self._connection().cursor()
        try:
            found = read_coverage(cursor)
        finally:
            cursor.close()
        if found is None:
            raise DatabaseEmpty(f"the database at {self.path} holds no data yet")
        return found

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
