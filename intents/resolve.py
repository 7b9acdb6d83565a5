"""Spec + the data's coverage -> Resolved: the defaults filled in and periods made
concrete (clipped to the data), ready to compile. Pure.

- No period: the latest calendar year with data (clipped: "2023 through September");
  a trend or a per-year ranking spans all the data; movers compare the latest year with
  the year before.
- A part of a year without its year ("Q2", "through June", "first half") takes the
  latest year the data covers it in, fully where it can, and the answer says which.
- A period relative to today ("last year", "YTD") stays relative: when the data has
  none of it, the answer is no_data with the latest covered equivalent offered.
- No cohort: the rehab list when every code asked about is in 97010-97799 (whoever
  billed it), else all procedures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from toprank.intents.model import DEFAULT_TOP_N, MAX_TOP_N, Coverage, ErrorCode, Period
from toprank.intents.period_rules import last_n
from toprank.intents.periods import clip_to_coverage, describe_period, month_end
from toprank.intents.spec import TIME_DIMENSIONS, PeriodRef, Spec
from toprank.intents.understand import default_cohort

# Rows of context around the asked codes in a share answer.
SHARE_CONTEXT_N = 5
# Rankings per group ("top codes by state") default to a short list.
PER_GROUP_N = 3
MOVERS_N = 10
# A code needs this many procedures in one of the two periods to be a mover, so a code
# billed a handful of times cannot lead on a big relative swing.
MOVERS_MIN_VOLUME = 100
# Breakdowns list every group up to this many (51 states and DC fit).
MAX_GROUPS = 60


@dataclass(frozen=True)
class Resolved:
    spec: Spec
    cohorts: tuple[str, ...]
    periods: tuple[Period, ...]  # clipped to the data, in the order asked
    n: int | None  # rows per series (None: every group)
    notes: tuple[str, ...] = ()
    # the periods as asked, for "the data ends ..., so this covers ..." notes
    asked: tuple[Period | None, ...] = ()
    error: ErrorCode | None = None
    suggestions: tuple[str, ...] = ()

    @property
    def period(self) -> Period:
        """The span of every period (the one period of most questions)."""
        return Period(
            min(p.start for p in self.periods),
            max(p.end for p in self.periods),
            self.periods[0].label if len(self.periods) == 1 else "",
        )


def default_period(spec: Spec, coverage: Coverage) -> Period:
    """No period asked: a trend spans all the data, anything else the latest calendar
    year with data (cut short by the data's end: "2023 through September")."""
    if _spans_years(spec):
        return Period(coverage.start, coverage.end, "", explicit=False)
    y = coverage.end.year
    return Period(date(y, 1, 1), date(y, 12, 31), str(y), explicit=False)


def _spans_years(spec: Spec) -> bool:
    return spec.group_by in TIME_DIMENSIONS or spec.per_group in TIME_DIMENSIONS


def yearless_year(months: tuple[int, int], coverage: Coverage) -> int | None:
    """The latest year whose months `months` the data covers fully, else the latest it
    covers in part; None when no year meets the data."""
    first, last = months
    partly = None
    for y in range(coverage.end.year, coverage.start.year - 1, -1):
        start = date(y - 1 if first > last else y, first, 1)
        end = month_end(y, last)
        if start >= coverage.start and end <= coverage.end:
            return y
        if partly is None and start <= coverage.end and end >= coverage.start:
            partly = y
    return partly


def _yearless(ref: PeriodRef, coverage: Coverage) -> tuple[Period | None, str]:
    assert ref.months is not None
    first, last = ref.months
    y = yearless_year(ref.months, coverage)
    if y is None:
        return None, ""
    period = Period(date(y - 1 if first > last else y, first, 1), month_end(y, last), "")
    label = describe_period(period)
    return period, f"'{ref.label}' with no year is read as {label}, the latest the data covers."


def latest_equivalent(ref: PeriodRef, coverage: Coverage) -> Period | None:
    """What a period relative to today stands for when the data is the clock: "last
    year" -> the latest whole year with data, "YTD" -> the latest year to the data's
    end, "last 12 months" -> the 12 whole months up to the data's end."""
    end = coverage.end
    whole_month_end = (
        end
        if end == month_end(end.year, end.month)
        else (date(end.year, end.month, 1) - timedelta(days=1))
    )
    kind = ref.relative or ""
    if kind == "ytd":
        return Period(date(end.year, 1, 1), end, "")
    if kind == "year":
        y = end.year if end >= date(end.year, 12, 31) else end.year - 1
        return Period(date(y, 1, 1), date(y, 12, 31), "")
    if kind in ("quarter", "quarter_to_date"):
        q_end = whole_month_end
        while q_end.month % 3:
            q_end = date(q_end.year, q_end.month, 1) - timedelta(days=1)
        return Period(date(q_end.year, q_end.month - 2, 1), q_end, "")
    if kind in ("month", "month_to_date"):
        return Period(date(whole_month_end.year, whole_month_end.month, 1), whole_month_end, "")
    if ":" in kind:
        unit, count = kind.split(":")
        following = whole_month_end + timedelta(days=1)
        if unit == "years":
            y = end.year if end >= date(end.year, 12, 31) else end.year - 1
            start, stop = last_n(int(count), "year", date(y + 1, 1, 1))
        else:
            start, stop = last_n(int(count), unit.rstrip("s"), following)
        return Period(start, stop, "")
    return None


def _asked(ref: PeriodRef, coverage: Coverage) -> tuple[Period | None, str]:
    """(the period as asked, a note) before clipping."""
    if ref.kind == "yearless":
        return _yearless(ref, coverage)
    assert ref.start and ref.end
    return Period(ref.start, ref.end, ref.label), ""


def _clip(period: Period, coverage: Coverage) -> Period | None:
    return clip_to_coverage(period, coverage)


def resolve(spec: Spec, coverage: Coverage) -> Resolved:
    """Defaults and concrete periods for a data spec."""
    notes: list[str] = []
    refs = spec.periods
    asked: list[Period | None] = []
    if not refs:
        asked = [default_period(spec, coverage)]
    else:
        for ref in refs:
            period, note = _asked(ref, coverage)
            asked.append(period)
            if note:
                notes.append(note)
    if spec.ask == "movers":
        asked = _movers_periods(spec, asked, coverage, notes)
    clipped = [_clip(p, coverage) if p is not None else None for p in asked]
    # A period relative to today that the data mostly misses ("the past 3 years" when the
    # data ends 3 years ago) has no data: the latest covered equivalent is offered instead
    # of a sliver of it passing for the whole.
    for k, ref in enumerate(refs if len(refs) == len(clipped) else ()):
        got, want = clipped[k], asked[k]
        if (
            ref.kind == "relative"
            and got is not None
            and want is not None
            and (2 * (got.end - got.start).days < (want.end - want.start).days)
        ):
            clipped[k] = None
    periods = tuple(p for p in clipped if p is not None)
    if not periods:
        return Resolved(
            spec,
            (),
            (),
            None,
            tuple(notes),
            tuple(asked),
            "no_data",
            _latest_suggestions(spec, coverage),
        )
    if len(periods) < len(clipped):
        missing = [
            p.label or describe_period(p)
            for p, c in zip(asked, clipped, strict=True)
            if c is None and p is not None
        ]
        if spec.ask == "movers":
            return Resolved(
                spec,
                (),
                (),
                None,
                tuple(notes),
                tuple(asked),
                "no_data",
                _latest_suggestions(spec, coverage),
            )
        notes.append(
            f"No data for {', '.join(missing)}: the data covers "
            f"{coverage.start.isoformat()} to {coverage.end.isoformat()}."
        )
    if (
        "state" in (spec.group_by, spec.per_group)
        and not spec.states.include
        and coverage.no_place_procedures
    ):
        notes.append(
            f"{coverage.no_place_procedures:,} procedures whose state is XX (unknown) or ZZ "
            "(foreign) count in national totals but in no state's row."
        )
    cohorts = spec.cohorts or (default_cohort(_codes_for_default(spec)),)
    return Resolved(spec, cohorts, periods, _n(spec), tuple(notes), tuple(asked))


def _codes_for_default(spec: Spec) -> tuple[str, ...]:
    codes: list[str] = []
    for s in spec.codes:
        if s.is_range:
            if s.first and s.last and s.first >= "97010" and s.last <= "97799":
                codes.append(s.first)
            else:
                return ("00000",)
        codes.extend(s.codes)
    return tuple(codes)


def _movers_periods(
    spec: Spec, asked: list[Period | None], coverage: Coverage, notes: list[str]
) -> list[Period | None]:
    """Movers compare two periods, earlier first: the two asked, or the first and last
    years of one span asked, or the year asked and the one before, or (none asked) the
    latest year with data and the one before."""
    known = [p for p in asked if p is not None]
    if len(known) >= 2:
        pair = sorted(known[:2], key=lambda p: p.start)
        return list(pair)
    if not known:
        return [None, None]
    p = known[0]
    if p.start.year != p.end.year:
        first = Period(date(p.start.year, 1, 1), date(p.start.year, 12, 31), str(p.start.year))
        last = Period(date(p.end.year, 1, 1), date(p.end.year, 12, 31), str(p.end.year))
        return [first, last]
    y = p.start.year
    before = Period(date(y - 1, p.start.month, p.start.day), _minus_year(p.end), "")
    if not spec.periods:
        notes.append(f"Movers compare {describe_period(p, coverage)} with the year before.")
    return [before, p]


def _minus_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _latest_suggestions(spec: Spec, coverage: Coverage) -> tuple[str, ...]:
    """For a period the data has none of: the same question over the latest covered
    equivalent ("last year" -> the latest whole year with data)."""
    from toprank.intents.phrase import question_for  # phrasing sits above resolution

    out = []
    refs = []
    for ref in spec.periods:
        if ref.kind == "relative":
            equivalent = latest_equivalent(ref, coverage)
            if equivalent is None:
                return ()
            refs.append(
                PeriodRef(
                    "absolute",
                    describe_period(equivalent),
                    start=equivalent.start,
                    end=equivalent.end,
                )
            )
        else:
            refs.append(ref)
    if any(r.kind == "relative" for r in spec.periods):
        out.append(question_for(replace(spec, periods=tuple(refs))))
    latest = default_period(replace(spec, periods=()), coverage)
    latest_ref = PeriodRef("absolute", describe_period(latest), start=latest.start, end=latest.end)
    out.append(question_for(replace(spec, periods=(latest_ref,), period_mode="single")))
    return tuple(dict.fromkeys(out))


def _n(spec: Spec) -> int | None:
    """Rows per series: what was asked, else the shape's usual length."""
    if spec.n is not None:
        return max(1, min(spec.n, MAX_TOP_N))
    if spec.ask == "movers":
        return MOVERS_N if spec.direction != "both" else MOVERS_N // 2
    if spec.per_group is not None and spec.group_by == "code":
        return PER_GROUP_N
    if spec.group_by == "code":
        return SHARE_CONTEXT_N if spec.ask == "share" else DEFAULT_TOP_N
    return None  # breakdowns and series: every group


def covered_months(period: Period, coverage: Coverage) -> int:
    """Whole months of `period` the data covers (a year cut short by the data's end has
    fewer than 12), from the coverage, not from which months happen to hold rows."""
    p = clip_to_coverage(period, coverage)
    if p is None:
        return 0
    return (p.end.year - p.start.year) * 12 + p.end.month - p.start.month + 1


__all__ = [
    "MAX_GROUPS",
    "MOVERS_MIN_VOLUME",
    "Resolved",
    "covered_months",
    "default_period",
    "latest_equivalent",
    "resolve",
    "yearless_year",
]
