"""Render a DuckDB-dialect Query for another engine (a thin front to sql.dialects).

The templates are written once, in DuckDB SQL; a warehouse engine runs the same
statement rendered by sql.dialects.render_sql: sqlglot's transpile plus the rewrites it
lacks, with PostgreSQL placeholders typed by the values bound to them.
"""

from __future__ import annotations

from sql.dialects import DUCKDB, POSTGRES, param_types, render_sql
from sql.query import Query


def to_dialect(query: Query, dialect: str) -> str:
    """The query's SQL as `dialect` runs it (duckdb, postgres or spark)."""
    if dialect == DUCKDB:
        return query.sql
    types = param_types(query.params) if dialect == POSTGRES else ()
    return render_sql(query.sql, dialect, types)
