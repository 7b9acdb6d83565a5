"""The engine edge: run a validated Query on a read-only DuckDB file, return a frame.

One read-only connection per engine, opened lazily and reused; each run takes its
own cursor so a threaded caller (the Slack app) can share the engine. Every
statement is validated again right before it runs, whatever built it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pandas as pd

from data.db import QUESTION_TABLES, connect_ro, read_coverage
from intents.model import Coverage
from sql.query import Query
from sql.validate import validate


class DatabaseMissing(FileNotFoundError):
    """The DuckDB file does not exist (build it with `toprank data demo`)."""


class DatabaseEmpty(RuntimeError):
    """The DuckDB file holds no loaded source yet."""


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
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
                self._con = con
            return self._con

    def run(self, query: Query) -> pd.DataFrame:
        """Validate, then execute with bound parameters; the result as a DataFrame."""
        validate(query.sql, QUESTION_TABLES)
        cursor = self._connection().cursor()
        try:
            return cursor.execute(query.sql, query.param_dict).df()
        finally:
            cursor.close()

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
