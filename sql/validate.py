"""The gate every statement passes before it runs: one read-only SELECT over known tables.

Templates are ours, but the check does not trust that: it parses the SQL with sqlglot
(DuckDB dialect) and walks the whole tree, so a write hidden in a CTE, a second
statement, a file reader or a table outside the allowed set is refused with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from toprank.data.db import QUESTION_TABLES


class UnsafeQuery(ValueError):
    """The SQL is not a single read-only SELECT over the allowed tables."""


# Statement and clause types that change state, touch the session or leave the
# database. Any of them anywhere in the tree is refused (including inside a CTE).
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "TruncateTable",
        "Copy",
        "Attach",
        "Detach",
        "Pragma",
        "Set",
        "SetItem",
        "Command",
        "Transaction",
        "Commit",
        "Rollback",
        "Install",
        "Summarize",
        "Describe",
        "Use",
        "Into",
        "Kill",
        "LoadData",
        "Export",
        "Cache",
        "Uncache",
        "Analyze",
        "Refresh",
        "Grant",
        "Revoke",
        "Comment",
        "Show",
        "Lock",
        "Declare",
        "Execute",
    )
    if hasattr(exp, name)  # names vary a little across sqlglot versions
)

# Functions that read files, URLs or run nested SQL. DuckDB exposes them as table
# functions; they are refused wherever they appear.
_FILE_FUNCTION_PREFIXES = ("read_", "parquet_", "sniff_", "iceberg_", "delta_")
_FILE_FUNCTIONS = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "csv_scan",
        "parquet_scan",
        "json_scan",
        "read_json_auto",
        "read_csv_auto",
        "sqlite_scan",
        "postgres_scan",
        "mysql_scan",
        "getenv",
        "duckdb_secrets",
        "duckdb_settings",
        "duckdb_extensions",
        "which_secret",
    }
)
_FILE_NODE_NAMES = ("ReadCSV", "ReadParquet", "ReadJSON")
_FILE_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _FILE_NODE_NAMES if hasattr(exp, name)
)
_ALLOWED_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


def _is_file_function(name: str) -> bool:
    name = name.lower()
    return name in _FILE_FUNCTIONS or name.startswith(_FILE_FUNCTION_PREFIXES)


def _function_name(node: exp.Func) -> str:
    # Anonymous functions carry their name in `this`; known ones have a class name
    # (`.name` would be the first argument's text, e.g. a string literal).
    if isinstance(node, exp.Anonymous):
        return str(node.this)
    return node.sql_name()


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _looks_like_path(name: str) -> bool:
    return any(ch in name for ch in "./\\*:") or name.lower().endswith(("csv", "parquet", "json"))


def _check_table(table: exp.Table, allowed: frozenset[str], ctes: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        # FROM read_csv(...), FROM glob(...), FROM range(...): a table function.
        inner = table.this
        name = _function_name(inner) if isinstance(inner, exp.Func) else type(inner).__name__
        raise UnsafeQuery(f"table functions are not allowed ({name})")
    name = table.name
    if table.args.get("db") or table.args.get("catalog"):
        raise UnsafeQuery(f"qualified table names are not allowed ({table.sql('duckdb')})")
    lowered = name.lower()
    if lowered in ctes:
        return
    if lowered not in allowed:
        if _looks_like_path(name):
            raise UnsafeQuery(f"file references are not allowed ({name!r})")
        raise UnsafeQuery(
            f"table {name!r} is not one a question may read (allowed: {', '.join(sorted(allowed))})"
        )


def load_dialect(dialect: str = "duckdb") -> None:
    """Load sqlglot's `dialect` now (its first parse otherwise pays for it): a caller with
    other work to wait for, such as a database opening, loads it meanwhile."""
    Dialect.get_or_raise(dialect)


def validate(
    sql: str, allowed_tables: Iterable[str] = QUESTION_TABLES, dialect: str = "duckdb"
) -> None:
    """Raise UnsafeQuery unless `sql` is exactly one read-only SELECT over allowed tables.
    `dialect` is the SQL's own (a warehouse engine checks the text it will run)."""
    allowed = frozenset(t.lower() for t in allowed_tables)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise UnsafeQuery(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"expected exactly one statement, found {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, _ALLOWED_ROOTS):
        raise UnsafeQuery(f"only SELECT is allowed, not {type(tree).__name__.upper()}")
    ctes = _cte_names(tree)
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeQuery(f"{type(node).__name__.upper()} is not allowed in a question query")
        if _FILE_NODES and isinstance(node, _FILE_NODES):
            raise UnsafeQuery(f"file readers are not allowed ({type(node).__name__})")
        if isinstance(node, exp.Func) and _is_file_function(_function_name(node)):
            raise UnsafeQuery(f"function {_function_name(node)!r} is not allowed")
        if isinstance(node, exp.Table):
            _check_table(node, allowed, ctes)
