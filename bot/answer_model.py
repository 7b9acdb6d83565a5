"""The Answer value: what every surface (CLI text, JSON, Slack blocks, charts, CSV) renders.

An answer carries its parts as fields, so no renderer reads them back out of prose:
the headline (`title`), the answer in sentences (`summary`), the table (`rows`, whose
keys are typed columns of bot.columns, shown in the order of `columns`), `notes`, and
the `provenance` (sources, coverage, the period covered, the small-cell limit) with the
SQL that ran. `text` is the whole answer as plain prose, for the JSON contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toprank.bot.columns import Column, table_columns
from toprank.bot.suppress import DEFAULT_MIN_CELL

# Row keys that hold dollars (money is summed in whole cents, answered in dollars), and
# every amount key a data row may carry beside `procedures`, in display order.
MONEY_KEYS = frozenset(
    {"payments", "allowed", "charges", "avg_payments", "avg_allowed", "avg_charges"}
)
AMOUNT_KEYS = (
    "payments",
    "avg_payments",
    "allowed",
    "avg_allowed",
    "charges",
    "avg_charges",
    "beneficiaries",
)


@dataclass(frozen=True)
class Provenance:
    """Where the numbers came from, for the context line under every answer."""

    sources: tuple[str, ...] = ()
    coverage_start: str | None = None  # ISO date
    coverage_end: str | None = None
    claim_lines: int = 0
    procedures: int = 0
    # Counts under this are hidden ("<11"); every surface says so with this number.
    min_cell: int = DEFAULT_MIN_CELL

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "coverage_start": self.coverage_start,
            "coverage_end": self.coverage_end,
            "claim_lines": self.claim_lines,
            "procedures": self.procedures,
            "min_cell": self.min_cell,
        }


@dataclass(frozen=True)
class Table:
    """The rows as a table: the columns a chat table shows, in order, and the rows."""

    columns: tuple[Column, ...]
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Answer:
    question: str
    intent: str
    # The contract's params: cohort, cohorts, start, end, n, code, state, payer, and what
    # else was understood (measure, codes, include/exclude, grouping, periods...).
    params: dict[str, Any]
    rows: tuple[dict[str, Any], ...]
    text: str  # the whole answer as prose (the JSON contract's `text`); renderers use the parts
    sql: str | None = None
    sql_params: dict[str, Any] = field(default_factory=dict)
    # Which reviewed SQL shape ran, and on which table ("ranked:rollup_month", "coverage").
    shape: str | None = None
    error: str | None = None
    title: str = ""  # e.g. "Top 10 occupational therapy codes, 2022"
    period_label: str | None = None  # e.g. "2023 through September"
    provenance: Provenance = field(default_factory=Provenance)
    suggestions: tuple[str, ...] = ()
    # Footnotes under a table (cohort total, clipped period...); also at the end of `text`.
    notes: tuple[str, ...] = ()
    # Other readings of the question, as questions to ask ("... combined").
    alternatives: tuple[str, ...] = ()
    # The answer in sentences ("97530 was 19.8% of rehab procedures: ranked 2nd, ..."),
    # apart from the rows, the notes and the suggestions: what a renderer shows above the
    # table. Every answer has it (an error's message, a lookup's description...).
    summary: tuple[str, ...] = ()
    # The row keys a table shows, in order; empty: those the rows carry, in the
    # registry's order (bot.columns.COLUMNS).
    columns: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        return self.title or "toprank"

    @property
    def has_table(self) -> bool:
        """A single code lookup says everything in its sentences; other answers with rows
        show them as a table."""
        return bool(self.rows) and not (self.intent == "code_lookup" and len(self.rows) == 1)

    @property
    def table(self) -> Table:
        """The rows with their typed columns (bot.columns): what every table shows."""
        return Table(table_columns(self.rows, self.columns or None), self.rows)

    def to_json(self) -> dict[str, Any]:
        """The JSON answer contract in ../shared/DESIGN.md."""
        return {
            "question": self.question,
            "intent": self.intent,
            "params": self.params,
            "rows": list(self.rows),
            "text": self.text,
            "sql": self.sql,
            "error": self.error,
            "alternatives": list(self.alternatives),
            "notes": list(self.notes),
            # The parts every surface renders (added to the first wave's keys).
            "title": self.title,
            "summary": list(self.summary),
            "columns": [
                {"key": c.key, "label": c.label, "kind": c.kind} for c in self.table.columns
            ],
            "period": self.period_label,
            "provenance": self.provenance.to_json(),
            "suggestions": list(self.suggestions),
        }
