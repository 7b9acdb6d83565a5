"""Ingest of real files (data.ingest): every format, bad rows, truncated and corrupt
files, re-ingest, atomicity, the CMS PUF, the CLI, and answers from ingested data.

Every file is written by the test into tmp_path and loaded into a real DuckDB file.
"""

from __future__ import annotations

import csv
import gzip
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TODAY
from toprank.data import db
from toprank.data.ingest import (
    _CLAIMS,
    CLAIM_COLUMNS,
    AlreadyIngested,
    IngestError,
    _Ingest,
    _LineCounter,
    _run_block,
    _SetAside,
    ingest_claims,
    ingest_cms_puf,
)

REPO = Path(__file__).resolve().parent.parent
HEADER = ",".join(CLAIM_COLUMNS)

# The real header order of the CMS "by Provider and Service" file.
PUF_HEADER = (
    "Rndrng_NPI,Rndrng_Prvdr_Last_Org_Name,Rndrng_Prvdr_First_Name,Rndrng_Prvdr_MI,"
    "Rndrng_Prvdr_Crdntls,Rndrng_Prvdr_Gndr,Rndrng_Prvdr_Ent_Cd,Rndrng_Prvdr_St1,"
    "Rndrng_Prvdr_St2,Rndrng_Prvdr_City,Rndrng_Prvdr_State_Abrvtn,Rndrng_Prvdr_State_FIPS,"
    "Rndrng_Prvdr_Zip5,Rndrng_Prvdr_RUCA,Rndrng_Prvdr_RUCA_Desc,Rndrng_Prvdr_Cntry,"
    "Rndrng_Prvdr_Type,Rndrng_Prvdr_Mdcr_Prtcptg_Ind,HCPCS_Cd,HCPCS_Desc,HCPCS_Drug_Ind,"
    "Place_Of_Srvc,Tot_Benes,Tot_Srvcs,Tot_Bene_Day_Srvcs,Avg_Sbmtd_Chrg,Avg_Mdcr_Alowd_Amt,"
    "Avg_Mdcr_Pymt_Amt,Avg_Mdcr_Stdzd_Amt"
)


def line(
    claim_id: str = "C1",
    line_number: str = "1",
    service_date: str = "2022-03-01",
    hcpcs_code: str = "97110",
    modifiers: str = "GP",
    units: str = "1",
    rendering_npi: str = "1234567890",
    rendering_taxonomy: str = "225100000X",
    place_of_service: str = "11",
    payer_type: str = "medicare",
    state: str = "CA",
) -> str:
    """One well-formed CSV line; override a field to break it."""
    return ",".join(
        (
            claim_id,
            line_number,
            service_date,
            hcpcs_code,
            modifiers,
            units,
            rendering_npi,
            rendering_taxonomy,
            place_of_service,
            payer_type,
            state,
        )
    )


def write(path: Path, lines: list[str], header: str = HEADER, end: str = "\n") -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + end, encoding="utf-8")
    return path


def ingest(db_path: Path, *files: Path, **kw) -> object:
    return ingest_claims(db_path, list(files), progress=False, today=TODAY, **kw)


def rows(db_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def snapshot(db_path: Path) -> dict[str, list[tuple]]:
    """Everything a question or `data info` could see, in a comparable form."""
    if not db_path.exists():
        return {}
    return {
        table: rows(db_path, f"SELECT * FROM {table} ORDER BY ALL")
        for table in ("claim_lines", "sources", "rollup_month", "rollup_national")
    }


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def reasons_by_claim(path: Path) -> dict[str, str]:
    return {r["claim_id"]: r["reason"] for r in read_rejects(path) if r["claim_id"]}


# ------------------------------------------------------------------------- good rows


def test_good_rows_load_with_cohorts_payers_states_and_modifiers(tmp_path: Path) -> None:
    src = write(
        tmp_path / "claims.csv",
        [
            line("C1", "1", hcpcs_code="97110", rendering_taxonomy="225100000X"),
            line("C1", "2", hcpcs_code="97140", modifiers='"GP,59"', payer_type="Medicare"),
            line("C2", "1", rendering_taxonomy="225X00000X", payer_type="commercial", state="tx"),
            line("C3", "1", rendering_taxonomy="235Z00000X", payer_type="Medicaid", units=" 2 "),
            line("C4", "1", rendering_taxonomy="111N00000X", payer_type="self-pay", state="NY"),
            line("C5", "1", rendering_taxonomy="2081P2900X", payer_type="private insurance"),
            line("C6", "1", rendering_taxonomy="207Q00000X", modifiers="", units=""),
            line("C7", "1", rendering_taxonomy="", place_of_service="2", hcpcs_code="g0283"),
        ],
    )
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, src)
    assert (report.read, report.loaded, report.rejected) == (8, 8, 0)
    assert report.rejects_path is None
    got = rows(
        dbf,
        "SELECT claim_id, line_number, hcpcs_code, modifiers, units, cohort, payer, state, "
        "place_of_service, procedures FROM claim_lines ORDER BY claim_id, line_number",
    )
    assert got == [
        ("C1", 1, "97110", "GP", 1, "pt", "medicare", "CA", "11", 1),
        ("C1", 2, "97140", "GP 59", 1, "pt", "medicare", "CA", "11", 1),
        ("C2", 1, "97110", "GP", 1, "ot", "commercial", "TX", "11", 1),
        ("C3", 1, "97110", "GP", 2, "slp", "medicaid", "CA", "11", 1),
        ("C4", 1, "97110", "GP", 1, "chiro", "other", "NY", "11", 1),
        ("C5", 1, "97110", "GP", 1, "pmr", "commercial", "CA", "11", 1),
        ("C6", 1, "97110", None, None, "other", "medicare", "CA", "11", 1),
        ("C7", 1, "G0283", "GP", 1, "other", "medicare", "CA", "02", 1),
    ]
    (source,) = rows(
        dbf,
        "SELECT source_id, name, kind, length(fingerprint), rows_read, rows_loaded, "
        "rows_rejected, first_date, last_date, loaded_at IS NOT NULL FROM sources",
    )
    assert source == (
        1,
        "claims.csv",
        "claims",
        64,
        8,
        8,
        0,
        date(2022, 3, 1),
        date(2022, 3, 1),
        True,
    )
    # rollups rebuilt: 'rehab' holds the 97xxx codes, 'all' everything
    assert rows(
        dbf,
        "SELECT cohort, sum(procedures) FROM rollup_national GROUP BY cohort ORDER BY cohort",
    ) == [
        ("all", 8),
        ("chiro", 1),
        ("ot", 1),
        ("other", 2),
        ("pmr", 1),
        ("pt", 2),
        ("rehab", 7),
        ("slp", 1),
    ]


