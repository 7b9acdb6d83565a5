"""The engine interface and the registry that picks one from TOPRANK_ENGINE_URL.

    (unset), a path, duckdb:PATH   DuckDBEngine: the embedded file (the default)
    postgresql://user@host/db      PostgresEngine (psycopg 3, a small pool, read-only)
    sc://host:port[/;params]       SparkEngine (Spark Connect; Databricks speaks it too)

Every engine does the same four things: `prepare` a Query (render it for its dialect
once and check the result again with sqlglot in that dialect; that text is what runs
and what Show SQL shows), `records` (run it, rows as plain Python values), `coverage`
(read through the coverage templates) and `close`. Rows are normalised the same way
on every engine: integers as int, fractions as float, dates as date.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from toprank.data.values import Coverage
from toprank.sql.dialects import DUCKDB, POSTGRES, param_types, render_sql
from toprank.sql.engine import DuckDBEngine, validated
from toprank.sql.plan import coverage_query
from toprank.sql.query import Query

ENGINE_URL_ENV = "TOPRANK_ENGINE_URL"
# SQL of the scale-out edge that no question runs (kept apart from sql/*.sql, the
# question templates every engine warms up and the benchmark covers).
SCALEOUT_SQL = Path(__file__).resolve().parent / "scaleout"


def procedures_query() -> Query:
    """Every procedure in the rollups: the coverage line's total, read by a template."""
    sql = (SCALEOUT_SQL / "procedures_total.sql").read_text(encoding="utf-8").strip()
    return Query("procedures_total", validated(sql))


class Engine(Protocol):
    dialect: str
    timeout: float
    # Run on a new generation of the data before it serves (DuckDB's renamed-in files).
    warm: Callable[[], None] | None

    @property
    def generation(self) -> int: ...

    def pinned(self) -> contextlib.AbstractContextManager[int]: ...

    def prepare(self, query: Query) -> Query: ...

    def records(self, query: Query) -> list[dict[str, Any]]: ...

    def coverage(self) -> Coverage: ...

    def close(self) -> None: ...


class EngineUnavailable(ConnectionError):
    """A warehouse could not be reached or refused the connection (said in one line)."""


class EngineURLError(ValueError):
    """TOPRANK_ENGINE_URL (or --engine) is not a URL toprank knows."""


