"""`toprank` console script: dispatches to the module that owns each subcommand.

    toprank                 Socket Mode when Slack tokens are set, else a local chat
    toprank ask/chat        bot.cli_ask
    toprank serve           bot.serve
    toprank usage           bot.cli_usage (the usage log's figures)
    toprank feedback ...    bot.cli_feedback (export the disliked questions)
    toprank data ...        data.cli (demo, info, ingest)
    toprank bench           bot.bench.answers

Each owning module exposes `add_parser(subparsers)` and the parser it adds sets
`func(args) -> int`. Only the module of the command given is imported (all of them for
`toprank --help`), so `toprank ask` never loads Slack, pyarrow or the ingest.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# Each command and the module whose add_parser adds it (tests check the two agree).
COMMANDS: dict[str, str] = {
    "ask": "toprank.bot.cli_ask",
    "chat": "toprank.bot.cli_ask",
    "serve": "toprank.bot.serve",
    "usage": "toprank.bot.cli_usage",
    "feedback": "toprank.bot.cli_feedback",
    "data": "toprank.data.cli",
    "bench": "toprank.bot.bench.answers",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `command` alone when it is one of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="toprank",
        description="Ranked, sourced answers about claims data (top CPT codes by cohort and period).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(wanted):
        importlib.import_module(name).add_parser(sub)
    return parser


def default_command() -> list[str]:
    """The main job: Slack (Socket Mode) when tokens are set, else the local chat."""
    if os.environ.get("SLACK_BOT_TOKEN") and os.environ.get("SLACK_APP_TOKEN"):
        return ["serve"]
    return ["chat"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # building the parser imports the command's module
        argv = argv or default_command()
        parser = build_parser(argv[0])
        args = parser.parse_args(argv)
        from toprank.data.db import StartupError  # light: no Slack, no pandas
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was done", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2

    try:
        return int(args.func(args) or 0)
    except StartupError as error:  # a setting or a database the user must fix: one line
        print(f"toprank: {error}", file=sys.stderr)
        return EXIT_STARTUP
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _stdout_closed()


# A setting or database problem found before anything ran (the same code as bad usage).
EXIT_STARTUP = 2
# What a shell reports for a command ended by SIGPIPE (128 + 13), as `yes | head` does.
EXIT_PIPE_CLOSED = 141


def _stdout_closed() -> int:
    """The reader of stdout went away (`toprank ask - | head -1`): stop quietly. Python
    would otherwise print an error while flushing stdout at exit, so stdout is pointed
    at /dev/null first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
    return EXIT_PIPE_CLOSED


def entry() -> None:
    """The console script: main(), then exit with its code. Once main has returned, its
    report (or its "interrupted") has been printed and is true: a Ctrl-C arriving after
    that, or one DuckDB already acted on whose signal Python has not yet handled, is
    ignored rather than ending the process as killed by SIGINT mid-way through exiting."""
    code = main()
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:  # a pending Ctrl-C is handled as the handler changes
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _forget_handled_interrupt()
    sys.exit(code)


def _forget_handled_interrupt() -> None:
    """CPython remembers a KeyboardInterrupt that escaped Python code run by a C
    extension through PyRun_* (seen under strace: Ctrl-C during start-up or a DuckDB
    read), and at exit kills the process with SIGINT although main() caught the
    interrupt and reported it. Running an empty string through PyRun_SimpleString
    clears that memory, so the exit code is the one main() chose (130)."""
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"")
    except (ImportError, AttributeError, OSError):  # not CPython: nothing to forget
        pass


if __name__ == "__main__":
    entry()