def typed_parquet(path: Path, hcpcs_code: str = "'97530'", units: str = "2") -> Path:
    """100 claim lines P1..P100 in Parquet with typed columns (DATE, integers); the code
    and units are SQL expressions of i, to make some rows bad."""
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'P' || i AS claim_id, i AS line_number, "
        "DATE '2022-01-01' + CAST(i AS INTEGER) AS service_date, "
        f"{hcpcs_code} AS hcpcs_code, 'GO' AS modifiers, {units} AS units, "
        "1234567890 AS rendering_npi, '225X00000X' AS rendering_taxonomy, "
        "11 AS place_of_service, 'medicaid' AS payer_type, 'WA' AS state "
        f"FROM range(1, 101) t(i)) TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def test_parquet_with_typed_columns_loads(tmp_path: Path) -> None:
    src = typed_parquet(tmp_path / "claims.parquet")
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, src)
    assert (report.read, report.loaded, report.rejected) == (100, 100, 0)
    assert report.files[0].reader == "parquet"
    assert rows(
        dbf,
        "SELECT count(*), min(service_date), max(service_date), min(cohort), min(units), "
        "min(place_of_service), min(rendering_npi) FROM claim_lines",
    ) == [(100, date(2022, 1, 2), date(2022, 4, 11), "ot", 2, "11", "1234567890")]


def test_gzip_csv_loads_like_the_plain_file(tmp_path: Path) -> None:
    lines = [line(f"C{i}", service_date=f"2022-01-{i:02d}") for i in range(1, 21)]
    plain = write(tmp_path / "claims.csv", lines)
    packed = tmp_path / "claims.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, packed)
    assert (report.read, report.loaded, report.rejected) == (20, 20, 0)
    # the fingerprint is of the content: the same rows uncompressed are the same file
    with pytest.raises(AlreadyIngested):
        ingest(dbf, plain)
    assert rows(dbf, "SELECT count(*) FROM claim_lines") == [(20,)]


# -------------------------------------------------------------------------- bad rows


def test_bad_rows_are_rejected_with_reasons_and_nothing_vanishes(tmp_path: Path) -> None:
    good = [line(f"G{i}") for i in range(5)]
    bad = [
        line("B_date", service_date="2022-02-30"),
        line("B_format", service_date="03/01/2022"),
        line("B_future", service_date="2031-01-01"),
        line("B_code", hcpcs_code="9711"),
        line("B_code2", hcpcs_code="ABCDE"),
        line("B_neg", units="-1"),
        line("B_nan", units="two"),
        line("B_frac", units="1.5"),
        line("B_state", state="QQ"),
        line("B_payer", payer_type="barter"),
        line("B_nopayer", payer_type=""),
        line("B_npi", rendering_npi="12345"),
        line("B_mod", modifiers="GPX"),
        line("B_two", state="QX", hcpcs_code="1"),
        line("", service_date="2022-05-01"),  # missing claim_id
    ]
    structural = [
        "S1,1,2022-03-01,97110",  # too few columns
        line("S2") + ",extra",  # too many columns
    ]
    src = write(tmp_path / "claims.csv", good + bad + structural)
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, src)
    assert report.read == len(good) + len(bad) + len(structural)
    assert report.loaded == len(good)
    assert report.loaded + report.rejected == report.read
    assert report.rejects_path == tmp_path / "claims.rejects.1.csv"
    rejects = read_rejects(report.rejects_path)
    assert len(rejects) == report.rejected
    by_claim = reasons_by_claim(report.rejects_path)
    assert by_claim == {
        "B_date": "bad service_date (expected YYYY-MM-DD)",
        "B_format": "bad service_date (expected YYYY-MM-DD)",
        "B_future": "service_date in the future",
        "B_code": "unknown code format",
        "B_code2": "unknown code format",
        "B_neg": "negative units",
        "B_nan": "units not a number",
        "B_frac": "units not a whole number",
        "B_state": "unknown state",
        "B_payer": "unknown payer_type",
        "B_nopayer": "missing payer_type",
        "B_npi": "bad rendering_npi (expected 10 digits)",
        "B_mod": "bad modifiers (expected two-character codes)",
        "B_two": "unknown code format; unknown state",
    }
    missing = [r for r in rejects if r["reason"] == "missing claim_id"]
    assert len(missing) == 1 and missing[0]["service_date"] == "2022-05-01"
    # the original values travel with the reason
    neg = next(r for r in rejects if r["claim_id"] == "B_neg")
    assert (neg["units"], neg["state"], neg["hcpcs_code"]) == ("-1", "CA", "97110")
    malformed = {r["raw_line"]: r for r in rejects if r["reason"].startswith("malformed")}
    assert malformed["S1,1,2022-03-01,97110"]["reason"] == "malformed CSV line: too few columns"
    assert malformed[line("S2") + ",extra"]["reason"] == "malformed CSV line: too many columns"
    assert malformed["S1,1,2022-03-01,97110"]["line"] == str(len(good) + len(bad) + 2)
    assert rows(dbf, "SELECT rows_read, rows_loaded, rows_rejected FROM sources") == [
        (report.read, report.loaded, report.rejected)
    ]
    assert rows(dbf, "SELECT list(claim_id ORDER BY claim_id) FROM claim_lines") == [
        ([f"G{i}" for i in range(5)],)
    ]
    top = dict(report.files[0].reasons)
    assert top["bad service_date (expected YYYY-MM-DD)"] == 2
    # the rows set aside during the load were read back and their file removed
    assert not list(tmp_path.glob(".toprank-rejected-*"))


