"""Wide files (issue 17, item 4): a stray quote in a CSV of hundreds of columns costs
about what the clean file costs, every line is still loaded or rejected with its reason,
and a file wider than MAX_COLUMNS is refused before any row is read, changing nothing.

The oracle is the file the test writes: its lines are counted and each one is parsed on
its own by Python's csv module (strict), which says which lines are whole records and
what their values are. Every file is loaded into a real DuckDB file.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import TODAY
from toprank.data.ingest import CLAIM_COLUMNS, MAX_COLUMNS, IngestError, ingest_claims

REPO = Path(__file__).resolve().parent.parent
STRAY_QUOTE = "malformed CSV line: bad quoting (unterminated or stray quote)"
# Text for values: commas and quotes make the writer quote a field; no line ends.
ALPHABET = 'abcXYZ019 ,;"é中-'


def _text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def wide_header(ncols: int, rng: random.Random) -> list[str]:
    """The claim columns scattered over `ncols` columns, the rest filler."""
    header = [f"extra_{i}" for i in range(ncols)]
    for name, pos in zip(
        CLAIM_COLUMNS, sorted(rng.sample(range(ncols), len(CLAIM_COLUMNS))), strict=True
    ):
        header[pos] = name
    return header


def wide_record(header: list[str], row: int, rng: random.Random, noisy: bool) -> list[str]:
    """A valid claim line; with `noisy`, claim ids and filler hold commas and quotes."""
    claim = {
        "claim_id": f"W{row}:" + (_text(rng, 12).strip() if noisy else ""),
        "line_number": "1",
        "service_date": f"2022-0{1 + row % 9}-1{row % 10}",
        "hcpcs_code": rng.choice(["97110", "97140", "97530", "G0283"]),
        "modifiers": rng.choice(["GP", "GO 59", ""]),
        "units": str(1 + row % 4),
        "rendering_npi": f"{1234567000 + row}",
        "rendering_taxonomy": "225100000X",
        "place_of_service": "11",
        "payer_type": rng.choice(["medicare", "medicaid", "commercial"]),
        "state": rng.choice(["CA", "TX", "NY"]),
    }
    return [
        claim[name] if name in claim else (_text(rng, 8) if noisy else f"v{row}_{i}")
        for i, name in enumerate(header)
    ]


def csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def write_lines(path: Path, header: list[str], lines: list[str]) -> Path:
    path.write_text(csv_line(header) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def stray_quote(header: list[str], fields: list[str]) -> str:
    """The record with an opening quote that never closes, in its last filler field: a
    quote-aware reader reads on into the next lines as part of that value."""
    filler = max(i for i, name in enumerate(header) if name.startswith("extra_"))
    plain = [f"plain{i}" if header[i].startswith("extra_") else v for i, v in enumerate(fields)]
    plain[filler] = "STRAY"
    return csv_line(plain).replace("STRAY", '"oops', 1)


def file_oracle(path: Path, ncols: int) -> tuple[int, dict[str, list[str]], list[str]]:
    """(data lines, values of each whole record by claim_id, the other lines), from the
    file's own text, each line parsed alone."""
    lines = path.read_text(encoding="utf-8").split("\n")[1:]
    lines = [ln for ln in lines if ln]
    whole: dict[str, list[str]] = {}
    broken: list[str] = []
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8").split("\n")[0])))
    for ln in lines:
        try:
            (fields,) = list(csv.reader([ln], strict=True))
        except csv.Error:
            broken.append(ln)
            continue
        if len(fields) != ncols:
            broken.append(ln)
            continue
        record = dict(zip(header, fields, strict=True))
        whole[record["claim_id"]] = [record[name] for name in CLAIM_COLUMNS]
    return len(lines), whole, broken


def loaded_rows(db_path: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        found = con.execute(
            "SELECT claim_id, CAST(service_date AS VARCHAR), hcpcs_code, units, "
            "rendering_npi, payer, state FROM claim_lines"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in found}


def expected_row(values: list[str]) -> tuple:
    v = dict(zip(CLAIM_COLUMNS, values, strict=True))
    return (
        v["service_date"],
        v["hcpcs_code"],
        int(v["units"]),
        v["rendering_npi"],
        v["payer_type"],
        v["state"],
    )


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def snapshot(db_path: Path) -> dict[str, list[tuple]] | None:
    if not db_path.exists():
        return None
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("claim_lines", "sources", "rollup_month", "rollup_national")
        }
    finally:
        con.close()


