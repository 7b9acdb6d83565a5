"""The SQL a question runs, rendered for the engine that runs it.

Templates and shapes are written once, in DuckDB SQL. sqlglot transpiles them, but a
transpile that merely parses is not one that runs: on the engines measured here
sqlglot passes DuckDB-only functions through unmapped (list_position, a quarter() that
PostgreSQL lacks), renders list_has_any(string_split(...)) into SQL PostgreSQL and
Spark both refuse, turns `100.0 * a / b` into a DECIMAL on Spark (six decimal places:
a share off by up to 5e-7), returns EXTRACT(YEAR ...) as NUMERIC on PostgreSQL and
leaves every PostgreSQL parameter untyped. So before transpiling, each node DuckDB
writes one way and an engine another is rewritten by a small registry of per-dialect
rules (below), and PostgreSQL placeholders get the type of the value bound to them.

The output is checked again, in the target dialect, by sql.validate before it runs.
Rendering is pure and cached by (SQL text, dialect, parameter types).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

# sqlglot's name for each engine's dialect.
DUCKDB = "duckdb"
POSTGRES = "postgres"
SPARK = "spark"
DIALECTS = (DUCKDB, POSTGRES, SPARK)


class DialectError(ValueError):
    """A query cannot be rendered for a dialect (a parameter with no type, say)."""


Rule = Callable[[exp.Expression], exp.Expression | None]


def _anonymous(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[a.copy() for a in args])


def _double(node: exp.Expression) -> exp.Expression | None:
    # DuckDB divides DECIMALs into a DOUBLE; Spark keeps a DECIMAL of scale 6 and
    # PostgreSQL a NUMERIC. A decimal literal as DOUBLE makes the whole expression
    # DOUBLE on every engine, computed in the same order: the same float.
    if isinstance(node, exp.Literal) and not node.is_string and "." in node.name:
        if isinstance(node.parent, exp.Cast):
            return None
        return exp.cast(node.copy(), exp.DataType.build("DOUBLE"))
    return None


def _pg_contains(node: exp.Expression) -> exp.Expression | None:
    # x = ANY(array): sqlglot's default wraps it in a CASE for NULL x; a NULL x is
    # never true either way, and the plain form is what PostgreSQL indexes.
    if isinstance(node, exp.ArrayContains):
        array = exp.Paren(this=node.this.copy())
        return exp.EQ(this=node.expression.copy(), expression=exp.Any(this=array))
    return None


def _array_position(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "list_position":
        return _anonymous("array_position", *node.expressions)
    return None


def _split_words(node: exp.Split, dialect: str) -> exp.Expression:
    if dialect == POSTGRES:
        return _anonymous("string_to_array", node.this, node.expression)
    # Spark's split takes a regular expression; a single space is one as it stands.
    return _anonymous("split", node.this, node.expression)


def _overlaps(dialect: str) -> Rule:
    def rule(node: exp.Expression) -> exp.Expression | None:
        if not isinstance(node, exp.ArrayOverlaps):
            return None
        left, right = node.this, node.expression
        if isinstance(left, exp.Split):
            left = _split_words(left, dialect)
        if dialect == SPARK:
            return _anonymous("arrays_overlap", left, right)
        return exp.ArrayOverlaps(this=left.copy(), expression=right.copy())

    return rule


_DATE_PARTS: dict[type[exp.Expression], str] = {
    exp.Year: "YEAR",
    exp.Quarter: "QUARTER",
    exp.Month: "MONTH",
}


def _pg_date_part(node: exp.Expression) -> exp.Expression | None:
    # EXTRACT is NUMERIC on PostgreSQL 14+ (a year would come back as Decimal), and
    # PostgreSQL has no quarter(): an integer EXTRACT for each.
    for kind, part in _DATE_PARTS.items():
        if type(node) is kind:
            extract = exp.Extract(this=exp.var(part), expression=node.this.copy())
            return exp.cast(extract, exp.DataType.build("INT"))
    return None


def _pg_percent(node: exp.Expression) -> exp.Expression | None:
    # psycopg reads "%" as the start of a placeholder, in literals too.
    if isinstance(node, exp.Literal) and node.is_string and "%" in node.name:
        return exp.Literal.string(node.name.replace("%", "%%"))
    return None


RULES: dict[str, tuple[Rule, ...]] = {
    DUCKDB: (),
    POSTGRES: (_double, _pg_contains, _array_position, _overlaps(POSTGRES), _pg_date_part),
    SPARK: (_double, _array_position, _overlaps(SPARK)),
}


@dataclass(frozen=True)
class Rendered:
    dialect: str
    sql: str


# PostgreSQL types of bound Python values: psycopg would otherwise send some untyped
# (an empty list, a None), which PostgreSQL cannot always infer.
_PG_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOLEAN"),
    (int, "BIGINT"),
    (float, "DOUBLE PRECISION"),
    (str, "TEXT"),
    (datetime, "TIMESTAMP"),
    (date, "DATE"),
)


def value_type(value: Any) -> str:
    """The SQL type of a bound value, for PostgreSQL's placeholders."""
    if isinstance(value, list | tuple):
        kinds = {value_type(v) for v in value}
        if len(kinds) > 1:
            raise DialectError(f"a list of mixed types: {sorted(kinds)}")
        return f"{kinds.pop() if kinds else 'TEXT'}[]"
    for kind, name in _PG_TYPES:
        if isinstance(value, kind):
            return name
    raise DialectError(f"no SQL type for a bound {type(value).__name__}")


def param_types(params: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value_type(value)) for name, value in params)


def _typed_placeholders(tree: exp.Expression, types: dict[str, str]) -> exp.Expression:
    def cast(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and not isinstance(node.parent, exp.Cast):
            kind = types.get(node.name)
            if kind is None:
                raise DialectError(f"no value bound to ${node.name}")
            return exp.cast(node.copy(), exp.DataType.build(kind, dialect=POSTGRES))
        return node

    return tree.transform(cast, copy=False)


def _apply(tree: exp.Expression, rules: tuple[Rule, ...]) -> exp.Expression:
    def visit(node: exp.Expression) -> exp.Expression:
        for rule in rules:
            replaced = rule(node)
            if replaced is not None:
                return replaced
        return node

    return tree.transform(visit, copy=False)


@lru_cache(maxsize=1024)
def render_sql(sql: str, dialect: str, types: tuple[tuple[str, str], ...] = ()) -> str:
    """`sql` (DuckDB, with $named placeholders) as `dialect` runs it: the per-dialect
    rules, then sqlglot's transpile, without comments (a "%" in one would be read as a
    placeholder by psycopg; the templates keep theirs). PostgreSQL placeholders are cast
    to `types` (name -> SQL type), so every parameter is typed on the server."""
    if dialect not in RULES:
        raise DialectError(f"unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    if dialect == DUCKDB:
        return sql
    statements = sqlglot.parse(sql, read=DUCKDB)
    return ";\n".join(
        render_tree(parsed, dialect, types)
        for parsed in statements
        if isinstance(parsed, exp.Expression)
    )


def render_tree(tree: exp.Expression, dialect: str, types: tuple[tuple[str, str], ...] = ()) -> str:
    """One parsed DuckDB statement as `dialect` runs it (the build's DDL: see render_sql)."""
    if dialect == DUCKDB:
        return tree.sql(dialect=DUCKDB, pretty=True)
    tree = _apply(tree.copy(), RULES[dialect])
    if dialect == POSTGRES:
        tree = _apply(tree, (_pg_percent,))
        if types:
            tree = _typed_placeholders(tree, dict(types))
    return tree.sql(dialect=dialect, pretty=True, comments=False)