@pytest.mark.parametrize("row_by_row_limit", [100_000, 50])
def test_many_rejects_spill_to_disk_and_every_one_keeps_its_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row_by_row_limit: int
) -> None:
    # Rejected rows are set aside as the load pass meets them and written out every
    # FLUSH_ROWS rows; a small threshold makes this file spill often. Past the row-by-row
    # limit the file is loaded again, setting rows aside in batches: same result.
    monkeypatch.setattr(_SetAside, "FLUSH_ROWS", 7)
    monkeypatch.setattr(_SetAside, "ROW_BY_ROW_MIN", row_by_row_limit)
    good = [line(f"G{i:04d}") for i in range(3000)]
    bad = [line(f"B{i:04d}", units=str(-1 - i)) for i in range(250)]
    mixed = [row for pair in zip(good, bad, strict=False) for row in pair] + good[len(bad) :]
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, write(tmp_path / "claims.csv", mixed))
    assert (report.read, report.loaded, report.rejected) == (3250, 3000, 250)
    rejects = read_rejects(report.rejects_path)
    assert sorted((r["claim_id"], r["units"], r["reason"]) for r in rejects) == [
        (f"B{i:04d}", str(-1 - i), "negative units") for i in range(250)
    ]
    assert not list(tmp_path.glob(".toprank-rejected-*"))
    in_batches = [n for n in report.notes if "in batches" in n]
    assert len(in_batches) == (1 if row_by_row_limit < 250 else 0)
    assert rows(dbf, "SELECT count(*), count(DISTINCT claim_id) FROM claim_lines") == [(3000, 3000)]


def test_parquet_rejects_keep_the_values_as_read(tmp_path: Path) -> None:
    src = typed_parquet(
        tmp_path / "claims.parquet",
        hcpcs_code="CASE WHEN i % 10 = 0 THEN '971' ELSE '97530' END",
        units="CASE WHEN i % 25 = 0 THEN -2 ELSE 2 END",
    )
    report = ingest(tmp_path / "claims.duckdb", src)
    assert (report.read, report.loaded, report.rejected) == (100, 88, 12)
    by_claim = {r["claim_id"]: r for r in read_rejects(report.rejects_path)}
    assert by_claim["P10"]["reason"] == "unknown code format"
    assert by_claim["P25"]["reason"] == "negative units"
    assert by_claim["P50"]["reason"] == "unknown code format; negative units"
    assert (by_claim["P50"]["units"], by_claim["P50"]["service_date"]) == ("-2", "2022-02-20")


def test_unterminated_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    # DuckDB's quote-aware reader would let the open quote swallow the lines after it;
    # the line count catches that and the file is re-read one line per row.
    lines = [line(f"G{i}") for i in range(3)]
    lines.append('U1,1,2022-03-01,"97110,GP,1,1234567890,225100000X,11,medicare,CA')
    lines += [line(f"H{i}") for i in range(4)]
    lines.append('Q1,1,2022-03-01,97110,"GP,1,1234567890,225100000X,11,medicare,CA')
    lines.append(line("Z1", modifiers='"GP,59"'))
    src = write(tmp_path / "claims.csv", lines)
    dbf = tmp_path / "claims.duckdb"
    report = ingest(dbf, src)
    assert (report.read, report.loaded, report.rejected) == (10, 8, 2)
    assert report.files[0].reader == "csv-lines"
    assert any("re-read one line per row" in n for n in report.notes)
    rejects = read_rejects(report.rejects_path)
    assert sorted(r["raw_line"][:2] for r in rejects) == ["Q1", "U1"]
    assert {r["reason"] for r in rejects} == {
        "malformed CSV line: bad quoting (unterminated or stray quote)"
    }
    loaded = rows(dbf, "SELECT claim_id, modifiers FROM claim_lines ORDER BY claim_id")
    assert [c for c, _ in loaded] == ["G0", "G1", "G2", "H0", "H1", "H2", "H3", "Z1"]
    assert dict(loaded)["Z1"] == "GP 59"  # quoted commas still split right line by line


