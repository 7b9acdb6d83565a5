"""Parity: the same claim lines give the same rollups and the same answers on DuckDB,
PostgreSQL and Spark (Spark Connect), all real servers on 127.0.0.1.

The claim lines of a small demo database are copied into each warehouse as a table of
the user's (some columns named otherwise, a few bad rows added), `build` makes the
rollups there, and then:
- the build reports exactly the bad rows planted, by reason (loaded + rejected = read);
- each warehouse's rollups, exported as Parquet, hold exactly the rows DuckDB's own
  build (data/rollups.sql, a different SQL text) made from the same lines;
- every query the planner produces for the development sets, the benchmark questions and
  the README's examples gives the same rows on every engine, and on a DuckDB file made
  by importing a warehouse's export.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests import parity
from tests.conftest import TODAY
from toprank.bot.pipeline import Toprank
from toprank.sql import warehouse
from toprank.sql.engines import open_engine

PARITY_LINES = 200_000
SOURCE_TABLE = "claims_source"
# The user's table names two columns otherwise: the build is told with --map.
RENAMED = {"service_date": "svc_dt", "hcpcs_code": "cpt"}
SOURCE_SELECT = (
    "claim_id, service_date AS svc_dt, hcpcs_code AS cpt, modifiers, units, "
    "rendering_taxonomy, place_of_service, payer, state, procedures, payments_cents, "
    "allowed_cents, charges_cents, beneficiaries"
)
NO_AMOUNTS = (None, None, None, None)  # payments, allowed, charges (cents), beneficiaries
# Rows no rollup can count, and the reason each must be reported with.
BAD_ROWS = [
    (
        ("B1", "2022-01-03", "9711", None, 1, "225100000X", "11", "medicare", "TX", 1),
        "hcpcs_code is not a HCPCS/CPT code",
    ),
    (
        ("B2", None, "97110", None, 1, "225100000X", "11", "medicare", "TX", 1),
        "service_date missing",
    ),
    (
        ("B3", "2022-01-03", "97110", None, 1, "225100000X", "11", "medicare", "QQ", 1),
        "state is not a USPS state code",
    ),
    (
        ("B4", "2022-01-03", "97110", None, 1, "225100000X", "11", "tricare", "TX", 1),
        "payer is not one of medicare, medicaid, commercial, other",
    ),
    (
        ("B5", "2022-01-03", "97110", "gp", 1, "225100000X", "11", "medicare", "TX", 1),
        "modifiers are not two-character codes separated by spaces",
    ),
    (
        (None, "2022-01-03", "97110", None, 1, "225100000X", "11", "medicare", "TX", 1),
        "claim_id missing",
    ),
    (
        ("B7", "2022-01-03", "97110", None, 1, "225100000X", "11", "medicare", "TX", 0),
        "procedures missing or below 1",
    ),
]
BAD_ROWS = [(row + NO_AMOUNTS, reason) for row, reason in BAD_ROWS] + [
    (
        ("B8", "2022-01-03", "97110", None, 1, "225100000X", "11", "medicare", "TX", 1)
        + (-5, 100, 200, None),
        "payments_cents below 0",
    ),
]
COLUMNS = (
    "claim_id",
    "svc_dt",
    "cpt",
    "modifiers",
    "units",
    "rendering_taxonomy",
    "place_of_service",
    "payer",
    "state",
    "procedures",
    "payments_cents",
    "allowed_cents",
    "charges_cents",
    "beneficiaries",
)


@pytest.fixture(scope="module")
def reference_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toprank.data.demo import build_demo

    path = tmp_path_factory.mktemp("parity") / "claims.duckdb"
    build_demo(path, lines=PARITY_LINES, progress=False)
    return path


@pytest.fixture(scope="module")
def source_parquet(reference_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's claim-lines table as a file: the demo's lines plus the bad rows."""
    path = tmp_path_factory.mktemp("source") / "claims_source.parquet"
    con = duckdb.connect()
    con.execute(f"ATTACH '{reference_db}' AS ref (READ_ONLY)")
    con.execute(f"CREATE TABLE src AS SELECT {SOURCE_SELECT} FROM ref.claim_lines")
    for row, _ in BAD_ROWS:
        con.execute(
            "INSERT INTO src VALUES (?, CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
        )
    con.execute(f"COPY src TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def _load_postgres(url: str, parquet: Path) -> None:
    import psycopg
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        con.execute(
            f"CREATE TABLE {SOURCE_TABLE} (claim_id TEXT, svc_dt DATE, cpt TEXT, modifiers TEXT, "
            "units INTEGER, rendering_taxonomy TEXT, place_of_service TEXT, payer TEXT, "
            "state TEXT, procedures BIGINT, payments_cents BIGINT, allowed_cents BIGINT, "
            "charges_cents BIGINT, beneficiaries BIGINT)"
        )
        with (
            con.cursor() as cursor,
            cursor.copy(f"COPY {SOURCE_TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True):
                copy.write_row(row)


def _load_spark(url: str, parquet: Path) -> None:
    # The Spark Connect server runs on this machine, so it reads the file where it is.
    from toprank.sql.engine_spark import SparkEngine

    with SparkEngine(url, timeout=600) as engine:
        engine.execute_statement(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        engine.execute_statement(
            f"CREATE TABLE {SOURCE_TABLE} USING parquet AS SELECT * FROM parquet.`{parquet}`"
        )


LOADERS = {"postgres": _load_postgres, "spark": _load_spark}


@pytest.fixture(scope="module")
def built(warehouse_urls: dict[str, str], source_parquet: Path) -> dict[str, Any]:
    """Each warehouse's build report, after loading the source table and building."""
    reports = {}
    for name, url in warehouse_urls.items():
        LOADERS[name](url, source_parquet)
        reports[name] = warehouse.build(url, SOURCE_TABLE, RENAMED, today=TODAY)
    return reports


@pytest.fixture(scope="module")
def exports(
    built: dict[str, Any], warehouse_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = {}
    for name, url in warehouse_urls.items():
        directory = tmp_path_factory.mktemp(f"export-{name}")
        warehouse.export(url, directory)
        out[name] = directory
    return out


def test_the_build_reports_every_bad_row_by_reason(
    built: dict[str, Any], reference_db: Path
) -> None:
    con = duckdb.connect(str(reference_db), read_only=True)
    lines, procedures = con.execute("SELECT count(*), sum(procedures) FROM claim_lines").fetchone()
    con.close()
    expected = sorted(reason for _, reason in BAD_ROWS)
    for name, report in built.items():
        assert report.read == lines + len(BAD_ROWS), name
        assert report.loaded == lines, name
        assert report.rejected == len(BAD_ROWS), name
        assert sorted(r for r, n in report.reasons for _ in range(n)) == expected, name
        assert report.procedures == procedures, name


@pytest.mark.parametrize("table", warehouse.ROLLUP_TABLES)
def test_warehouse_rollups_hold_the_rows_duckdb_builds(
    table: str, exports: dict[str, Path], reference_db: Path
) -> None:
    con = duckdb.connect(str(reference_db), read_only=True)
    try:
        reference = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert reference > 0
        for name, directory in exports.items():
            path = str(directory / f"{table}.parquet")
            for a, b in ((table, f"read_parquet('{path}')"), (f"read_parquet('{path}')", table)):
                extra = con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"
                ).fetchone()[0]
                assert extra == 0, f"{name} {table}: {extra} rows of {a} not in {b}"
    finally:
        con.close()


@pytest.fixture(scope="module")
def imported_db(exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("imported") / "claims.duckdb"
    warehouse.import_rollups(exports["spark"], path)
    return path


def test_every_question_gives_the_same_rows_on_every_engine(
    reference_db: Path, warehouse_urls: dict[str, str], imported_db: Path, built: dict[str, Any]
) -> None:
    conversations = parity.all_questions()
    with Toprank.open(reference_db, today=TODAY, build_if_missing=False) as toprank:
        queries = parity.collect_queries(toprank, conversations)
        # The coverage template lists sources by name, which differ by design (the demo
        # build against a warehouse table); coverage is compared below instead.
        compared = [q for q in queries if q.template != "coverage"]
        others = {name: open_engine(url) for name, url in warehouse_urls.items()}
        others["duckdb-imported"] = open_engine(str(imported_db))
        try:
            rows, mismatches = parity.compare(compared, toprank.engine, others)
            coverages = {name: engine.coverage() for name, engine in others.items()}
            reference = toprank.coverage
        finally:
            for engine in others.values():
                engine.close()
        reference = toprank.coverage  # read while its engine is open
    # every shape the planner has, exercised with rows to compare
    families = {q.template.split(":")[0] for q in compared}
    assert {"ranked", "total", "breakdown", "time", "movers"} <= families
    assert {"code_lookup", "over_represented"} <= families
    assert len(compared) > 300 and rows > 2000
    assert not mismatches, "\n".join(str(m) for m in mismatches[:20])
    for name, coverage in coverages.items():
        assert coverage.start == reference.start, name
        assert coverage.end == date(2023, 9, 29), name  # the last line's date
        assert coverage.claim_lines == reference.claim_lines, name
        assert coverage.procedures == reference.procedures, name


def test_show_sql_is_the_sql_the_engine_ran(
    warehouse_urls: dict[str, str], built: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, url in warehouse_urls.items():
        monkeypatch.setenv("TOPRANK_ENGINE_URL", url)
        with Toprank.open(today=TODAY) as toprank:
            answer = toprank.ask("top 5 PT codes in Texas excluding medicare 2022")
        assert answer.error is None and len(answer.rows) == 5, name
        assert answer.sql is not None
        marker = "%(states)s" if name == "postgres" else ":states"
        assert marker in answer.sql and "list_contains" not in answer.sql, name


def test_a_warehouse_without_rollups_says_how_to_build_them(warehouse_urls: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    import psycopg

    url = warehouse_urls["postgres"]
    with psycopg.connect(url, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'toprank_empty'").fetchone():
            con.execute("CREATE DATABASE toprank_empty")
    empty = url.rsplit("/", 1)[0] + "/toprank_empty"
    done = subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "ask", "top ot codes 2022"],
        capture_output=True,
        text=True,
        env={**os.environ, "TOPRANK_ENGINE_URL": empty},
        timeout=120,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no rollups yet" in lines[0] and "data build" in lines[0]


def test_the_slack_app_answers_from_the_warehouse(
    warehouse_urls: dict[str, str], built: dict[str, Any], tmp_path: Path
) -> None:
    """`toprank serve --http` with TOPRANK_ENGINE_URL and no database file: a signed slash
    command is answered from PostgreSQL's rollups (Slack's Web API is the local mock)."""
    import os
    import queue
    import re
    import subprocess
    import sys
    import threading

    from tests.slack_mock import (
        BOT_TOKEN,
        SIGNING_SECRET,
        SlackMock,
        post_signed,
        slash_command_body,
    )

    mock = SlackMock()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        TOPRANK_DB=str(tmp_path / "never-built.duckdb"),
        TOPRANK_ENGINE_URL=warehouse_urls["postgres"],
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=mock.base_url,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toprank.bot.cli",
            "serve",
            "--http",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True
    ).start()
    try:
        first = lines.get(timeout=180)
        match = re.fullmatch(
            r"toprank: listening on (http://127\.0\.0\.1:\d+/slack/events)\n", first
        )
        assert match, first
        body = slash_command_body("rehab 2023 5", mock.response_url("warehouse"))
        assert post_signed(match[1], body, "application/x-www-form-urlencoded").status == 200
        answer = mock.wait_response("warehouse")[0]
        assert "97110" in answer.body["text"]
        assert "warehouse table claims_source" in str(answer.body)  # the source it read
    finally:
        process.terminate()
        process.wait(timeout=30)
        mock.close()
    assert not (tmp_path / "never-built.duckdb").exists()  # no demo file was built


@pytest.mark.parametrize("engine_name", ["postgres", "spark"])
def test_a_query_past_its_deadline_is_stopped_and_the_engine_lives_on(
    engine_name: str, warehouse_urls: dict[str, str], built: dict[str, Any]
) -> None:
    """The deadline is the server's (PostgreSQL's statement_timeout, a Spark interrupt of
    the query's tag): a query that would run for hours ends as QueryTimeout, and the next
    question on the same engine is answered."""
    import time

    from toprank.sql.engine import QueryTimeout
    from toprank.sql.query import Query

    # rollup_month joined with itself: about 9e10 rows to count, hours of work
    endless = Query(
        "endless",
        "SELECT count(*) AS n FROM rollup_month AS a CROSS JOIN rollup_month AS b",
    )
    engine = open_engine(warehouse_urls[engine_name], timeout=2.0)
    try:
        engine.records(Query("warm", "SELECT count(*) AS n FROM sources"))  # connect first
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            engine.records(endless)
        assert time.monotonic() - started < 60  # stopped, not run to the end
        # The same engine (pool, session) answers next; on Spark given more than 2 s, as a
        # small job can take that long on two busy cores.
        engine.timeout = 60.0
        assert engine.records(Query("after", "SELECT count(*) AS n FROM sources")) == [{"n": 1}]
    finally:
        engine.close()


def test_bench_engine_times_answers_by_shape_on_the_warehouse(
    warehouse_urls: dict[str, str], built: dict[str, Any], tmp_path: Path
) -> None:
    """`toprank bench --engine URL`: full answers on PostgreSQL's rollups, timed by the SQL
    shape each answer ran; a URL with nothing behind it is one line and exit 2."""
    import json
    import os
    import subprocess
    import sys

    from toprank.bot.bench.answers import engine_latency

    questions = ["top 5 ot codes 2022", "pt volume 2021 vs 2022", "payer mix for pt 2022"]
    result = engine_latency(warehouse_urls["postgres"], questions, repeat=2)
    assert result["engine"] == "postgres" and result["errors"] == []
    assert sum(v["n"] for v in result["shapes"].values()) == len(questions) * 2
    assert any(shape.startswith("ranked:") for shape in result["shapes"])
    assert any(shape.startswith("breakdown:") for shape in result["shapes"])

    out = tmp_path / "bench.json"
    port = warehouse_urls["postgres"].rsplit(":", 1)[1].split("/")[0]
    dead = warehouse_urls["postgres"].replace(f":{port}/", ":1/")
    done = subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "bench", "--engine", dead, "--json", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "TOPRANK_ENGINE_URL": ""},
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
    json.dumps(result)  # the --json figures are plain JSON
