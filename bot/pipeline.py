"""The whole flow behind every surface:

    text (+ the conversation so far) -> intents.understand / follow_up -> Spec
         -> intents.resolve (coverage) -> Resolved -> sql.compile -> Plan
         -> engine -> rows -> bot.answer -> Answer

`Toprank.open()` does the I/O once (database file, catalog, knowledge, coverage);
`ask(text)` never raises: anything unexpected becomes an Answer with error "internal"
and a friendly text, while the traceback goes to the log (stderr), never to the user.
The CLI and the Slack app both call exactly `Toprank.open(...)` and `.ask(text)`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from toprank.bot.answer import (
    DEFAULT_MIN_CELL,
    build_data,
    build_other,
    error_answer,
    internal_error_answer,
    timeout_answer,
)
from toprank.bot.answer_model import Answer
from toprank.bot.knowledge import Knowledge, load_knowledge
from toprank.data.catalog import Catalog, load_catalog
from toprank.data.db import (
    QUESTION_TABLES,
    ConfigError,
    DatabaseProblem,
    locate,
    missing_rollup_columns,
    verify_blocks,
)
from toprank.data.vocab import Vocabulary, load_vocab
from toprank.intents.conversation import Context, follow_up
from toprank.intents.lexicon import Lexicon
from toprank.intents.model import MAX_QUESTION_CHARS, Coverage, Period
from toprank.intents.resolve import Resolved, default_period, resolve
from toprank.intents.spec import Spec, intent_name
from toprank.intents.understand import understand
from toprank.sql.compile import Unsupported, compile_plan
from toprank.sql.engine import (
    DatabaseDamaged,
    DatabaseEmpty,
    DatabaseMissing,
    DuckDBEngine,
    QueryTimeout,
    query_timeout_from_env,
    validated,
)
from toprank.sql.engines import Engine, duckdb_path, engine_url, is_warehouse, open_engine
from toprank.sql.plan import (
    coverage_query,
    knowledge_query,
    load_template,
    lookup_query,
    template_names,
)
from toprank.sql.query import Query
from toprank.sql.validate import load_dialect

log = logging.getLogger("toprank")

MIN_CELL_ENV = "TOPRANK_MIN_CELL"
# Far past MAX_QUESTION_CHARS: the parser never sees a megabyte pasted by mistake.
HARD_INPUT_LIMIT = 20 * MAX_QUESTION_CHARS
# Questions run once at start so no user pays for the first use of each SQL shape.
WARM_QUESTIONS = (
    "top ot codes 2022",
    "top pt codes in texas for medicare 2022",
    "what share of rehab was 97530",
    "compare ot and pt 2021",
    "ot 2021 vs 2022",
    "trend of 97110 for ot",
    "monthly pt volume 2022",
    "payer mix for pt",
    "how many ot evaluations in 2022",
    "fastest growing rehab codes",
    "top pt codes at home",
    "how many ot visits in 2022",
)


def min_cell_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """TOPRANK_MIN_CELL (default 11; 0 turns small-cell suppression off). Anything but
    a whole number from 0 up is refused: a typo must never turn suppression off."""
    raw = environ.get(MIN_CELL_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_CELL
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"{MIN_CELL_ENV}={raw!r} is not a whole number of 0 or more (counts under it are "
            f"hidden; default {DEFAULT_MIN_CELL}, 0 shows every count)"
        )
    return value


class _Opening(threading.Thread):
    """`engine.coverage()` (which opens the database) run in a thread of its own."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="toprank-open", daemon=True)
        self._engine = engine
        self._coverage: Coverage | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._coverage = self._engine.coverage()
        except BaseException as exc:  # handed to the thread that waits: see result()
            self._error = exc

    def result(self) -> Coverage:
        """The coverage, or the opening's exception raised here (after join())."""
        if self._error is not None:
            raise self._error
        if self._coverage is None:
            raise RuntimeError("the database is still opening")
        return self._coverage


