"""Periods: clip them to the data and say them in words (reading them: period_rules).

Pure functions of their arguments; "today" is always passed in, never read.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date

from toprank.intents.model import Coverage, Period

MONTH_NAMES = tuple(calendar.month_name)  # ("", "January", ..., "December")


# --- describing -------------------------------------------------------------


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def describe_period(period: Period, coverage: Coverage | None = None) -> str:
    """How a person would name the dates actually covered: "2022", "Q2 2023",
    "2023 through September" (a year cut short by the data's end), "2019-2021"."""
    s, e = period.start, period.end
    if e < s:
        return f"{s.isoformat()} to {e.isoformat()}"
    if coverage is None and period.label.startswith(("since ", "after ", "before ", "through ")):
        return period.label
    whole_months = s.day == 1 and e == month_end(e.year, e.month)
    cut_by_data = coverage is not None and e == coverage.end
    if whole_months and s.year == e.year:
        y = s.year
        if s.month == 1 and e.month == 12:
            return str(y)
        if s.month == e.month:
            return f"{MONTH_NAMES[s.month]} {y}"
        if s.month % 3 == 1 and e.month == s.month + 2:
            return f"Q{(s.month + 2) // 3} {y}"
        if s.month in (1, 7) and e.month == s.month + 5:
            return f"H{1 if s.month == 1 else 2} {y}"
        if s.month == 1 and cut_by_data:
            return f"{y} through {MONTH_NAMES[e.month]}"
        return f"{MONTH_NAMES[s.month]}-{MONTH_NAMES[e.month]} {y}"
    if whole_months:
        if s.month == 1 and e.month == 12:
            return f"{s.year}-{e.year}"
        if s.month == 1:
            return f"{s.year} through {MONTH_NAMES[e.month]} {e.year}"
        return f"{MONTH_NAMES[s.month]} {s.year}-{MONTH_NAMES[e.month]} {e.year}"
    if s.day == 1:
        head = str(s.year) if s.month == 1 else f"{MONTH_NAMES[s.month]} {s.year}"
        tail = f"{MONTH_NAMES[e.month]} {e.day}"
        return f"{head} through {tail}" if s.year == e.year else f"{head} through {tail}, {e.year}"
    return f"{s.isoformat()} to {e.isoformat()}"


def make_period(start: date, end: date, label: str = "", explicit: bool = True) -> Period:
    p = Period(start, end, label, explicit)
    return p if label else replace(p, label=describe_period(p))


# --- clipping to the data ---------------------------------------------------


def clip_to_coverage(period: Period, coverage: Coverage) -> Period | None:
    """The part of `period` the data covers (relabelled), or None when they do not meet."""
    start, end = max(period.start, coverage.start), min(period.end, coverage.end)
    if start > end:
        return None
    clipped = Period(start, end, "", period.explicit)
    return replace(clipped, label=describe_period(clipped, coverage))
