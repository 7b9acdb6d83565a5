"""Resolved spec -> Plan: one SQL statement over the rollups, with bound parameters.

Five reviewed shapes (sql/shapes/*.sql) cover every data question:

    ranked     codes ranked by the measure, per series   ("top OT codes", a code's share)
    total      the measure of the codes asked about      ("how many OT evaluations")
    breakdown  the measure by state, payer, specialty or place of service
    time       the measure by year, quarter or month     (trends)
    movers     the change in share between two periods  ("fastest growing codes")

A shape has slots ({scope}, {picked}, ...) that the compiler fills with fragments it
writes itself from a closed set: column names from the rollup registry and predicates
with `$named` parameters. No user text ever reaches the SQL; values are bound. The
text depends only on the question's structure (which filters, how many periods...),
never on its values, so each distinct text is checked by sqlglot once per process.

Series put things side by side (compared cohorts, periods, states, payers or codes, or
every value of a dimension: "the top code in each state"). Periods compared, and
cohorts that a table holds only as predicates, become branches of a UNION ALL, one
per series, so overlapping periods each count in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

from toprank.data.catalog import NO_PLACE_STATES, REHAB_FIRST, REHAB_LAST
from toprank.intents.model import Period
from toprank.intents.resolve import MAX_GROUPS, MOVERS_MIN_VOLUME, Resolved
from toprank.intents.spec import TIME_DIMENSIONS, CodeSet, Spec
from toprank.sql.query import Query
from toprank.sql.rollups import MEASURE_COLUMNS, ROLLUP_CLAIMS, choose

SHAPES_DIR = Path(__file__).resolve().parent / "shapes"
Family = Literal["ranked", "total", "breakdown", "time", "movers"]
PROVIDER_COHORTS = ("ot", "pt", "slp", "pmr", "chiro", "other")

# Columns of a dimension in the rollups.
_COLUMN = {
    "code": "hcpcs_code",
    "cohort": "cohort",
    "state": "state",
    "payer": "payer",
    "place_of_service": "place_of_service",
}
# A time dimension as one integer per period, for a series key.
_TIME_KEY = {
    "year": "year(month)",
    "quarter": "year(month) * 10 + quarter(month)",
    "month": "year(month) * 100 + month(month)",
}
_PART = {"year": "0", "quarter": "quarter(month)", "month": "month(month)"}


class Unsupported(ValueError):
    """A question the rollups cannot answer exactly (said to the user as it is)."""


@dataclass(frozen=True)
class Plan:
    family: Family
    query: Query
    table: str
    # what `series` holds in the rows: None (one series), a dimension, "period" (an
    # index into the resolved periods) or "cohort_index" (an index into the cohorts)
    series_by: str | None
    series_keys: tuple[Any, ...] = ()  # asked order of the series, where known
    group_by: str | None = None


@dataclass(frozen=True)
class _Shape:
    """Everything that decides the SQL text (not the values): hashable, cached."""

    family: Family
    table: str
    claims_table: str | None  # rollup_claims for claims totals beside a code table
    measure: str  # the rollup column summed
    base: str | None  # an amount's carrying procedures (column), summed beside it
    series: str | None  # None, a dimension, "period", "cohort", "code"
    branches: str | None  # None, "period" or "cohort": one SELECT per series value
    n_branches: int
    group: str | None
    cohort_pred: str  # "eq", "list", "none", "rehab", "providers", "providers_rehab"
    period_pred: str  # "single", "combined:<k>", "branch"
    filters: tuple[tuple[str, str], ...]  # (param, column) in or not_in, modifiers too
    subset: tuple[tuple[str, str], ...]  # filters that pick the part of a share, not the scope
    code_include: tuple[str, ...]  # "list" and/or "range<k>"
    code_exclude: tuple[str, ...]
    codes_in_scope: bool  # code predicates in the scope (breakdown) or after ranking
    limited: bool  # WHERE rank <= $n
    keep: bool
    direction: str


def _code_preds(include: tuple[str, ...], exclude: tuple[str, ...], column: str) -> str:
    parts = []
    inc = []
    for item in include:
        if item == "list":
            inc.append(f"list_contains($codes, {column})")
        else:
            inc.append(f"{column} BETWEEN ${item}_first AND ${item}_last")
    if inc:
        parts.append("(" + " OR ".join(inc) + ")")
    for item in exclude:
        if item == "list":
            parts.append(f"NOT list_contains($x_codes, {column})")
        else:
            parts.append(f"NOT ({column} BETWEEN $x{item}_first AND $x{item}_last)")
    return " AND ".join(parts) if parts else "TRUE"


def _filter_preds(filters: tuple[tuple[str, str], ...]) -> list[str]:
    out = []
    for param, column in filters:
        negate = param.startswith("x_")
        if column == "modifiers":
            # modifiers are kept as the line's set, "GP 59": a line matches when any of
            # the asked modifiers is in its set
            pred = f"list_has_any(string_split(modifiers, ' '), ${param})"
        else:
            pred = f"list_contains(${param}, {column})"
        out.append(f"NOT {pred}" if negate else pred)
    return out


def _cohort_preds(kind: str, branch_cohort: str | None = None) -> list[str]:
    if kind == "eq":
        return ["cohort = $cohort"]
    if kind == "list":
        return ["list_contains($cohorts, cohort)"]
    if kind == "rehab":
        return ["hcpcs_code BETWEEN $rehab_first AND $rehab_last"]
    if kind == "providers":
        return ["list_contains($providers, cohort)"]
    if kind == "providers_rehab":
        return [
            "list_contains($providers, cohort)",
            "hcpcs_code BETWEEN $rehab_first AND $rehab_last",
        ]
    return []


def _period_preds(kind: str, branch: int | None = None) -> list[str]:
    if kind == "single":
        return ["month BETWEEN $start AND $end"]
    if kind.startswith("combined:"):
        k = int(kind.split(":")[1])
        return [
            "(" + " OR ".join(f"month BETWEEN $p{i}_start AND $p{i}_end" for i in range(k)) + ")"
        ]
    assert branch is not None
    return [f"month BETWEEN $p{branch}_start AND $p{branch}_end"]


def _select(
    table: str,
    measure: str,
    series_expr: str,
    columns: list[tuple[str, str]],  # (expression, alias)
    preds: list[str],
    value: str,
    base: str | None = None,
) -> str:
    cols = [
        f"{series_expr} AS series",
        *(f"{e} AS {a}" for e, a in columns),
        f"SUM({measure}) AS {value}",
        *([f"SUM({base}) AS base"] if base else []),
    ]
    keys = ", ".join(str(i + 1) for i in range(1 + len(columns)))
    where = " AND ".join(preds) if preds else "TRUE"
    return f"SELECT {', '.join(cols)} FROM {table} WHERE {where} GROUP BY {keys}"


def _scope_sql(
    s: _Shape,
    *,
    table: str,
    measure: str,
    columns: list[tuple[str, str]],
    with_codes: bool,
    value: str = "value",
) -> str:
    """The scope's rows: one SELECT, or one per series branch joined by UNION ALL. An
    amount keeps the rows that carry it (a source without it holds NULL there), with the
    procedures that carry it as `base`."""
    base = _filter_preds(s.filters)
    if with_codes:
        code_preds = _code_preds(s.code_include, s.code_exclude, "hcpcs_code")
        if code_preds != "TRUE":
            base.append(code_preds)
    carried = s.base if measure == s.measure else None
    if carried:
        base.append(f"{measure} IS NOT NULL")
    if s.branches is None:
        preds = [*_cohort_preds(s.cohort_pred), *_period_preds(s.period_pred), *base]
        return _select(table, measure, _series_expr(s), columns, preds, value, carried)
    selects = []
    for k in range(s.n_branches):
        if s.branches == "period":
            preds = [*_cohort_preds(s.cohort_pred), *_period_preds("branch", k), *base]
        else:  # one branch per cohort: $c{k} is a provider list, or rehab, or all
            preds = [*_branch_cohort(k), *_period_preds(s.period_pred), *base]
        selects.append(_select(table, measure, str(k), columns, preds, value, carried))
    return "\n    UNION ALL\n    ".join(selects)


def _branch_cohort(k: int) -> list[str]:
    return [
        f"(list_contains($c{k}_cohorts, cohort) AND hcpcs_code BETWEEN $c{k}_first AND $c{k}_last)"
    ]


def _series_expr(s: _Shape) -> str:
    if s.series in (None, "code"):
        return "0"
    if s.series in TIME_DIMENSIONS:
        return _TIME_KEY[s.series]
    return _COLUMN[s.series]


@cache
def _template(family: str) -> str:
    return (SHAPES_DIR / f"{family}.sql").read_text(encoding="utf-8").strip()


def _totals_cte(s: _Shape, columns: list[tuple[str, str]]) -> str:
    """Claims of the whole scope, with no code split: the denominator beside per-code
    claims (which do not add up, a claim holding several codes)."""
    assert s.claims_table is not None
    scope = _scope_sql(
        s,
        table=s.claims_table,
        measure="claims",
        columns=columns,
        with_codes=False,
        value="scope_total",
    )
    return f",\ntotals AS (\n    {scope}\n)"


def _base_slots(s: _Shape, partition: str, picked: str) -> dict[str, str]:
    """The columns an amount adds to a shape (none for a count): `base`, the procedures
    that carry the amount, and base_total, the scope's."""
    if not s.base:
        return {"base_window": "", "base_kept": "", "base_sum": ""}
    return {
        "base_window": f", base, SUM(base) OVER (PARTITION BY {partition}) AS base_total",
        "base_kept": ", base, base_total",
        "base_sum": f", SUM(CASE WHEN {picked} THEN base ELSE 0 END) AS base, "
        + ("MAX(base_total) AS base_total" if s.family == "time" else "SUM(base) AS base_total"),
    }