class Toprank:
    """One open database plus the reference data; answers questions."""

    def __init__(
        self,
        engine: Engine,
        *,
        catalog: Catalog,
        knowledge: Knowledge,
        coverage: Coverage,
        vocab: Vocabulary | None = None,
        lexicon: Lexicon | None = None,
        today: date | None = None,
        min_cell: int = DEFAULT_MIN_CELL,
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._knowledge = knowledge
        # The coverage given is the one of the engine's generation now; a later
        # generation (new data renamed over the file) brings its own (see `coverage`).
        self._coverage = coverage
        self._coverage_generation = engine.generation
        # The parser's phrase tables, built once here and passed to every question.
        if lexicon is None:
            lexicon = Lexicon(catalog, vocab if vocab is not None else load_vocab())
        self._lexicon = lexicon
        self._today = today
        self.min_cell = min_cell

    @classmethod
    def open(
        cls,
        db_path: str | os.PathLike | None = None,
        *,
        today: date | None = None,
        build_if_missing: bool = True,
        warm: bool = False,
        engine_url_override: str | None = None,
    ) -> Toprank:
        """Open the database, load the catalog and knowledge, and read the coverage once.
        The settings are checked first (ConfigError). Only the default path is built
        (the demo data) when missing and allowed: a path given by --db or TOPRANK_DB
        that does not exist is an error, never a new synthetic database. A file that is
        not a toprank database raises DatabaseProblem, one line. With `warm`, also check
        every block of the tables answers read (a corrupt file is found at start, not by
        a user) and pay the one-time costs of the first questions now (`warm_up`).
        TOPRANK_ENGINE_URL naming a warehouse (postgresql://, sc://) answers from the
        rollups there instead (sql.engines); --db still names a DuckDB file.
        `engine_url_override` is such a URL given by the caller (`toprank bench
        --engine`), in place of the setting."""
        min_cell = min_cell_from_env()
        timeout = query_timeout_from_env()
        warehouse = engine_url_override or engine_url()
        engine: Engine
        if db_path is None and warehouse is not None and is_warehouse(warehouse):
            engine = open_engine(warehouse, timeout=timeout)
        else:
            location = locate(db_path or (duckdb_path(warehouse) if warehouse else None))
            if warehouse and db_path is None:
                location = replace(location, origin="TOPRANK_ENGINE_URL")
            path = location.path
            if not path.exists():
                if location.explicit or not build_if_missing:
                    raise DatabaseMissing(location.missing_message())
                from toprank.data.demo import ensure_database  # only needed on first use

                path = ensure_database(path)
            engine = DuckDBEngine(path, timeout)
        # The database opens (DuckDB's own threads, most of it outside the GIL) while
        # this thread reads the reference data, builds the parser's tables and loads
        # sqlglot's dialect: a one-shot `toprank ask` waits for the longer of the two.
        # Only DuckDB's open is moved to a thread: a warehouse's connect may wait on the
        # network for seconds, and Ctrl-C must reach it where it runs.
        opening = _Opening(engine)
        try:
            if isinstance(engine, DuckDBEngine):
                opening.start()
            else:
                opening.run()
            try:
                catalog, vocab = load_catalog(), load_vocab()
                knowledge = load_knowledge()
                lexicon = Lexicon(catalog, vocab)
                load_dialect()
            finally:
                if opening.is_alive():
                    opening.join()  # never leave the engine opening behind an error here
            coverage = opening.result()
            if warm and isinstance(engine, DuckDBEngine):
                _verify_answer_tables(engine)
        except DatabaseEmpty as exc:
            engine.close()
            raise DatabaseProblem(
                f"{exc}; load files with `toprank data ingest` or build the demo with "
                "`toprank data demo`"
            ) from None
        except BaseException:
            engine.close()
            raise
        toprank = cls(
            engine,
            catalog=catalog,
            knowledge=knowledge,
            coverage=coverage,
            vocab=vocab,
            lexicon=lexicon,
            today=today,
            min_cell=min_cell,
        )
        if warm:
            toprank.warm_up()
        engine.warm = toprank.warm_questions  # a new generation is warmed before it serves
        return toprank

    def warm_up(self) -> None:
        """Check every SQL template, build the parser's tables and run one question of
        each common shape, so no user's question pays for them (a long-running bot
        calls this once at start; a one-shot CLI question pays only for what it needs)."""
        for name in template_names():
            validated(load_template(name)[0])
        self._lexicon.compile_patterns()  # a broken pattern in the data shows now
        self.warm_questions()

    def warm_questions(self) -> None:
        """One question of each common shape (their answers are dropped)."""
        for question in WARM_QUESTIONS:
            self.ask(question)

    @property
    def coverage(self) -> Coverage:
        """The coverage of the data this thread's question reads (the generation pinned
        by `converse`, else the newest)."""
        if self.engine.generation == self._coverage_generation:
            return self._coverage
        return self.engine.coverage()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def knowledge(self) -> Knowledge:
        return self._knowledge

    @property
    def today(self) -> date:
        # Unpinned, "today" moves with the clock so a long-running bot stays right.
        return self._today or date.today()

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Toprank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- understanding -------------------------------------------------------------

    def understand(self, text: str, context: Context | None = None) -> Spec:
        """The spec of a question (a follow-up of `context` when it continues it)."""
        if len(text) > HARD_INPUT_LIMIT:
            return Spec("unknown", text=text[:MAX_QUESTION_CHARS], error="too_long")
        if context is not None:
            return follow_up(context, text, self.today, self._lexicon)
        return understand(text, self.today, self._lexicon)

    def ask(self, text: str, context: Context | None = None) -> Answer:
        """Answer one question (continuing `context` if given). Never raises."""
        return self.converse(text, context)[0]

    def converse(self, text: str, context: Context | None = None) -> tuple[Answer, Context | None]:
        """Answer one turn of a conversation: the answer, and the context the next turn
        continues (None after a turn that is not about the data)."""
        question = text if isinstance(text, str) else str(text or "")
        # what the answer echoes: never more than the length limit
        shown = (
            question if len(question) <= MAX_QUESTION_CHARS else question[:MAX_QUESTION_CHARS] + "…"
        )
        spec: Spec | None = None
        try:
            # One generation of the data for the whole answer (coverage and rows).
            with self.engine.pinned():
                spec = self.understand(question, context)
                answer = self.answer_spec(spec, question=shown)
        except DatabaseDamaged as exc:
            log.error("answering %r: %s", question[:MAX_QUESTION_CHARS], exc)
            kind = "unknown" if spec is None else intent_name(spec)
            return damaged_answer(question[:MAX_QUESTION_CHARS], kind), context
        except QueryTimeout:
            log.error("query timeout answering %r", question[:MAX_QUESTION_CHARS])
            kind = "unknown" if spec is None else intent_name(spec)
            return timeout_answer(question[:MAX_QUESTION_CHARS], kind, self.engine.timeout), context
        except Exception:
            log.exception("internal error answering %r", question[:MAX_QUESTION_CHARS])
            kind = "unknown" if spec is None else intent_name(spec)
            missing = self._rollup_columns_missing()
            if missing:
                return outdated_answer(question[:MAX_QUESTION_CHARS], kind, missing), context
            return internal_error_answer(question[:MAX_QUESTION_CHARS], kind), context
        if spec.kind == "data" and not answer.error:
            codes = tuple(str(r["code"]) for r in answer.rows if r.get("code"))
            return answer, Context(spec, tuple(dict.fromkeys(codes)))
        if spec.kind in ("lookup",) and not answer.error:
            return answer, Context(spec, tuple(spec.lookup_codes))
        return answer, context if spec.kind == "data" else None

    def _rollup_columns_missing(self) -> tuple[str, ...]:
        """Columns this toprank's rollups have and the open DuckDB file's lack: a file
        built by an older toprank (a question that needs one fails inside)."""
        if not isinstance(self.engine, DuckDBEngine):
            return ()
        try:
            cursor = self.engine.cursor()
            try:
                return missing_rollup_columns(cursor)
            finally:
                cursor.close()
        except Exception:  # the file is the problem then, not its age
            log.exception("reading the rollups' columns")
            return ()

    # --- answering -----------------------------------------------------------------

    def answer_spec(self, spec: Spec, *, question: str | None = None) -> Answer:
        """Resolve, compile, run and build (may raise; `ask` catches)."""
        if spec.error is not None:
            return self._error_answer(spec, spec.error, question=question)
        if spec.kind != "data":
            return self._answer_other(spec, question)
        resolved = resolve(spec, self.coverage)
        if resolved.error is not None:
            return self._error_answer(
                spec,
                resolved.error,
                question=question,
                resolved=resolved,
                suggestions=resolved.suggestions,
            )
        try:
            plan = compile_plan(resolved)
        except Unsupported as exc:
            unsupported = replace(spec, notes=(str(exc),))
            return self._error_answer(
                unsupported, "unsupported", question=question, resolved=resolved
            )
        # The engine's own SQL is what runs and what the answer shows (Show SQL).
        plan = replace(plan, query=self.engine.prepare(plan.query))
        rows = self.engine.records(plan.query)
        return build_data(
            resolved,
            plan,
            rows,
            catalog=self._catalog,
            coverage=self.coverage,
            knowledge=self._knowledge,
            question=question,
            min_cell=self.min_cell,
        )

    def _error_answer(
        self,
        spec: Spec,
        error: str,
        *,
        question: str | None,
        resolved: Resolved | None = None,
        suggestions: Sequence[str] = (),
    ) -> Answer:
        return error_answer(
            spec,
            error,
            catalog=self._catalog,
            coverage=self.coverage,
            knowledge=self._knowledge,
            resolved=resolved,
            suggestions=suggestions,
            question=question,
            min_cell=self.min_cell,
        )

    def _answer_other(self, spec: Spec, question: str | None) -> Answer:
        query: Query | None = None
        period: Period | None = None
        if spec.kind == "coverage":
            query = coverage_query()
        elif spec.kind in ("lookup", "knowledge"):
            period = default_period(spec, self.coverage)
            from toprank.intents.periods import clip_to_coverage

            period = clip_to_coverage(period, self.coverage)
            known = [c for c in spec.lookup_codes if c in self._catalog.codes]
            if spec.kind == "lookup" and known and period is not None:
                query = lookup_query(known[0], period)
            elif spec.kind == "knowledge" and spec.topic != "codes" and period is not None:
                query = knowledge_query(spec.topic, period)
        if query is not None:
            query = self.engine.prepare(query)
        rows = self.engine.records(query) if query is not None else None
        return build_other(
            spec,
            rows,
            catalog=self._catalog,
            coverage=self.coverage,
            knowledge=self._knowledge,
            query=query,
            period=period if query is not None else None,
            question=question,
            min_cell=self.min_cell,
        )


def _verify_answer_tables(engine: DuckDBEngine) -> None:
    """Read every block of the tables answers read but the claim lines (those are
    checked by `toprank data info`): a damaged file is refused at start, in one line."""
    tables = tuple(sorted(QUESTION_TABLES - {"claim_lines"}))
    with engine.pinned():
        cursor = engine.cursor()
        try:
            result = verify_blocks(cursor, tables)
        finally:
            cursor.close()
    if result.damaged is not None:
        raise DatabaseProblem(
            f"{engine.path} is damaged ({result.damaged}); restore it from a backup or "
            "rebuild it (`toprank data info` checks the whole file)"
        )


def outdated_answer(question: str, intent_kind: str, missing: tuple[str, ...]) -> Answer:
    """A question that needs what a database built by an older toprank lacks."""
    answer = internal_error_answer(question, intent_kind)
    return replace(
        answer,
        title="The data file needs rebuilding",
        text=(
            "Sorry, this data file was built by an older version of toprank: its summary "
            f"tables lack {', '.join(missing)}, which this question needs. Rebuild them: "
            "`toprank data demo --force` for the demo data, or load a file with "
            "`toprank data ingest` (the summaries are then built again)."
        ),
    )


def damaged_answer(question: str, intent_kind: str) -> Answer:
    """A question that ran into a damaged block of the database file."""
    answer = internal_error_answer(question, intent_kind)
    text = (
        "Sorry, part of the data file is damaged, so I can't answer that. The error "
        "has been logged; the file needs restoring from a backup or rebuilding."
    )
    return replace(answer, title="The data file is damaged", text=text, summary=(text,))
