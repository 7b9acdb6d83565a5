"""`toprank ask` and `toprank chat`: the command-line surfaces of the pipeline.

    toprank ask "top rehab codes 2023"          a table on stdout
    toprank ask "top rehab codes 2023" --json   the DESIGN.md contract, one object
    toprank ask --chart top.png "top rehab codes 2023"   ...and its chart as a PNG file
    toprank ask --json -                        one question per stdin line -> one JSON
                                                object per line, in order, one process
    toprank ask --json --conversation -         one turn per line, each continuing the
                                                last; a blank line starts a new one
    toprank chat                                an interactive local chat (follow-ups
                                                continue the last question)

stdout carries answers only; progress (building the demo data) and logs go to stderr.
Exit codes: 0 when answered (an answer-level error is still an answer), 1 when --chart
wrote no file (the answer has no chart, or the file cannot be written), 2 bad usage or
no database.

Every question goes into the usage log of the state store beside the database (surface
"cli", the OS user hashed like a Slack user), as the Slack app's do; a store that
cannot be opened costs a warning on stderr, never the answer. TOPRANK_LOG_DAYS=0 logs
nothing.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from toprank.bot.answer_model import Answer
from toprank.bot.render_text import render_text
from toprank.data.examples import load_examples

EXIT_OK = 0
EXIT_NO_CHART = 1
EXIT_USAGE = 2
PROMPT = "toprank> "
QUIT_WORDS = frozenset({"quit", "exit", "bye", ":q", "q"})
# Typed alone in the chat: forget the conversation so far.
NEW_WORDS = frozenset({"new", "reset", "start over", "/new"})
BANNER_EXAMPLES = load_examples().questions[:5]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    ask = subparsers.add_parser(
        "ask",
        help="answer one question (or one per stdin line with '-')",
        description="Answer a question about the claims data.",
    )
    ask.add_argument("question", nargs="+", metavar="QUESTION", help="the question, or - for stdin")
    ask.add_argument("--json", action="store_true", help="print the JSON answer contract")
    ask.add_argument("--sql", action="store_true", help="show the SQL that ran (text mode)")
    ask.add_argument("--db", metavar="PATH", help="DuckDB file (default: $TOPRANK_DB or data/)")
    ask.add_argument("--chart", metavar="FILE", help="also write the answer's chart to FILE (.png)")
    ask.add_argument(
        "--conversation",
        action="store_true",
        help="with '-': each line continues the last question; a blank line starts afresh",
    )
    ask.set_defaults(func=run_ask)

    chat = subparsers.add_parser("chat", help="interactive local chat on the data")
    chat.add_argument("--db", metavar="PATH", help="DuckDB file (default: $TOPRANK_DB or data/)")
    chat.add_argument("--sql", action="store_true", help="show the SQL under each answer")
    chat.set_defaults(func=run_chat)


class _OneLine(logging.Formatter):
    """A log record as one line: what a user reads on stderr never holds a traceback
    (the error log file has it)."""

    def __init__(self, fmt: str, details: Path | None) -> None:
        super().__init__(fmt)
        self.details = details

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            line = super().format(record).splitlines()[0] if record.getMessage() else ""
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        if saved[0] is not None and self.details is not None:
            line += f" (details in {self.details})"
        return line


def error_log_path() -> Path:
    """Where the CLI keeps the tracebacks of internal errors: TOPRANK_ERROR_LOG, else
    $XDG_STATE_HOME/toprank/errors.log (~/.local/state/toprank/errors.log)."""
    given = os.environ.get("TOPRANK_ERROR_LOG", "").strip()
    if given:
        return Path(given)
    state = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(state) / "toprank" / "errors.log"


def _error_log_handler() -> logging.Handler | None:
    path = error_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, delay=True, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    return handler


def _configure_io() -> None:
    # Logs go to stderr as one line each, never stdout and never a traceback (those go
    # to the error log file). Undecodable bytes on stdin become U+FFFD instead of ending
    # a batch half way.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    file_handler = _error_log_handler()
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setFormatter(
        _OneLine(
            "%(levelname)s %(name)s: %(message)s",
            error_log_path() if file_handler is not None else None,
        )
    )
    handlers: list[logging.Handler] = [stderr_handler]
    if file_handler is not None:
        handlers.append(file_handler)
    logging.basicConfig(level=logging.WARNING, handlers=handlers)


def _open(db: str | None):
    """The pipeline, or None after a clear message on stderr."""
    from toprank.bot.pipeline import Toprank  # imported here so `toprank --help` stays fast
    from toprank.data.db import StartupError

    try:
        return Toprank.open(db)
    except StartupError as exc:  # a setting, or a database that cannot be used: says which
        print(f"toprank: {exc}", file=sys.stderr)
        return None
    except Exception as exc:  # anything else: a message, not a traceback
        logging.getLogger("toprank").debug("open failed", exc_info=True)
        print(f"toprank: cannot open the database: {exc}", file=sys.stderr)
        return None


class CliLog:
    """The usage log as the CLI writes it: best effort, never in an answer's way. The
    store is opened at the first entry, after that answer is printed: opening it
    (SQLAlchemy and the state file) costs more than answering one question."""

    def __init__(self, db: str | None) -> None:
        self._db = db
        self._opened = False
        self.usage: Any = None
        self.user: str | None = None

    def _open(self) -> None:
        self._opened = True
        try:
            from toprank.bot.state_settings import log_days_from_env

            if log_days_from_env() <= 0:
                return  # no log: SQLAlchemy and the store are never loaded
            from toprank.bot.state import StateStore
            from toprank.bot.usage import UsageLog
            from toprank.data.db import db_path

            self.usage = UsageLog.from_env(StateStore.from_env(db_path(self._db)))
            self.user = getpass.getuser()
        except Exception as exc:  # the answer matters more than its log entry
            logging.getLogger("toprank.usage").debug("usage log off", exc_info=True)
            reason = str(exc).split("\n")[0][:160]
            print(f"toprank: not logging questions ({reason})", file=sys.stderr)
            self.usage = None

    def record(self, answer: Answer, latency: float, context: Any = None) -> None:
        """Log one answer that took `latency` seconds (measured by the caller, so the
        store's first opening never counts as the answer's time)."""
        if not self._opened:
            self._open()
        if self.usage is None:
            return
        follows = None
        if context is not None:
            try:
                from toprank.intents.phrase import question_for

                follows = question_for(context.spec)
            except Exception:
                follows = None
        self.usage.record(
            answer,
            surface="cli",
            latency_seconds=latency,
            user=self.user,
            follows=follows,
        )

    def close(self) -> None:
        if self.usage is not None:
            self.usage.store.close()


def _emit(answer: Answer, *, as_json: bool, show_sql: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(answer.to_json(), ensure_ascii=False, default=str) + "\n")
    else:
        out.write(render_text(answer, show_sql=show_sql) + "\n")
    out.flush()


def run_ask(args: argparse.Namespace) -> int:
    _configure_io()
    words = list(args.question)
    from_stdin = words == ["-"]
    if not from_stdin and "-" in words:
        print("toprank ask: use '-' alone to read questions from stdin", file=sys.stderr)
        return EXIT_USAGE
    if args.conversation and not from_stdin:
        print("toprank ask: --conversation reads turns from stdin ('-')", file=sys.stderr)
        return EXIT_USAGE
    chart_problem = _chart_path_problem(args.chart, from_stdin)
    if chart_problem:
        print(f"toprank ask: {chart_problem}", file=sys.stderr)
        return EXIT_USAGE
    toprank = _open(args.db)
    if toprank is None:
        return EXIT_USAGE
    out = sys.stdout
    usage = CliLog(args.db)
    try:
        if not from_stdin:
            started = time.perf_counter()
            answer = toprank.ask(" ".join(words))
            latency = time.perf_counter() - started
            _emit(answer, as_json=args.json, show_sql=args.sql, out=out)
            usage.record(answer, latency)
            return _write_chart(answer, args.chart) if args.chart else EXIT_OK
        first = True
        context = None
        for raw in sys.stdin:
            question = raw.rstrip("\r\n")
            started = time.perf_counter()
            if args.conversation:
                # A blank line ends a conversation and prints nothing.
                if not question.strip():
                    context = None
                    continue
                before = context
                answer, context = toprank.converse(question, context)
                usage.record(answer, time.perf_counter() - started, before)
            else:
                # One answer per line, blank and garbage lines included: batch callers
                # match answers to questions by position.
                answer = toprank.ask(question)
                usage.record(answer, time.perf_counter() - started)
            if not args.json and not first:
                out.write("\n")
            _emit(answer, as_json=args.json, show_sql=args.sql, out=out)
            first = False
        return EXIT_OK
    finally:
        usage.close()
        toprank.close()


def _chart_path_problem(path: str | None, from_stdin: bool) -> str | None:
    """Why --chart FILE cannot be written, checked before any work; None when it can."""
    if path is None:
        return None
    target = Path(path)
    if from_stdin:
        return "--chart draws one answer; ask one question, not '-'"
    if target.is_dir():
        return f"--chart {path}: is a directory"
    if target.suffix.lower() != ".png":
        return f"--chart writes a PNG image: name the file *.png (got {path!r})"
    if not target.parent.is_dir():
        return f"--chart {path}: no such directory {str(target.parent)!r}"
    return None


def _write_chart(answer: Answer, path: str) -> int:
    """Draw the answer's chart into `path` (whole or not at all); a one-line reason on
    stderr when there is none."""
    from toprank.bot.chart import draw, figure_png  # matplotlib is imported only to draw
    from toprank.bot.chart_kinds import KIND_NOUN, chart_spec, no_chart_reason

    reason = no_chart_reason(answer)
    if reason:
        print(f"toprank ask: no chart written: {reason}", file=sys.stderr)
        return EXIT_NO_CHART
    spec = chart_spec(answer)
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(figure_png(draw(spec)))
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        print(f"toprank ask: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_NO_CHART
    print(f"toprank: {KIND_NOUN[spec.kind].lower()} written to {path}", file=sys.stderr)
    return EXIT_OK


def banner(toprank) -> str:
    cov = toprank.coverage
    examples = "\n".join(f"  {e}" for e in BANNER_EXAMPLES)
    return (
        "toprank: ranked, sourced answers about procedure codes in claims data.\n"
        f"Data: {cov.start.isoformat()} through {cov.end.isoformat()}, "
        f"{cov.claim_lines:,} claim lines ({', '.join(cov.sources) or 'no sources'}).\n"
        f"Try:\n{examples}\n"
        "Follow-ups continue the last question ('and for PT?', 'in Texas', 'top 20');\n"
        "type 'new' to start afresh, 'help' for more, 'quit' to leave."
    )


def run_chat(args: argparse.Namespace) -> int:
    _configure_io()
    toprank = _open(args.db)
    if toprank is None:
        return EXIT_USAGE
    interactive = sys.stdin.isatty()
    out = sys.stdout
    context = None
    usage = CliLog(args.db)
    try:
        out.write(banner(toprank) + "\n")
        while True:
            if interactive:
                out.write("\n")
            out.write(PROMPT)
            out.flush()
            try:
                line = sys.stdin.readline()
            except KeyboardInterrupt:
                out.write("\n")
                break
            if not line:  # Ctrl-D / end of piped input
                out.write("\n")
                break
            question = line.strip()
            if not question:
                continue
            if question.lower() in QUIT_WORDS:
                break
            if not interactive:
                out.write(question + "\n")  # echo piped questions so the log reads well
            if question.lower() in NEW_WORDS:
                context = None
                out.write("(new conversation)\n")
                continue
            try:
                started, before = time.perf_counter(), context
                answer, context = toprank.converse(question, context)
                usage.record(answer, time.perf_counter() - started, before)
            except KeyboardInterrupt:
                out.write("\n(interrupted)\n")
                continue
            out.write(render_text(answer, show_sql=args.sql) + "\n")
            if not interactive:
                out.write("\n")
            out.flush()
        out.write("bye\n")
        out.flush()
        return EXIT_OK
    finally:
        usage.close()
        toprank.close()
