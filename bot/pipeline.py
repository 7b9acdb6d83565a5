"""The whole flow behind every surface: text -> Intent -> Period -> Query -> frame -> Answer.

`Toprank.open()` does the I/O once (database file, catalog, knowledge, coverage);
`ask(text)` never raises: anything unexpected becomes an Answer with error "internal"
and a friendly text, while the traceback goes to the log (stderr), never to the user.
The CLI and the Slack app both call exactly `Toprank.open(...)` and `.ask(text)`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import intents
from bot.answer import DEFAULT_MIN_CELL, build, error_answer, internal_error_answer
from bot.answer_model import Answer
from bot.knowledge import Knowledge, load_knowledge
from data.catalog import Catalog, load_catalog
from data.db import db_path as resolve_db_path
from intents.model import MAX_QUESTION_CHARS, Coverage, Intent, Period
from intents.periods import describe_period, resolve_period, resolve_periods
from sql.engine import DatabaseMissing, DuckDBEngine, validated
from sql.plan import load_template, plan, template_names

log = logging.getLogger("toprank")

MIN_CELL_ENV = "TOPRANK_MIN_CELL"
# Far past MAX_QUESTION_CHARS: the parser never sees a megabyte pasted by mistake.
HARD_INPUT_LIMIT = 20 * MAX_QUESTION_CHARS


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


def _unique_labels(periods: tuple[Period, ...], coverage: Coverage) -> tuple[Period, ...]:
    """Compare-by-period groups rows by label, so each label must be distinct. Periods
    the data does not cover were dropped before; the rest are named as clipped."""
    out: list[Period] = []
    seen: set[str] = set()
    for p in periods:
        label = describe_period(p, coverage) or p.label
        if label in seen:
            label = f"{label} ({p.start.isoformat()} to {p.end.isoformat()})"
        seen.add(label)
        out.append(dataclasses.replace(p, label=label))
    return tuple(out)


class Toprank:
    """One open database plus the reference data; answers questions."""

    def __init__(
        self,
        engine: DuckDBEngine,
        *,
        catalog: Catalog,
        knowledge: Knowledge,
        coverage: Coverage,
        today: date | None = None,
        min_cell: int = DEFAULT_MIN_CELL,
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._knowledge = knowledge
        self._coverage = coverage
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
        `warm`, also pay the one-time costs of the first questions now (`warm_up`)."""
        path = resolve_db_path(db_path)
        if not Path(path).exists():
            if not build_if_missing:
                raise DatabaseMissing(f"no database at {path}; build one with `toprank data demo`")
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
            today=today,
            min_cell=min_cell_from_env(),
        )
        if warm:
            toprank.warm_up()
        return toprank

    def warm_up(self) -> None:
        """Load and validate every SQL template and build the parser's tables, so no
        user's question pays for them (a long-running bot calls this once at start;
        a one-shot CLI question would only pay for what it needs)."""
        for name in template_names():
            validated(load_template(name)[0])
        self.parse("help")

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

    def parse(self, text: str) -> Intent:
        if len(text) > HARD_INPUT_LIMIT:
            return Intent(kind="unknown", text=text[:MAX_QUESTION_CHARS], error="too_long")
        return intents.parse(text, self.today, self._catalog)

    def ask(self, text: str) -> Answer:
        """Answer one question. Never raises."""
        question = text if isinstance(text, str) else str(text or "")
        intent: Intent | None = None
        try:
            intent = self.parse(question)
            return self.answer_intent(intent, question=question)
        except Exception:
            log.exception("internal error answering %r", question[:MAX_QUESTION_CHARS])
            return internal_error_answer(question, intent.kind if intent else "unknown")

    def answer_intent(self, intent: Intent, *, question: str | None = None) -> Answer:
        """Resolve the period, plan, run and build (may raise; `ask` catches)."""
        common = {
            "catalog": self._catalog,
            "coverage": self._coverage,
            "knowledge": self._knowledge,
            "question": question,
        }
        if intent.error is not None or intent.kind in ("help", "unknown", "code_range"):
            return build(intent, None, None, query=None, min_cell=self.min_cell, **common)
        if intent.kind == "code_lookup" and (
            not intent.code or intent.code not in self._catalog.codes
        ):
            known = [c for c in intent.codes if c in self._catalog.codes]
            if not known:
                error = "unknown_code" if intent.code or intent.codes else "ambiguous"
                return error_answer(intent, error, **common)
            intent = dataclasses.replace(intent, code=known[0])
        period: Period | None = None
        periods: tuple[Period, ...] = ()
        if intent.kind == "compare" and intent.compare_by == "period":
            covered = tuple(p for p in resolve_periods(intent, self._coverage) if p is not None)
            periods = _unique_labels(covered, self._coverage)
            if not periods:
                return error_answer(intent, "no_data", **common)
        elif intent.kind != "coverage":
            period = resolve_period(intent, self._coverage)
            if period is None:
                return error_answer(intent, "no_data", **common)
        query = plan(intent, period, periods=periods)
        # Plain rows, not engine.run's DataFrame: building a frame for a ten-row result
        # and unpacking it again cost about 2 ms (answer p50 4.9 ms with frames, 3.0 ms
        # with rows, 10M demo).
        rows = self.engine.records(query) if query is not None else None
        label = describe_period(period, self._coverage) if period is not None else None
        return build(
            intent,
            period,
            rows,
            query=query,
            period_label=label,
            periods=periods,
            min_cell=self.min_cell,
            **common,
        )
