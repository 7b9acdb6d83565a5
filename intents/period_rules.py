"""Periods in a question: small named rules, one per way of saying a period.

Each rule looks at one token position and returns the period atom it reads there
(or None); `scan_periods` tries the rules in order at every position, then three
passes finish the job: a listed part takes the year of the list ("Q1 and Q2 2023"),
neighbours join into ranges ("2019-2021", "jan to mar 2023"), and open ends apply
("since 2019", "through June", "before 2021").

The result keeps what was said: an absolute period, a part of a year without its year
("Q2", "through June": the resolver picks the latest year the data covers it in), or
a period relative to today ("last year", "YTD": kept relative so that, when the data
has none, the answer can offer the latest covered equivalent). Pure: `today` is passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from toprank.data.vocab import Vocabulary
from toprank.intents.model import ErrorCode, Period
from toprank.intents.periods import MONTH_NAMES, describe_period, month_end
from toprank.intents.spec import PeriodRef

MIN_YEAR, MAX_YEAR = 1800, 2100  # wide: "in 1850" gets no_data, not a silent default
# An open start ("through 2021", "before 2020") is clipped to the data's first day.
OPEN_START = date(1900, 1, 1)

_Q = re.compile(r"q(\d+)")
_H = re.compile(r"h(\d+)")
_FY = re.compile(r"fy(\d{2}|\d{4})")
# Meteorological seasons: (first month, last month); winter Y runs Dec Y-1 to Feb Y.
_SEASONS = {
    "spring": (3, 5),
    "summer": (6, 8),
    "fall": (9, 11),
    "autumn": (9, 11),
    "winter": (12, 2),
}
SEASON_WORDS = frozenset(_SEASONS)
_YEAR_GLUE = ("of", "in", "-", "/")
_OPEN_END_TAILS = ("on", "onward", "onwards", "forward", "forwards")


@dataclass
class Atom:
    """One period phrase at tokens [i, j)."""

    i: int
    j: int
    kind: str  # year | quarter | half | month | months | span | relative
    year: int | None = None
    part: int | None = None  # month, quarter or half number
    last_part: int | None = None  # kind "months": (part, last_part) months of a year
    start: date | None = None  # kind span / relative
    end: date | None = None
    label: str = ""
    relative: str | None = None  # relative: what its latest covered equivalent is

    def months(self) -> tuple[int, int]:
        """(first month, last month) within a year, for the parts of a year."""
        p = self.part or 1
        if self.kind == "quarter":
            return 3 * p - 2, 3 * p
        if self.kind == "half":
            return 6 * p - 5, 6 * p
        if self.kind == "months":
            return p, self.last_part or p
        if self.kind == "year":
            return 1, 12
        return p, p  # month

    def bounds(self, year: int) -> tuple[date, date]:
        if self.kind in ("span", "relative"):
            assert self.start and self.end
            return self.start, self.end
        first, last = self.months()
        return date(year, first, 1), month_end(year, last)


@dataclass
class PeriodHit:
    i: int
    j: int
    ref: PeriodRef


@dataclass
class PeriodScan:
    hits: list[PeriodHit] = field(default_factory=list)
    used: set[int] = field(default_factory=set)  # token positions that were period words
    error: ErrorCode | None = None  # "bad_period"

    @property
    def refs(self) -> list[PeriodRef]:
        return [h.ref for h in self.hits]


class _BadPeriod(Exception):
    """A period that cannot exist (Q5, month 13); carries the span to mark as read."""

    def __init__(self, i: int, j: int) -> None:
        self.i, self.j = i, j


class _Ctx:
    def __init__(self, low: tuple[str, ...], today: date, vocab: Vocabulary) -> None:
        self.low, self.today, self.vocab = low, today, vocab
        self.n = len(low)
        self.relative_first = {p.split()[0] for p in vocab.relative_periods}

    def at(self, k: int) -> str:
        return self.low[k] if 0 <= k < self.n else ""

    def year_after(self, k: int) -> tuple[int | None, int]:
        """A year at k ("2023") or after glue ("of 2023", "-2023"): (year, end) or (None, k)."""
        if self.at(k) in _YEAR_GLUE and is_year(self.at(k + 1)):
            return int(self.at(k + 1)), k + 2
        if is_year(self.at(k)):
            return int(self.at(k)), k + 1
        return None, k


def is_year(tok: str) -> bool:
    return len(tok) == 4 and tok.isdigit() and MIN_YEAR <= int(tok) <= MAX_YEAR


def _number(tok: str, vocab: Vocabulary) -> int | None:
    if tok.isdigit() and len(tok) <= 3:
        return int(tok)
    return vocab.number_words.get(tok)


def _part(ctx: _Ctx, i: int, j: int, kind: str, num: int) -> Atom:
    """A quarter, half or month numbered `num` at [i, j), with its year when one follows."""
    limit = {"quarter": 4, "half": 2, "month": 12}[kind]
    if not 1 <= num <= limit:
        _, end = ctx.year_after(j)
        raise _BadPeriod(i, end)
    year, end = ctx.year_after(j)
    return Atom(i, end, kind, year=year, part=num)


# --- today-relative arithmetic -------------------------------------------------


def _relative_span(kind: str, today: date) -> tuple[date, date]:
    y = today.year
    q = (today.month - 1) // 3 + 1
    if kind == "ytd":
        return date(y, 1, 1), today
    if kind == "last_year":
        return date(y - 1, 1, 1), date(y - 1, 12, 31)
    if kind == "this_quarter":
        return date(y, 3 * q - 2, 1), today
    if kind == "last_quarter":
        py, pq = (y, q - 1) if q > 1 else (y - 1, 4)
        return date(py, 3 * pq - 2, 1), month_end(py, 3 * pq)
    if kind == "this_month":
        return date(y, today.month, 1), today
    first = date(y, today.month, 1) - timedelta(days=1)  # last_month
    return date(first.year, first.month, 1), first


# What each relative period stands for once the data is the clock ("last year" = the
# latest whole year with data): see intents.resolve.
_RELATIVE_EQUIVALENT = {
    "ytd": "ytd",
    "last_year": "year",
    "this_quarter": "quarter_to_date",
    "last_quarter": "quarter",
    "this_month": "month_to_date",
    "last_month": "month",
}


def last_n(n: int, unit: str, today: date) -> tuple[date, date]:
    """The n complete years / quarters / months before the current one."""
    if unit == "year":
        return date(today.year - n, 1, 1), date(today.year - 1, 12, 31)
    months = n * (3 if unit == "quarter" else 1)
    if unit == "quarter":
        first_of_current = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    else:
        first_of_current = date(today.year, today.month, 1)
    end = first_of_current - timedelta(days=1)
    idx = end.year * 12 + end.month - 1 - (months - 1)
    return date(idx // 12, idx % 12 + 1, 1), end


# --- the rules: (ctx, i) -> Atom | None ------------------------------------------


def rule_relative(ctx: _Ctx, i: int) -> Atom | None:
    """ "year to date", "last year", "this quarter" (not "last quarter of 2022")."""
    if ctx.at(i) not in ctx.relative_first:
        return None
    for size in range(min(4, ctx.n - i), 0, -1):
        kind = ctx.vocab.relative_periods.get(" ".join(ctx.low[i : i + size]))
        if kind is None:
            continue
        if ctx.year_after(i + size)[0] is not None:
            return None  # "last quarter of 2022" is Q4 2022: rule_ordinal_part reads it
        start, end = _relative_span(kind, ctx.today)
        phrase = " ".join(ctx.low[i : i + size])
        label = "YTD" if phrase == "ytd" else phrase
        return Atom(
            i,
            i + size,
            "relative",
            start=start,
            end=end,
            label=label,
            relative=_RELATIVE_EQUIVALENT[kind],
        )
    return None


_YTD_WORDS = (("ytd",), ("year", "to", "date"))


def _ytd_at(ctx: _Ctx, k: int) -> int:
    """How many tokens of "YTD" / "year to date" start at k (0: none)."""
    for words in _YTD_WORDS:
        if tuple(ctx.low[k : k + len(words)]) == words:
            return len(words)
    return 0


def rule_year_to_date(ctx: _Ctx, i: int) -> Atom | None:
    """ "2023 YTD", "YTD 2023", "2022 year to date": that year from January through the
    month before today's (the last whole month; the data's end clips it as for any
    period), so "2023 ytd vs 2022 ytd" compares the same months. Without this rule
    "2023 ytd" was two periods, 2023 and this year's YTD."""
    if is_year(ctx.at(i)) and (size := _ytd_at(ctx, i + 1)):
        year, j = int(ctx.at(i)), i + 1 + size
    elif size := _ytd_at(ctx, i):
        found, j = ctx.year_after(i + size)
        if found is None:
            return None
        year = found
    else:
        return None
    # The data is by month: through the last whole month before today's (January: itself)
    last = max(ctx.today.month - 1, 1)
    end = month_end(year, last)
    label = f"{year} through {MONTH_NAMES[last]}" if last < 12 else str(year)
    return Atom(i, j, "span", start=date(year, 1, 1), end=end, label=label)


