"""sql.compile: every combination of spec parts runs on a real DuckDB file and returns
what an independent oracle computes from the raw claim lines (pandas over the same
lines, written from the conventions in the README, not from toprank's SQL)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from toprank.data.db import create_schema, rebuild_rollups
from toprank.intents.model import Coverage, Period
from toprank.intents.resolve import Resolved
from toprank.intents.spec import CodeSet, PeriodRef, Selection, Spec
from toprank.sql.compile import PROVIDER_COHORTS, Unsupported, compile_plan
from toprank.sql.engine import DuckDBEngine
from toprank.sql.validate import validate

COVERAGE = Coverage(date(2021, 1, 1), date(2022, 12, 31))
CODES = ("97110", "97140", "97530", "97161", "98940", "99213", "97799")
STATES = ("FL", "TX", "NY")
PAYERS = ("medicare", "medicaid", "commercial")
PLACES = ("11", "12", "22")
MODIFIER_SETS = (None, "GP", "GP 59", "GO", "KX", "GO KX")


def fixture_lines() -> pd.DataFrame:
    """About 2,000 claim lines over two years with every dimension varied, claims of up
    to three lines, repeated codes within a claim, units 1-4. Deterministic."""
    rows = []
    for k in range(700):
        claim = k + 1
        cohort = PROVIDER_COHORTS[(k * 7) % len(PROVIDER_COHORTS)]
        month = 1 + (k * 5) % 24
        year, month = 2021 + (month - 1) // 12, (month - 1) % 12 + 1
        day = date(year, month, 1 + k % 27)
        state, payer = STATES[k % 3], PAYERS[(k // 3) % 3]
        place = PLACES[(k // 2) % 3]
        for line in range(1 + k % 3):
            code = CODES[(k + line * 3 + k // 11) % len(CODES)]
            if line == 2 and k % 4 == 0:
                code = CODES[k % len(CODES)]  # the same code twice on a claim
            rows.append(
                dict(
                    claim_id=f"c{claim}",
                    line_number=line + 1,
                    service_date=day,
                    hcpcs_code=code,
                    modifiers=MODIFIER_SETS[(k + line) % len(MODIFIER_SETS)],
                    units=1 + (k + line) % 4,
                    cohort=cohort,
                    place_of_service=place,
                    payer=payer,
                    state=state,
                    procedures=1 + (k % 5 == 0),
                )
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return fixture_lines()


@pytest.fixture(scope="module")
def engine(lines: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("compile") / "fixture.duckdb"
    con = duckdb.connect(str(path))
    create_schema(con)
    frame = lines.assign(source_id=1)  # noqa: F841 (read by DuckDB below)
    con.execute(
        "INSERT INTO claim_lines (claim_id, line_number, service_date, hcpcs_code, modifiers, "
        "units, cohort, place_of_service, payer, state, procedures, source_id) "
        "SELECT claim_id, line_number, service_date, hcpcs_code, modifiers, units, cohort, "
        "place_of_service, payer, state, procedures, source_id FROM frame"
    )
    con.execute(
        "INSERT INTO sources VALUES (1, 'fixture', 'demo', NULL, 1, 1, 0, "
        "DATE '2021-01-01', DATE '2022-12-31', TIMESTAMP '2024-01-01 00:00:00')"
    )
    rebuild_rollups(con)
    con.close()
    with DuckDBEngine(path) as eng:
        yield eng


# --------------------------------------------------------------------------- the oracle


def _in_cohort(df: pd.DataFrame, cohort: str) -> pd.Series:
    if cohort == "all":
        return pd.Series(True, index=df.index)
    if cohort == "rehab":
        return df.hcpcs_code.between("97010", "97799")
    return df.cohort == cohort


def _codes_mask(df: pd.DataFrame, sets: tuple[CodeSet, ...]) -> pd.Series:
    mask = pd.Series(False, index=df.index)
    for s in sets:
        mask |= (
            df.hcpcs_code.between(s.first, s.last) if s.is_range else df.hcpcs_code.isin(s.codes)
        )
    return mask


def _selection_mask(values: pd.Series, sel: Selection, modifiers: bool = False) -> pd.Series:
    def has(v: str) -> pd.Series:
        if modifiers:
            return values.fillna("").str.split(" ").apply(lambda m: v in m)
        return values == v

    mask = pd.Series(True, index=values.index)
    if sel.include:
        mask &= pd.concat([has(v) for v in sel.include], axis=1).any(axis=1)
    for v in sel.exclude:
        mask &= ~has(v)
    return mask


def _measure(df: pd.DataFrame, measure: str) -> int:
    if measure == "claims":
        return int(df.claim_id.nunique())
    return int(df[measure].sum())


def _in_period(df: pd.DataFrame, p: Period) -> pd.Series:
    return (df.service_date >= pd.Timestamp(p.start.replace(day=1))) & (
        df.service_date <= pd.Timestamp(p.end)
    )


def oracle(lines: pd.DataFrame, r: Resolved) -> list[tuple[Any, ...]]:
    """(series, group, value, total) for each group of each series, by the conventions:
    a code's share is of the whole scope (code picks never shrink it); a breakdown's of
    what was picked; a time bucket's of the scope in that bucket."""
    spec = r.spec
    df = lines.assign(service_date=pd.to_datetime(lines.service_date))
    base = pd.Series(True, index=df.index)
    base &= _selection_mask(df.state, spec.states)
    base &= _selection_mask(df.payer, spec.payers)
    base &= _selection_mask(df.place_of_service, spec.places)
    base &= _selection_mask(df.modifiers, spec.modifiers, modifiers=True)
    picked = _codes_mask(df, spec.codes) if spec.codes else pd.Series(True, index=df.index)
    if spec.exclude_codes:
        picked &= ~_codes_mask(df, spec.exclude_codes)
    # series
    series: list[tuple[Any, pd.Series]] = []
    cohort_mask = pd.Series(False, index=df.index)
    for c in r.cohorts:
        cohort_mask |= _in_cohort(df, c)
    if spec.cohort_mode == "compared":
        period_mask = pd.Series(False, index=df.index)
        for p in r.periods:
            period_mask |= _in_period(df, p)
        series = [(c, _in_cohort(df, c) & period_mask) for c in r.cohorts]
    elif spec.period_mode == "compared":
        series = [(k, cohort_mask & _in_period(df, p)) for k, p in enumerate(r.periods)]
    else:
        period_mask = pd.Series(False, index=df.index)
        for p in r.periods:
            period_mask |= _in_period(df, p)
        series = [(0, cohort_mask & period_mask)]
        if spec.per_group == "state":
            series = [(v, series[0][1] & (df.state == v)) for v in STATES]
        elif spec.per_group == "year":
            series = [(y, series[0][1] & (df.service_date.dt.year == y)) for y in (2021, 2022)]
    out = []
    for key, mask in series:
        scope = df[mask & base]
        if spec.group_by == "code":
            total = _measure(scope, spec.measure)
            for code, rows in scope[picked[scope.index]].groupby("hcpcs_code"):
                out.append((key, code, _measure(rows, spec.measure), total))
        elif spec.group_by is None:
            out.append(
                (
                    key,
                    None,
                    _measure(scope[picked[scope.index]], spec.measure),
                    _measure(scope, spec.measure),
                )
            )
        elif spec.group_by in ("state", "payer", "place_of_service"):
            part = scope[picked[scope.index]]
            total = _measure(part, spec.measure)
            for value, rows in part.groupby(spec.group_by):
                out.append((key, value, _measure(rows, spec.measure), total))
        else:  # year, quarter or month
            part = {"quarter": scope.service_date.dt.quarter, "month": scope.service_date.dt.month}
            bucket = scope.service_date.dt.year * 100 + part.get(spec.group_by, 0)
            for value, rows in scope.groupby(bucket):
                out.append(
                    (
                        key,
                        int(value),
                        _measure(rows[picked[rows.index]], spec.measure),
                        _measure(rows, spec.measure),
                    )
                )
    return sorted((t for t in out if t[3]), key=str)  # an empty scope has no rows