def run_cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TOPRANK_DB"}
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "data", "ingest", *args, "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# ---------------------------------------------------------------- a stray quote, wide


def test_stray_quote_in_a_500_column_file_rejects_only_its_line(tmp_path: Path) -> None:
    rng = random.Random(500)
    header = wide_header(500, rng)
    records = [wide_record(header, r, rng, noisy=False) for r in range(200)]
    lines = [csv_line(r) for r in records]
    lines[117] = stray_quote(header, records[117])
    src = write_lines(tmp_path / "wide.csv", header, lines)
    read, whole, broken = file_oracle(src, 500)
    assert (read, len(whole), broken) == (200, 199, [lines[117]])  # the test's own file

    dbf = tmp_path / "claims.duckdb"
    report = ingest_claims(dbf, [src], progress=False, today=TODAY)
    assert report.files[0].reader == "csv-lines"  # the fallback reader did the work
    ignored = [name for name in header if name not in CLAIM_COLUMNS]
    (note,) = [n for n in report.notes if "ignored column(s)" in n]
    assert (
        note
        == (  # a wide file's unused columns are not all named in one line
            f"wide.csv: ignored column(s) {', '.join(ignored[:25])} and {len(ignored) - 25} more"
        )
    )
    assert (report.read, report.loaded, report.rejected) == (read, len(whole), len(broken))
    assert loaded_rows(dbf) == {cid: expected_row(v) for cid, v in whole.items()}
    (reject,) = read_rejects(report.rejects_path)
    assert (reject["raw_line"], reject["reason"]) == (lines[117], STRAY_QUOTE)


def test_quoted_values_split_right_in_a_wide_file_beside_broken_lines(tmp_path: Path) -> None:
    # Claim ids and filler full of commas and quotes (so the writer quotes them), claim
    # columns scattered, and three kinds of broken line the quote-aware reader cannot
    # take: an unterminated quote, text after a closing quote, a field missing.
    rng = random.Random(17)
    header = wide_header(300, rng)
    records = [wide_record(header, r, rng, noisy=True) for r in range(150)]
    lines = [csv_line(r) for r in records]
    lines[3] = stray_quote(header, records[3])
    lines[80] = csv_line(records[80]) + ',"x"y'  # a 301st field, badly quoted
    lines[81] = csv_line(records[81][:-1])  # 299 fields
    src = write_lines(tmp_path / "wide.csv", header, lines)
    read, whole, broken = file_oracle(src, 300)
    assert (read, len(whole), sorted(broken)) == (150, 147, sorted(lines[i] for i in (3, 80, 81)))
    assert sum('"' in ln for ln in lines) > 100  # most lines hold a quoted field

    dbf = tmp_path / "claims.duckdb"
    report = ingest_claims(dbf, [src], progress=False, today=TODAY)
    assert report.files[0].reader == "csv-lines"
    assert (report.read, report.loaded, report.rejected) == (read, len(whole), len(broken))
    assert loaded_rows(dbf) == {cid: expected_row(v) for cid, v in whole.items()}
    reasons = {r["raw_line"]: r["reason"] for r in read_rejects(report.rejects_path)}
    assert reasons == {
        lines[3]: STRAY_QUOTE,
        lines[80]: STRAY_QUOTE,
        lines[81]: "malformed CSV line: 299 columns, the header has 300",
    }


def test_stray_quote_at_the_column_limit_does_not_hang_the_cli(tmp_path: Path) -> None:
    # Before the per-line reader was made linear in columns this took about 70 s (350 ms
    # a row); now about 2 s. The bound only proves it does not hang.
    rng = random.Random(1000)
    header = wide_header(MAX_COLUMNS, rng)
    records = [wide_record(header, r, rng, noisy=False) for r in range(200)]
    lines = [csv_line(r) for r in records]
    lines[10] = stray_quote(header, records[10])
    src = write_lines(tmp_path / "widest.csv", header, lines)
    read, whole, broken = file_oracle(src, MAX_COLUMNS)
    assert (read, len(whole), len(broken)) == (200, 199, 1)

    dbf = tmp_path / "claims.duckdb"
    done = run_cli("claims", str(src), "--db", str(dbf), timeout=45)
    assert done.returncode == 0, done.stderr
    assert f"widest.csv: read {read} / loaded {len(whole)} / rejected 1" in done.stdout
    assert f"1 {STRAY_QUOTE}" in done.stdout
    assert set(loaded_rows(dbf)) == set(whole)


