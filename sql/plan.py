"""Intent + resolved period -> Query: pick a template file and bind its parameters.

Pure apart from reading the template files under sql/ once (they are part of the
package, like code). The planner never puts user text into SQL: the only choice it
makes is WHICH template runs; every value reaches DuckDB as a bound $parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from data.catalog import in_rehab_range
from intents.model import DEFAULT_TOP_N, MAX_TOP_N, Intent, Period
from sql.query import Query
from sql.validate import validate

SQL_DIR = Path(__file__).resolve().parent

# Used when a question names no cohort: the bot is about the rehab code range.
DEFAULT_COHORT = "rehab"
# code_share shows the asked code's row plus this many top rows for context.
CODE_SHARE_CONTEXT_N = 5
# ot_vs_pt: codes below this share of the lead cohort are left out of the list.
OVER_REPRESENTED_MIN_SHARE_PCT = 0.1
OVER_REPRESENTED_N = 8
# ...and codes billed less than this many times as often (by share) as in the other.
OVER_REPRESENTED_MIN_RATIO = 1.5


class PlanError(ValueError):
    """The intent cannot be planned (a programming error upstream, not user input)."""


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


def clamp_n(n: int | None, default: int = DEFAULT_TOP_N) -> int:
    """n defaults to DEFAULT_TOP_N and stays within 1..MAX_TOP_N."""
    if n is None:
        return default
    return max(1, min(int(n), MAX_TOP_N))


def month_start(day: date) -> date:
    # Rollups hold one row per month keyed by its first day, so a period starting
    # mid-month still takes that whole month.
    return day.replace(day=1)


def natural_cohorts(code: str) -> tuple[str, ...]:
    """Cohorts where a code's rank is worth showing next to its description."""
    if in_rehab_range(code):
        return ("rehab", "ot", "pt")
    return ("all",)


def _period_params(period: Period) -> dict[str, Any]:
    return {"start": month_start(period.start), "end": period.end}


def _filters(intent: Intent) -> dict[str, Any]:
    return {"state": intent.state, "payer": intent.payer}


def _filtered(intent: Intent) -> bool:
    return intent.state is not None or intent.payer is not None


def plan(
    intent: Intent,
    period: Period | None,
    *,
    periods: Sequence[Period] = (),
) -> Query | None:
    """The one Query that answers `intent` over the resolved `period`; None when no
    SQL is needed (help, code_range, unknown, errors). `periods` are the resolved
    periods of a compare-by-period question."""
    if intent.error is not None:
        return None
    kind = intent.kind
    cohort = intent.cohort or DEFAULT_COHORT
    if kind == "coverage":
        return bind("coverage")
    if kind in ("help", "unknown", "code_range"):
        return None
    if kind == "code_lookup":
        if not intent.code or period is None:
            return None
        return bind(
            "code_lookup",
            code=intent.code,
            cohorts=list(natural_cohorts(intent.code)),
            **_period_params(period),
        )
    if kind == "compare" and intent.compare_by == "period":
        if not periods:
            raise PlanError("compare by period needs resolved periods")
        return bind(
            "compare_periods",
            cohort=cohort,
            n=clamp_n(intent.n),
            period_labels=[p.label for p in periods],
            period_starts=[month_start(p.start) for p in periods],
            period_ends=[p.end for p in periods],
            **_filters(intent),
        )
    if period is None:
        raise PlanError(f"{kind} needs a resolved period")
    span = _period_params(period)
    if kind == "top_codes":
        if intent.codes:  # ranked among a set of codes (a sub-group or a code family)
            return bind(
                "top_codes_among",
                cohort=cohort,
                n=clamp_n(intent.n),
                codes=list(intent.codes),
                **span,
                **_filters(intent),
            )
        if _filtered(intent):
            return bind(
                "top_codes_filtered", cohort=cohort, n=clamp_n(intent.n), **span, **_filters(intent)
            )
        return bind("top_codes", cohort=cohort, n=clamp_n(intent.n), **span)
    if kind == "code_share":
        if not intent.code:
            raise PlanError("code_share needs a code")
        n = clamp_n(intent.n, CODE_SHARE_CONTEXT_N)
        if _filtered(intent):
            return bind(
                "code_share_filtered",
                cohort=cohort,
                code=intent.code,
                n=n,
                **span,
                **_filters(intent),
            )
        return bind("code_share", cohort=cohort, code=intent.code, n=n, **span)
    if kind == "trend":
        if _filtered(intent):
            return bind(
                "trend_filtered", cohort=cohort, code=intent.code, **span, **_filters(intent)
            )
        return bind("trend", cohort=cohort, code=intent.code, **span)
    if kind == "compare":
        n = clamp_n(intent.n)
        if intent.compare_by == "state":
            return bind(
                "compare_states",
                cohort=cohort,
                states=list(intent.states),
                payer=intent.payer,
                n=n,
                **span,
            )
        if intent.compare_by == "payer":
            return bind(
                "compare_payers",
                cohort=cohort,
                payers=list(intent.payers),
                state=intent.state,
                n=n,
                **span,
            )
        cohorts = list(intent.cohorts) or ["ot", "pt"]
        if _filtered(intent):
            return bind(
                "compare_cohorts_filtered", cohorts=cohorts, n=n, **span, **_filters(intent)
            )
        return bind("compare_cohorts", cohorts=cohorts, n=n, **span)
    if kind == "ot_vs_pt":
        lead, other = ("pt", "ot") if intent.topic == "pt_focus" else ("ot", "pt")
        return bind(
            "over_represented",
            lead=lead,
            other=other,
            n=clamp_n(intent.n, OVER_REPRESENTED_N),
            min_share_pct=OVER_REPRESENTED_MIN_SHARE_PCT,
            min_ratio=OVER_REPRESENTED_MIN_RATIO,
            **span,
        )
    raise PlanError(f"no plan for intent {kind!r}")
