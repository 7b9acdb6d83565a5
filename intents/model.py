"""Values that cross the parse -> plan boundary. Pure data: no I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

IntentKind = Literal[
    "top_codes",
    "code_share",
    "compare",
    "trend",
    "code_lookup",
    "code_range",
    "ot_vs_pt",
    "coverage",
    "help",
    "unknown",
]
INTENT_KINDS: tuple[str, ...] = IntentKind.__args__  # type: ignore[attr-defined]

Cohort = Literal["ot", "pt", "rehab", "slp", "pmr", "chiro", "all"]
COHORTS: tuple[str, ...] = Cohort.__args__  # type: ignore[attr-defined]

Payer = Literal["medicare", "medicaid", "commercial", "other"]
PAYERS: tuple[str, ...] = Payer.__args__  # type: ignore[attr-defined]

CompareBy = Literal["cohort", "period", "state", "payer"]

# Short machine-readable error codes carried in Intent.error / Answer.error.
ErrorCode = Literal[
    "no_data",  # the period lies outside the data's coverage
    "unknown_code",  # a code that is not in the code dictionary
    "unknown_cohort",  # a cohort word we do not know
    "too_long",  # input over the length limit
    "unsafe",  # SQL text, patient-level or other requests we refuse
    "ambiguous",  # understood the shape but a required entity is missing
    "bad_period",  # a period that cannot exist (Q5, month 13, end before start)
]

MAX_QUESTION_CHARS = 500
MAX_TOP_N = 50
DEFAULT_TOP_N = 10


@dataclass(frozen=True)
class Period:
    """An inclusive date range. `label` is how a person would say it ("Q2 2023")."""

    start: date
    end: date
    label: str
    # False when the user gave no period and the default (latest year with data) applies.
    explicit: bool = True


@dataclass(frozen=True)
class Coverage:
    """What the database holds: first/last service dates and where the rows came from."""

    start: date
    end: date
    sources: tuple[str, ...] = ()
    claim_lines: int = 0
    procedures: int = 0
    # Years held only as annual totals (the CMS PUF dates a year's rows January 1), so a
    # part of such a year cannot be told apart from the whole of it.
    annual_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class Intent:
    """What a question asks, with every entity resolved to a canonical value.

    `period` is the period as asked (None = default); the pipeline clips it to the
    data's coverage before planning (see intents.periods.clip_to_coverage).
    """

    kind: IntentKind
    text: str = ""
    cohort: Cohort | None = None
    cohorts: tuple[Cohort, ...] = ()
    period: Period | None = None
    periods: tuple[Period, ...] = ()
    n: int | None = None
    code: str | None = None
    # code_lookup by words may match several codes; best first.
    codes: tuple[str, ...] = ()
    state: str | None = None
    states: tuple[str, ...] = ()
    payer: Payer | None = None
    payers: tuple[Payer, ...] = ()
    compare_by: CompareBy | None = None
    # code_range: one sub-group key from data/subgroups.csv, or None for the whole range.
    subgroup: str | None = None
    # code_range: every sub-group the question named ("modalities" names two); subgroup
    # is the first of them.
    subgroups: tuple[str, ...] = ()
    # ot_vs_pt: which part of the knowledge answer was asked about
    # ("difference", "ot_focus", "pt_focus", "mental_health", "codes").
    topic: str | None = None
    error: ErrorCode | None = None
    # "did you mean" hints for unknown/ambiguous questions, ready to show.
    suggestions: tuple[str, ...] = ()
    # What the parser changed or could not use, for the answer to say ("Lists stop at
    # 50 codes", "'Narnia' is not a state"): a question is never quietly reinterpreted.
    notes: tuple[str, ...] = ()
