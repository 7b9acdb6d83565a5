"""`toprank usage`: what the usage log says about a period, as a table or JSON.

    toprank usage                    the last 7 days
    toprank usage --since 30d        30 days (also 24h, 2w, or a date: 2026-11-01)
    toprank usage --since 7d --json  the same figures as one JSON object

Questions a day, distinct users, top questions, refusal and "not understood" rates,
p50/p95 latency and feedback rates, read from the state store the app writes
(TOPRANK_STATE_URL, TOPRANK_STATE, or beside the database). Days begin at midnight in
TOPRANK_TZ (default UTC).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "usage",
        help="questions, users, refusals, latency and feedback from the usage log",
        description="Report what the usage log holds for a period (see `toprank serve`).",
    )
    parser.add_argument(
        "--since", default="7d", help="a span (7d, 24h, 2w) or a date (2026-11-01); default 7d"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--db", metavar="PATH", help="the database the state store sits beside")
    parser.set_defaults(func=run_usage)


def open_existing_store(db: str | None):
    """The state store the app writes, or a one-line reason (a string) why not: a
    report never creates an empty store where none was."""
    from toprank.bot.state import StateError, StateStore, log_days_from_env, state_url
    from toprank.data.db import db_path

    url = state_url(db_path(db))
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return (
                f"no state store at {path}: `toprank serve` (or ask/chat) creates it; "
                "set TOPRANK_STATE or TOPRANK_STATE_URL to read another"
            )
    try:
        store = StateStore(url)
        store.log_seconds = log_days_from_env() * 86400.0
        return store
    except StateError as error:
        return str(error)


def run_usage(args: argparse.Namespace) -> int:
    from toprank.bot.usage import SinceError, parse_since, render_report, usage_report
    from toprank.bot.zone import ZoneError, zone_from_env, zone_label

    try:
        zone = zone_from_env()
        now = time.time()
        since = parse_since(args.since, now, zone)
    except (SinceError, ZoneError) as error:
        print(f"toprank usage: {error}", file=sys.stderr)
        return EXIT_USAGE
    store = open_existing_store(args.db)
    if isinstance(store, str):
        print(f"toprank usage: {store}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from toprank.bot.state import StateError

        try:
            report = usage_report(
                store.log_entries(since, strict=True),
                store.ratings(since, strict=True),
                since=since,
                until=now,
                tz=zone,
                zone_name=zone_label(zone),
            )
        except StateError as error:
            print(f"toprank usage: {error}", file=sys.stderr)
            return EXIT_USAGE
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.to_json(zone), ensure_ascii=False))
    else:
        print(render_report(report, zone))
    return EXIT_OK
