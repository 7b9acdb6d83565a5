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
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.answer import (
    DEFAULT_MIN_CELL,
    build_data,
    build_other,
    error_answer,
    internal_error_answer,
    timeout_answer,
)
from bot.answer_model import Answer
from bot.knowledge import Knowledge, load_knowledge
from data.catalog import Catalog, load_catalog
from data.db import db_path as resolve_db_path
from data.vocab import Vocabulary, load_vocab
from intents.conversation import Context, follow_up
from intents.model import MAX_QUESTION_CHARS, Coverage, Period
from intents.resolve import default_period, resolve
from intents.spec import Spec, intent_name
from intents.understand import understand
from sql.compile import Unsupported, compile_plan
from sql.engine import DatabaseMissing, DuckDBEngine, QueryTimeout, validated
from sql.engines import Engine, duckdb_path, engine_url, is_warehouse, open_engine
from sql.plan import (
    coverage_query,
    knowledge_query,
    load_template,
    lookup_query,
    template_names,
)
from sql.query import Query

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
    """TOPRANK_MIN_CELL (default 11; 0 turns small-cell suppression off)."""
    raw = environ.get(MIN_CELL_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_CELL
    try:
        return max(0, int(raw))
    except ValueError:
        log.warning("ignoring %s=%r (not a whole number)", MIN_CELL_ENV, raw)
        return DEFAULT_MIN_CELL


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
        today: date | None = None,
        min_cell: int = DEFAULT_MIN_CELL,
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._knowledge = knowledge
        self._coverage = coverage
        self._vocab = vocab if vocab is not None else load_vocab()
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
    ) -> Toprank:
        """Open the database (building the demo data first when it is missing and
        allowed), load the catalog and knowledge, and read the coverage once. With
        `warm`, also pay the one-time costs of the first questions now (`warm_up`).
        TOPRANK_ENGINE_URL naming a warehouse (postgresql://, sc://) answers from the
        rollups there instead (sql.engines)."""
        warehouse = engine_url()
        engine: Engine
        if db_path is None and warehouse is not None and is_warehouse(warehouse):
            engine = open_engine(warehouse)
        else:
            path = resolve_db_path(db_path or (duckdb_path(warehouse) if warehouse else None))
            if not Path(path).exists():
                if not build_if_missing:
                    raise DatabaseMissing(
                        f"no database at {path}; build one with `toprank data demo`"
                    )
                from data.demo import ensure_database  # only needed on first use

                path = ensure_database(path)
            engine = DuckDBEngine(path)
        try:
            coverage = engine.coverage()
        except Exception:
            engine.close()
            raise
        toprank = cls(
            engine,
            catalog=load_catalog(),
            knowledge=load_knowledge(),
            coverage=coverage,
            vocab=load_vocab(),
            today=today,
            min_cell=min_cell_from_env(),
        )
        if warm:
            toprank.warm_up()
        return toprank

    def warm_up(self) -> None:
        """Check every SQL template, build the parser's tables and run one question of
        each common shape, so no user's question pays for them (a long-running bot
        calls this once at start; a one-shot CLI question pays only for what it needs)."""
        for name in template_names():
            validated(load_template(name)[0])
        for question in WARM_QUESTIONS:
            self.ask(question)

    @property
    def coverage(self) -> Coverage:
        return self._coverage

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
            return follow_up(context, text, self.today, self._catalog, self._vocab)
        return understand(text, self.today, self._catalog, self._vocab)

    def ask(self, text: str, context: Context | None = None) -> Answer:
        """Answer one question (continuing `context` if given). Never raises."""
        return self.converse(text, context)[0]

    def converse(self, text: str, context: Context | None = None) -> tuple[Answer, Context | None]:
        """Answer one turn of a conversation: the answer, and the context the next turn
        continues (None after a turn that is not about the data)."""
        question = text if isinstance(text, str) else str(text or "")
        spec: Spec | None = None
        try:
            spec = self.understand(question, context)
            answer = self.answer_spec(spec, question=question)
        except QueryTimeout:
            log.error("query timeout answering %r", question[:MAX_QUESTION_CHARS])
            kind = "unknown" if spec is None else intent_name(spec)
            return timeout_answer(question[:MAX_QUESTION_CHARS], kind, self.engine.timeout), context
        except Exception:
            log.exception("internal error answering %r", question[:MAX_QUESTION_CHARS])
            kind = "unknown" if spec is None else intent_name(spec)
            return internal_error_answer(question[:MAX_QUESTION_CHARS], kind), context
        if spec.kind == "data" and not answer.error:
            codes = tuple(str(r["code"]) for r in answer.rows if r.get("code"))
            return answer, Context(spec, tuple(dict.fromkeys(codes)))
        if spec.kind in ("lookup",) and not answer.error:
            return answer, Context(spec, tuple(spec.lookup_codes))
        return answer, context if spec.kind == "data" else None

    # --- answering -----------------------------------------------------------------

    def answer_spec(self, spec: Spec, *, question: str | None = None) -> Answer:
        """Resolve, compile, run and build (may raise; `ask` catches)."""
        common = {
            "catalog": self._catalog,
            "coverage": self._coverage,
            "knowledge": self._knowledge,
            "question": question,
        }
        if spec.error is not None:
            return error_answer(spec, spec.error, **common)
        if spec.kind != "data":
            return self._answer_other(spec, question)
        resolved = resolve(spec, self._coverage)
        if resolved.error is not None:
            return error_answer(
                spec, resolved.error, resolved=resolved, suggestions=resolved.suggestions, **common
            )
        try:
            plan = compile_plan(resolved)
        except Unsupported as exc:
            unsupported = replace(spec, notes=(str(exc),))
            return error_answer(unsupported, "unsupported", resolved=resolved, **common)
        # The engine's own SQL is what runs and what the answer shows (Show SQL).
        plan = replace(plan, query=self.engine.prepare(plan.query))
        rows = self.engine.records(plan.query)
        return build_data(resolved, plan, rows, min_cell=self.min_cell, **common)

    def _answer_other(self, spec: Spec, question: str | None) -> Answer:
        query: Query | None = None
        period: Period | None = None
        if spec.kind == "coverage":
            query = coverage_query()
        elif spec.kind in ("lookup", "knowledge"):
            period = default_period(spec, self._coverage)
            from intents.periods import clip_to_coverage

            period = clip_to_coverage(period, self._coverage)
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
            coverage=self._coverage,
            knowledge=self._knowledge,
            query=query,
            period=period if query is not None else None,
            question=question,
            min_cell=self.min_cell,
        )
