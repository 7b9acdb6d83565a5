"""Ingest of wide CSV files: a clean file beside the same file with one stray quote.

    python -m tests.bench_wide [--columns 100,500,1000,10000] [--rows 200] [--repeat 3]

For each width writes a claims CSV of ROWS lines (the 11 claim columns, then filler
columns up to the width; deterministic), and the same file with an opening quote that
never closes in the last field of the middle line. A quote-aware reader then reads the
rest of the file as that one value, so toprank reads the file again one line per row
(the per-line reader), where the stray quote costs only its own line. Each file is
ingested end to end into a fresh database file; the fastest of --repeat runs counts.

Widths over the column limit (data.ingest.MAX_COLUMNS) are refused before any row is
read: the refusal is timed, then the limit is lifted for this benchmark to show the cost
beyond it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from toprank.data import ingest
from toprank.data.ingest import CLAIM_COLUMNS, IngestError, ingest_claims

TODAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Case:
    columns: int
    stray_quote: bool
    seconds: float
    read: int
    loaded: int
    rejected: int
    reader: str  # "csv", "csv-lines", or "refused"


def write_wide(path: Path, columns: int, rows: int, stray_quote: bool) -> None:
    """ROWS valid claim lines of COLUMNS columns; with stray_quote, the middle line's last
    field opens a quote that never closes."""
    extra = columns - len(CLAIM_COLUMNS)
    header = ",".join([*CLAIM_COLUMNS, *(f"extra_{i}" for i in range(extra))])
    with path.open("w", encoding="utf-8") as f:
        f.write(header + "\n")
        for r in range(rows):
            claim = (
                f"W{r}",
                "1",
                f"2022-0{1 + r % 9}-1{r % 10}",
                ("97110", "97140", "97530")[r % 3],
                "GP",
                "1",
                f"{1234567000 + r}",
                "225100000X",
                "11",
                ("medicare", "medicaid", "commercial")[r % 3],
                ("CA", "TX", "NY")[r % 3],
            )
            filler = [f"v{r}_{i}" for i in range(extra)]
            if stray_quote and r == rows // 2:
                filler[-1] = '"oops'
            f.write(",".join([*claim, *filler]) + "\n")


@contextlib.contextmanager
def column_limit(limit: int) -> Iterator[None]:
    """The column limit raised for the benchmark's widest files (bench tooling only)."""
    saved = ingest.MAX_COLUMNS
    ingest.MAX_COLUMNS = max(limit, saved)
    try:
        yield
    finally:
        ingest.MAX_COLUMNS = saved


def time_ingest(src: Path, workdir: Path, columns: int, stray_quote: bool, rows: int) -> Case:
    db_file = workdir / "wide.duckdb"
    for stale in (db_file, Path(f"{db_file}.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        report = ingest_claims(db_file, [src], progress=False, today=TODAY)
    except IngestError:
        return Case(columns, stray_quote, time.perf_counter() - started, 0, 0, 0, "refused")
    seconds = time.perf_counter() - started
    for stale in (db_file, *workdir.glob("wide.rejects.*.csv")):
        stale.unlink(missing_ok=True)
    expected_rejects = 1 if stray_quote else 0
    if (report.read, report.rejected) != (rows, expected_rejects) or (
        report.loaded + report.rejected != report.read
    ):
        raise SystemExit(f"{src}: unexpected counts {report.read=} {report.rejected=}")
    return Case(
        columns,
        stray_quote,
        seconds,
        report.read,
        report.loaded,
        report.rejected,
        report.files[0].reader,
    )


def run(
    columns: list[int],
    rows: int,
    workdir: Path,
    repeat: int = 1,
    on_case: Callable[[Case], None] = lambda case: None,
) -> list[Case]:
    """Every width, clean then with a stray quote; over the limit, the refusal first.
    on_case sees each result as it comes (a slow case need not hide the others)."""
    cases: list[Case] = []
    for width in columns:
        files = {}
        for stray in (False, True):
            files[stray] = workdir / f"wide_{width}{'_stray' if stray else ''}.csv"
            write_wide(files[stray], width, rows, stray)
        if width > ingest.MAX_COLUMNS:
            cases.append(time_ingest(files[False], workdir, width, False, rows))
            on_case(cases[-1])
        with column_limit(width):
            for stray in (False, True):
                runs = [
                    time_ingest(files[stray], workdir, width, stray, rows) for _ in range(repeat)
                ]
                cases.append(min(runs, key=lambda c: c.seconds))
                on_case(cases[-1])
        for f in files.values():
            f.unlink()
    return cases


class Table:
    """Prints each case as it comes, with the stray-quote / clean ratio per width."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.clean: dict[int, float] = {}
        print(f"{'columns':>8} {'file':12} {'reader':10} {'seconds':>8} {'ms/row':>8}  counts")

    def __call__(self, c: Case) -> None:
        kind = "stray quote" if c.stray_quote else "clean"
        counts = (
            f"refused (over {ingest.MAX_COLUMNS:,} columns)"
            if c.reader == "refused"
            else f"read {c.read:,} / loaded {c.loaded:,} / rejected {c.rejected:,}"
        )
        print(
            f"{c.columns:>8,} {kind:12} {c.reader:10} {c.seconds:>8.3f} "
            f"{1000 * c.seconds / self.rows:>8.2f}  {counts}",
            flush=True,
        )
        if c.reader != "refused":
            if not c.stray_quote:
                self.clean[c.columns] = c.seconds
            elif c.columns in self.clean:
                ratio = c.seconds / self.clean[c.columns]
                print(f"{'':8} stray quote / clean = {ratio:.1f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench_wide", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--columns", default="100,500,1000,10000")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs per file; the fastest counts")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args(argv)
    try:
        columns = [int(c) for c in args.columns.split(",") if c.strip()]
    except ValueError:
        parser.error("--columns must be a comma-separated list of whole numbers")
    if args.rows < 2 or not columns or min(columns) < len(CLAIM_COLUMNS):
        parser.error(f"--rows must be at least 2 and every width at least {len(CLAIM_COLUMNS)}")
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="toprank-bench-wide-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(columns, args.rows, workdir, repeat=max(args.repeat, 1), on_case=Table(args.rows))
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