def test_quoted_value_spanning_lines_is_rejected_line_by_line(tmp_path: Path) -> None:
    src = write(
        tmp_path / "claims.csv",
        [
            line("G1"),
            '"M\n1",1,2022-03-01,97110,GP,1,1234567890,225100000X,11,medicare,CA',
            line("G2"),
        ],
    )
    report = ingest(tmp_path / "claims.duckdb", src)
    assert (report.read, report.loaded, report.rejected) == (4, 2, 2)


def test_blank_lines_are_not_rows_and_crlf_works(tmp_path: Path) -> None:
    src = tmp_path / "claims.csv"
    src.write_bytes(
        (
            HEADER
            + "\r\n"
            + line("A")
            + "\r\n\r\n"
            + line("B")
            + "\r\n\r\n\r\n"
            + line("C")
            + "\r\n"
        ).encode()
    )
    report = ingest(tmp_path / "claims.duckdb", src)
    assert (report.read, report.loaded, report.rejected) == (3, 3, 0)
    assert report.files[0].reader == "csv"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"h\na\n\nb\n"], 2),
        ([b"h\na\n", b"\nb\n"], 2),
        ([b"h\na\r", b"\n\r", b"\nb"], 2),  # CRLF blank line split over chunks, no final newline
        ([b"h\n", b"\n", b"\n", b"a\n"], 1),
        ([b"h\n", b" \n", b"a\n\n\n"], 2),  # a line of spaces is a (bad) row, not blank
        ([b"h"], 0),
        ([], 0),
    ],
)
def test_line_counter_is_independent_of_chunk_boundaries(
    chunks: list[bytes], expected: int
) -> None:
    counter = _LineCounter()
    for chunk in chunks:
        counter.feed(chunk)
    assert counter.data_lines == expected
    whole = _LineCounter()
    whole.feed(b"".join(chunks))
    assert whole.data_lines == expected


def test_mixed_line_endings_fall_back_to_the_per_line_reader(tmp_path: Path) -> None:
    src = tmp_path / "mixed.csv"
    src.write_bytes(
        (HEADER + "\n" + line("A") + "\r\n" + line("B") + "\n\n" + line("C") + "\r\n").encode()
        + b"X\xff,1\n"
        + ('U,1,"2022\n' + line("D") + "\r\n\r\n").encode()
    )
    report = ingest(tmp_path / "claims.duckdb", src)
    assert (report.read, report.loaded, report.rejected) == (6, 4, 2)
    assert report.files[0].reader == "csv-lines"
    assert sorted(r["reason"] for r in read_rejects(report.rejects_path)) == [
        "malformed CSV line: bad quoting (unterminated or stray quote)",
        "malformed CSV line: not UTF-8 text",
    ]


def test_non_utf8_line_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "claims.csv"
    src.write_bytes(
        (HEADER + "\n" + line("A") + "\n").encode() + b"C\xff,1\n" + (line("B") + "\n").encode()
    )
    report = ingest(tmp_path / "claims.duckdb", src)
    assert (report.read, report.loaded, report.rejected) == (3, 2, 1)


# ------------------------------------------------------------------ truncated files


def test_csv_cut_mid_line_rejects_the_partial_line(tmp_path: Path) -> None:
    full = write(tmp_path / "full.csv", [line(f"C{i}") for i in range(10)])
    data = full.read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[: data.rindex(b",medicare,") + 5])  # ends "...,11,medi"
    report = ingest(tmp_path / "claims.duckdb", cut)
    assert (report.read, report.loaded, report.rejected) == (10, 9, 1)
    (reject,) = read_rejects(report.rejects_path)
    assert reject["raw_line"].endswith(",11,medi")
    assert reject["reason"] == "malformed CSV line: too few columns"


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_truncated_parquet_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    good = tmp_path / "good.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{tmp_path / 'base.csv'}', all_varchar=true), "
        f"range(5000)) TO '{good}' (FORMAT parquet)"
    )
    con.close()
    half = tmp_path / "half.parquet"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(IngestError, match="truncated or corrupt"):
        ingest(dbf, half)
    assert snapshot(dbf) == before


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_truncated_gzip_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    text = write(tmp_path / "big.csv", [line(f"C{i:06d}") for i in range(20000)]).read_bytes()
    packed = gzip.compress(text)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IngestError, match="gzip"):
        ingest(dbf, cut)
    assert snapshot(dbf) == before


