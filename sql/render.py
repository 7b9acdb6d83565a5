"""Render a DuckDB-dialect Query for another engine with sqlglot's dialects.

The templates are written once, in DuckDB SQL; a warehouse engine runs the same
statement transpiled (placeholders become that driver's style, e.g. %(name)s for
psycopg). DuckDB-only functions sqlglot cannot map are rewritten by sqlglot where it
knows how (list_contains -> = ANY for Postgres).
"""

from __future__ import annotations

import sqlglot

from sql.query import Query


def to_dialect(query: Query, dialect: str) -> str:
    """The query's SQL in `dialect` (any sqlglot dialect name: postgres, spark, trino...)."""
    if dialect == "duckdb":
        return query.sql
    return sqlglot.transpile(query.sql, read="duckdb", write=dialect, pretty=True)[0]
