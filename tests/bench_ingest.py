"""Ingest throughput beside DuckDB's own bare read of the same file, in the same run.

    python -m tests.bench_ingest --lines 10000000 [--dir DIR] [--formats csv,parquet]
    python -m tests.bench_ingest --lines 1000000 --into 30000000 --dir DIR   # incremental

Writes a claim-lines CSV and Parquet file of N lines (DuckDB SQL, deterministic: the same
N gives the same bytes), then for each format times
  - DuckDB's bare read: `SELECT count(*) FROM read_csv(f)` (parse only) and
    `CREATE TABLE t AS SELECT * FROM read_csv(f)` into a fresh database file (a full
    materialisation), likewise read_parquet;
  - toprank's end-to-end ingest (fingerprint and line count, validation, insert, rows
    set aside and their reasons, sources row, rollups, commit) into a fresh database file;
and prints rows/s and the ratio ingest / bare read. Target: ingest >= 50% of the bare
read's speed (the full materialisation: both end with the rows in a database file).
About 1 line in 1,000 is made invalid so the rejected rows (set aside during the load,
then given their reasons) are part of what is timed (--clean: none).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from toprank.data import db
from toprank.data.ingest import ingest_claims

# Deterministic claim lines: every value is a hash of the line number. Roughly one line
# in 1,000 gets an unknown state and one in 10,000 an impossible date.
GENERATE_SQL = """
COPY (
    WITH v AS (
        SELECT ['97110', '97140', '97530', '97112', '97116', '97161', '97162', '97035',
                '97014', '98941', '99213', 'G0283', '97750', '92507'] AS codes,
               ['225100000X', '225X00000X', '235Z00000X', '2081P2900X', '111N00000X',
                '207Q00000X', '2251X0800X'] AS taxonomies,
               ['medicare', 'medicaid', 'commercial', 'other'] AS payers,
               ['CA', 'TX', 'NY', 'FL', 'PA', 'OH', 'IL', 'WA', 'GA', 'NC', 'MI', 'NJ'] AS states
    )
    SELECT $prefix || lpad(CAST(i // 4 AS VARCHAR), 10, '0') AS claim_id,
           CAST(i % 4 + 1 AS INTEGER) AS line_number,
           CASE WHEN $bad AND i % 10007 = 3 THEN '2022-02-30'
                ELSE strftime(CAST($first_day AS DATE) + CAST(hash(i, 1) % $days AS INTEGER), '%Y-%m-%d')
           END AS service_date,
           codes[CAST(1 + hash(i, 2) % 14 AS BIGINT)] AS hcpcs_code,
           CASE hash(i, 3) % 3 WHEN 0 THEN 'GP' WHEN 1 THEN 'GO 59' ELSE NULL END AS modifiers,
           CAST(1 + hash(i, 4) % 4 AS INTEGER) AS units,
           CAST(1000000000 + hash(i // 40) % 900000000 AS VARCHAR) AS rendering_npi,
           taxonomies[CAST(1 + hash(i // 40, 5) % 7 AS BIGINT)] AS rendering_taxonomy,
           '11' AS place_of_service,
           payers[CAST(1 + hash(i // 4, 6) % 4 AS BIGINT)] AS payer_type,
           CASE WHEN $bad AND i % 1000 = 7 THEN 'QQ'
                ELSE states[CAST(1 + hash(i // 40, 7) % 12 AS BIGINT)] END AS state
    FROM range($lines) AS t(i), v
) TO '{path}' ({options})
"""


def generate(
    path: Path,
    lines: int,
    fmt: str,
    bad: bool = True,
    prefix: str = "C",
    first_day: str = "2021-01-01",
    days: int = 1000,
) -> None:
    """Writes N claim lines to `path` (bench tooling: the path is ours, not user text);
    claim ids start with `prefix` (files with different prefixes share no claim), service
    dates spread over `days` days from `first_day`."""
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
    sql = GENERATE_SQL.format(path=str(path).replace("'", "''"), options=options)
    with duckdb.connect() as con:
        con.execute(
            sql,
            {
                "lines": lines,
                "bad": bad,
                "prefix": prefix,
                "first_day": first_day,
                "days": days,
            },
        )


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bare_count(path: Path, fmt: str) -> float:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    with duckdb.connect() as con:
        return _timed(
            lambda: con.execute(
                f"SELECT count(*) FROM {reader}($path)", {"path": str(path)}
            ).fetchall()
        )


def bare_materialise(path: Path, fmt: str, db_file: Path) -> float:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    with duckdb.connect(str(db_file)) as con:
        seconds = _timed(
            lambda: (
                con.execute(
                    f"CREATE TABLE t AS SELECT * FROM {reader}($path)", {"path": str(path)}
                ),
                con.execute("CHECKPOINT"),
            )
        )
    db_file.unlink()
    return seconds


def run(
    lines: int,
    workdir: Path,
    formats: list[str],
    progress: bool = False,
    bad: bool = True,
    repeat: int = 1,
) -> list[dict]:
    """Times each step `repeat` times, interleaved, and keeps the fastest of each (the
    machine is shared: the minimum is the least disturbed run)."""
    results = []
    for fmt in formats:
        stem = f"claims_{lines}{'' if bad else '_clean'}"
        data = workdir / f"{stem}.{'parquet' if fmt == 'parquet' else 'csv'}"
        if not data.exists():
            print(f"writing {lines:,} claim lines to {data} ...", file=sys.stderr)
            generate(data, lines, fmt, bad)
        counts, ctases, reports = [], [], []
        for _ in range(repeat):
            counts.append(bare_count(data, fmt))
            ctases.append(bare_materialise(data, fmt, workdir / f"bare_{fmt}.duckdb"))
            db_file = workdir / f"ingest_{fmt}.duckdb"
            for stale in (db_file, Path(f"{db_file}.wal")):
                stale.unlink(missing_ok=True)
            report = ingest_claims(
                db_file, [data], progress=progress, rejects_path=workdir / f"rejects_{fmt}.csv"
            )
            db_file.unlink()
            assert report.loaded + report.rejected == report.read == lines
            reports.append(report)
        count_s, ctas_s = min(counts), min(ctases)
        report = min(reports, key=lambda r: r.seconds)
        results.append(
            {
                "format": fmt,
                "lines": lines,
                "file_mb": round(data.stat().st_size / 1e6, 1),
                "repeat": repeat,
                "bare_count_s": count_s,
                "bare_materialise_s": ctas_s,
                "ingest_s": report.seconds,
                "loaded": report.loaded,
                "rejected": report.rejected,
                "reader": report.files[0].reader,
                "ingest_steps_s": {k: round(v, 3) for k, v in report.timings},
                "ratio_vs_materialise": ctas_s / report.seconds,
                "ratio_vs_count": count_s / report.seconds,
            }
        )
    return results


# The base covers 1,000 days from 2021-01-01 (to 2023-09-27). The one more file is either
# the next month (what a monthly feed brings) or spread over the base's own 1,000 days
# (the worst case for the shared-claims check, which then reads every loaded line).
NEW_PERIODS = {"next": ("2023-10-01", 31), "same": ("2021-01-01", 1000)}


def run_incremental(base_lines: int, new_lines: int, workdir: Path, period: str = "next") -> dict:
    """One more file (new_lines, CSV, its own claims) into an empty database and into
    one that already holds base_lines: what the incremental rollups change. The base is
    built once per size and kept in workdir (--dir) for the next run. Also timed: the
    copy the writer makes of the database for each write (data.writer: copy + rename),
    and what a full rollup rebuild over the same database costs (the pre-incremental
    rollup step), both on the database the new file went into."""
    base_db = workdir / f"base_{base_lines}.duckdb"
    if not base_db.exists():
        source = workdir / f"base_{base_lines}.parquet"
        if not source.exists():
            print(f"writing {base_lines:,} base lines to {source} ...", file=sys.stderr)
            generate(source, base_lines, "parquet", bad=False, prefix="B")
        print(f"loading them into {base_db} ...", file=sys.stderr)
        building = workdir / "base_building.duckdb"
        building.unlink(missing_ok=True)
        made = ingest_claims(building, [source], progress=False)
        assert made.loaded == base_lines
        building.rename(base_db)
        source.unlink()
    new = workdir / f"new_{new_lines}_{period}.csv"
    if not new.exists():
        first_day, days = NEW_PERIODS[period]
        generate(new, new_lines, "csv", bad=True, prefix="N", first_day=first_day, days=days)
    out: dict = {"base_lines": base_lines, "new_lines": new_lines, "period": period}
    for label, start in (("empty", None), ("base", base_db)):
        target = workdir / f"into_{label}.duckdb"
        target.unlink(missing_ok=True)
        if start is not None:
            shutil.copyfile(start, target)  # setup, not timed
        report = ingest_claims(target, [new], progress=False, rejects_path=workdir / "rej.csv")
        assert report.loaded + report.rejected == report.read == new_lines
        out[label] = {
            "ingest_s": report.seconds,
            "steps_s": {k: round(v, 3) for k, v in report.timings},
            "rollups": report.rollups,
            "db_mb": round(target.stat().st_size / 1e6, 1),
        }
    target = workdir / "into_base.duckdb"
    copy = workdir / "copy_probe.duckdb"
    out["writer_copy_s"] = _timed(lambda: shutil.copyfile(target, copy))
    copy.unlink()
    with duckdb.connect(str(target)) as con:
        out["full_rebuild_s"] = _timed(lambda: db.rebuild_rollups(con))
    for label in ("empty", "base"):
        (workdir / f"into_{label}.duckdb").unlink(missing_ok=True)
    return out


def print_incremental(r: dict) -> None:
    empty, base = r["empty"], r["base"]
    print(
        f"one {r['new_lines']:,}-line CSV into an empty database: {empty['ingest_s']:.1f} s "
        f"(rollups {empty['steps_s'].get('rollups', 0):.2f} s; {empty['rollups']})"
    )
    print(
        f"the same file ({r['period']} period) into a {r['base_lines']:,}-line database "
        f"({base['db_mb']:,} MB): "
        f"{base['ingest_s']:.1f} s (rollups {base['steps_s'].get('rollups', 0):.2f} s; "
        f"{base['rollups']})"
    )
    print(
        f"  of which the writer's copy of the database: about {r['writer_copy_s']:.1f} s; "
        f"a full rollup rebuild instead would take {r['full_rebuild_s']:.1f} s"
    )
    print(f"  steps into the empty one: {empty['steps_s']}")
    print(f"  steps into the large one: {base['steps_s']}")


def print_table(results: list[dict]) -> None:
    print(f"{'format':8} {'lines':>12} {'MB':>7} {'step':28} {'seconds':>8} {'rows/s':>12}")
    for r in results:
        n = r["lines"]
        steps = (
            ("DuckDB count(*) (parse only)", r["bare_count_s"]),
            ("DuckDB CREATE TABLE AS", r["bare_materialise_s"]),
            ("toprank ingest (end to end)", r["ingest_s"]),
        )
        for label, seconds in steps:
            print(
                f"{r['format']:8} {n:>12,} {r['file_mb']:>7} {label:28} {seconds:>8.3f} {n / max(seconds, 1e-9):>12,.0f}"
            )
        print(
            f"{'':8} ingest speed = {r['ratio_vs_materialise']:.0%} of CREATE TABLE AS, "
            f"{r['ratio_vs_count']:.0%} of count(*); loaded {r['loaded']:,}, rejected "
            f"{r['rejected']:,}; steps {r['ingest_steps_s']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench_ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (default: a temp dir, removed)"
    )
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; the fastest counts")
    parser.add_argument(
        "--clean", action="store_true", help="no invalid lines (no rejected rows to set aside)"
    )
    parser.add_argument(
        "--period",
        choices=sorted(NEW_PERIODS),
        default="next",
        help="with --into: the new file is the next month (default) or the base's period",
    )
    parser.add_argument(
        "--into",
        type=int,
        default=0,
        metavar="N",
        help="instead: the --lines file into an empty database and into one of N lines "
        "(incremental rollups); keep --dir to reuse the N-line base",
    )
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if args.lines < 1 or not set(formats) <= {"csv", "parquet"}:
        parser.error("--lines must be positive and --formats a list of csv, parquet")
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="toprank-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.into:
        try:
            incremental = run_incremental(args.into, args.lines, workdir, args.period)
        finally:
            if args.dir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        print_incremental(incremental)
        if args.json:
            print(json.dumps(incremental, indent=2))
        return 0
    try:
        results = run(
            args.lines,
            workdir,
            formats,
            progress=args.progress,
            bad=not args.clean,
            repeat=max(args.repeat, 1),
        )
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