@cache
def render(s: _Shape) -> str:
    """The SQL text of a shape (cached: the text depends on the structure only)."""
    measure = s.measure
    code_measure = "claims" if measure == "claims" else measure
    picked = _code_preds(s.code_include, s.code_exclude, "code")
    totals_cte = ""
    totals_join = ""
    if s.family == "ranked":
        scope = _scope_sql(
            s,
            table=s.table,
            measure=code_measure,
            columns=[("hcpcs_code", "code")],
            with_codes=False,
        )
        total = "SUM(value) OVER (PARTITION BY series)"
        if s.claims_table:
            totals_cte = _totals_cte(s, [])
            totals_join = "JOIN totals USING (series)"
            total = "totals.scope_total"
        keep = "list_contains($keep, code)" if s.keep else "FALSE"
        return _template("ranked").format(
            scope=scope,
            totals_cte=totals_cte,
            total=total,
            totals_join=totals_join,
            picked=picked,
            keep=keep,
            **_base_slots(s, "series", picked),
        )
    if s.family == "total" and s.subset:
        # A share of part of the scope ("PT procedures that are medicare"): the part's
        # filters pick the numerator; everything else, codes included, is the scope.
        picked = " AND ".join(_filter_preds(s.subset))
        part_columns = list(dict.fromkeys(column for _, column in s.subset))
        scope = _scope_sql(
            s,
            table=s.table,
            measure=measure,
            columns=[*((c, c) for c in part_columns), ("'*'", "code")],
            with_codes=True,
        )
        return _template("total").format(
            scope=scope,
            totals_cte="",
            picked=picked,
            total="SUM(value)",
            totals_join="",
            **_base_slots(s, "series", picked),
        )
    if s.family == "total":
        if s.table == ROLLUP_CLAIMS.table:
            scope = _scope_sql(
                s, table=s.table, measure="claims", columns=[("'*'", "code")], with_codes=False
            )
            picked = "TRUE"
        else:
            scope = _scope_sql(
                s,
                table=s.table,
                measure=code_measure,
                columns=[("hcpcs_code", "code")],
                with_codes=False,
            )
        total = "SUM(value)"
        if s.claims_table:
            totals_cte = _totals_cte(s, [])
            totals_join = "JOIN totals USING (series)"
            total = "MAX(totals.scope_total)"
        return _template("total").format(
            scope=scope,
            totals_cte=totals_cte,
            picked=picked,
            total=total,
            totals_join=totals_join,
            **_base_slots(s, "series", picked),
        )
    if s.family == "breakdown":
        assert s.group is not None
        scope = _scope_sql(
            s,
            table=s.table,
            measure=code_measure,
            columns=[(_COLUMN[s.group], "grp")],
            with_codes=True,
        )
        sql = _template("breakdown").format(scope=scope, **_base_slots(s, "series", picked))
        return sql if s.limited else sql.replace("WHERE rank <= $n\n", "")
    if s.family == "time":
        assert s.group is not None
        columns = [("year(month)", "year"), (_PART[s.group], "part")]
        if s.table == ROLLUP_CLAIMS.table:
            columns.append(("'*'", "code"))
            picked = "TRUE"
        else:
            columns.append(("hcpcs_code", "code"))
        scope = _scope_sql(
            s, table=s.table, measure=code_measure, columns=columns, with_codes=False
        )
        total = "SUM(value) OVER (PARTITION BY series, year, part)"
        if s.claims_table:
            totals_cte = _totals_cte(s, [("year(month)", "year"), (_PART[s.group], "part")])
            totals_join = "JOIN totals USING (series, year, part)"
            total = "totals.scope_total"
        series_out, series_filter = "series", ""
        base_slots = _base_slots(s, "series, year, part", picked)
        if s.series == "code":
            series_out, series_filter = "code", f"WHERE {picked}"
            picked = "TRUE"
            base_slots = _base_slots(s, "series, year, part", picked)
        return _template("time").format(
            **base_slots,
            scope=scope,
            totals_cte=totals_cte,
            total=total,
            totals_join=totals_join,
            code_partition="series, year, part",
            series_out=series_out,
            series_filter=series_filter,
            picked=picked,
        )
    # movers
    scope = _scope_sql(
        s, table=s.table, measure=code_measure, columns=[("hcpcs_code", "code")], with_codes=False
    )
    direction = {
        "up": "up_rank <= $n",
        "down": "down_rank <= $n",
        "both": "up_rank <= $n OR down_rank <= $n",
    }[s.direction]
    return _template("movers").format(scope=scope, picked=picked, direction=direction)


