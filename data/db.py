"""The database edge: where the DuckDB file lives, its schema, rollups and coverage."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from intents.model import Coverage

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_DB = DATA_DIR / "claims.duckdb"

# Tables a question may read. sql/ validation refuses any other table name.
QUESTION_TABLES = frozenset(
    {"rollup_month", "rollup_national", "rollup_detail", "rollup_claims", "claim_lines", "sources"}
)


def db_path(override: str | os.PathLike | None = None) -> Path:
    """--db beats TOPRANK_DB beats data/claims.duckdb."""
    if override:
        return Path(override)
    env = os.environ.get("TOPRANK_DB")
    return Path(env) if env else DEFAULT_DB


def connect_rw(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))


def connect_ro(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """Questions only ever get a read-only connection."""
    return duckdb.connect(str(path), read_only=True)


def _run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute((DATA_DIR / name).read_text(encoding="utf-8"))


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    _run_script(con, "schema.sql")


def rebuild_rollups(con: duckdb.DuckDBPyConnection) -> None:
    _run_script(con, "rollups.sql")


def read_coverage(con: duckdb.DuckDBPyConnection) -> Coverage | None:
    """Coverage from the sources table (None for an empty database)."""
    row = con.execute(
        "SELECT min(first_date), max(last_date), list(name ORDER BY source_id), "
        "coalesce(sum(rows_loaded), 0) FROM sources"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    total = con.execute(
        "SELECT coalesce(sum(procedures), 0) FROM rollup_national WHERE cohort = 'all'"
    ).fetchone()
    procedures = total[0] if total else 0
    first, last, names, lines = row
    annual = con.execute(
        "SELECT DISTINCT year(first_date) AS y FROM sources WHERE kind = 'cms-puf' ORDER BY y"
    ).fetchall()
    return Coverage(
        start=first if isinstance(first, date) else date.fromisoformat(str(first)),
        end=last if isinstance(last, date) else date.fromisoformat(str(last)),
        sources=tuple(names or ()),
        claim_lines=int(lines),
        procedures=int(procedures),
        annual_years=tuple(int(y) for (y,) in annual),
    )
