"""`toprank` console script: dispatches to the module that owns each subcommand.

    toprank                 Socket Mode when Slack tokens are set, else a local chat
    toprank ask/chat        bot.cli_ask
    toprank serve           bot.serve
    toprank usage           bot.cli_usage (the usage log's figures)
    toprank feedback ...    bot.cli_feedback (export the disliked questions)
    toprank data ...        data.cli (demo, info, ingest)
    toprank bench           tests.bench

Each owning module exposes `add_parser(subparsers)` and the parser it adds sets
`func(args) -> int`. Modules are imported lazily so `toprank ask` never loads Slack.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMAND_MODULES = (
    "bot.cli_ask",
    "bot.serve",
    "bot.cli_usage",
    "bot.cli_feedback",
    "data.cli",
    "tests.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toprank",
        description="Ranked, sourced answers about claims data (top CPT codes by cohort and period).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a subcommand still being built
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def default_command() -> list[str]:
    """The main job: Slack (Socket Mode) when tokens are set, else the local chat."""
    if os.environ.get("SLACK_BOT_TOKEN") and os.environ.get("SLACK_APP_TOKEN"):
        return ["serve"]
    return ["chat"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv or default_command())
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