def plain_value(value: Any) -> Any:
    """One value as every engine returns it: PostgreSQL's SUM of integers is NUMERIC and
    arrives as a whole Decimal (an int here), its divisions as fractional Decimals and
    Spark's DECIMAL columns likewise (floats here), so rows compare across engines."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    return value


def coverage_from_rows(sources: list[dict[str, Any]], procedures: int) -> Coverage | None:
    """Coverage from the coverage template's rows (one per loaded source) and the total
    procedures: what data.db.read_coverage computes on DuckDB, from portable SQL."""
    if not sources:
        return None
    firsts = [_as_date(r["first_date"]) for r in sources if r["first_date"] is not None]
    lasts = [_as_date(r["last_date"]) for r in sources if r["last_date"] is not None]
    if not firsts or not lasts:
        return None
    ordered = sorted(sources, key=lambda r: int(r["source_id"]))
    return Coverage(
        start=min(firsts),
        end=max(lasts),
        sources=tuple(str(r["name"]) for r in ordered),
        claim_lines=sum(int(r["rows_loaded"] or 0) for r in ordered),
        procedures=int(procedures),
        annual_years=tuple(
            sorted(
                {
                    _as_date(r["first_date"]).year
                    for r in ordered
                    if r["kind"] == "cms-puf" and r["first_date"] is not None
                }
            )
        ),
    )


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class WarehouseEngine:
    """What PostgreSQL and Spark share: rendering, checking, coverage. Subclasses run a
    prepared query (`_execute`) and close their connections."""

    dialect: str = DUCKDB
    url: str
    timeout: float
    # A warehouse's rollups are swapped in place by `data build` (in one transaction on
    # PostgreSQL): there is one generation, and nothing to warm before it serves.
    generation: int = 0
    warm: Callable[[], None] | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def pinned(self) -> Iterator[int]:
        yield self.generation

    def prepare(self, query: Query) -> Query:
        if query.dialect == self.dialect:
            validated(query.sql, self.dialect)
            return query
        if query.dialect != DUCKDB:
            raise ValueError(f"a {query.dialect} query cannot be rendered for {self.dialect}")
        types = param_types(query.params) if self.dialect == POSTGRES else ()
        sql = validated(render_sql(query.sql, self.dialect, types), self.dialect)
        return replace(query, sql=sql, dialect=self.dialect)

    def records(self, query: Query) -> list[dict[str, Any]]:
        prepared = self.prepare(query)
        rows = self._execute(prepared)
        return [{name: plain_value(value) for name, value in row.items()} for row in rows]

    def _execute(self, query: Query) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _missing_table(self, error: Exception) -> bool:
        """Whether `error` says a table does not exist (no rollups built yet)."""
        return False

    def coverage(self) -> Coverage:
        from toprank.sql.engine import DatabaseEmpty

        try:
            sources = self.records(coverage_query())
            total = self.records(procedures_query())
        except Exception as error:
            if self._missing_table(error):
                raise DatabaseEmpty(
                    f"the warehouse at {redact(self.url)} has no rollups yet; build them with "
                    "`toprank data build --engine URL --source TABLE`"
                ) from None
            raise
        found = coverage_from_rows(sources, int(total[0]["procedures"]) if total else 0)
        if found is None:
            raise DatabaseEmpty(f"the warehouse at {redact(self.url)} holds no rollups yet")
        return found

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> WarehouseEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redact(url: str) -> str:
    """A URL fit for a message or a log: no password, no token."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':')[0]}:***@{host}" if ":" in user else f"{user}@{host}"
    path = parts.path
    if ";" in path:  # Spark Connect parameters: token=... and friends
        head, *params = path.split(";")
        path = ";".join(
            [head, *(p.split("=")[0] + "=***" if "token" in p.lower() else p for p in params)]
        )
    return parts._replace(netloc=netloc, path=path, query="").geturl()


def _open_postgres(url: str, timeout: float | None) -> Engine:
    from toprank.sql.engine_postgres import PostgresEngine

    return PostgresEngine(url, timeout=timeout)


def _open_spark(url: str, timeout: float | None) -> Engine:
    from toprank.sql.engine_spark import SparkEngine

    return SparkEngine(url, timeout=timeout)


def duckdb_path(url: str) -> str:
    """The file path of a DuckDB engine URL: a plain path, duckdb:PATH or duckdb://PATH."""
    if url.lower().startswith("duckdb:"):
        return url[len("duckdb:") :].removeprefix("//")
    return url


def _open_duckdb(url: str, timeout: float | None) -> Engine:
    return DuckDBEngine(duckdb_path(url), timeout=timeout)


# URL scheme -> engine. A value with no scheme is a DuckDB file path.
ENGINES: dict[str, Callable[[str, float | None], Engine]] = {
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
    "sc": _open_spark,
    "duckdb": _open_duckdb,
}


def scheme(url: str) -> str | None:
    """The engine scheme of a URL, or None for a file path."""
    head, sep, _ = url.partition("://")
    if sep:
        return head.lower()
    if url.lower().startswith("duckdb:"):
        return "duckdb"
    return None


def open_engine(url: str, *, timeout: float | None = None) -> Engine:
    """The engine for `url` (see the module doc). Connections open on first use."""
    url = url.strip()
    if not url:
        raise EngineURLError("the engine URL is empty")
    kind = scheme(url)
    if kind is None:
        return _open_duckdb(url, timeout)
    opener = ENGINES.get(kind)
    if opener is None:
        raise EngineURLError(
            f"unknown engine {kind!r} in {redact(url)} "
            "(use a DuckDB file path, postgresql://... or sc://host:port)"
        )
    return opener(url, timeout)


def engine_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """TOPRANK_ENGINE_URL when it names a warehouse (None: the DuckDB file as before)."""
    raw = environ.get(ENGINE_URL_ENV, "").strip()
    return raw or None


def is_warehouse(url: str) -> bool:
    return scheme(url) not in (None, "duckdb")