# --------------------------------------------------------------------------- planning


def _family(spec: Spec) -> Family:
    if spec.ask == "movers":
        return "movers"
    if spec.group_by == "code":
        return "ranked"
    if spec.group_by is None:
        return "total"
    if spec.group_by in TIME_DIMENSIONS:
        return "time"
    return "breakdown"


def _series(spec: Spec, family: Family) -> str | None:
    if family == "movers":
        return "period"
    if spec.per_group is not None:
        return spec.per_group
    by = spec.compare_by
    if by is not None:
        return by
    if spec.code_mode == "compared" and family == "time":
        return "code"
    return None


def _code_params(sets: tuple[CodeSet, ...], prefix: str, params: dict[str, Any]) -> tuple[str, ...]:
    """Predicate items for code sets ("list", "r0", ...) and their bound values."""
    items: list[str] = []
    listed = [c for s in sets if not s.is_range for c in s.codes]
    if listed:
        items.append("list")
        params["x_codes" if prefix == "x" else "codes"] = list(dict.fromkeys(listed))
    k = 0
    for s in sets:
        if s.is_range:
            params[f"{prefix}r{k}_first"] = s.first
            params[f"{prefix}r{k}_last"] = s.last
            items.append(f"r{k}")
            k += 1
    return tuple(items)