def rule_last_n(ctx: _Ctx, i: int) -> Atom | None:
    """ "last 3 years", "past twelve months", "trailing 4 quarters"."""
    if ctx.at(i) not in ctx.vocab.relative_lead_words:
        return None
    num = _number(ctx.at(i + 1), ctx.vocab)
    unit = ctx.vocab.relative_units.get(ctx.at(i + 2))
    if not (num and unit):
        return None
    num = min(num, 200)
    start, end = last_n(num, unit, ctx.today)
    label = f"{ctx.at(i)} {num} {unit}{'s' if num > 1 else ''}"
    return Atom(i, i + 3, "relative", start=start, end=end, label=label, relative=f"{unit}s:{num}")


def rule_first_months(ctx: _Ctx, i: int) -> Atom | None:
    """ "first 6 months of 2022", "the last three months of 2021", "first 2 quarters"."""
    if ctx.at(i) not in ("first", "last", "final"):
        return None
    num = _number(ctx.at(i + 1), ctx.vocab)
    unit = ctx.vocab.relative_units.get(ctx.at(i + 2))
    if not num or unit not in ("month", "quarter"):
        return None
    months = num * (3 if unit == "quarter" else 1)
    if not 1 <= months <= 12:
        raise _BadPeriod(i, ctx.year_after(i + 3)[1])
    first, last = (1, months) if ctx.at(i) == "first" else (13 - months, 12)
    year, end = ctx.year_after(i + 3)
    if year is None and ctx.at(i) != "first":
        return None  # "the last 3 months" is relative to today (rule_last_n)
    return Atom(i, end, "months", year=year, part=first, last_part=last)


