"""The query spec: what every question becomes (a small semantic layer). Pure data.

A data question is a measure over a scope (cohorts, codes), narrowed by filters that
include or exclude values (states, payers, places of service, modifiers), over one or
more periods, grouped by one dimension, and possibly split into series that sit side
by side (a comparison) or ranked per group ("the top OT code in each state"). Question
shapes are combinations of these parts, not separate code paths: the compiler
(sql/compile.py) turns any combination into one SQL statement, and the answer builder
reads the same parts to say what was asked.

Questions that are not about the data (a code's meaning, the code range, OT vs PT
knowledge, coverage, help) are specs too, with their own `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from toprank.intents.model import ErrorCode

SpecKind = Literal[
    "data",  # a figure from the rollups
    "lookup",  # what a code is
    "code_range",  # the rehab range and its sub-groups
    "knowledge",  # OT vs PT and related explanations
    "coverage",
    "help",
    "unknown",
]

Measure = Literal[
    "procedures",
    "units",
    "claims",
    # money, summed in whole cents (answered in dollars), and people
    "payments",
    "allowed",
    "charges",
    "beneficiaries",
]
MEASURES: tuple[str, ...] = Measure.__args__  # type: ignore[attr-defined]
# Measures that are amounts carried by some sources only (the CMS file, claim files with
# amount columns, the demo): each comes with the procedures that carry it.
AMOUNT_MEASURES: tuple[str, ...] = ("payments", "allowed", "charges", "beneficiaries")
MONEY_MEASURES: tuple[str, ...] = ("payments", "allowed", "charges")

Dimension = Literal[
    "code", "cohort", "state", "payer", "place_of_service", "year", "quarter", "month"
]
TIME_DIMENSIONS = ("year", "quarter", "month")
# What a comparison can put side by side.
SeriesBy = Literal["cohort", "period", "state", "payer", "code"]

# What the question asked for: decides the text, which rows are kept, the default list
# length and the JSON "intent".
Ask = Literal["rank", "share", "total", "trend", "breakdown", "movers"]
Direction = Literal["up", "down", "both"]
Mode = Literal["single", "union", "compared"]
PeriodMode = Literal["single", "combined", "compared"]
CodeMode = Literal["each", "combined", "compared"]


@dataclass(frozen=True)
class CodeSet:
    """Codes named together: one code, a family ("OT evaluations"), a sub-group
    ("modalities"), or a range ("97010-97799", which may hold codes the dictionary
    lacks; `codes` is then empty and `first`/`last` bound it)."""

    label: str
    codes: tuple[str, ...] = ()
    kind: Literal["code", "family", "subgroup", "range"] = "code"
    first: str | None = None
    last: str | None = None

    @property
    def is_range(self) -> bool:
        return self.kind == "range"


@dataclass(frozen=True)
class Selection:
    """Values of one dimension a question keeps (include) or removes (exclude)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def including(self, *values: str) -> Selection:
        return Selection(
            tuple(dict.fromkeys([*self.include, *values])),
            tuple(v for v in self.exclude if v not in values),
        )

    def excluding(self, *values: str) -> Selection:
        return Selection(
            tuple(v for v in self.include if v not in values),
            tuple(dict.fromkeys([*self.exclude, *values])),
        )


@dataclass(frozen=True)
class PeriodRef:
    """A period as asked, before it meets the data.

    absolute: start and end are set ("2022", "Q2 2023", "2019-2021").
    yearless: a part of a year with no year ("Q2", "through June", "first half"):
              `months` = (first month, last month); the resolver picks the latest year
              the data covers it in, as it does for a question with no period.
    relative: start/end computed from today ("last year", "YTD", "last 12 months");
              kept relative, so when the data has none the answer offers the latest
              covered equivalent.
    """

    kind: Literal["absolute", "yearless", "relative"]
    label: str
    start: date | None = None
    end: date | None = None
    months: tuple[int, int] | None = None
    # relative periods: what the latest covered equivalent is ("year", "ytd", "months:12")
    relative: str | None = None


@dataclass(frozen=True)
class Spec:
    """One question, understood. See the module docstring."""

    kind: SpecKind
    text: str = ""
    # --- data questions
    ask: Ask = "rank"
    measure: Measure = "procedures"
    # the measure per procedure ("average allowed amount for 97140"): the amount's sum over
    # the sum of the procedures that carry it, never an average of averages
    average: bool = False
    cohorts: tuple[str, ...] = ()  # () = the default for the codes asked about
    cohort_mode: Mode = "single"
    # provider cohorts left out of the scope ("rehab codes not billed by PTs")
    exclude_cohorts: tuple[str, ...] = ()
    codes: tuple[CodeSet, ...] = ()  # included codes
    code_mode: CodeMode = "each"
    exclude_codes: tuple[CodeSet, ...] = ()
    states: Selection = field(default_factory=Selection)
    payers: Selection = field(default_factory=Selection)
    places: Selection = field(default_factory=Selection)
    # the fee schedule's setting: 'facility' / 'non-facility' (the CMS file's F/O)
    settings: Selection = field(default_factory=Selection)
    modifiers: Selection = field(default_factory=Selection)
    state_mode: Mode = "single"
    payer_mode: Mode = "single"
    periods: tuple[PeriodRef, ...] = ()  # () = the default period
    period_mode: PeriodMode = "single"
    group_by: Dimension | None = "code"
    # Series over every value of a dimension: "top OT code in each state".
    per_group: Dimension | None = None
    n: int | None = None
    direction: Direction = "both"  # movers
    # A share of part of the scope: which selections are the part ("what share of PT
    # procedures are medicare": payers); codes are the part when this is empty.
    subset: tuple[str, ...] = ()
    # --- other kinds
    lookup_codes: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()  # code_range: sub-group keys
    topic: str | None = None  # knowledge: difference, ot_focus, pt_focus, mental_health, codes
    ordinal_ref: int | None = None  # "what is the second one": a row of the last answer
    # --- what the understanding could not use or had to choose
    notes: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()  # other readings, as questions to ask
    suggestions: tuple[str, ...] = ()  # examples for unknown / errors
    error: ErrorCode | None = None

    @property
    def compare_by(self) -> SeriesBy | None:
        """What a comparison puts side by side (None when nothing is compared)."""
        if self.cohort_mode == "compared":
            return "cohort"
        if self.period_mode == "compared":
            return "period"
        if self.state_mode == "compared":
            return "state"
        if self.payer_mode == "compared":
            return "payer"
        if self.code_mode == "compared" and self.group_by != "code":
            return "code"
        return None

    @property
    def all_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for s in self.codes for c in s.codes))

    def with_notes(self, *notes: str) -> Spec:
        return replace(self, notes=tuple(dict.fromkeys([*self.notes, *notes])))


def intent_name(spec: Spec) -> str:
    """The JSON contract's `intent` for a spec (the first wave's names where they fit)."""
    if spec.kind != "data":
        return {
            "lookup": "code_lookup",
            "knowledge": "ot_vs_pt",
        }.get(spec.kind, spec.kind)
    if spec.ask == "movers":
        return "movers"
    if spec.compare_by is not None or (spec.code_mode == "compared" and len(spec.codes) > 1):
        return "compare"
    if spec.group_by in TIME_DIMENSIONS and spec.per_group is None:
        return "trend"
    if spec.per_group is not None:
        return "breakdown"
    if spec.group_by == "code":
        return "code_share" if spec.ask == "share" and spec.codes else "top_codes"
    if spec.group_by is None:
        return "code_share" if spec.ask == "share" else "total"
    return "breakdown"
