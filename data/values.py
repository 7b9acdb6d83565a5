"""Value types every layer shares: a period of dates and what the data covers.

The bottom of the layers (data <- intents <- sql <- bot): it imports nothing of
toprank's, so the database edge (data.db), the parser (intents), the SQL (sql) and the
surfaces (bot) all use the same types without importing one another. intents.model
re-exports both, where most code has always imported them from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
