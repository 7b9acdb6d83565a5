"""Values shared by every layer (periods, coverage, closed sets, limits). Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Cohort = Literal["ot", "pt", "rehab", "slp", "pmr", "chiro", "other", "all"]
COHORTS: tuple[str, ...] = Cohort.__args__  # type: ignore[attr-defined]

Payer = Literal["medicare", "medicaid", "commercial", "other"]
PAYERS: tuple[str, ...] = Payer.__args__  # type: ignore[attr-defined]

# Short machine-readable error codes carried in Spec.error / Answer.error.
ErrorCode = Literal[
    "no_data",  # the period lies outside the data's coverage, or nothing matched
    "unknown_code",  # a code that is not in the code dictionary (and never billed)
    "unknown_cohort",  # a specialty we have no cohort for
    "unknown_place",  # a place that is no US state (the data is by state)
    "unsupported_filter",  # a filter the data lacks (patient ages, diagnoses, counties)
    "unsupported",  # a combination the rollups cannot answer exactly (visits over codes)
    "too_long",  # input over the length limit
    "unsafe",  # SQL text, patient-level or individual-provider requests
    "ambiguous",  # understood the shape but something is missing or contradicts itself
    "bad_period",  # a period that cannot exist (Q5, month 13, end before start)
    "internal",  # a bug, logged; the user sees a friendly message
    "timeout",  # the query ran past its deadline (TOPRANK_QUERY_TIMEOUT) and was stopped
]
ERROR_CODES: tuple[str, ...] = ErrorCode.__args__  # type: ignore[attr-defined]

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
    # Procedures whose state names no place (XX unknown, ZZ foreign): in national
    # answers, in no state's row (DuckDB reads it; warehouse engines leave it 0)
    no_place_procedures: int = 0
    # The amounts the data holds (payments, allowed, charges, beneficiaries); None when
    # not known (an engine that does not say), so a question is answered and says so.
    amounts: tuple[str, ...] | None = None
