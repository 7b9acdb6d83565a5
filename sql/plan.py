"""Template queries for the questions that are not composed: a code's standing (lookup),
the data's coverage, and the codes that set OT and PT apart (knowledge answers).

Each is a reviewed .sql file under sql/ with $named parameters; `bind` checks that a
query binds exactly its parameters. Data questions are compiled by sql/compile.py.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from toprank.data.catalog import in_rehab_range
from toprank.data.values import Period
from toprank.sql.query import Query
from toprank.sql.validate import validate

SQL_DIR = Path(__file__).resolve().parent

# ot_vs_pt: codes below this share of the lead cohort are left out of the list.
OVER_REPRESENTED_MIN_SHARE_PCT = 0.1
OVER_REPRESENTED_N = 8
# ...and codes billed less than this many times as often (by share) as in the other.
OVER_REPRESENTED_MIN_RATIO = 1.5


class PlanError(ValueError):
    """A query cannot be bound (a programming error upstream, not user input)."""


def template_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in SQL_DIR.glob("*.sql")))


@cache
def load_template(name: str) -> tuple[str, frozenset[str]]:
    """The template's SQL and its $parameter names, validated once per process."""
    if name not in template_names():
        raise PlanError(f"no SQL template named {name!r}")
    sql = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").strip()
    validate(sql)
    tree = sqlglot.parse_one(sql, read="duckdb")
    names = frozenset(p.name for p in tree.find_all(exp.Placeholder))
    return sql, names


def bind(template: str, **values: Any) -> Query:
    """A Query for `template` with exactly its parameters bound (missing or extra is a bug)."""
    sql, names = load_template(template)
    missing = names - values.keys()
    extra = values.keys() - names
    if missing or extra:
        raise PlanError(
            f"template {template!r}: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return Query(template=template, sql=sql, params=tuple(sorted(values.items())))


def natural_cohorts(code: str) -> tuple[str, ...]:
    """Cohorts where a code's rank is worth showing next to its description."""
    if in_rehab_range(code):
        return ("rehab", "ot", "pt")
    return ("all",)


def _span(period: Period) -> dict[str, Any]:
    # Rollups hold one row per month keyed by its first day.
    return {"start": period.start.replace(day=1), "end": period.end}


def lookup_query(code: str, period: Period) -> Query:
    return bind("code_lookup", code=code, cohorts=list(natural_cohorts(code)), **_span(period))


def coverage_query() -> Query:
    return bind("coverage")


def knowledge_query(topic: str | None, period: Period) -> Query:
    lead, other = ("pt", "ot") if topic == "pt_focus" else ("ot", "pt")
    return bind(
        "over_represented",
        lead=lead,
        other=other,
        n=OVER_REPRESENTED_N,
        min_share_pct=OVER_REPRESENTED_MIN_SHARE_PCT,
        min_ratio=OVER_REPRESENTED_MIN_RATIO,
        **_span(period),
    )
