"""Refine controls: one part of an answered spec changed, as the answer's select menus
offer it (cohort, period, state, payer, top N). Pure.

A control carries (part, value); `refine` checks the value against the closed set the
menus are built from and returns the spec with that one part changed, or raises
RefineError for anything else (a tampered or stale value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from toprank.intents.model import MAX_TOP_N
from toprank.intents.periods import month_end
from toprank.intents.spec import PeriodRef, Selection, Spec

TOP_N_CHOICES = (5, 10, 20, 50)
ALL = "*"  # "all states", "all payers"
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class RefineError(ValueError):
    """A control value that is not one of the choices offered."""


@dataclass(frozen=True)
class Choices:
    """What the menus offer: the closed sets a value must come from."""

    cohorts: tuple[str, ...]
    states: tuple[str, ...]
    payers: tuple[str, ...]
    years: tuple[int, ...]


def period_ref(value: str) -> PeriodRef:
    """ "2022" or "2023-Q1" as an absolute period."""
    if m := _YEAR.match(value):
        y = int(m.group(1))
        return PeriodRef("absolute", value, date(y, 1, 1), date(y, 12, 31))
    if m := _QUARTER.match(value):
        y, q = int(m.group(1)), int(m.group(2))
        first = 3 * q - 2
        return PeriodRef("absolute", f"Q{q} {y}", date(y, first, 1), month_end(y, first + 2))
    raise RefineError(f"not a period: {value!r}")


def _cohort(spec: Spec, value: str, choices: Choices) -> Spec:
    if value not in choices.cohorts:
        raise RefineError(f"not a cohort: {value!r}")
    return replace(spec, cohorts=(value,), cohort_mode="single", exclude_cohorts=())


def _period(spec: Spec, value: str, choices: Choices) -> Spec:
    ref = period_ref(value)
    assert ref.start is not None
    if ref.start.year not in choices.years:
        raise RefineError(f"not a year with data: {value!r}")
    # a trend keeps its grouping (by year, quarter, month) inside the new period
    return replace(spec, periods=(ref,), period_mode="single")


def _state(spec: Spec, value: str, choices: Choices) -> Spec:
    if value == ALL:
        return replace(spec, states=Selection(), state_mode="single")
    if value not in choices.states:
        raise RefineError(f"not a state: {value!r}")
    return replace(spec, states=Selection((value,)), state_mode="single")


def _payer(spec: Spec, value: str, choices: Choices) -> Spec:
    if value == ALL:
        return replace(spec, payers=Selection(), payer_mode="single")
    if value not in choices.payers:
        raise RefineError(f"not a payer: {value!r}")
    return replace(spec, payers=Selection((value,)), payer_mode="single")


def _top_n(spec: Spec, value: str, choices: Choices) -> Spec:
    if not value.isdigit() or int(value) not in TOP_N_CHOICES or int(value) > MAX_TOP_N:
        raise RefineError(f"not a list length: {value!r}")
    return replace(spec, n=int(value))


REFINERS: Mapping[str, Callable[[Spec, str, Choices], Spec]] = {
    "cohort": _cohort,
    "period": _period,
    "state": _state,
    "payer": _payer,
    "n": _top_n,
}


def refine(spec: Spec, part: str, value: str, choices: Choices) -> Spec:
    """The spec with one part changed; RefineError for a part or value not offered."""
    refiner = REFINERS.get(part)
    if refiner is None:
        raise RefineError(f"not a part that can be changed: {part!r}")
    if spec.kind != "data":
        raise RefineError("only data answers can be changed")
    return replace(refiner(spec, value, choices), notes=(), alternatives=(), text=spec.text)
