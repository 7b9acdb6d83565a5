"""Values of the question layer (closed sets, error codes, limits). Pure data.

Period and Coverage live in data.values (the bottom layer, which the database edge
imports too) and are re-exported here."""

from __future__ import annotations

from typing import Literal

# re-exported (the "as" form): most code imports them from here
from toprank.data.values import Coverage as Coverage
from toprank.data.values import Period as Period

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
