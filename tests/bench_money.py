"""What money costs: ingest with and without the amount columns, and answers in dollars
beside answers in procedures, in the same run.

    python -m tests.bench_money [--lines 1000000] [--repeat 3] [--db PATH]

1. Writes two claim-line CSVs of N lines (DuckDB SQL, deterministic), the same lines
   without and with charge_amount, allowed_amount and paid_amount, ingests each into a
   fresh database file and prints rows/s and the ratio (the amounts' validation, cents
   and the rollups' eight extra columns are what the second pays for).
2. On a demo database (--db, else one built here), times questions in procedures beside
   the same questions in dollars (median of --repeat x 20 answers each, warm).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from toprank.data.ingest import ingest_claims

GENERATE_SQL = """
COPY (
    SELECT 'C' || (i // 3) AS claim_id,
           i % 3 + 1 AS line_number,
           DATE '2022-01-01' + CAST(hash(i, 'd') % 365 AS INTEGER) AS service_date,
           ['97110', '97140', '97530', '97112', '97116', '97161', '98941', '99213'][
               CAST(hash(i, 'c') % 8 AS INTEGER) + 1] AS hcpcs_code,
           'GP' AS modifiers,
           CAST(1 + hash(i, 'u') % 4 AS INTEGER) AS units,
           '1234567893' AS rendering_npi,
           ['225100000X', '225X00000X', '111N00000X'][CAST(hash(i, 't') % 3 AS INTEGER) + 1]
               AS rendering_taxonomy,
           '11' AS place_of_service,
           ['medicare', 'medicaid', 'commercial', 'other'][CAST(hash(i, 'p') % 4 AS INTEGER) + 1]
               AS payer_type,
           ['TX', 'CA', 'NY', 'FL', 'OH'][CAST(hash(i, 's') % 5 AS INTEGER) + 1] AS state
           __AMOUNTS__
    FROM range($lines) AS t(i)
) TO '__PATH__' (HEADER, DELIMITER ',')
"""
AMOUNTS = """,
           round(60 + hash(i, 'ch') % 20000 / 100.0, 2) AS charge_amount,
           round(25 + hash(i, 'al') % 6000 / 100.0, 2) AS allowed_amount,
           round(20 + hash(i, 'pa') % 4800 / 100.0, 2) AS paid_amount"""
QUESTIONS = (
    ("top PT codes 2022", "top PT codes by payments 2022"),
    ("how many 97110 procedures in 2022", "how much was paid for 97110 in 2022"),
    ("OT procedures by state 2022", "OT charges by state 2022"),
    ("trend of 97110 for PT", "trend of 97110 allowed amounts for PT"),
)


def _write(directory: Path, lines: int, amounts: bool) -> Path:
    path = directory / f"claims_{'amounts' if amounts else 'plain'}.csv"
    sql = GENERATE_SQL.replace("__AMOUNTS__", AMOUNTS if amounts else "").replace(
        "__PATH__", str(path)
    )
    duckdb.connect().execute(sql, {"lines": lines})
    return path


def bench_ingest(directory: Path, lines: int, repeat: int) -> None:
    """The two files' ingests, interleaved (plain, amounts, plain, ...) so a machine's
    slow moment does not fall on one of them only; the fastest of each counts."""
    print(f"ingest of {lines:,} claim lines (best of {repeat}, interleaved):")
    sources = {amounts: _write(directory, lines, amounts) for amounts in (False, True)}
    best = {False: float("inf"), True: float("inf")}
    for k in range(repeat):
        for amounts, source in sources.items():
            db = directory / f"ingest_{amounts}_{k}.duckdb"
            started = time.perf_counter()
            report = ingest_claims(db, [source], progress=False)
            best[amounts] = min(best[amounts], time.perf_counter() - started)
            assert report.loaded + report.rejected == report.read == lines
            db.unlink()
    for amounts, seconds in best.items():
        label = "with amounts (14 columns)" if amounts else "without amounts (11 columns)"
        print(f"  {label:30} {seconds:6.2f} s  {lines / seconds:12,.0f} rows/s")
    print(f"  amounts cost: {100 * (best[True] / best[False] - 1):+.0f}% time")


def bench_answers(db: Path, repeat: int) -> None:
    from toprank.bot.pipeline import Toprank

    print(f"answers on {db} (median of {repeat} x 20, warm):")
    with Toprank.open(db, build_if_missing=False) as bot:
        for plain, money in QUESTIONS:
            times = {}
            for question in (plain, money):
                bot.ask(question)  # warm: the SQL text is checked once per process
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    for _ in range(20):
                        bot.ask(question)
                    samples.append((time.perf_counter() - started) / 20)
                times[question] = statistics.median(samples)
            print(
                f"  {plain!r:40} {1000 * times[plain]:6.2f} ms   "
                f"{money!r:42} {1000 * times[money]:6.2f} ms"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=Path, help="a demo database (default: built here)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="toprank-bench-money-") as tmp:
        directory = Path(tmp)
        bench_ingest(directory, args.lines, args.repeat)
        db = args.db
        if db is None:
            from toprank.data.demo import build_demo

            db = directory / "demo.duckdb"
            build_demo(db, progress=False)
        bench_answers(db, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