def rule_season(ctx: _Ctx, i: int) -> Atom | None:
    """ "fall 2022", "the summer of 2021": a season needs its year ("did volume fall")."""
    t = ctx.at(i)
    if t not in _SEASONS:
        return None
    k = i + 2 if ctx.at(i + 1) == "of" else i + 1  # not "in": "did volume fall in 2022"
    if not is_year(ctx.at(k)):
        return None
    y, (first, last) = int(ctx.at(k)), _SEASONS[t]
    start = date(y - 1 if first > last else y, first, 1)
    label = f"{t} {y}" + (f" (Dec {y - 1}-Feb {y})" if first > last else "")
    return Atom(i, k + 1, "span", start=start, end=month_end(y, last), label=label)


def rule_fiscal_year(ctx: _Ctx, i: int) -> Atom | None:
    """ "FY2022", "fy 22", "fiscal year 2022": the US federal fiscal year (October to
    September), which is how CMS reports; the label says so."""
    t = ctx.at(i)
    fy = _FY.fullmatch(t)
    k = i + 1
    if fy is None and t in ("fy", "fiscal"):
        k = i + 2 if t == "fiscal" and ctx.at(i + 1) == "year" else i + 1
        fy = re.fullmatch(r"(\d{2}|\d{4})", ctx.at(k))
        k += 1
    if fy is None:
        return None
    y = int(fy.group(1))
    y = 2000 + y if y < 100 else y
    if not 1990 <= y <= 2100:
        return None
    label = f"FY{y} (Oct {y - 1}-Sep {y})"
    return Atom(i, k, "span", start=date(y - 1, 10, 1), end=date(y, 9, 30), label=label)


