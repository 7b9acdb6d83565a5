"""Benchmark: the rollup build and answer latency on DuckDB, PostgreSQL and Spark Connect.

    python -m tests.bench_scaleout [--scales 1M,10M] [--per-shape 5] [--repeat 3]
                                   [--postgres URL] [--spark URL] [--workdir DIR] [--json PATH]

For each scale it builds the calibrated demo database (DuckDB), copies its claim lines
into each warehouse as a table (not timed: that is the user's data already being
there), and prints:
- the rollup build time: DuckDB's (data/rollups.sql on the file, as ingest runs it) and
  `toprank data build` in PostgreSQL and in Spark (local mode), each checked as it goes
  (loaded + rejected = read, every rollup's procedures);
- answer latency by SQL shape on each engine: the queries the planner makes for the
  development sets, the benchmark questions and the README's examples, up to
  --per-shape of each shape, each run --repeat times after one untimed run; the time of
  engine.records (render, check, run, fetch), p50 / p95 / max.

Without --postgres / --spark it starts throwaway servers itself (tests.services) and
stops them at the end. Spark runs `local[2]` on this machine: its figures are the
overhead of a Spark job on two cores, not what a cluster does with billions of rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from toprank.bot.bench.answers import parse_scales, percentile, scale_label

BENCH_TODAY = date(2023, 10, 15)
SOURCE_TABLE = "bench_claim_lines"
SOURCE_COLUMNS = (
    "claim_id, service_date, hcpcs_code, modifiers, units, rendering_taxonomy, "
    "place_of_service, payer, state, procedures, cohort"
)


def _load_postgres(url: str, duck: Path, work: Path) -> None:
    import duckdb
    import psycopg

    csv = work / "lines.csv"
    con = duckdb.connect(str(duck), read_only=True)
    con.execute(f"COPY (SELECT {SOURCE_COLUMNS} FROM claim_lines) TO '{csv}' (HEADER false)")
    con.close()
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        pg.execute(
            f"CREATE TABLE {SOURCE_TABLE} (claim_id TEXT, service_date DATE, hcpcs_code TEXT, "
            "modifiers TEXT, units INTEGER, rendering_taxonomy TEXT, place_of_service TEXT, "
            "payer TEXT, state TEXT, procedures BIGINT, cohort TEXT)"
        )
        with (
            pg.cursor() as cursor,
            cursor.copy(f"COPY {SOURCE_TABLE} FROM STDIN (FORMAT csv)") as copy,
            open(csv, "rb") as handle,
        ):
            while chunk := handle.read(1 << 22):
                copy.write(chunk)
        pg.execute(f"ANALYZE {SOURCE_TABLE}")
    csv.unlink()


def _load_spark(url: str, duck: Path, work: Path) -> None:
    import duckdb

    from toprank.sql.engine_spark import SparkEngine

    parquet = work / "lines.parquet"
    con = duckdb.connect(str(duck), read_only=True)
    con.execute(f"COPY (SELECT {SOURCE_COLUMNS} FROM claim_lines) TO '{parquet}' (FORMAT parquet)")
    con.close()
    with SparkEngine(url, timeout=3600) as spark:
        spark.execute_statement(f"DROP TABLE IF EXISTS {SOURCE_TABLE}")
        spark.execute_statement(
            f"CREATE TABLE {SOURCE_TABLE} USING parquet AS SELECT * FROM parquet.`{parquet}`"
        )


LOADERS = {"postgres": _load_postgres, "spark": _load_spark}


def _duckdb_rollups_seconds(path: Path) -> float:
    """DuckDB's rollup build (data/rollups.sql) on a copy of the file, as ingest runs it."""
    import shutil

    from toprank.data import db

    copy = path.with_name(path.stem + "-rollups.duckdb")
    shutil.copyfile(path, copy)
    con = db.connect_rw(copy)
    try:
        started = time.perf_counter()
        con.execute("BEGIN")
        db.rebuild_rollups(con)
        con.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        con.close()
        copy.unlink(missing_ok=True)


def _sample_queries(duck: Path, per_shape: int) -> dict[str, list[Any]]:
    from tests import parity
    from toprank.bot.pipeline import Toprank

    with Toprank.open(duck, today=BENCH_TODAY, build_if_missing=False) as toprank:
        queries = parity.collect_queries(toprank, parity.all_questions())
    shapes: dict[str, list[Any]] = defaultdict(list)
    for query in queries:
        if len(shapes[query.template]) < per_shape:
            shapes[query.template].append(query)
    return dict(sorted(shapes.items()))


