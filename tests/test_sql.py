"""sql/: validation, templates, planning (bound parameters only), engine and transpile."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.db import create_schema, rebuild_rollups
from intents.model import MAX_TOP_N, Intent, Period
from sql.engine import DatabaseMissing, DuckDBEngine, validated
from sql.plan import PlanError, bind, clamp_n, load_template, plan, template_names
from sql.query import Query
from sql.render import to_dialect
from sql.validate import UnsafeQuery, validate

P2022 = Period(date(2022, 1, 1), date(2022, 12, 31), "2022")
P2023 = Period(date(2023, 1, 1), date(2023, 9, 30), "2023")
SPAN = Period(date(2022, 1, 1), date(2023, 9, 30), "2022 through September 2023")


# ---------------------------------------------------------------- a small real database

# (service date, code, cohort, payer, state, procedures)
FIXTURE_LINES = (
    ("2022-03-10", "97110", "ot", "medicare", "FL", 50),
    ("2022-04-10", "97140", "ot", "commercial", "NY", 30),
    ("2022-05-10", "97530", "ot", "medicare", "FL", 15),
    ("2022-05-11", "97165", "ot", "medicare", "FL", 5),
    ("2022-06-10", "97110", "pt", "medicaid", "TX", 80),
    ("2022-06-10", "97140", "pt", "medicaid", "TX", 40),
    ("2022-06-10", "97161", "pt", "medicaid", "TX", 12),
    ("2022-06-10", "99213", "pmr", "medicare", "TX", 100),
    ("2023-02-10", "97110", "ot", "medicare", "FL", 20),
    ("2023-02-10", "97530", "ot", "medicare", "FL", 25),
    ("2023-09-10", "97110", "pt", "medicare", "FL", 60),
)


def make_fixture_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    create_schema(con)
    con.executemany(
        "INSERT INTO claim_lines (claim_id, line_number, service_date, hcpcs_code, units, "
        "cohort, place_of_service, payer, state, procedures, source_id) "
        "VALUES (?, 1, ?, ?, 1, ?, '11', ?, ?, ?, 1)",
        [
            (f"c{i}", date.fromisoformat(d), code, cohort, payer, state, n)
            for i, (d, code, cohort, payer, state, n) in enumerate(FIXTURE_LINES)
        ],
    )
    con.execute(
        "INSERT INTO sources VALUES (1, 'fixture', 'demo', NULL, 11, 11, 0, "
        "DATE '2022-01-01', DATE '2023-09-30', TIMESTAMP '2024-01-01 00:00:00')"
    )
    rebuild_rollups(con)
    con.close()
    return path


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_db(tmp_path_factory.mktemp("sqlfx") / "fixture.duckdb")


@pytest.fixture()
def engine(fixture_db: Path):
    with DuckDBEngine(fixture_db) as eng:
        yield eng


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("name", template_names())
def test_every_template_validates_and_names_its_parameters(name: str) -> None:
    sql, params = load_template(name)
    validate(sql)
    assert "{" not in sql  # no str.format holes: values only ever arrive as $parameters
    if name != "coverage":
        assert params, f"{name} binds no parameters"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE claim_lines", "only SELECT"),
        ("DELETE FROM claim_lines", "only SELECT"),
        ("INSERT INTO sources (source_id) VALUES (9)", "only SELECT"),
        ("UPDATE rollup_month SET procedures = 0", "only SELECT"),
        ("CREATE TABLE x AS SELECT 1", "only SELECT"),
        ("ALTER TABLE sources ADD COLUMN x INT", "only SELECT"),
        ("COPY claim_lines TO 'out.csv'", "only SELECT"),
        ("ATTACH 'other.duckdb' AS other", "only SELECT"),
        ("PRAGMA database_list", "only SELECT"),
        ("SET threads = 1", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("BEGIN TRANSACTION", "only SELECT"),
        ("SELECT 1 FROM sources; DROP TABLE claim_lines", "exactly one statement"),
        ("SELECT 1 FROM sources; SELECT 2 FROM sources", "exactly one statement"),
        ("", "exactly one statement"),
        ("SELECT * FROM secrets", "not one a question may read"),
        ("SELECT * FROM duckdb_settings()", "not allowed"),
        ("SELECT * FROM rollup_month JOIN users USING (state)", "not one a question may read"),
        ("SELECT * FROM main.rollup_month", "qualified"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
        ("SELECT * FROM read_parquet('x.parquet')", "not allowed"),
        ("SELECT * FROM read_json('x.json')", "not allowed"),
        ("SELECT * FROM read_text('/etc/passwd')", "not allowed"),
        ("SELECT * FROM glob('/etc/*')", "not allowed"),
        ("SELECT * FROM parquet_scan('x.parquet')", "not allowed"),
        ("SELECT * FROM 'claims.csv'", "file references"),
        (
            "SELECT * FROM rollup_month WHERE state IN (SELECT state FROM read_csv('x.csv'))",
            "not allowed",
        ),
        (
            "WITH gone AS (DELETE FROM claim_lines RETURNING *) SELECT * FROM gone",
            "DELETE",
        ),
        (
            "WITH t AS (SELECT * FROM rollup_month) SELECT * FROM t UNION ALL "
            "SELECT * FROM read_csv('x.csv')",
            "not allowed",
        ),
        ("SELECT * INTO copy_of FROM rollup_month", "INTO"),
    ],
)
def test_validation_rejects(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQuery, match=reason):
        validate(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM rollup_month",
        "WITH t AS (SELECT cohort FROM rollup_national) SELECT * FROM t",
        "SELECT 1 AS a FROM sources UNION ALL SELECT 2 FROM sources",
        "SELECT upper('read_csv') FROM sources",  # a string that merely looks like a reader
        'SELECT * FROM "rollup_month"',
    ],
)
def test_validation_accepts_read_only_selects(sql: str) -> None:
    validate(sql)


def test_validation_honours_the_allowed_set() -> None:
    validate("SELECT * FROM sources", allowed_tables={"sources"})
    with pytest.raises(UnsafeQuery, match="not one a question may read"):
        validate("SELECT * FROM rollup_month", allowed_tables={"sources"})


# ---------------------------------------------------------------- planning


def test_plan_picks_national_or_filtered_template() -> None:
    national = plan(Intent("top_codes", cohort="ot", n=3), P2022)
    filtered = plan(Intent("top_codes", cohort="pt", state="FL"), P2022)
    assert national.template == "top_codes" and "rollup_national" in national.sql
    assert filtered.template == "top_codes_filtered" and "rollup_month" in filtered.sql
    assert national.param_dict == {
        "cohort": "ot",
        "start": date(2022, 1, 1),
        "end": date(2022, 12, 31),
        "n": 3,
    }
    assert filtered.param_dict["state"] == "FL" and filtered.param_dict["payer"] is None


@pytest.mark.parametrize(("asked", "bound"), [(None, 10), (0, 1), (3, 3), (51, 50), (10**9, 50)])
def test_n_defaults_and_is_capped(asked: int | None, bound: int) -> None:
    assert clamp_n(asked) == bound
    query = plan(Intent("top_codes", cohort="rehab", n=asked), P2023)
    assert query.param_dict["n"] == bound <= MAX_TOP_N


def test_plan_for_each_shape() -> None:
    assert plan(Intent("code_share", cohort="ot", code="97530"), P2022).template == "code_share"
    cmp = plan(Intent("compare", cohorts=("ot", "pt"), compare_by="cohort"), P2022)
    assert cmp.template == "compare_cohorts" and cmp.param_dict["cohorts"] == ["ot", "pt"]
    by_state = plan(Intent("compare", cohort="pt", states=("FL", "TX"), compare_by="state"), P2022)
    assert by_state.template == "compare_states"
    by_payer = plan(
        Intent("compare", cohort="pt", payers=("medicare", "medicaid"), compare_by="payer"), P2022
    )
    assert by_payer.template == "compare_payers"
    by_period = plan(
        Intent("compare", cohort="ot", compare_by="period"), None, periods=(P2022, P2023)
    )
    assert by_period.template == "compare_periods"
    assert by_period.param_dict["period_labels"] == ["2022", "2023"]
    assert plan(Intent("trend", cohort="ot", code="97110"), SPAN).template == "trend"
    assert plan(Intent("ot_vs_pt"), P2022).template == "over_represented"
    assert plan(Intent("ot_vs_pt", topic="pt_focus"), P2022).param_dict["lead"] == "pt"
    assert plan(Intent("code_lookup", code="97110"), P2022).template == "code_lookup"
    assert plan(Intent("coverage"), None).template == "coverage"
    for kind in ("help", "unknown", "code_range"):
        assert plan(Intent(kind), None) is None
    assert plan(Intent("top_codes", cohort="ot", error="too_long"), P2022) is None


def test_plan_month_aligns_the_start() -> None:
    mid = Period(date(2022, 6, 15), date(2022, 6, 30), "late June 2022")
    assert plan(Intent("top_codes", cohort="ot"), mid).param_dict["start"] == date(2022, 6, 1)


def test_bind_refuses_missing_or_unknown_parameters() -> None:
    with pytest.raises(PlanError, match="missing"):
        bind("top_codes", cohort="ot")
    with pytest.raises(PlanError, match="unexpected"):
        bind("coverage", cohort="ot")
    with pytest.raises(PlanError, match="no SQL template"):
        bind("../data/schema")


_SAFE_TEXT = st.text(min_size=4, max_size=40).filter(lambda s: s.strip() and "\x00" not in s)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    cohort=_SAFE_TEXT,
    code=_SAFE_TEXT,
    state=_SAFE_TEXT,
    payer=_SAFE_TEXT,
    label=_SAFE_TEXT,
    kind=st.sampled_from(["top_codes", "code_share", "compare", "trend", "ot_vs_pt"]),
    by=st.sampled_from(["cohort", "state", "payer", "period"]),
)
def test_user_text_never_reaches_the_sql(cohort, code, state, payer, label, kind, by) -> None:
    intent = Intent(
        kind,  # type: ignore[arg-type]
        cohort=cohort,  # type: ignore[arg-type]
        cohorts=(cohort,),  # type: ignore[arg-type]
        code=code,
        state=state,
        states=(state,),
        payer=payer,  # type: ignore[arg-type]
        payers=(payer,),  # type: ignore[arg-type]
        compare_by=by,  # type: ignore[arg-type]
        topic=label,
    )
    period = Period(date(2022, 1, 1), date(2022, 12, 31), label)
    query = plan(intent, period, periods=(period,))
    assert query is not None
    sql_text, _ = load_template(query.template)
    assert query.sql == sql_text  # the template verbatim: nothing was formatted in
    for value in {cohort, code, state, payer, label}:
        if value not in sql_text:
            assert value not in query.sql
    validate(query.sql)


# ---------------------------------------------------------------- engine


def test_engine_runs_top_codes_with_share_of_the_whole_cohort(engine: DuckDBEngine) -> None:
    frame = engine.run(plan(Intent("top_codes", cohort="ot", n=2), P2022))
    assert list(frame["code"]) == ["97110", "97140"]
    assert list(frame["rank"]) == [1, 2]
    # 50 of all 100 OT procedures in 2022 (not of the top 2's 80).
    assert frame["share_pct"].iloc[0] == pytest.approx(50.0)
    assert int(frame["cohort_procedures"].iloc[0]) == 100


def test_engine_filters_state_and_payer(engine: DuckDBEngine) -> None:
    frame = engine.run(plan(Intent("top_codes", cohort="ot", state="FL", payer="medicare"), P2022))
    assert list(frame["code"]) == ["97110", "97530", "97165"]
    assert int(frame["cohort_procedures"].iloc[0]) == 70


def test_engine_code_share_keeps_the_asked_row_below_the_top_n(engine: DuckDBEngine) -> None:
    frame = engine.run(plan(Intent("code_share", cohort="ot", code="97165", n=1), P2022))
    assert list(frame["code"]) == ["97110", "97165"]
    asked = frame[frame["is_asked"]].iloc[0]
    assert int(asked["rank"]) == 4 and asked["share_pct"] == pytest.approx(5.0)


def test_engine_compare_and_trend(engine: DuckDBEngine) -> None:
    cmp = engine.run(plan(Intent("compare", cohorts=("pt", "ot"), compare_by="cohort", n=1), P2022))
    assert list(zip(cmp["cohort"], cmp["code"], strict=True)) == [("pt", "97110"), ("ot", "97110")]
    periods = (P2022, P2023)
    by_period = engine.run(
        plan(Intent("compare", cohort="ot", compare_by="period", n=1), None, periods=periods)
    )
    assert list(by_period["period"]) == ["2022", "2023"]
    assert list(by_period["code"]) == ["97110", "97530"]
    trend = engine.run(plan(Intent("trend", cohort="ot", code="97530"), SPAN))
    assert list(trend["year"]) == [2022, 2023]
    assert list(trend["rank"]) == [3, 1]
    assert trend["share_pct"].iloc[1] == pytest.approx(100 * 25 / 45)


def test_engine_over_represented_orders_by_the_gap_and_skips_shared_codes(
    engine: DuckDBEngine,
) -> None:
    frame = engine.run(plan(Intent("ot_vs_pt"), P2022))
    assert set(frame["code"].iloc[:2]) == {"97530", "97165"}  # PT never billed these
    assert frame["ratio"].iloc[:2].isna().all()
    gaps = list(frame["lead_share_pct"] - frame["other_share_pct"])
    assert gaps == sorted(gaps, reverse=True)
    # every listed code is billed at least 1.5 times as often (by share) in OT, or only there
    assert ((frame["ratio"] >= 1.5) | frame["ratio"].isna()).all()


def test_engine_connection_is_read_only(engine: DuckDBEngine, fixture_db: Path) -> None:
    # Even a statement that slipped past validation could not write.
    con = engine._connection()
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM sources")
    with pytest.raises(UnsafeQuery):
        engine.run(Query(template="x", sql="DELETE FROM sources"))
    assert engine.coverage().end == date(2023, 9, 30)


def test_engine_records_hold_the_rows_of_the_frame(engine: DuckDBEngine) -> None:
    # The pipeline answers from engine.records; it must carry what engine.run's
    # DataFrame carries (NULL as None where the frame has NaN).
    queries = [
        plan(Intent("top_codes", cohort="ot"), P2022),
        plan(Intent("code_share", cohort="ot", code="97165", n=1), P2022),
        plan(Intent("trend", cohort="ot", code="97165"), SPAN),  # rank NULL in 2023
        plan(Intent("ot_vs_pt"), P2022),  # ratio NULL
        plan(Intent("coverage"), None),
    ]
    for query in queries:
        frame = engine.run(query)
        records = engine.records(query)
        assert records and len(records) == len(frame)
        for record, expected in zip(records, frame.to_dict("records"), strict=True):
            assert list(record) == list(frame.columns)
            for name, value in record.items():
                want = expected[name]
                if value is None:
                    assert pd.isna(want), (query.template, name)
                elif isinstance(value, date):
                    assert pd.Timestamp(value) == pd.Timestamp(want)
                elif isinstance(value, float):
                    assert value == pytest.approx(want)
                else:
                    assert value == want


def test_validation_runs_once_per_sql_text_and_refusals_every_time(engine: DuckDBEngine) -> None:
    validated.cache_clear()
    query = plan(Intent("top_codes", cohort="ot"), P2022)
    engine.records(query)
    engine.run(query)
    assert validated.cache_info().currsize == 1 and validated.cache_info().hits == 1
    for _ in range(2):
        with pytest.raises(UnsafeQuery):
            engine.records(Query(template="x", sql="DELETE FROM sources"))
    assert validated.cache_info().currsize == 1


def test_engine_missing_database(tmp_path: Path) -> None:
    eng = DuckDBEngine(tmp_path / "nope.duckdb")
    with pytest.raises(DatabaseMissing, match="toprank data demo"):
        eng.run(plan(Intent("coverage"), None))
    assert not (tmp_path / "nope.duckdb").exists()  # a read must never create the file


# ---------------------------------------------------------------- dialects


def test_transpile_to_postgres() -> None:
    query = plan(Intent("compare", cohorts=("ot", "pt"), compare_by="cohort"), P2022)
    pg = to_dialect(query, "postgres")
    assert "list_contains" not in pg.lower()
    assert "%(cohorts)s" in pg and "%(start)s" in pg
    # The rendered statement parses as PostgreSQL and still reads the same table.
    tree = sqlglot.parse_one(pg, read="postgres")
    assert {t.name for t in tree.find_all(sqlglot.exp.Table)} >= {"rollup_national"}
    assert to_dialect(query, "duckdb") == query.sql


@pytest.mark.parametrize("name", template_names())
def test_every_template_transpiles_to_postgres(name: str) -> None:
    sql, _ = load_template(name)
    pg = to_dialect(Query(template=name, sql=sql), "postgres")
    sqlglot.parse_one(pg, read="postgres")