def rule_quarter_half(ctx: _Ctx, i: int) -> Atom | None:
    """ "Q2", "q2 2023", "H1", "h2-2022"."""
    t = ctx.at(i)
    m = _Q.fullmatch(t) or _H.fullmatch(t)
    if m is None:
        return None
    return _part(ctx, i, i + 1, "quarter" if t[0] == "q" else "half", int(m.group(1)))


def rule_ordinal_part(ctx: _Ctx, i: int) -> Atom | None:
    """ "second quarter", "1st half", "last quarter of 2022", "the back half"."""
    t = ctx.at(i)
    if t not in ctx.vocab.ordinals or ctx.at(i + 1) not in ("quarter", "qtr", "half"):
        return None
    kind = "half" if ctx.at(i + 1) == "half" else "quarter"
    num = ctx.vocab.ordinals[t]
    num = (4 if kind == "quarter" else 2) if num < 0 else num
    return _part(ctx, i, i + 2, kind, num)


def rule_numbered_part(ctx: _Ctx, i: int) -> Atom | None:
    """ "quarter 3 2021", "month 6"."""
    t, nxt = ctx.at(i), ctx.at(i + 1)
    if t not in ("quarter", "qtr", "month") or not (nxt.isdigit() and len(nxt) <= 2):
        return None
    return _part(ctx, i, i + 2, "month" if t == "month" else "quarter", int(nxt))


def rule_month_name(ctx: _Ctx, i: int) -> Atom | None:
    """ "June 2022", "in October", "Sept. 2021"; "may", "march" and "dec" only next to a
    year, in a range or after "in"/"since"/"through" (they are everyday words too)."""
    t = ctx.at(i)
    if t not in ctx.vocab.months:
        return None
    year, end = ctx.year_after(i + 1)
    if year is None and t in ctx.vocab.month_words_needing_year:
        connectors = ctx.vocab.range_connectors
        linked = ctx.at(i + 1) in connectors or ctx.at(i - 1) in connectors
        if not linked and ctx.at(i - 1) not in ("in", "since", "through", "thru"):
            return None
    return Atom(i, end, "month", year=year, part=ctx.vocab.months[t])


def rule_numeric_month(ctx: _Ctx, i: int) -> Atom | None:
    """ "6/2022", "06/2022"."""
    t = ctx.at(i)
    if not (t.isdigit() and len(t) <= 2 and ctx.at(i + 1) == "/" and is_year(ctx.at(i + 2))):
        return None
    if not 1 <= int(t) <= 12:
        raise _BadPeriod(i, i + 3)
    return Atom(i, i + 3, "month", year=int(ctx.at(i + 2)), part=int(t))


def rule_year(ctx: _Ctx, i: int) -> Atom | None:
    """ "2022"; "2022-06" / "2022/06" (a month); "2019-21" (years)."""
    t = ctx.at(i)
    if not is_year(t):
        return None
    y, sep, nxt = int(t), ctx.at(i + 1), ctx.at(i + 2)
    if sep in ("-", "/") and nxt.isdigit() and len(nxt) <= 2:
        num = int(nxt)
        if 1 <= num <= 12 and (len(nxt) == 2 or sep == "/"):
            return Atom(i, i + 3, "month", year=y, part=num)
        century_year = y // 100 * 100 + num
        if sep == "-" and len(nxt) == 2 and century_year > y:
            return Atom(i, i + 3, "span", start=date(y, 1, 1), end=date(century_year, 12, 31))
        raise _BadPeriod(i, i + 3)
    return Atom(i, i + 1, "year", year=y)


RULES: tuple[Callable[[_Ctx, int], Atom | None], ...] = (
    rule_year_to_date,
    rule_relative,
    rule_first_months,
    rule_last_n,
    rule_season,
    rule_fiscal_year,
    rule_quarter_half,
    rule_ordinal_part,
    rule_numbered_part,
    rule_month_name,
    rule_numeric_month,
    rule_year,
)


