"""`toprank data ...`: build the demo database, show what a database holds, ingest files.

    toprank data demo [--lines N] [--db PATH] [--force]
    toprank data info [--db PATH]
    toprank data ingest ...      (data.ingest, when present)

--db beats TOPRANK_DB beats data/claims.duckdb (data.db.db_path).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from toprank.data import db
from toprank.data.catalog import load_catalog

COHORT_ORDER = ("pt", "ot", "slp", "chiro", "pmr", "other", "rehab", "all")
MAX_DEMO_LINES = 2_000_000_000
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def parse_lines(text: str) -> int:
    """A line count: 1000000, 1_000_000, 1,000,000, 1e6, 250k, 10M, 1B."""
    from toprank.data.demo import MIN_LINES

    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?(?:e\d+)?)([kmb]?)", cleaned)
    if not match:
        raise argparse.ArgumentTypeError(f"not a line count: {text!r} (try 1000000 or 10M)")
    value = float(match.group(1)) * _SUFFIX[match.group(2)]
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of lines: {text!r}")
    if not MIN_LINES <= value <= MAX_DEMO_LINES:
        raise argparse.ArgumentTypeError(
            f"--lines must be between {MIN_LINES:,} and {MAX_DEMO_LINES:,} (got {int(value):,})"
        )
    return int(value)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data",
        help="build the demo database, show what a database holds, ingest files",
        description="Build the demo database, show what a database holds, ingest files. "
        "The database is --db, else $TOPRANK_DB, else data/claims.duckdb.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: _usage(data))

    demo = data_sub.add_parser(
        "demo",
        help="build the calibrated demo database (deterministic synthetic claims)",
        description="Build the demo database: synthetic claim lines, 2019-01 through 2023-09, "
        "every state and DC, four payers, cohorts ot/pt/slp/pmr/chiro/other, calibrated to "
        "the published OT 2022 and rehab 2023 rankings (from 50,000 lines up). Deterministic: "
        "the same --lines always gives the same data.",
    )
    demo.add_argument(
        "--lines",
        type=parse_lines,
        default=None,
        metavar="N",
        help="claim lines to generate (default 1,000,000; 10M and 100M work too)",
    )
    demo.add_argument("--db", metavar="PATH", help="database file to write")
    demo.add_argument("--force", action="store_true", help="replace an existing demo database file")
    demo.add_argument(
        "--replace-real-data",
        action="store_true",
        help="with --force: replace the file even if it holds loaded (non-demo) sources",
    )
    demo.set_defaults(func=run_demo)

    info = data_sub.add_parser(
        "info", help="coverage, sources, row counts and procedures by cohort and year"
    )
    info.add_argument("--db", metavar="PATH", help="database file to describe")
    info.add_argument(
        "--no-verify",
        action="store_true",
        help="skip reading every block to verify its checksum (a full scan of the file)",
    )
    info.set_defaults(func=run_info)

    try:
        from toprank.data import ingest
    except ModuleNotFoundError as exc:  # ingest is optional until it lands
        if exc.name != "toprank.data.ingest":
            raise
    else:
        ingest.add_parser(data_sub)

    from toprank.data import warehouse_cli  # build, export, import-rollups (sql.warehouse)

    warehouse_cli.add_parsers(data_sub)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _error(message: str) -> int:
    print(f"toprank: {message}", file=sys.stderr)
    return 1


def run_demo(args: argparse.Namespace) -> int:
    from toprank.data.demo import DEFAULT_LINES, CalibrationError, build_demo, human_bytes
    from toprank.data.writer import no_space, no_space_message

    path = db.db_path(args.db)
    lines = args.lines or DEFAULT_LINES
    if path.exists() and not args.force:
        return _error(
            f"{path} already exists; add --force to rebuild it (the old file stays in place "
            "until the new one is complete)"
        )
    if path.is_dir():
        return _error(f"{path} is a directory, not a database file")
    print(f"building the demo database: {lines:,} claim lines at {path}", file=sys.stderr)
    try:
        stats = build_demo(
            path, lines, progress=sys.stderr.isatty(), replace_real_data=args.replace_real_data
        )
    except db.StartupError as exc:  # another writer, real data in the file
        return _error(f"{exc}; nothing was changed")
    except KeyboardInterrupt:
        return _interrupted()
    except (CalibrationError, ValueError, OSError, duckdb.Error) as exc:
        if no_space(exc):
            return _error(f"demo build failed, nothing was changed: {no_space_message(path, exc)}")
        return _error(f"demo build failed, nothing was changed: {exc}")
    print(
        f"demo database built: {stats.lines:,} claim lines in {stats.seconds:.1f} s, "
        f"{human_bytes(stats.bytes)} at {stats.path}"
    )
    return 0


def _interrupted() -> int:
    print("\ninterrupted: nothing was changed, the database is as it was", file=sys.stderr)
    return 130


def run_info(args: argparse.Namespace) -> int:
    from toprank.data.demo import human_bytes
    from toprank.data.writer import current_holder, leftovers, size_of

    location = db.locate(args.db)
    path = location.path
    if not path.exists():
        return _error(
            location.missing_message()
            if location.explicit
            else f"no database at {path}; build the demo with `toprank data demo` "
            "(or choose one with --db or TOPRANK_DB)"
        )
    try:
        con = db.open_reader(path)
    except db.DatabaseProblem as exc:
        return _error(str(exc))
    try:
        report = describe(con, path)
        verification = None if args.no_verify else db.verify_blocks(con)
    except duckdb.Error as exc:
        return _error(db.open_error_message(path, exc))
    finally:
        con.close()
    print(report)
    left = leftovers(path)
    holder = current_holder(path)
    if holder is not None:
        print(
            f"\na write is in progress: pid {holder.pid}, `{holder.command}`, since "
            f"{holder.since} (answers come from the data above until it commits)"
        )
    elif left:
        total = sum(size_of(p) for p in left)
        print(
            f"\nleft by an interrupted write: {human_bytes(total)} in "
            f"{', '.join(str(p) for p in left)} (the next data command removes it)"
        )
    if verification is None:
        return 0
    if verification.damaged is not None:
        print(f"\nchecksums: FAILED in {verification.damaged}")
        return _error(
            f"{path} is damaged ({verification.damaged}); restore it from a backup or rebuild it"
        )
    print(
        f"\nchecksums: every block of {len(verification.tables)} tables "
        f"({verification.rows:,} rows) read and verified in {verification.seconds:.1f} s"
    )
    return 0


def describe(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """The `data info` report for an open database."""
    from toprank.data.demo import human_bytes

    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    out = [f"database: {path} ({human_bytes(path.stat().st_size)})"]
    coverage = db.read_coverage(con) if {"sources", "rollup_national"} <= tables else None
    if coverage is None:
        out.append("coverage: no data loaded")
    else:
        out.append(
            f"coverage: {coverage.start} to {coverage.end}; "
            f"{coverage.claim_lines:,} claim lines loaded, {coverage.procedures:,} procedures"
        )
    if "sources" in tables:
        rows = con.execute(
            "SELECT source_id, kind, name, rows_read, rows_loaded, rows_rejected, "
            "first_date, last_date FROM sources ORDER BY source_id"
        ).fetchall()
        out.append("")
        out.append("sources:")
        out.extend(
            _table(
                ["id", "kind", "name", "read", "loaded", "rejected", "first", "last"],
                [
                    [sid, kind, name, _n(read), _n(loaded), _n(rejected), first, last]
                    for sid, kind, name, read, loaded, rejected, first, last in rows
                ]
                or [["-", "-", "(none)", "", "", "", "", ""]],
                right={0, 3, 4, 5},
            )
        )
    out.append("")
    out.append("rows:")
    counted = [
        t for t in ("claim_lines", "rollup_month", "rollup_national", "sources") if t in tables
    ]
    counts = [db.fetch_one(con.execute(f"SELECT count(*) FROM {t}"))[0] for t in counted]
    out.extend(
        _table(
            ["table", "rows"], [[t, _n(c)] for t, c in zip(counted, counts, strict=True)], right={1}
        )
    )
    if "claim_lines" in tables:
        out.append("")
        out.extend(_non_states(con))
    if "rollup_national" in tables:
        out.append("")
        out.append("procedures by cohort and year (rehab = codes 97010-97799, any provider):")
        out.extend(_cohort_years(con))
    return "\n".join(out)


def _non_states(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Rows whose state is a territory, a military code, XX or ZZ: kept and counted
    nationally (only XX and ZZ are in no state's row)."""
    catalog = load_catalog()
    rows = con.execute(
        "SELECT state, count(*), CAST(sum(procedures) AS BIGINT) FROM claim_lines "
        "WHERE NOT list_contains($states, state) GROUP BY state ORDER BY state",
        {"states": list(catalog.us_states)},
    ).fetchall()
    head = "rows outside the 50 states and DC (counted in national answers):"
    if not rows:
        return [head, "  (none)"]
    body = [
        [code, catalog.states.get(code, "?"), catalog.state_kinds.get(code, "?"), _n(n), _n(p)]
        for code, n, p in rows
    ]
    return [head, *_table(["code", "name", "kind", "rows", "procedures"], body, right={3, 4})]


def _cohort_years(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT cohort, year(month) AS year, CAST(sum(procedures) AS BIGINT) "
        "FROM rollup_national GROUP BY ALL"
    ).fetchall()
    if not rows:
        return ["  (no procedures)"]
    years = sorted({y for _, y, _ in rows})
    cell = {(c, y): p for c, y, p in rows}
    cohorts = [c for c in COHORT_ORDER if any(k[0] == c for k in cell)]
    cohorts += sorted({c for c, _ in cell} - set(cohorts))
    body = [
        [c, *(_n(cell.get((c, y), 0)) for y in years), _n(sum(cell.get((c, y), 0) for y in years))]
        for c in cohorts
    ]
    return _table(["cohort", *map(str, years), "total"], body, right=set(range(1, len(years) + 2)))


def _n(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _table(headers: list[str], rows: Sequence[Sequence[object]], right: set[int]) -> list[str]:
    text = [[str("" if v is None else v) for v in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = []
    for row in text:
        cells = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines
