"""The rollup tables a question can read (built by data/rollups.sql), as data.

The compiler asks for the columns and measure a question needs and gets the smallest
table that has them (aggregate awareness, as semantic layers call it): most questions
read rollup_national (cohort x month x code), a state or payer filter rollup_month, a
place of service or modifier rollup_detail, and the claims of a scope with no code
split rollup_claims. Keep this file in step with data/rollups.sql and with its warehouse
twin, sql/scaleout/build_rollups.sql (tests/test_parity.py checks the two build the
same rows).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rollup:
    table: str
    columns: frozenset[str]
    measures: frozenset[str]
    # 'rehab' and 'all' are rows of their own (else they are predicates on the code)
    derived_cohorts: bool


# Money (whole cents) and beneficiaries, each with the procedures that carry it.
AMOUNT_MEASURES = frozenset({"payments", "allowed", "charges", "beneficiaries"})
_CODE_MEASURES = frozenset({"procedures", "units", "claims"}) | AMOUNT_MEASURES

ROLLUP_NATIONAL = Rollup(
    "rollup_national", frozenset({"cohort", "month", "hcpcs_code"}), _CODE_MEASURES, True
)
ROLLUP_MONTH = Rollup(
    "rollup_month",
    frozenset({"cohort", "month", "state", "payer", "hcpcs_code"}),
    _CODE_MEASURES,
    True,
)
ROLLUP_DETAIL = Rollup(
    "rollup_detail",
    frozenset(
        {
            "cohort",
            "month",
            "state",
            "payer",
            "place_of_service",
            "facility_setting",
            "modifiers",
            "hcpcs_code",
        }
    ),
    frozenset({"procedures", "units"}) | AMOUNT_MEASURES,
    False,
)
ROLLUP_CLAIMS = Rollup(
    "rollup_claims",
    frozenset({"cohort", "month", "state", "payer", "place_of_service"}),
    frozenset({"claims"}),
    True,
)


@dataclass(frozen=True)
class MeasureColumns:
    """Where a measure is in the rollups: the column summed and, for an amount, the
    procedures of the rows that carry it (the denominator of its average; a row whose
    source has no such amount holds NULL and is left out of the question)."""

    column: str
    carried_by: str | None = None


MEASURE_COLUMNS: dict[str, MeasureColumns] = {
    "procedures": MeasureColumns("procedures"),
    "units": MeasureColumns("units"),
    "claims": MeasureColumns("claims"),
    "payments": MeasureColumns("payments_cents", "payments_procedures"),
    "allowed": MeasureColumns("allowed_cents", "allowed_procedures"),
    "charges": MeasureColumns("charges_cents", "charges_procedures"),
    "beneficiaries": MeasureColumns("beneficiaries", "beneficiaries_procedures"),
}

# Smallest first: the first that has every column wins.
CODE_ROLLUPS = (ROLLUP_NATIONAL, ROLLUP_MONTH, ROLLUP_DETAIL)
ALL_ROLLUPS = (*CODE_ROLLUPS, ROLLUP_CLAIMS)
TABLES = frozenset(r.table for r in ALL_ROLLUPS)


def choose(columns: set[str], measure: str, *, codes: bool = True) -> Rollup | None:
    """The smallest rollup with `columns` and `measure` (None when none has them).
    `codes=False` asks for a table without the code split (claims of a scope)."""
    if codes:
        candidates: tuple[Rollup, ...] = CODE_ROLLUPS
    elif measure == "claims":
        candidates = (ROLLUP_CLAIMS,)  # per-code claims do not add up to a scope's claims
    else:
        candidates = (ROLLUP_CLAIMS, *CODE_ROLLUPS)
    for rollup in candidates:
        if columns <= rollup.columns and measure in rollup.measures:
            return rollup
    return None
