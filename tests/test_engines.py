"""The engine registry and the per-dialect rendering, without a warehouse: what each
engine's SQL must and must not contain, typed PostgreSQL parameters, row values, URLs,
the build's inputs and the parity harness's own comparisons (the tests that run the
SQL for real on PostgreSQL and Spark are in test_parity.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from tests import parity
from toprank.intents.model import Period
from toprank.sql.dialects import POSTGRES, SPARK, DialectError, render_sql, value_type
from toprank.sql.engine import DuckDBEngine
from toprank.sql.engines import (
    EngineURLError,
    coverage_from_rows,
    open_engine,
    plain_value,
    redact,
)
from toprank.sql.plan import knowledge_query, load_template, lookup_query, template_names
from toprank.sql.query import Query
from toprank.sql.validate import validate
from toprank.sql.warehouse import BuildError, check_table_name, parse_mapping

REPO = Path(__file__).resolve().parent.parent
P2022 = Period(date(2022, 1, 1), date(2022, 12, 31), "2022")
# DuckDB spellings no other engine runs as written (sqlglot passes them through).
DUCKDB_ONLY = ("list_contains", "list_position", "list_has_any", "string_split", "regexp_full")


def _queries() -> list[Query]:
    shapes = []
    for name in template_names():
        sql, params = load_template(name)
        shapes.append(Query(name, sql, tuple((p, _sample(p)) for p in sorted(params))))
    shapes += [lookup_query("97110", P2022), knowledge_query(None, P2022)]
    return shapes


def _sample(name: str) -> object:
    if name in ("start", "end"):
        return date(2022, 1, 1)
    if name in ("cohorts", "codes", "keep"):
        return ["ot", "pt"]
    if name in ("n", "min_volume"):
        return 10
    if name.startswith("min_"):
        return 1.5
    return "ot"


@pytest.mark.parametrize("dialect", [POSTGRES, SPARK])
@pytest.mark.parametrize("query", _queries(), ids=lambda q: q.template)
def test_rendered_sql_has_no_duckdb_only_functions_and_validates(
    query: Query, dialect: str
) -> None:
    from toprank.sql.dialects import param_types

    sql = render_sql(query.sql, dialect, param_types(query.params))
    lowered = sql.lower()
    for name in DUCKDB_ONLY:
        assert name not in lowered, f"{name} left in {dialect} SQL"
    assert "--" not in sql  # comments dropped: a "%" in one would be a psycopg placeholder
    validate(sql, dialect=dialect)


def test_postgres_parameters_are_typed_and_shares_are_double() -> None:
    query = lookup_query("97110", P2022)
    from toprank.sql.dialects import param_types

    sql = render_sql(query.sql, POSTGRES, param_types(query.params))
    placeholders = re.findall(r"%\(\w+\)s", sql)
    typed = re.findall(r"CAST\(%\(\w+\)s AS [A-Z ]+(?:\[\])?\)", sql)
    assert placeholders and len(typed) == len(placeholders)
    assert "CAST(%(cohorts)s AS TEXT[])" in sql and "CAST(%(start)s AS DATE)" in sql
    assert "CAST(100.0 AS DOUBLE PRECISION)" in sql
    spark = render_sql(query.sql, SPARK)
    assert "CAST(100.0 AS DOUBLE)" in spark and ":cohorts" in spark


def test_postgres_date_parts_are_integers_and_quarters_exist() -> None:
    sql = "SELECT year(month) * 10 + quarter(month) AS k FROM rollup_national"
    pg = render_sql(sql, POSTGRES)
    tree = sqlglot.parse_one(pg, read="postgres")
    casts = [c for c in tree.find_all(exp.Cast) if isinstance(c.this, exp.Extract)]
    assert len(casts) == 2 and "QUARTER(" not in pg.upper().replace("EXTRACT(QUARTER", "")


def test_a_percent_in_a_literal_survives_psycopg() -> None:
    pg = render_sql("SELECT code FROM rollup_national WHERE code LIKE '97%'", POSTGRES)
    assert "'97%%'" in pg  # psycopg turns %% back into % when it binds


def test_value_types() -> None:
    assert value_type(["a"]) == "TEXT[]" and value_type([]) == "TEXT[]"
    assert value_type(3) == "BIGINT" and value_type(True) == "BOOLEAN"
    assert value_type(date(2022, 1, 1)) == "DATE" and value_type(1.5) == "DOUBLE PRECISION"
    with pytest.raises(DialectError):
        value_type(["a", 1])
    with pytest.raises(DialectError):
        value_type(None)


def test_plain_values_compare_across_engines() -> None:
    assert plain_value(Decimal("12")) == 12 and isinstance(plain_value(Decimal("12")), int)
    assert isinstance(plain_value(Decimal("12.50")), float)
    assert plain_value(date(2022, 1, 1)) == date(2022, 1, 1)


def test_coverage_from_source_rows() -> None:
    rows = [
        {"source_id": 2, "name": "b", "kind": "cms-puf", "first_date": date(2021, 1, 1),
         "last_date": date(2021, 12, 31), "rows_loaded": 5},
        {"source_id": 1, "name": "a", "kind": "claims", "first_date": date(2019, 1, 1),
         "last_date": date(2020, 6, 30), "rows_loaded": 7},
    ]  # fmt: skip
    found = coverage_from_rows(rows, 99)
    assert found is not None
    assert (found.start, found.end) == (date(2019, 1, 1), date(2021, 12, 31))
    assert found.sources == ("a", "b") and found.claim_lines == 12 and found.procedures == 99
    assert found.annual_years == (2021,)
    assert coverage_from_rows([], 0) is None


def test_urls_pick_engines_and_secrets_stay_out_of_messages(tmp_path: Path) -> None:
    assert isinstance(open_engine(str(tmp_path / "x.duckdb")), DuckDBEngine)
    assert isinstance(open_engine(f"duckdb:{tmp_path / 'x.duckdb'}"), DuckDBEngine)
    with pytest.raises(EngineURLError, match="unknown engine 'mysql'"):
        open_engine("mysql://u:secret@h/db")
    assert "secret" not in redact("postgresql://bot:secret@db.example:5432/claims")
    assert "bot" in redact("postgresql://bot:secret@db.example:5432/claims")
    shown = redact("sc://ws.example:443/;token=dapiSECRET;x-databricks-cluster-id=1")
    assert "SECRET" not in shown and "x-databricks-cluster-id=1" in shown


@pytest.mark.parametrize(
    ("source", "ok"),
    [("claims", True), ("lake.claims", True), ("cat.lake.claims", True),
     ("claims; DROP TABLE x", False), ("a.b.c.d", False), ("'x'", False), ("", False)],
)  # fmt: skip
def test_source_table_names_are_names_never_sql(source: str, ok: bool) -> None:
    if ok:
        assert check_table_name(source).name == source.split(".")[-1]
    else:
        with pytest.raises(BuildError):
            check_table_name(source)


def test_mappings_name_known_columns() -> None:
    assert parse_mapping(["service_date=svc_dt"]) == {"service_date": "svc_dt"}
    for bad in ("service_date", "nope=x", "service_date=a b", "service_date=x;--"):
        with pytest.raises(BuildError):
            parse_mapping([bad])


def test_the_harness_sees_every_kind_of_difference() -> None:
    row = {"code": "97110", "rank": 1, "value": 1588, "share": 34.012, "month": date(2022, 1, 1)}
    assert parity.diff_rows([row], [dict(row)]) is None
    assert parity.diff_rows([row], [{**row, "share": 34.012 + 1e-12}]) is None
    for change in (
        {"value": 1589},
        {"share": 34.012 + 1e-6},
        {"code": "97140"},
        {"month": date(2022, 2, 1)},
        {"rank": None},
    ):
        assert parity.diff_rows([row], [{**row, **change}]) is not None, change
    assert parity.diff_rows([row, row], [row]) is not None
    swapped = {"rank": 1, "code": "97110", "value": 1588, "share": 34.012, "month": row["month"]}
    assert parity.diff_rows([row], [swapped]) is not None  # columns in another order


def test_the_harness_covers_the_readme_examples() -> None:
    found = parity.readme_questions()
    assert "top 5 OT codes in Florida 2022" in found
    assert "fastest growing rehab codes 2022 vs 2021" in found
    assert len(parity.all_questions()) > 400


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.slow  # a process or a full build
def test_cli_warehouse_errors_are_one_line(tmp_path: Path) -> None:
    closed = "postgresql://toprank@127.0.0.1:1/none"  # nothing listens on port 1
    for args, env, expected in (
        (("data", "build", "--engine", closed, "--source", "claims"), {}, "cannot connect"),
        (("data", "build", "--engine", "mysql://x/y", "--source", "c"), {}, "not a warehouse"),
        (("data", "build", "--engine", closed, "--source", "x;y"), {}, "not a table name"),
        (("data", "export", "--engine", closed, "--to", str(tmp_path / "e")), {}, "cannot"),
        (("data", "import-rollups", str(tmp_path)), {}, "manifest.json"),
        (("ask", "top ot codes 2022"), {"TOPRANK_ENGINE_URL": closed}, "cannot connect"),
    ):
        done = _cli(*args, env=env)
        assert done.returncode != 0, args
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines and expected in lines[-1], (args, done.stderr)
        assert "Traceback" not in done.stderr, args
        assert len([line for line in lines if line.startswith("toprank:")]) == 1, done.stderr
