"""The Answer value: what every surface (CLI text, JSON, Slack blocks) renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Answer:
    question: str
    intent: str
    # The contract's params: cohort, cohorts, start, end, n, code, state, payer, and what
    # else was understood (measure, codes, include/exclude, grouping, periods...).
    params: dict[str, Any]
    rows: tuple[dict[str, Any], ...]
    text: str  # plain-text summary (first line is the headline)
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
    # apart from the rows, so renderers need not pick them out of `text`.
    summary: tuple[str, ...] = ()

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
        }