# --- passes over the atoms -----------------------------------------------------


def _take_year_before(atoms: list[Atom], ctx: _Ctx) -> None:
    """ "2023 Q2", "2023-q2": a bare year just before a part of a year is its year."""
    k = 1
    while k < len(atoms):
        a, b = atoms[k - 1], atoms[k]
        if (
            a.kind == "year"
            and b.kind in ("quarter", "half", "month")
            and b.year is None
            and ctx.low[a.j : b.i] in ((), ("-",))
        ):
            b.year, b.i = a.year, a.i
            del atoms[k - 1]
            continue
        k += 1


def _listed_years(atoms: list[Atom], ctx: _Ctx) -> None:
    """ "Q1 and Q2 2023", "jan vs feb 2022": a listed part without a year takes the year
    of the part after it (a list is written with the year once, at its end)."""
    listing = (("and",), ("vs",), ("versus",), ("or",), ("&",))
    for a, b in zip(atoms[-2::-1], atoms[:0:-1], strict=True):
        if (
            a.kind in ("month", "quarter", "half", "months")
            and a.year is None
            and b.kind not in ("span", "relative")
            and b.year is not None
            and ctx.low[a.j : b.i] in listing
        ):
            a.year = b.year


def _is_range(a: Atom, b: Atom, ctx: _Ctx, compare: bool) -> bool:
    gap = ctx.low[a.j : b.i]
    lead = ctx.at(a.i - 1)
    if len(gap) == 1 and gap[0] in ctx.vocab.range_connectors:
        return gap[0] != "to" or not compare or lead in ("from", "between")
    if gap == ("and",) and lead == "between":
        return not compare  # "compare ... between 2020 and 2022": two periods
    # "Jan-Sep 2023" (the hyphen between words became a space)
    return not gap and a.kind == b.kind == "month" and a.year is None


def _join_ranges(atoms: list[Atom], ctx: _Ctx, compare: bool) -> list[Atom]:
    """Neighbours joined into ranges: "2019-2021", "jan to mar 2023", "between 2019 and
    2021". A range whose ends have no year stays a part of a year ("jan to mar")."""
    out: list[Atom] = []
    k = 0
    while k < len(atoms):
        a = atoms[k]
        b = atoms[k + 1] if k + 1 < len(atoms) else None
        plain = ("span", "relative")
        if b is None or a.kind in plain or b.kind in plain or not _is_range(a, b, ctx, compare):
            out.append(a)
            k += 1
            continue
        lead = ctx.at(a.i - 1)
        i = a.i - 1 if lead in ("from", "between") else a.i
        ya, yb = a.year, b.year
        if ya is None and yb is None:
            first, last = a.months()[0], b.months()[1]
            if first > last:
                raise _BadPeriod(i, b.j)
            out.append(Atom(i, b.j, "months", part=first, last_part=last))
        else:
            if ya is None:
                assert yb is not None
                ya = yb if a.bounds(yb)[0] <= b.bounds(yb)[1] else yb - 1
            if yb is None:
                yb = ya if b.bounds(ya)[1] >= a.bounds(ya)[0] else ya + 1
            start, end = a.bounds(ya)[0], b.bounds(yb)[1]
            if start > end:
                raise _BadPeriod(i, b.j)
            out.append(Atom(i, b.j, "span", start=start, end=end))
        k += 2
    return out


