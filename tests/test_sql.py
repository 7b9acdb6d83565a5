"""sql/: validation, templates, planning (bound parameters only), engine and transpile."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import sqlglot

from toprank.data.db import create_schema, rebuild_rollups
from toprank.intents.model import Period
from toprank.sql.dialects import param_types, render_sql
from toprank.sql.engine import DatabaseMissing, DuckDBEngine, validated
from toprank.sql.plan import (
    PlanError,
    bind,
    coverage_query,
    knowledge_query,
    load_template,
    lookup_query,
    template_names,
)
from toprank.sql.query import Query
from toprank.sql.validate import UnsafeQuery, validate

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


# ---------------------------------------------------------------- template queries


def test_template_queries_bind_their_parameters() -> None:
    assert lookup_query("97110", P2022).param_dict == {
        "code": "97110",
        "cohorts": ["rehab", "ot", "pt"],
        "start": date(2022, 1, 1),
        "end": date(2022, 12, 31),
    }
    assert knowledge_query("pt_focus", P2022).param_dict["lead"] == "pt"
    assert knowledge_query(None, P2022).param_dict["lead"] == "ot"
    assert coverage_query().params == ()


def test_bind_refuses_missing_or_unknown_parameters() -> None:
    with pytest.raises(PlanError, match="missing"):
        bind("code_lookup", code="97110")
    with pytest.raises(PlanError, match="unexpected"):
        bind("coverage", cohort="ot")
    with pytest.raises(PlanError, match="no SQL template"):
        bind("../data/schema")


# ---------------------------------------------------------------- engine


def test_engine_over_represented_orders_by_the_gap_and_skips_shared_codes(
    engine: DuckDBEngine,
) -> None:
    rows = engine.records(knowledge_query(None, P2022))
    assert {r["code"] for r in rows[:2]} == {"97530", "97165"}  # PT never billed these
    assert all(r["ratio"] is None for r in rows[:2])
    gaps = [r["lead_share_pct"] - r["other_share_pct"] for r in rows]
    assert gaps == sorted(gaps, reverse=True)
    # every listed code is billed at least 1.5 times as often (by share) in OT, or only there
    assert all(r["ratio"] is None or r["ratio"] >= 1.5 for r in rows)


def test_engine_connection_is_read_only(engine: DuckDBEngine, fixture_db: Path) -> None:
    # Even a statement that slipped past validation could not write.
    con = engine._connection()
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM sources")
    with pytest.raises(UnsafeQuery):
        engine.records(Query(template="x", sql="DELETE FROM sources"))
    assert engine.coverage().end == date(2023, 9, 30)


def test_engine_records_hold_the_rows_duckdb_returns(
    engine: DuckDBEngine, fixture_db: Path
) -> None:
    # The pipeline answers from engine.records; the oracle is the same statement on a
    # connection of our own: same columns and rows, NULL as None, DECIMAL as float.
    queries = [
        lookup_query("97165", SPAN),
        knowledge_query(None, P2022),  # ratio NULL
        coverage_query(),
    ]
    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        for query in queries:
            cursor = con.execute(query.sql, query.param_dict)
            names = [column[0] for column in cursor.description]
            expected = cursor.fetchall()
            records = engine.records(query)
            assert records and len(records) == len(expected)
            for record, row in zip(records, expected, strict=True):
                assert list(record) == names
                for value, want in zip(record.values(), row, strict=True):
                    if want is None:
                        assert value is None, query.template
                    elif isinstance(value, float):
                        assert value == pytest.approx(float(want))
                    else:
                        assert value == want
    finally:
        con.close()


def test_validation_runs_once_per_sql_text_and_refusals_every_time(engine: DuckDBEngine) -> None:
    validated.cache_clear()
    query = lookup_query("97110", P2022)
    engine.records(query)
    engine.records(query)
    assert validated.cache_info().currsize == 1 and validated.cache_info().hits == 1
    for _ in range(2):
        with pytest.raises(UnsafeQuery):
            engine.records(Query(template="x", sql="DELETE FROM sources"))
    assert validated.cache_info().currsize == 1


def test_engine_missing_database(tmp_path: Path) -> None:
    eng = DuckDBEngine(tmp_path / "nope.duckdb")
    with pytest.raises(DatabaseMissing, match="toprank data demo"):
        eng.records(coverage_query())
    assert not (tmp_path / "nope.duckdb").exists()  # a read must never create the file


# ---------------------------------------------------------------- dialects


def test_transpile_to_postgres() -> None:
    query = lookup_query("97110", P2022)
    pg = render_sql(query.sql, "postgres", param_types(query.params))
    assert "list_contains" not in pg.lower()
    assert "%(cohorts)s" in pg and "%(start)s" in pg
    # The rendered statement parses as PostgreSQL and still reads the same table.
    tree = sqlglot.parse_one(pg, read="postgres")
    assert {t.name for t in tree.find_all(sqlglot.exp.Table)} >= {"rollup_national"}


@pytest.mark.parametrize("name", template_names())
def test_every_template_transpiles_to_postgres(name: str) -> None:
    sql, _ = load_template(name)
    pg = render_sql(sql, "postgres", ())
    sqlglot.parse_one(pg, read="postgres")
