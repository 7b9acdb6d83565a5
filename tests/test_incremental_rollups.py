"""Ingesting one more file adds its lines' rollups to the tables instead of rebuilding
them from every line. The oracle: the same tables built in full from claim_lines (the
build a first load runs), compared row for row, and sums over claim_lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TODAY
from tests.test_cms_layouts import LAYOUTS, write_layout
from tests.test_ingest import ingest, line, write
from toprank.data import db
from toprank.data.ingest import ingest_cms_puf

CODES = ("97110", "97140", "97530", "97112", "99213")
TAXONOMIES = ("225100000X", "225X00000X", "235Z00000X", "111N00000X", "207Q00000X")
STATES = ("CA", "TX", "PR", "XX", "NY")
PAYERS = ("medicare", "medicaid", "commercial")
PLACES = ("11", "22", "12", "")


def claims_file(path: Path, prefix: str, months: tuple[str, ...], n: int) -> Path:
    """n lines, three to a claim, over the given months (YYYY-MM); every value cycles."""
    lines = []
    for i in range(n):
        claim = i // 3
        lines.append(
            line(
                f"{prefix}{claim}",
                line_number=str(i % 3 + 1),
                service_date=f"{months[claim % len(months)]}-{1 + claim % 28:02d}",
                hcpcs_code=CODES[i % len(CODES)],
                modifiers=("GP", "GO 59", "")[i % 3],
                units=str(1 + i % 4),
                rendering_taxonomy=TAXONOMIES[claim % len(TAXONOMIES)],
                place_of_service=PLACES[claim % len(PLACES)],
                payer_type=PAYERS[claim % len(PAYERS)],
                state=STATES[claim % len(STATES)],
            )
        )
    return write(path, lines)


def full_build(dbf: Path, tmp: Path) -> Path:
    """A copy of the database with every rollup built again from claim_lines."""
    copy = tmp / f"full-{dbf.stat().st_mtime_ns}.duckdb"
    shutil.copyfile(dbf, copy)
    con = duckdb.connect(str(copy))
    db.rebuild_rollups(con)
    con.close()
    return copy


def assert_same_rollups(dbf: Path, reference: Path) -> None:
    con = duckdb.connect()
    con.execute(f"ATTACH '{dbf}' AS got (READ_ONLY)")
    con.execute(f"ATTACH '{reference}' AS want (READ_ONLY)")
    for table in db.ROLLUP_GRAIN:
        n = con.execute(f"SELECT count(*) FROM want.{table}").fetchone()[0]
        assert n > 0, table
        for a, b in (("got", "want"), ("want", "got")):
            extra = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {a}.{table} "
                f"EXCEPT ALL SELECT * FROM {b}.{table})"
            ).fetchone()[0]
            assert extra == 0, f"{table}: {extra} rows of {a} not in {b}"
    con.close()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, claims_file(tmp_path / "a.csv", "A", ("2022-01", "2022-02"), 600))
    assert report.files and "first data" in format_rollups(report)
    return dbf


def format_rollups(report: object) -> str:
    return str(getattr(report, "rollups", ""))


def test_a_new_file_is_added_to_the_rollups_exactly(base: Path, tmp_path: Path) -> None:
    # new claims in a loaded month, in a new month, new keys (a new state and place)
    more = claims_file(tmp_path / "b.csv", "B", ("2022-02", "2022-03"), 450)
    report = ingest(base, more)
    assert format_rollups(report).startswith("rollups updated")
    assert_same_rollups(base, full_build(base, tmp_path))
    con = duckdb.connect(str(base), read_only=True)
    lines, national = con.execute(
        "SELECT (SELECT sum(procedures) FROM claim_lines), "
        "(SELECT sum(procedures) FROM rollup_national WHERE cohort = 'all')"
    ).fetchone()
    con.close()
    assert lines == national == 1050


def test_the_same_claim_in_another_month_still_adds_up(base: Path, tmp_path: Path) -> None:
    # claim ids A0.. again, but in March: a claim counts once per month, so it adds up
    again = claims_file(tmp_path / "c.csv", "A", ("2022-03",), 90)
    report = ingest(base, again)
    assert format_rollups(report).startswith("rollups updated")
    assert_same_rollups(base, full_build(base, tmp_path))


def test_a_claim_already_loaded_in_the_same_month_rebuilds_in_full(
    base: Path, tmp_path: Path
) -> None:
    # a correction file: claim A3's lines again in its month (January)
    fix = write(
        tmp_path / "fix.csv",
        [line("A2", service_date="2022-01-03", hcpcs_code="97530", state="CA")],
    )
    report = ingest(base, fix)
    assert "rebuilt" in format_rollups(report) and "share claim ids" in format_rollups(report)
    assert_same_rollups(base, full_build(base, tmp_path))


def test_a_cms_file_after_claims_is_added_exactly(base: Path, tmp_path: Path) -> None:
    layout = LAYOUTS[0]
    report = ingest_cms_puf(
        base,
        write_layout(tmp_path / "puf.csv", layout),
        year=2022,
        progress=False,
        today=TODAY,
    )
    assert report.rollups.startswith("rollups updated")
    assert_same_rollups(base, full_build(base, tmp_path))


def test_the_delta_script_covers_every_rollup() -> None:
    script = db._delta_script()
    for table in db.ROLLUP_GRAIN:
        assert f"CREATE OR REPLACE TEMP TABLE delta_{table}" in script


def test_the_rollup_columns_written_in_three_places_agree(tmp_path: Path) -> None:
    """data/rollups.sql makes the tables; data.db.ROLLUP_GRAIN (the incremental update)
    and sql.warehouse.COLUMNS (export and import) list their columns again. The oracle
    is DuckDB's own DESCRIBE of tables data/rollups.sql built."""
    from toprank.sql.warehouse import COLUMNS, ROLLUP_TABLES

    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, claims_file(tmp_path / "a.csv", "A", ("2022-01",), 30))
    con = duckdb.connect(str(dbf), read_only=True)
    try:
        for table in ROLLUP_TABLES:
            described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
            assert sorted(described) == sorted(COLUMNS[table]), table
            keys, measures = db.ROLLUP_GRAIN[table]
            assert sorted((*keys, *measures)) == sorted(name for name, _ in described), table
    finally:
        con.close()
    assert set(ROLLUP_TABLES) == set(db.ROLLUP_GRAIN)