def compiled(engine: DuckDBEngine, r: Resolved) -> list[tuple[Any, ...]]:
    plan = compile_plan(r)
    validate(plan.query.sql)
    rows = engine.records(plan.query)
    out = []
    for row in rows:
        if plan.family == "ranked":
            group: Any = row["code"]
        elif plan.family == "breakdown":
            group = row["grp"]
        elif plan.family == "time":
            group = int(row["year"]) * 100 + int(row["part"])
        else:
            group = None
        out.append((row["series"], group, int(row["value"]), int(row["total"])))
    if plan.family == "time" or plan.family == "total":
        out = [t for t in out if t[3]]
    return sorted(out, key=str)


Y2021 = Period(date(2021, 1, 1), date(2021, 12, 31), "2021")
Y2022 = Period(date(2022, 1, 1), date(2022, 12, 31), "2022")
H1_2022 = Period(date(2022, 1, 1), date(2022, 6, 30), "H1 2022")


def resolved(spec: Spec, cohorts: tuple[str, ...], periods: tuple[Period, ...]) -> Resolved:
    return Resolved(spec, cohorts, periods, 60, (), periods)


# --------------------------------------------------------------------------- properties

SPECS = st.fixed_dictionaries(
    {
        "measure": st.sampled_from(["procedures", "units", "claims"]),
        "cohorts": st.sampled_from(
            [("pt",), ("rehab",), ("all",), ("ot", "pt"), ("chiro", "other", "slp")]
        ),
        "cohort_mode": st.sampled_from(["single", "union", "compared"]),
        "group_by": st.sampled_from(
            ["code", None, "state", "payer", "place_of_service", "year", "quarter"]
        ),
        "codes": st.sampled_from([(), ("97110",), ("97110", "97530"), ("range",)]),
        "exclude_codes": st.sampled_from([(), ("97140",)]),
        "states": st.sampled_from(
            [Selection(), Selection(("FL",)), Selection((), ("TX",)), Selection(("FL", "NY"))]
        ),
        "payers": st.sampled_from(
            [Selection(), Selection(("medicare",)), Selection((), ("medicaid", "commercial"))]
        ),
        "places": st.sampled_from([Selection(), Selection(("11",)), Selection((), ("12",))]),
        "modifiers": st.sampled_from(
            [Selection(), Selection(("59",)), Selection((), ("GP",)), Selection(("KX", "GO"))]
        ),
        "periods": st.sampled_from([(Y2022,), (Y2021, Y2022), (H1_2022,)]),
        "period_mode": st.sampled_from(["single", "combined", "compared"]),
        "per_group": st.sampled_from([None, None, "state", "year"]),
    }
)