# ------------------------------------------------------------------- the column limit


def _too_wide_csv(path: Path, ncols: int) -> Path:
    header = [*CLAIM_COLUMNS, *(f"extra_{i}" for i in range(ncols - len(CLAIM_COLUMNS)))]
    record = wide_record(header, 1, random.Random(1), noisy=False)
    return write_lines(path, header, [csv_line(record)])


def _too_wide_gzip(path: Path, ncols: int) -> Path:
    plain = _too_wide_csv(path.with_suffix(""), ncols)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return path


def _too_wide_parquet(path: Path, ncols: int) -> Path:
    header = [*CLAIM_COLUMNS, *(f"extra_{i}" for i in range(ncols - len(CLAIM_COLUMNS)))]
    record = wide_record(header, 1, random.Random(1), noisy=False)
    pq.write_table(
        pa.table({name: [value] for name, value in zip(header, record, strict=True)}), path
    )
    return path


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("wide.csv", _too_wide_csv),
        ("wide.csv.gz", _too_wide_gzip),
        ("wide.parquet", _too_wide_parquet),
    ],
)
def test_a_file_over_the_column_limit_is_refused_and_changes_nothing(
    tmp_path: Path, name: str, write
) -> None:
    dbf = tmp_path / "claims.duckdb"
    first = _too_wide_csv(tmp_path / "narrow.csv", len(CLAIM_COLUMNS))
    ingest_claims(dbf, [first], progress=False, today=TODAY)
    before = snapshot(dbf)
    assert before is not None and len(before["claim_lines"]) == 1

    src = write(tmp_path / name, MAX_COLUMNS + 1)
    with pytest.raises(IngestError) as refused:
        ingest_claims(dbf, [src], progress=False, today=TODAY)
    message = str(refused.value)
    assert "\n" not in message
    assert f"{MAX_COLUMNS + 1:,} columns" in message and f"at most {MAX_COLUMNS:,}" in message
    assert "nothing was loaded" in message
    assert snapshot(dbf) == before
    # The writer's lock file stays (empty) beside the database: removing it would race.
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".lock") == sorted(
        ["claims.duckdb", "narrow.csv", name]
    )


def test_the_column_limit_in_the_cli_is_one_line_and_creates_no_database(tmp_path: Path) -> None:
    src = _too_wide_csv(tmp_path / "wide.csv", 5 * MAX_COLUMNS)
    dbf = tmp_path / "claims.duckdb"
    done = run_cli("claims", str(src), "--db", str(dbf), timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    (message,) = done.stderr.strip().splitlines()
    assert message.startswith(f"error: {src} is too wide: it has {5 * MAX_COLUMNS:,} columns")
    assert not dbf.exists() and not Path(f"{dbf}.wal").exists()


def test_a_header_line_over_a_megabyte_is_refused(tmp_path: Path) -> None:
    # Not even the header can be read whole: its width is unknown but past any limit.
    src = tmp_path / "huge_header.csv"
    names = [*CLAIM_COLUMNS, *(f"a_rather_long_column_name_{i:07d}" for i in range(40_000))]
    src.write_text(",".join(names) + "\n", encoding="utf-8")
    assert src.stat().st_size > 1 << 20
    with pytest.raises(IngestError, match="header line is over 1 MB.*nothing was loaded"):
        ingest_claims(tmp_path / "claims.duckdb", [src], progress=False, today=TODAY)
    assert not (tmp_path / "claims.duckdb").exists()


# ------------------------------------------------------------------------ benchmark


def test_wide_benchmark_smoke(tmp_path: Path) -> None:
    from tests import bench_wide
    from toprank.data import ingest

    cases = bench_wide.run([20, MAX_COLUMNS + 1], rows=10, workdir=tmp_path)
    assert [(c.columns, c.stray_quote, c.reader) for c in cases] == [
        (20, False, "csv"),
        (20, True, "csv-lines"),
        (MAX_COLUMNS + 1, False, "refused"),  # the limit holds...
        (MAX_COLUMNS + 1, False, "csv"),  # ...until the benchmark lifts it
        (MAX_COLUMNS + 1, True, "csv-lines"),
    ]
    for c in cases:
        if c.reader != "refused":
            assert (c.read, c.loaded, c.rejected) == (10, 10 - c.stray_quote, int(c.stray_quote))
    assert ingest.MAX_COLUMNS == MAX_COLUMNS  # restored after the benchmark