@dataclass
class _Build:
    """A plan being put together, one step at a time (see compile_plan)."""

    r: Resolved
    family: Family
    series: str | None
    params: dict[str, Any]
    needed: set[str]
    table: str = ""
    derived: bool = True
    claims_table: str | None = None
    cohort_pred: str = "none"
    branches: str | None = None
    n_branches: int = 0
    series_keys: tuple[Any, ...] = ()
    period_pred: str = "single"
    filters: tuple[tuple[str, str], ...] = ()
    subset: tuple[tuple[str, str], ...] = ()
    code_include: tuple[str, ...] = ()
    code_exclude: tuple[str, ...] = ()
    limited: bool = True
    keep: bool = False

    @property
    def spec(self) -> Spec:
        return self.r.spec

    @property
    def picks_codes(self) -> bool:
        return bool(self.spec.codes or self.spec.exclude_codes)

    @property
    def asked_only(self) -> bool:
        """Codes asked about in a share or a comparison are kept beside the ranking (their
        rank is the cohort's); codes named for a ranking ("top modality codes") pick."""
        spec = self.spec
        return self.family == "ranked" and (spec.ask == "share" or spec.code_mode == "compared")


def step_amounts(b: _Build) -> None:
    """Money and beneficiaries: summed where they are carried; movers compare shares of
    procedures only."""
    if MEASURE_COLUMNS[b.spec.measure].carried_by and b.family == "movers":
        raise Unsupported(
            "Movers compare shares of procedures; ask for the top codes by the amount in "
            "each period instead."
        )