def _spec(d: dict[str, Any]) -> tuple[Spec, tuple[str, ...], tuple[Period, ...]]:
    cohorts = d["cohorts"]
    mode = d["cohort_mode"] if len(cohorts) > 1 else "single"
    if mode == "union" and any(c not in PROVIDER_COHORTS for c in cohorts):
        mode = "compared"
    periods = d["periods"]
    pmode = d["period_mode"] if len(periods) > 1 else "single"
    if mode == "compared" and pmode == "compared":
        pmode = "combined"
    codes = tuple(
        CodeSet("rehab range", kind="range", first="97010", last="97799")
        if c == "range"
        else CodeSet(c, (c,))
        for c in d["codes"]
    )
    spec = Spec(
        "data",
        ask="rank" if d["group_by"] == "code" else "total",
        measure=d["measure"],
        cohorts=cohorts,
        cohort_mode=mode,
        codes=codes,
        exclude_codes=tuple(CodeSet(c, (c,)) for c in d["exclude_codes"]),
        states=d["states"],
        payers=d["payers"],
        places=d["places"],
        modifiers=d["modifiers"],
        periods=tuple(PeriodRef("absolute", p.label, start=p.start, end=p.end) for p in periods),
        period_mode=pmode,
        group_by=d["group_by"],
    )
    if (
        d["per_group"]
        and mode != "compared"
        and pmode != "compared"
        and d["group_by"] in ("code", "payer")
    ):
        spec = replace(spec, per_group=d["per_group"])
    return spec, cohorts, periods