# ------------------------------------------------------- re-ingest, atomicity, demo


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_reingest_is_refused_and_counts_do_not_change(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    src = write(tmp_path / "claims.csv", [line(f"C{i}") for i in range(7)])
    ingest(dbf, src)
    before = snapshot(dbf)
    with pytest.raises(AlreadyIngested, match="already loaded"):
        ingest(dbf, src)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(src.read_bytes())
    with pytest.raises(AlreadyIngested):
        ingest(dbf, copy)
    assert snapshot(dbf) == before
    assert rows(dbf, "SELECT count(*), sum(procedures) FROM claim_lines") == [(7, 7)]


def test_same_file_twice_in_one_run_is_refused(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    a = write(tmp_path / "a.csv", [line("A")])
    b = tmp_path / "b.csv"
    b.write_bytes(a.read_bytes())
    with pytest.raises(AlreadyIngested, match="same contents"):
        ingest(dbf, a, b)
    assert not dbf.exists()  # a database the failed run would have created is not left behind


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_failure_midway_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    bad = [line("R1", state="QQ"), line("R2", units="-4")]
    first = write(tmp_path / "first.csv", [line(f"F{i}") for i in range(50)] + bad)
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(gzip.compress(first.read_bytes().replace(b"F", b"X"))[:-20])
    with pytest.raises(IngestError):
        ingest(dbf, first, corrupt)  # first.csv is fully loaded before corrupt.csv.gz fails
    assert snapshot(dbf) == before
    assert not list(tmp_path.glob(".toprank-rejected-*")) + list(tmp_path.glob("*.partial"))
    # and nothing of the failed run is remembered: first.csv can be loaded now
    report = ingest(dbf, first)
    assert report.loaded == 50


def big_claims_file(path: Path, lines: int = 3_000_000) -> Path:
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'K' || i AS claim_id, 1 AS line_number, '2022-03-01' AS service_date, "
        "'97110' AS hcpcs_code, 'GP' AS modifiers, 1 AS units, '1234567890' AS rendering_npi, "
        "'225100000X' AS rendering_taxonomy, '11' AS place_of_service, 'medicare' AS payer_type, "
        f"'CA' AS state FROM range({lines}) t(i)) TO '{path}' (HEADER)"
    )
    con.close()
    return path


def signal_mid_load(argv: list[str], marker: bytes, sig: int) -> tuple[int, bytes]:
    """Starts an ingest, waits until its progress bar shows the load running, signals it."""
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + 120
    while marker not in seen and time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    proc.send_signal(sig)
    seen += proc.stderr.read()
    proc.wait()
    proc.stderr.close()
    assert marker in seen, seen[-500:]
    return proc.returncode, seen


@pytest.mark.slow  # a process or a full build
def test_killed_ingest_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    big = big_claims_file(tmp_path / "big.csv")
    code = (
        "import sys; from toprank.data.ingest import ingest_claims; "
        "ingest_claims(sys.argv[1], [sys.argv[2]], progress=True)"
    )
    returncode, _ = signal_mid_load(
        [sys.executable, "-c", code, str(dbf), str(big)], b"load big.csv", signal.SIGKILL
    )
    assert returncode == -signal.SIGKILL  # killed mid-load, not finished
    assert snapshot(dbf) == before


@pytest.mark.slow  # a process or a full build
def test_ctrl_c_during_ingest_changes_nothing_and_says_so(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    big = big_claims_file(tmp_path / "big.csv")
    argv = [
        sys.executable,
        "-m",
        "toprank.bot.cli",
        "data",
        "ingest",
        "claims",
        str(big),
        "--db",
        str(dbf),
    ]
    returncode, stderr = signal_mid_load(argv, b"load big.csv", signal.SIGINT)
    assert returncode == 130
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    assert snapshot(dbf) == before


@pytest.mark.slow  # a process or a full build
def test_demo_rows_are_removed_before_real_data_and_said_so(tmp_path: Path) -> None:
    from toprank.data.demo import build_demo

    dbf = tmp_path / "claims.duckdb"
    build_demo(dbf, lines=2000, progress=False)
    assert rows(dbf, "SELECT kind FROM sources") == [("demo",)]
    report = ingest(dbf, write(tmp_path / "real.csv", [line("R1"), line("R2")]))
    assert report.demo_lines_removed == 2000
    assert "removed the demo data" in report.notes[0]
    assert rows(dbf, "SELECT kind, rows_loaded FROM sources") == [("claims", 2)]
    assert rows(dbf, "SELECT count(*) FROM claim_lines") == [(2,)]
    assert rows(dbf, "SELECT sum(procedures) FROM rollup_national WHERE cohort = 'all'") == [(2,)]


# ---------------------------------------------------------------- --map and errors


def test_map_renames_columns_of_a_differently_named_file(tmp_path: Path) -> None:
    header = "ClaimNo,DOS,CPT,Payer,ProviderState,Taxonomy,Ignored"
    src = tmp_path / "other.csv"
    src.write_text(
        header
        + "\nX1,2022-07-01,97530,medicare,OR,225X00000X,zzz\nX2,2022-07-02,97110,medicaid,OR,225100000X,\n",
        encoding="utf-8",
    )
    dbf = tmp_path / "claims.duckdb"
    with pytest.raises(IngestError, match="lacks required column"):
        ingest(dbf, src)
    mapping = {
        "ClaimNo": "claim_id",
        "dos": "service_date",
        "CPT": "hcpcs_code",
        "Payer": "payer_type",
        "ProviderState": "state",
        "Taxonomy": "rendering_taxonomy",
    }
    report = ingest(dbf, src, column_map=mapping)
    assert (report.read, report.loaded, report.rejected) == (2, 2, 0)
    assert any("ignored column(s) Ignored" in n for n in report.notes)
    assert rows(
        dbf, "SELECT claim_id, hcpcs_code, cohort, payer, state FROM claim_lines ORDER BY 1"
    ) == [
        ("X1", "97530", "ot", "medicare", "OR"),
        ("X2", "97110", "pt", "medicaid", "OR"),
    ]


def test_map_errors_are_clear(tmp_path: Path) -> None:
    src = write(tmp_path / "claims.csv", [line("A")])
    dbf = tmp_path / "claims.duckdb"
    with pytest.raises(IngestError, match="not a claims column"):
        ingest(dbf, src, column_map={"state": "province"})
    with pytest.raises(IngestError, match="has no column"):
        ingest(dbf, src, column_map={"nope": "state"})
    with pytest.raises(IngestError, match="no such file"):
        ingest(dbf, tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(IngestError, match="empty"):
        ingest(dbf, empty)
    assert not dbf.exists()


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_all_rows_rejected_is_refused_with_the_rejects_written(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, write(tmp_path / "base.csv", [line("BASE")]))
    before = snapshot(dbf)
    src = write(tmp_path / "wrong.csv", [line("W1", state="QQ"), line("W2", state="QQ")])
    with pytest.raises(IngestError, match="every row") as err:
        ingest(dbf, src, rejects_path=tmp_path / "why.csv")
    assert "why.csv" in str(err.value)
    assert [r["reason"] for r in read_rejects(tmp_path / "why.csv")] == ["unknown state"] * 2
    assert snapshot(dbf) == before


# ------------------------------------------------------------------------- CMS PUF


def puf_row(npi: str, prvdr_type: str, state: str, code: str, srvcs: str, place: str = "O") -> str:
    fields = {name: "" for name in PUF_HEADER.split(",")}
    fields.update(
        Rndrng_NPI=npi,
        Rndrng_Prvdr_Last_Org_Name='"Smith, Jones & Co"',
        Rndrng_Prvdr_State_Abrvtn=state,
        Rndrng_Prvdr_Type=prvdr_type,
        HCPCS_Cd=code,
        HCPCS_Desc='"Therapeutic exercise to develop strength, endurance"',
        Place_Of_Srvc=place,
        Tot_Benes="12",
        Tot_Srvcs=srvcs,
    )
    return ",".join(fields.values())


def write_puf(path: Path) -> Path:
    return write(
        path,
        [
            puf_row("1000000001", "Physical Therapist in Private Practice", "CA", "97110", "1200"),
            puf_row("1000000001", "Physical Therapist in Private Practice", "CA", "97140", "800.4"),
            puf_row(
                "1000000002", "Occupational Therapist in Private Practice", "TX", "97530", "500.5"
            ),
            puf_row(
                "1000000003", "Physical Medicine and Rehabilitation", "NY", "99213", "300", "F"
            ),
            puf_row("1000000004", "Speech Language Pathologist", "FL", "92507", "40"),
            puf_row("1000000005", "Chiropractic", "FL", "98941", "70"),
            puf_row("1000000006", "Internal Medicine", "FL", "99214", "90"),
            puf_row("1000000007", "Physical Therapist in Private Practice", "QQ", "97110", "15"),
            puf_row("1000000008", "Physical Therapist in Private Practice", "CA", "97110", "-3"),
            puf_row("1000000009", "Physical Therapist in Private Practice", "CA", "97110", "n/a"),
        ],
        header=PUF_HEADER,
    )


J1 = date(2022, 1, 1)


def test_cms_puf_maps_provider_types_rounds_services_and_covers_the_year(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    report = ingest_cms_puf(
        dbf, write_puf(tmp_path / "puf.csv"), year=2022, progress=False, today=TODAY
    )
    assert (report.read, report.loaded, report.rejected) == (10, 7, 3)
    assert rows(
        dbf,
        "SELECT rendering_npi, cohort, hcpcs_code, procedures, payer, state, service_date, "
        "place_of_service, facility_setting, claim_id FROM claim_lines "
        "ORDER BY rendering_npi, hcpcs_code",
    ) == [
        # Place_Of_Srvc F/O is the setting, not a place-of-service code
        ("1000000001", "pt", "97110", 1200, "medicare", "CA", J1, None, "non-facility", None),
        ("1000000001", "pt", "97140", 800, "medicare", "CA", J1, None, "non-facility", None),
        ("1000000002", "ot", "97530", 501, "medicare", "TX", J1, None, "non-facility", None),
        ("1000000003", "pmr", "99213", 300, "medicare", "NY", J1, None, "facility", None),
        ("1000000004", "slp", "92507", 40, "medicare", "FL", J1, None, "non-facility", None),
        ("1000000005", "chiro", "98941", 70, "medicare", "FL", J1, None, "non-facility", None),
        ("1000000006", "other", "99214", 90, "medicare", "FL", J1, None, "non-facility", None),
    ]
    (source,) = rows(dbf, "SELECT kind, name, first_date, last_date, rows_read FROM sources")
    assert source[0] == "cms-puf" and "2022" in source[1] and "puf.csv" in source[1]
    assert source[2:] == (date(2022, 1, 1), date(2022, 12, 31), 10)
    reasons = {r["Rndrng_NPI"]: r["reason"] for r in read_rejects(report.rejects_path)}
    assert reasons == {
        "1000000007": "unknown state",
        "1000000008": "negative Tot_Srvcs",
        "1000000009": "Tot_Srvcs not a number",
    }
    assert report.files[0].procedures == 1200 + 800 + 501 + 300 + 40 + 70 + 90


def test_cms_puf_needs_a_sensible_year_and_its_columns(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    puf = write_puf(tmp_path / "puf.csv")
    with pytest.raises(IngestError, match="--year"):
        ingest_cms_puf(dbf, puf, year=1999, progress=False, today=TODAY)
    claims = write(tmp_path / "claims.csv", [line("A")])
    with pytest.raises(IngestError, match="lacks required column"):
        ingest_cms_puf(dbf, claims, year=2022, progress=False, today=TODAY)
    assert not dbf.exists()


# ----------------------------------------------------- answers from ingested data


def known_counts_file(path: Path) -> Path:
    """2022 claim lines with known counts: PT 97110 x60, 97140 x30, 97530 x10;
    OT 97530 x40, 97110 x20; plus 2021 PT lines that a 2022 question must not count."""
    lines: list[str] = []
    plan = [
        ("225100000X", "97110", 60, "2022-02-03"),
        ("225100000X", "97140", 30, "2022-06-07"),
        ("225100000X", "97530", 10, "2022-11-12"),
        ("225X00000X", "97530", 40, "2022-04-05"),
        ("225X00000X", "97110", 20, "2022-08-09"),
        ("225100000X", "97140", 500, "2021-05-05"),
    ]
    for taxonomy, code, count, day in plan:
        for i in range(count):
            lines.append(
                line(
                    f"{code}-{day}-{i}",
                    service_date=day,
                    hcpcs_code=code,
                    rendering_taxonomy=taxonomy,
                )
            )
    return write(path, lines)


def test_answers_reflect_the_ingested_rows(tmp_path: Path) -> None:
    from toprank.bot.pipeline import Toprank

    dbf = tmp_path / "claims.duckdb"
    ingest(dbf, known_counts_file(tmp_path / "known.csv"))
    with Toprank.open(dbf, today=TODAY, build_if_missing=False) as bot:
        pt = bot.ask("top PT codes 2022")
        assert pt.error is None
        assert [r["code"] for r in pt.rows] == ["97110", "97140", "97530"]
        # the small cell is hidden, and so is the next smallest: with the total said
        # (100), 100 - 60 - 30 would give the hidden one away
        assert [r["procedures"] for r in pt.rows] == [60, None, "<11"]
        assert pt.rows[0]["share_pct"] == pytest.approx(60.0)  # of all 100 PT procedures
        assert pt.rows[1]["share_pct"] is None and pt.rows[1]["suppressed"]
        assert pt.rows[2]["share_pct"] is None
        assert "100 PT procedures" in pt.text and "(10)" not in pt.text and "(30)" not in pt.text
        ot = bot.ask("top OT codes 2022")
        assert [r["code"] for r in ot.rows] == ["97530", "97110"]
        assert ot.rows[0]["share_pct"] == pytest.approx(100 * 40 / 60, abs=0.05)
        assert "known.csv" in bot.coverage.sources


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_answers_from_the_cms_puf(tmp_path: Path) -> None:
    from toprank.bot.pipeline import Toprank

    dbf = tmp_path / "claims.duckdb"
    ingest_cms_puf(dbf, write_puf(tmp_path / "puf.csv"), year=2022, progress=False, today=TODAY)
    with Toprank.open(dbf, today=TODAY, build_if_missing=False) as bot:
        answer = bot.ask("top PT codes 2022")
        assert [(r["code"], r["procedures"]) for r in answer.rows] == [
            ("97110", 1200),
            ("97140", 800),
        ]
        assert answer.rows[0]["share_pct"] == pytest.approx(100 * 1200 / 2000)
        assert bot.coverage.annual_years == (2022,)
        assert not any("annual" in note for note in answer.notes)  # the whole year: exact
        # The file's totals sit on January 1, so Q1 holds the whole year and Q2 none of
        # it: both answers must say so instead of passing that off as a quarter.
        q1 = bot.ask("top PT codes Q1 2022")
        assert [r["code"] for r in q1.rows] == ["97110", "97140"]
        assert any("annual CMS Medicare file" in note for note in q1.notes)
        assert "annual CMS Medicare file" in q1.text
        q2 = bot.ask("top PT codes Q2 2022")
        assert q2.error == "no_data" and "annual CMS Medicare file" in q2.text
        trend = bot.ask("trend of 97110 for PT")
        # the annual file's totals sit in January, but it covers the whole year
        assert [(r["year"], r["period"]) for r in trend.rows] == [(2022, "2022")]


# ----------------------------------------------------------------------------- CLI


def run_cli(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("TOPRANK_DB", None)
    if env_db is not None:
        env["TOPRANK_DB"] = str(env_db)
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "data", "ingest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow  # a process or a full build
def test_cli_ingest_claims_prints_read_loaded_rejected(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    src = write(tmp_path / "claims.csv", [line("A"), line("B"), line("C", state="QQ")])
    done = run_cli("claims", str(src), "--db", str(dbf), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "claims.csv: read 3 / loaded 2 / rejected 1" in done.stdout
    assert "1 unknown state" in done.stdout
    assert str(tmp_path / "claims.rejects.1.csv") in done.stdout
    again = run_cli("claims", str(src), "--no-progress", env_db=dbf)  # TOPRANK_DB
    assert again.returncode == 1
    assert "already loaded" in again.stderr and "Traceback" not in again.stderr
    assert rows(dbf, "SELECT count(*) FROM claim_lines") == [(2,)]


@pytest.mark.slow  # a process or a full build
def test_cli_ingest_cms_puf_and_map(tmp_path: Path) -> None:
    dbf = tmp_path / "claims.duckdb"
    done = run_cli(
        "cms-puf",
        str(write_puf(tmp_path / "puf.csv")),
        "--year",
        "2022",
        "--db",
        str(dbf),
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    assert "read 10 / loaded 7 / rejected 3" in done.stdout
    other = tmp_path / "other.csv"
    other.write_text("id,date,cpt,payer,st\nM1,2022-01-05,97110,medicare,CA\n", encoding="utf-8")
    mapped = run_cli(
        "claims", str(other), "--db", str(dbf), "--no-progress",
        "--map", "id=claim_id", "--map", "date=service_date", "--map", "cpt=hcpcs_code",
        "--map", "payer=payer_type", "--map", "st=state",
    )  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert "read 1 / loaded 1 / rejected 0" in mapped.stdout
    bad = run_cli("claims", str(other), "--db", str(dbf), "--map", "oops")
    assert bad.returncode == 1 and "expected OLD=NEW" in bad.stderr


# ------------------------------------------------------------------------ benchmark


@pytest.mark.slow  # a process or a full build
def test_benchmark_smoke(tmp_path: Path) -> None:
    from tests import bench_ingest

    results = bench_ingest.run(20_000, tmp_path, ["csv", "parquet"])
    assert [r["format"] for r in results] == ["csv", "parquet"]
    for r in results:
        assert r["loaded"] + r["rejected"] == r["lines"] == 20_000
        assert r["rejected"] == 20 + 2  # one in 1,000 bad state, one in 10,007 bad date
        assert r["bare_count_s"] > 0 and r["ingest_s"] > 0


def test_db_path_default_is_used_when_no_path_given(tmp_path: Path, monkeypatch) -> None:
    dbf = tmp_path / "env.duckdb"
    monkeypatch.setenv("TOPRANK_DB", str(dbf))
    report = ingest_claims(
        None, [write(tmp_path / "a.csv", [line("A")])], progress=False, today=TODAY
    )
    assert report.db_path == dbf == db.db_path()
    assert rows(dbf, "SELECT count(*) FROM claim_lines") == [(1,)]


def test_canonical_lookups_only_hold_values_the_checks_accept() -> None:
    # ingest_known_codes / ingest_known_modifiers let most rows skip a regexp; that is a
    # speed-up only if everything in them would pass the regexp check unchanged.
    con = duckdb.connect()
    try:
        params = _Ingest(
            kind=_CLAIMS,
            db_path=Path("unused.duckdb"),
            files=[],
            column_map={},
            rejects_path=None,
            progress=False,
            today=TODAY,
            year=None,
        )._lookup_params()
        _run_block(con, "lookups", params)
        codes = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE ingest_code(spelling) = spelling) "
            "FROM ingest_known_codes"
        ).fetchone()
        modifiers = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE ingest_modifiers(spelling) = spelling) "
            "FROM ingest_known_modifiers"
        ).fetchone()
    finally:
        con.close()
    assert codes[0] >= 50 and codes[0] == codes[1]
    assert modifiers[0] > 36 * 36 and modifiers[0] == modifiers[1]


def test_set_aside_keeps_only_the_rows_whose_ok_is_not_true(tmp_path: Path) -> None:
    # DuckDB passes only rejected rows; if an engine passed more, `ok` still decides.
    import pyarrow as pa
    import pyarrow.parquet as pq

    aside = _SetAside(tmp_path, rows_expected=10)
    rows_in = pa.array([["a"], ["b"], ["c"], ["d"]], type=pa.list_(pa.string()))
    ok = pa.array([False, True, None, True])
    assert aside.take_batch(ok, rows_in).to_pylist() == [False] * 4
    assert (
        aside.take_batch(pa.chunked_array([ok]), pa.chunked_array([rows_in])).to_pylist()
        == [False] * 4
    )
    assert aside.take_row(True, ["e"]) is False
    assert aside.take_row(False, ["f", None]) is False
    path = aside.finish()
    assert aside.rows == 5
    assert [r["row"] for r in pq.read_table(path).to_pylist()] == [
        ["a"],
        ["c"],
        ["a"],
        ["c"],
        ["f", None],
    ]
    aside.remove()
    assert not path.exists()


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_load_progress_follows_the_bytes_read_of_the_file(tmp_path: Path) -> None:
    # DuckDB's query progress stalls on the ingest's insert, so the load bar counts the
    # bytes the process reads, less what the fingerprint thread read of the same file.
    from types import SimpleNamespace

    from toprank.data.ingest import _FileReadProgress

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    fingerprint_thread = SimpleNamespace(bytes_read=0)
    progress = _FileReadProgress(big.stat().st_size, fingerprint_thread)  # type: ignore[arg-type]
    assert progress() == pytest.approx(0, abs=2)
    with big.open("rb") as f:
        f.read(2 << 20)
        assert progress() == pytest.approx(50, abs=5)
        fingerprint_thread.bytes_read = 1 << 20  # a quarter was the other thread's
        assert progress() == pytest.approx(25, abs=5)
        f.read()
        fingerprint_thread.bytes_read = 0
        assert progress() == 99.0  # never 100 before DuckDB says it is done


def test_rows_set_aside_one_by_one_up_to_one_in_a_hundred(tmp_path: Path) -> None:
    # Per-row calls beat per-batch calls until about 1% of the rows are rejected; a fixed
    # limit made a 100M-line file with 0.11% rejects load twice.
    assert _SetAside(tmp_path, rows_expected=1_000).row_by_row_limit == _SetAside.ROW_BY_ROW_MIN
    assert _SetAside(tmp_path, rows_expected=100_000_000).row_by_row_limit == 1_000_000


def test_a_tab_delimited_claims_file_loads_like_its_comma_twin(tmp_path: Path) -> None:
    comma = write(tmp_path / "c.csv", [line("A"), line("B", state="PR"), line("C", state="QQ")])
    tab = tmp_path / "t.txt"
    tab.write_text(comma.read_text().replace(",", "\t"))
    got = {}
    for name, src in (("comma", comma), ("tab", tab)):
        dbf = tmp_path / f"{name}.duckdb"
        report = ingest(dbf, src)
        assert (report.read, report.loaded, report.rejected) == (3, 2, 1)
        got[name] = rows(dbf, "SELECT * EXCLUDE (source_id) FROM claim_lines ORDER BY ALL")
    assert got["comma"] == got["tab"]