def step_exact_claims(b: _Build) -> None:
    """Visits (distinct claims) only where they are exact: a claim bills several codes,
    so claims are never added up over codes, and modifiers are on lines."""
    spec, family = b.spec, b.family
    if spec.measure != "claims":
        return
    if family == "movers":
        raise Unsupported(
            "Movers compare shares of procedures; visits are not split by code that way."
        )
    if spec.modifiers:
        # Keeping each claim's set of modifiers would double the cost of the rollups at
        # ingest (measured: +2.4 s per 10M lines) for a question rarely asked.
        raise Unsupported(
            "Visits cannot be counted by modifier: a modifier is on a line, and a visit "
            "holds several lines with different ones. Procedures with the modifier can be."
        )
    codes = [c for s in spec.codes for c in (s.codes or ("range",))]
    several = len(codes) > 1 or any(s.is_range for s in spec.codes)
    if (family in ("total", "time", "breakdown") and several) or (
        spec.exclude_codes and family != "ranked"
    ):
        raise Unsupported(
            "Visits cannot be added up over several codes: one visit often bills several of "
            "them, so the sum would count it more than once. Ask about one code at a time."
        )
    if family == "breakdown" and spec.codes and spec.group_by == "place_of_service":
        raise Unsupported("Visits with a given code are not kept by place of service.")


def step_tables(b: _Build) -> None:
    """The smallest rollup with every column the question needs; beside per-code claims,
    the claims of the whole scope."""
    spec = b.spec
    for sel, column in (
        (spec.states, "state"),
        (spec.payers, "payer"),
        (spec.places, "place_of_service"),
        (spec.settings, "facility_setting"),
        (spec.modifiers, "modifiers"),
    ):
        if sel:
            b.needed.add(column)
    for dim in (spec.group_by, b.series):
        if dim in _COLUMN and dim not in ("cohort", "code"):
            b.needed.add(_COLUMN[dim])
    claims = spec.measure == "claims"
    if b.family in ("ranked", "movers"):
        code_level = True
    elif b.family == "breakdown" or (claims and b.family in ("total", "time")):
        code_level = b.picks_codes and not (claims and not spec.codes)
    else:
        code_level = b.picks_codes
    rollup = choose(
        b.needed | ({"hcpcs_code"} if code_level else set()), spec.measure, codes=code_level
    )
    if rollup is None:
        raise Unsupported(f"No table holds {spec.measure} with {', '.join(sorted(b.needed))}.")
    b.table, b.derived = rollup.table, rollup.derived_cohorts
    if claims and code_level and b.family in ("ranked", "total", "time"):
        scope = choose(b.needed, "claims", codes=False)
        if scope is None:
            raise Unsupported("Visits are not kept with these filters.")
        b.claims_table = scope.table


