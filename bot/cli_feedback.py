"""`toprank feedback export`: the questions users disliked, as development cases.

    toprank feedback export                         the last 30 days, JSONL on stdout
    toprank feedback export --since 7d --out bad.jsonl

One JSON object a line in the development-set format (../shared/eval/README.md): the
question ("q", or "turns" for a follow-up), an empty "expect" to fill in, what it was
understood as ("understood": intent, params, SQL shape, outcome), the users' comments.
The count goes to stderr, so stdout is only the cases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "feedback",
        help="export the disliked questions as development cases",
        description="Work with the thumbs up / down users gave answers.",
    )
    actions = parser.add_subparsers(dest="feedback_command", metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the disliked questions as JSONL development cases",
        description="Write the questions whose answers got a thumbs down, one JSON object "
        "a line, in the development-set format.",
    )
    export.add_argument(
        "--since", default="30d", help="a span (30d, 24h, 2w) or a date; default 30d"
    )
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    export.add_argument("--db", metavar="PATH", help="the database the state store sits beside")
    export.set_defaults(func=run_export)
    parser.set_defaults(func=_no_action(parser))


def _no_action(parser: argparse.ArgumentParser):
    def run(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return run


def run_export(args: argparse.Namespace) -> int:
    from toprank.bot.cli_usage import open_existing_store
    from toprank.bot.feedback import disliked_cases
    from toprank.bot.state import StateError
    from toprank.bot.usage import SinceError, parse_since
    from toprank.bot.zone import ZoneError, zone_from_env

    try:
        since = parse_since(args.since, time.time(), zone_from_env())
    except (SinceError, ZoneError) as error:
        print(f"toprank feedback export: {error}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        print(f"toprank feedback export: no directory {out.parent} for --out", file=sys.stderr)
        return EXIT_USAGE
    store = open_existing_store(args.db)
    if isinstance(store, str):
        print(f"toprank feedback export: {store}", file=sys.stderr)
        return EXIT_USAGE
    try:
        cases = disliked_cases(
            store.log_entries(since, strict=True), store.ratings(since, strict=True)
        )
    except StateError as error:
        print(f"toprank feedback export: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    text = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            _write_whole(out, text)
        except OSError as error:
            print(f"toprank feedback export: cannot write {out}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
    where = f" to {out}" if out else ""
    print(f"{len(cases)} disliked question(s) since {args.since}{where}", file=sys.stderr)
    return EXIT_OK


def _write_whole(path: Path, text: str) -> None:
    """Write beside the target and rename: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