def _latency(engine: Any, shapes: dict[str, list[Any]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for shape, queries in shapes.items():
        for query in queries:
            engine.records(query)  # untimed: the first run of a text pays for planning
        runs = []
        for _ in range(repeat):
            for query in queries:
                started = time.perf_counter()
                engine.records(query)
                runs.append(time.perf_counter() - started)
        times[shape] = runs
    return times


def _summary(runs: list[float]) -> dict[str, float]:
    ms = [r * 1000 for r in runs]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms)}


def run_scale(
    lines: int, urls: dict[str, str], work: Path, per_shape: int, repeat: int
) -> dict[str, Any]:
    from toprank.data.demo import build_demo
    from toprank.sql import warehouse
    from toprank.sql.engines import open_engine

    label = scale_label(lines)
    duck = work / f"claims-{label}.duckdb"
    if not duck.exists():
        print(f"[{label}] building the demo database", file=sys.stderr)
        build_demo(duck, lines, progress=False)
    result: dict[str, Any] = {"lines": lines, "build_s": {}, "latency_ms": {}}
    result["build_s"]["duckdb"] = _duckdb_rollups_seconds(duck)
    for name, url in urls.items():
        print(f"[{label}] loading the lines into {name}", file=sys.stderr)
        LOADERS[name](url, duck, work)
        print(f"[{label}] building the rollups in {name}", file=sys.stderr)
        report = warehouse.build(url, SOURCE_TABLE, today=BENCH_TODAY)
        assert report.loaded == lines and report.rejected == 0, report
        result["build_s"][name] = report.seconds
    shapes = _sample_queries(duck, per_shape)
    engines = {"duckdb": open_engine(str(duck))}
    engines.update({name: open_engine(url) for name, url in urls.items()})
    try:
        for name, engine in engines.items():
            print(f"[{label}] answer latency on {name}", file=sys.stderr)
            times = _latency(engine, shapes, repeat)
            result["latency_ms"][name] = {s: _summary(t) for s, t in times.items()}
            every = [t for runs in times.values() for t in runs]
            result["latency_ms"][name]["all"] = _summary(every)
    finally:
        for engine in engines.values():
            engine.close()
    return result


def report(results: list[dict[str, Any]], engines: list[str]) -> str:
    out = [
        f"scale-out benchmark: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "rollup build (s): DuckDB data/rollups.sql vs `toprank data build` in the warehouse",
        "  " + "  ".join(f"{h:>10}" for h in ["lines", *engines]),
    ]
    for r in results:
        cells = [scale_label(r["lines"]), *(f"{r['build_s'][e]:.1f}" for e in engines)]
        out.append("  " + "  ".join(f"{c:>10}" for c in cells))
    for r in results:
        out += ["", f"answer latency by shape at {scale_label(r['lines'])} (ms, p50 / p95)"]
        shapes = list(r["latency_ms"][engines[0]])
        width = max(len(s) for s in shapes)
        out.append("  " + f"{'shape':<{width}}" + "".join(f"  {e:>17}" for e in engines))
        for shape in shapes:
            cells = []
            for e in engines:
                s = r["latency_ms"][e][shape]
                cells.append(f"{s['p50']:8.1f} / {s['p95']:6.1f}")
            out.append("  " + f"{shape:<{width}}" + "".join(f"  {c:>17}" for c in cells))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_scaleout", description=__doc__)
    parser.add_argument("--scales", type=parse_scales, default=parse_scales("1M,10M"))
    parser.add_argument("--per-shape", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--spark", metavar="URL")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from tests import services

    work = args.workdir or Path(tempfile.mkdtemp(prefix="toprank-bench-scaleout-"))
    work.mkdir(parents=True, exist_ok=True)
    service_dir = Path(tempfile.mkdtemp(prefix="toprank-bench-services-"))
    service_dir.chmod(0o755)
    urls = {"postgres": args.postgres, "spark": args.spark}
    try:
        for name, starter in services.STARTERS.items():
            if not urls[name]:
                urls[name] = starter(service_dir).url
        results = [
            run_scale(lines, dict(urls), work, args.per_shape, args.repeat) for lines in args.scales
        ]
    except services.ServiceError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        services.stop_all(service_dir)
    text = report(results, ["duckdb", *urls])
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