def step_cohorts(b: _Build) -> None:
    """How the cohorts become predicates: one equality on a table that holds 'rehab'
    and 'all', a list of provider cohorts, a code range, or one branch per cohort."""
    spec, cohorts, params = b.spec, b.r.cohorts, b.params
    providers = spec.group_by == "cohort" or b.series == "cohort" and spec.per_group
    if spec.exclude_cohorts and b.series != "cohort":
        # "rehab codes not billed by PTs": the scope's provider cohorts, less those left out
        base = cohorts[0] if len(cohorts) == 1 else None
        whole = PROVIDER_COHORTS if base in ("all", "rehab") else cohorts
        kept = [k for k in whole if k not in spec.exclude_cohorts]
        b.cohort_pred, params["providers"] = "providers", kept
        if base == "rehab":
            b.cohort_pred = "providers_rehab"
            params.update(rehab_first=REHAB_FIRST, rehab_last=REHAB_LAST)
    elif "cohorts" in spec.subset:
        # "what portion of 97110 is billed by PTs": the whole is every provider
        b.cohort_pred, params["providers"] = "providers", list(PROVIDER_COHORTS)
    elif providers:
        base = cohorts[0] if len(cohorts) == 1 else None
        if base == "rehab":
            b.cohort_pred = "providers_rehab"
            params.update(
                providers=list(PROVIDER_COHORTS), rehab_first=REHAB_FIRST, rehab_last=REHAB_LAST
            )
        else:
            b.cohort_pred = "providers"
            params["providers"] = list(PROVIDER_COHORTS) if base == "all" else list(cohorts)
    elif b.derived or all(c in PROVIDER_COHORTS for c in cohorts):
        if len(cohorts) == 1 and b.derived and b.series != "cohort":
            b.cohort_pred, params["cohort"] = "eq", cohorts[0]
        else:
            b.cohort_pred, params["cohorts"] = "list", list(cohorts)
        if b.series == "cohort":
            b.series_keys = tuple(cohorts)
    elif b.series == "cohort":
        b.branches, b.n_branches = "cohort", len(cohorts)
        for k, c in enumerate(cohorts):
            params.update(_branch_cohort_params(k, c))
        b.series_keys, b.series = tuple(cohorts), "cohort_index"
    elif cohorts == ("all",):
        b.cohort_pred = "none"  # rollup_detail holds provider cohorts only
    elif cohorts == ("rehab",):
        b.cohort_pred = "rehab"
        params.update(rehab_first=REHAB_FIRST, rehab_last=REHAB_LAST)
    else:
        b.cohort_pred, params["cohorts"] = "list", list(cohorts)


def step_periods(b: _Build) -> None:
    """One period, several taken together, or one branch per period compared."""
    periods = b.r.periods
    if b.series == "period":
        b.branches, b.n_branches, b.period_pred = "period", len(periods), "branch"
        b.series_keys = tuple(range(len(periods)))
    else:
        b.period_pred = "single" if len(periods) == 1 else f"combined:{len(periods)}"
    if len(periods) == 1 and b.series != "period":
        b.params.update(_period_params(periods[0], ""))
    else:
        for k, p in enumerate(periods):
            b.params.update(_period_params(p, f"p{k}_"))


def step_filters(b: _Build) -> None:
    """Filters kept and left out; those naming the part of a share pick the numerator."""
    spec, params = b.spec, b.params
    filters: list[tuple[str, str]] = []
    subset: list[tuple[str, str]] = []
    for name, sel, column in (
        ("states", spec.states, "state"),
        ("payers", spec.payers, "payer"),
        ("places", spec.places, "place_of_service"),
        ("settings", spec.settings, "facility_setting"),
        ("modifiers", spec.modifiers, "modifiers"),
    ):
        target, prefix = (subset, "sub_") if name in spec.subset else (filters, "")
        if sel.include:
            target.append((prefix + name, column))
            params[prefix + name] = list(sel.include)
        if sel.exclude:
            target.append((f"x_{prefix}{name}", column))
            params[f"x_{prefix}{name}"] = list(sel.exclude)
        if b.series == column:
            b.series_keys = tuple(sel.include)
    if "state" in (spec.group_by, b.series) and not spec.states.include:
        # XX (unknown) and ZZ (foreign) count nationally but are no state's row
        name = "x_sub_states" if "states" in spec.subset else "x_states"
        if name not in params:
            target = subset if "states" in spec.subset else filters
            target.append((name, "state"))
        params[name] = [*params.get(name, []), *NO_PLACE_STATES]
    if "cohorts" in spec.subset:
        subset.append(("sub_cohorts", "cohort"))
        params["sub_cohorts"] = list(b.r.cohorts)
    b.filters, b.subset = tuple(filters), tuple(subset)


