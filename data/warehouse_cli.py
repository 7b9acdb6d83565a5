"""`toprank data build|export|import-rollups`: rollups where the data lives (sql.warehouse).

    toprank data build --engine URL --source TABLE [--map column=name ...]
    toprank data export --engine URL --to DIR
    toprank data import-rollups DIR [--db PATH] [--force]

--engine defaults to TOPRANK_ENGINE_URL. Every failure is one line on stderr and exit
status 1; nothing is changed by a failed run.
"""

from __future__ import annotations

import argparse
import os
import sys

from toprank.data import db


def add_parsers(data_sub: argparse._SubParsersAction) -> None:
    build = data_sub.add_parser(
        "build",
        help="build the rollups inside a warehouse (PostgreSQL, Spark) from a claim-lines table",
        description="Build the rollup tables inside the warehouse from an existing claim-lines "
        "table (the claims ingest's columns: claim_id, service_date, hcpcs_code, payer, state, "
        "cohort or rendering_taxonomy; optional modifiers, units, place_of_service, procedures). "
        "Rows that cannot be counted are reported by reason and left out.",
    )
    build.add_argument("--engine", metavar="URL", help="postgresql://... or sc://host:port")
    build.add_argument("--source", required=True, metavar="TABLE", help="the claim-lines table")
    build.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="column=name",
        help="the source's name for a claim-lines column (repeatable)",
    )
    build.set_defaults(func=run_build)

    export = data_sub.add_parser(
        "export", help="copy a warehouse's rollups out as Parquet (for import-rollups)"
    )
    export.add_argument("--engine", metavar="URL", help="postgresql://... or sc://host:port")
    export.add_argument("--to", required=True, metavar="DIR", help="directory to write")
    export.set_defaults(func=run_export)

    imp = data_sub.add_parser(
        "import-rollups",
        help="load exported rollups into the embedded DuckDB file (answers in milliseconds)",
    )
    imp.add_argument("dir", metavar="DIR", help="a directory written by `toprank data export`")
    imp.add_argument("--db", metavar="PATH", help="database file to write")
    imp.add_argument("--force", action="store_true", help="replace an existing database file")
    imp.set_defaults(func=run_import)


def _error(message: str) -> int:
    print(f"toprank: {message}", file=sys.stderr)
    return 1


def _engine(args: argparse.Namespace) -> str | None:
    return args.engine or os.environ.get("TOPRANK_ENGINE_URL", "").strip() or None


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_build(args: argparse.Namespace) -> int:
    from toprank.sql import warehouse
    from toprank.sql.engines import redact

    url = _engine(args)
    if url is None:
        return _error("data build needs --engine URL (or TOPRANK_ENGINE_URL)")
    try:
        mapping = warehouse.parse_mapping(args.map)
        print(f"building rollups in {redact(url)} from {args.source}", file=sys.stderr)
        report = warehouse.build(url, args.source, mapping)
    except Exception as error:  # one line for the user, whatever the driver raised
        return _error(f"build failed, nothing was changed: {_one_line(error)}")
    print(
        f"rollups built from {report.source} in {report.seconds:.1f} s: {report.read:,} read, "
        f"{report.loaded:,} loaded, {report.rejected:,} rejected; "
        f"{report.first_date} to {report.last_date}, {report.procedures:,} procedures"
    )
    for reason, count in report.reasons:
        print(f"  rejected {count:,}: {reason}")
    for table, rows in report.tables:
        print(f"  {table}: {rows:,} rows")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from toprank.sql import warehouse

    url = _engine(args)
    if url is None:
        return _error("data export needs --engine URL (or TOPRANK_ENGINE_URL)")
    try:
        copies = warehouse.export(url, args.to)
    except Exception as error:
        return _error(f"export failed: {_one_line(error)}")
    for copy in copies:
        print(f"  {copy.table}: {copy.rows:,} rows")
    print(f"exported to {args.to}; load with `toprank data import-rollups {args.to}`")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from toprank.sql import warehouse

    path = db.db_path(args.db)
    try:
        copies = warehouse.import_rollups(args.dir, path, force=args.force)
    except Exception as error:
        return _error(f"import failed, nothing was changed: {_one_line(error)}")
    for copy in copies:
        print(f"  {copy.table}: {copy.rows:,} rows")
    print(f"rollups imported into {path}")
    return 0