@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@pytest.mark.slow  # a process or a full build
@given(SPECS)
def test_every_combination_matches_the_oracle(engine, lines, d) -> None:
    spec, cohorts, periods = _spec(d)
    r = resolved(spec, cohorts, periods)
    try:
        got = compiled(engine, r)
    except Unsupported:
        # only what cannot be exact (or is not kept) is refused: visits over several codes,
        # or by modifier
        assert spec.measure == "claims"
        return
    want = oracle(lines, r)
    if spec.group_by == "code":
        got_keys = {(g[0], g[1]) for g in got}
        want = [w for w in want if (w[0], w[1]) in got_keys]  # the top N of each series
    assert got == want


def test_claims_are_refused_only_where_they_cannot_be_exact(engine) -> None:
    base = Spec("data", measure="claims", cohorts=("pt",), group_by=None, ask="total")
    ok = [
        base,
        replace(base, codes=(CodeSet("97110", ("97110",)),)),
        replace(base, group_by="state"),
        replace(base, places=Selection(("11",))),
    ]
    for spec in ok:
        compile_plan(resolved(spec, ("pt",), (Y2022,)))
    refused = [
        replace(base, codes=(CodeSet("a", ("97110", "97140")),)),
        replace(base, modifiers=Selection(("59",))),
        replace(base, codes=(CodeSet("97110", ("97110",)),), modifiers=Selection(("59",))),
        replace(base, ask="movers", group_by="code"),
    ]
    for spec in refused:
        with pytest.raises(Unsupported):
            compile_plan(resolved(spec, ("pt",), (Y2021, Y2022)))


@pytest.mark.parametrize(
    ("spec", "table"),
    [
        (Spec("data", cohorts=("pt",)), "rollup_national"),
        (Spec("data", cohorts=("pt",), states=Selection(("TX",))), "rollup_month"),
        (Spec("data", cohorts=("pt",), group_by="payer", ask="breakdown"), "rollup_month"),
        (Spec("data", cohorts=("pt",), places=Selection(("11",))), "rollup_detail"),
        (Spec("data", cohorts=("pt",), modifiers=Selection((), ("59",))), "rollup_detail"),
        (
            Spec("data", cohorts=("pt",), measure="claims", group_by=None, ask="total"),
            "rollup_claims",
        ),
    ],
)
def test_the_smallest_rollup_that_has_the_columns(spec: Spec, table: str) -> None:
    assert compile_plan(resolved(spec, spec.cohorts, (Y2022,))).table == table


def _every_part(value: str) -> Spec:
    return Spec(
        "data",
        cohorts=(value,),
        codes=(CodeSet(value, (value,)),),
        exclude_codes=(CodeSet(value, kind="range", first=value, last=value),),
        states=Selection((value,)),
        payers=Selection((), (value,)),
        places=Selection((value,)),
        modifiers=Selection((value,)),
        ask="share",
    )


@pytest.mark.slow  # a process or a full build
@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=30))
def test_user_text_never_reaches_the_sql(value: str) -> None:
    """The SQL text is the same whatever the values: they only ever arrive bound."""
    for group_by, per_group in itertools.product(["code", None, "state", "year"], [None, "payer"]):
        shape = {"group_by": group_by, "per_group": per_group}
        plan = compile_plan(resolved(replace(_every_part(value), **shape), (value,), (Y2022,)))
        same = compile_plan(resolved(replace(_every_part("x"), **shape), ("x",), (Y2022,)))
        assert plan.query.sql == same.query.sql
        validate(plan.query.sql)
        bound = [v for _, v in plan.query.params]
        assert any(v == value or (isinstance(v, list) and value in v) for v in bound)


def test_the_same_structure_gives_the_same_sql_text() -> None:
    a = compile_plan(
        resolved(Spec("data", cohorts=("pt",), states=Selection(("TX",))), ("pt",), (Y2022,))
    )
    b = compile_plan(
        resolved(Spec("data", cohorts=("ot",), states=Selection(("FL", "NY"))), ("ot",), (Y2021,))
    )
    assert a.query.sql == b.query.sql and a.query.params != b.query.params