def step_codes(b: _Build) -> None:
    spec = b.spec
    b.code_include = () if b.asked_only else _code_params(spec.codes, "", b.params)
    b.code_exclude = _code_params(spec.exclude_codes, "x", b.params)
    if b.series == "code":
        b.series_keys = spec.all_codes


def step_limits(b: _Build) -> None:
    """Rows per series, and the codes asked about kept beyond them."""
    n, params = b.r.n, b.params
    if b.family == "ranked":
        b.keep = b.asked_only
        if b.keep:
            params["keep"] = list(b.spec.all_codes)
            if b.spec.code_mode == "compared":
                n = 0  # only the codes compared
        params["n"] = n if n is not None else MAX_GROUPS
        if b.spec.average and not b.keep:
            params["n"] = MAX_GROUPS  # ranked by the average: the answer cuts to n
    elif b.family == "breakdown":
        # ranked by an average, every group comes back and the answer ranks and cuts
        b.limited = n is not None and not b.spec.average
        if b.limited:
            params["n"] = n
    elif b.family == "movers":
        params.update(n=n, min_volume=MOVERS_MIN_VOLUME)


STEPS = (
    step_amounts,
    step_exact_claims,
    step_tables,
    step_cohorts,
    step_periods,
    step_filters,
    step_codes,
    step_limits,
)


def compile_plan(r: Resolved) -> Plan:
    """The Plan for a resolved data spec. Raises Unsupported for what the rollups cannot
    answer exactly (claims summed over several codes, say)."""
    spec = r.spec
    family: Family = "total" if spec.subset else _family(spec)
    b = _Build(r, family, _series(spec, family), {}, {"cohort", "month"})
    for step in STEPS:
        step(b)
    shape = _Shape(
        family=b.family,
        table=b.table,
        claims_table=b.claims_table,
        measure=MEASURE_COLUMNS[spec.measure].column,
        base=MEASURE_COLUMNS[spec.measure].carried_by,
        series=b.series if b.series not in ("period", "cohort_index") else None,
        branches=b.branches,
        n_branches=b.n_branches,
        group=spec.group_by,
        cohort_pred=b.cohort_pred,
        period_pred=b.period_pred,
        filters=b.filters,
        subset=b.subset,
        code_include=b.code_include,
        code_exclude=b.code_exclude,
        codes_in_scope=b.family == "breakdown",
        limited=b.limited,
        keep=b.keep,
        direction=spec.direction,
    )
    return Plan(
        family=b.family,
        query=Query(
            template=f"{b.family}:{b.table}",
            sql=render(shape),
            params=tuple(sorted(b.params.items())),
        ),
        table=b.table,
        series_by=b.series,
        series_keys=b.series_keys,
        group_by=spec.group_by,
    )


def _branch_cohort_params(k: int, cohort: str) -> dict[str, Any]:
    """A cohort as provider cohorts and a code range, for tables without derived
    cohorts: 'rehab' is every provider with codes 97010-97799, 'all' every code."""
    if cohort == "rehab":
        return {
            f"c{k}_cohorts": list(PROVIDER_COHORTS),
            f"c{k}_first": REHAB_FIRST,
            f"c{k}_last": REHAB_LAST,
        }
    first, last = "0", "ZZZZZ"  # every code sorts between these
    cohorts = list(PROVIDER_COHORTS) if cohort == "all" else [cohort]
    return {f"c{k}_cohorts": cohorts, f"c{k}_first": first, f"c{k}_last": last}


def _period_params(period: Period, prefix: str) -> dict[str, date]:
    # Rollups hold one row per month keyed by its first day, so a period starting
    # mid-month still takes that whole month.
    return {f"{prefix}start": period.start.replace(day=1), f"{prefix}end": period.end}