def _ref(a: Atom, ctx: _Ctx) -> PeriodHit:
    """The atom as said, with its open end ("since", "through", "before") applied."""
    vocab, today = ctx.vocab, ctx.today
    i, j = a.i, a.j
    lead, lead2 = ctx.at(i - 1), ctx.at(i - 2)
    if lead in ("in", "from") and lead2 in vocab.since_words:
        lead, i = lead2, i - 1
    tail, tail2 = ctx.at(j), ctx.at(j + 1)
    yearless = a.kind in ("quarter", "half", "month", "months") and a.year is None

    def absolute(start: date, end: date, label: str = "") -> PeriodRef:
        label = label or describe_period_dates(start, end)
        return PeriodRef("absolute", label, start=start, end=end)

    since = lead in vocab.since_words or (lead == "from" and tail in _OPEN_END_TAILS)
    open_end = tail in ("to", "through", "thru", "until", "till", "-") and (
        tail2 in vocab.open_end_words
    )
    if (since or open_end) and not yearless:
        start, end = a.bounds(a.year or today.year)
        base = describe_period_dates(start, end)
        label = f"since {base}"
        if lead == "after":
            start, label = end + timedelta(days=1), f"after {base}"
        if since:
            i -= 1
            if tail in _OPEN_END_TAILS:
                j += 1
        else:
            j += 2
        return PeriodHit(i, j, PeriodRef("absolute", label, start=start, end=max(today, start)))
    if lead == "before" and not yearless:
        start, _ = a.bounds(a.year or today.year)
        label = f"before {describe_period_dates(*a.bounds(a.year or today.year))}"
        return PeriodHit(i - 1, j, absolute(OPEN_START, start - timedelta(days=1), label))
    through = lead in vocab.until_words or (lead == "to" and lead2 == "up")
    if through:
        i -= 2 if lead == "to" else 1
    if a.kind in ("span", "relative"):
        assert a.start and a.end
        if a.kind == "relative":
            ref = PeriodRef(
                "relative",
                a.label or describe_period_dates(a.start, a.end),
                start=a.start,
                end=a.end,
                relative=a.relative,
            )
            return PeriodHit(i, j, ref)
        return PeriodHit(i, j, absolute(a.start, a.end, a.label))
    first, last = a.months()
    if through and a.kind != "year":
        first = 1  # "through September" = the year up to the end of September
    if yearless:
        label = _months_label(first, last, through)
        return PeriodHit(i, j, PeriodRef("yearless", label, months=(first, last)))
    assert a.year is not None
    start, end = date(a.year, first, 1), month_end(a.year, last)
    if through and a.kind == "year":
        return PeriodHit(i, j, absolute(OPEN_START, end, f"through {a.year}"))
    return PeriodHit(i, j, absolute(start, end))


def describe_period_dates(start: date, end: date) -> str:
    return describe_period(Period(start, end, ""))


def _months_label(first: int, last: int, through: bool) -> str:
    if through:
        return f"through {MONTH_NAMES[last]}"
    if first == last:
        return MONTH_NAMES[first]
    if first % 3 == 1 and last == first + 2:
        return f"Q{(first + 2) // 3}"
    if first in (1, 7) and last == first + 5:
        return f"H{1 if first == 1 else 2}"
    return f"{MONTH_NAMES[first]}-{MONTH_NAMES[last]}"


def scan_periods(
    low: tuple[str, ...], today: date, vocab: Vocabulary, compare: bool = False
) -> PeriodScan:
    """Find the periods named in lower-case tokens. `compare` says the question compares
    things, so "2021 to 2022" means two periods rather than one range."""
    ctx = _Ctx(low, today, vocab)
    out = PeriodScan()
    atoms: list[Atom] = []
    i = 0
    while i < ctx.n:
        try:
            atom = next((a for rule in RULES if (a := rule(ctx, i)) is not None), None)
        except _BadPeriod as bad:
            out.error = "bad_period"
            out.used.update(range(bad.i, bad.j))
            i = max(bad.j, i + 1)
            continue
        if atom is None:
            i += 1
            continue
        atoms.append(atom)
        i = atom.j
    _take_year_before(atoms, ctx)
    _listed_years(atoms, ctx)
    try:
        joined = _join_ranges(atoms, ctx, compare)
    except _BadPeriod as bad:
        out.error = "bad_period"
        out.used.update(range(bad.i, bad.j))
        return out
    for atom in joined:
        hit = _ref(atom, ctx)
        out.used.update(range(max(hit.i, 0), hit.j))
        ref = hit.ref
        if ref.kind != "yearless" and ref.start and ref.end and ref.start > ref.end:
            out.error = "bad_period"
            continue
        out.hits.append(hit)
    return out
