"""Periods: read them from a question, clip them to the data, say them in words.

Pure functions of their arguments; "today" is always passed in, never read.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from data.vocab import Vocabulary
from intents.model import Coverage, Intent, Period

MONTH_NAMES = tuple(calendar.month_name)  # ("", "January", ..., "December")
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


def default_period(intent: Intent, coverage: Coverage) -> Period:
    """No period asked: a trend spans all the data, anything else the latest calendar
    year with data (cut short by the data's end: "2023 through September")."""
    if intent.kind == "trend":
        return Period(coverage.start, coverage.end, "", explicit=False)
    y = coverage.end.year
    return Period(date(y, 1, 1), date(y, 12, 31), str(y), explicit=False)


def resolve_period(intent: Intent, coverage: Coverage) -> Period | None:
    """The period actually queried: the one asked (or the default), clipped to the data.
    None when it lies wholly outside the data (the answer is then error no_data).
    For a compare by period this is the span of all the compared periods."""
    period = intent.period
    if period is None and intent.periods:
        period = make_period(
            min(p.start for p in intent.periods), max(p.end for p in intent.periods)
        )
    if period is None:
        period = default_period(intent, coverage)
    return clip_to_coverage(period, coverage)


def resolve_periods(intent: Intent, coverage: Coverage) -> tuple[Period | None, ...]:
    """Each of intent.periods (compare by period) clipped to the data, in order;
    None in the place of a period the data does not cover."""
    return tuple(clip_to_coverage(p, coverage) for p in intent.periods)


# --- reading periods from tokens --------------------------------------------


@dataclass
class _Atom:
    i: int  # token span [i, j)
    j: int
    kind: str  # year | quarter | half | month | span
    year: int | None = None
    part: int | None = None  # month, quarter or half number
    start: date | None = None  # set for kind "span"
    end: date | None = None
    label: str = ""

    def bounds(self, year: int | None = None) -> tuple[date, date]:
        if self.kind == "span":
            assert self.start and self.end
            return self.start, self.end
        y = self.year if year is None else year
        assert y is not None
        if self.kind == "year":
            return date(y, 1, 1), date(y, 12, 31)
        if self.kind == "quarter":
            assert self.part
            return date(y, 3 * self.part - 2, 1), month_end(y, 3 * self.part)
        if self.kind == "half":
            assert self.part
            return date(y, 6 * self.part - 5, 1), month_end(y, 6 * self.part)
        assert self.part
        return date(y, self.part, 1), month_end(y, self.part)


@dataclass
class PeriodScan:
    periods: list[Period] = field(default_factory=list)
    used: set[int] = field(default_factory=set)  # token positions that were period words
    error: str | None = None  # "bad_period"


def _is_year(tok: str) -> bool:
    return len(tok) == 4 and tok.isdigit() and MIN_YEAR <= int(tok) <= MAX_YEAR


def _latest_complete(atom: _Atom, today: date) -> int:
    """The year of the most recent such month/quarter/half that has ended by today
    (or is under way, when none has ended this year)."""
    _, end = atom.bounds(today.year)
    return today.year if end <= today else today.year - 1


def _number(tok: str, vocab: Vocabulary) -> int | None:
    if tok.isdigit() and len(tok) <= 3:
        return int(tok)
    return vocab.number_words.get(tok)


def _relative(kind: str, today: date) -> tuple[date, date, str]:
    y = today.year
    q = (today.month - 1) // 3 + 1
    if kind == "ytd":
        return date(y, 1, 1), today, ""
    if kind == "last_year":
        return date(y - 1, 1, 1), date(y - 1, 12, 31), ""
    if kind == "this_quarter":
        return date(y, 3 * q - 2, 1), today, ""
    if kind == "last_quarter":
        py, pq = (y, q - 1) if q > 1 else (y - 1, 4)
        return date(py, 3 * pq - 2, 1), month_end(py, 3 * pq), ""
    if kind == "this_month":
        return date(y, today.month, 1), today, ""
    # last_month
    first = date(y, today.month, 1) - timedelta(days=1)
    return date(first.year, first.month, 1), first, ""


def _last_n(n: int, unit: str, today: date) -> tuple[date, date]:
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


def scan_periods(
    low: tuple[str, ...], today: date, vocab: Vocabulary, compare: bool = False
) -> PeriodScan:
    """Find the periods named in lower-case tokens. `compare` says the question compares
    things, so "2021 to 2022" means two periods rather than one range."""
    out = PeriodScan()
    atoms: list[_Atom] = []
    n = len(low)
    bad = False

    def at(k: int) -> str:
        return low[k] if 0 <= k < n else ""

    def attach_year(atom: _Atom) -> _Atom:
        # "Q2 2023", "June of 2022", "H1, 2022", "q2-2023"
        k = atom.j
        if at(k) in ("of", "in", "-", "/") and _is_year(at(k + 1)):
            k += 1
        if _is_year(at(k)):
            atom.year, atom.j = int(at(k)), k + 1
            return atom
        # "2023 Q2", "2023-q2": a bare year just before
        if atoms and atoms[-1].kind == "year" and atoms[-1].j in (atom.i, atom.i - 1):
            gap = low[atoms[-1].j : atom.i]
            if gap in ((), ("-",)):
                prev = atoms.pop()
                atom.year, atom.i = prev.year, prev.i
        return atom

    def skip_bad(i: int, j: int) -> int:
        """Mark a bad period (and the year that goes with it) as read; return where to go on."""
        if at(j) in ("of", "in", "-", "/") and _is_year(at(j + 1)):
            j += 2
        elif _is_year(at(j)):
            j += 1
        out.used.update(range(i, j))
        return j

    relative_first = {p.split()[0] for p in vocab.relative_periods}
    i = 0
    while i < n:
        t = low[i]
        # relative phrases: "year to date", "last year", "this quarter" ...
        hit = None
        for size in range(min(4, n - i), 0, -1) if t in relative_first else ():
            phrase = " ".join(low[i : i + size])
            if phrase in vocab.relative_periods:
                hit = (size, vocab.relative_periods[phrase])
                break
        after = i + hit[0] if hit else i
        if hit and (_is_year(at(after)) or (at(after) in ("of", "in") and _is_year(at(after + 1)))):
            hit = None  # "last quarter of 2022" is Q4 2022, read below as an ordinal
        if hit:
            start, end, label = _relative(hit[1], today)
            atoms.append(_Atom(i, i + hit[0], "span", start=start, end=end, label=label))
            i += hit[0]
            continue
        # "last 3 years", "past twelve months"
        if t in vocab.relative_lead_words:
            num = _number(at(i + 1), vocab)
            unit = vocab.relative_units.get(at(i + 2))
            if num and unit:
                start, end = _last_n(min(num, 200), unit, today)
                atoms.append(_Atom(i, i + 3, "span", start=start, end=end))
                i += 3
                continue
        # "fall 2022", "the summer of 2021": a season needs its year ("did volume fall")
        if t in _SEASONS:
            k = i + 2 if at(i + 1) == "of" else i + 1  # not "in": "did volume fall in 2022"
            if _is_year(at(k)):
                y, (first, last) = int(at(k)), _SEASONS[t]
                start = date(y - 1 if first > last else y, first, 1)
                end = month_end(y, last)
                label = f"{t} {y}" + (f" (Dec {y - 1}-Feb {y})" if first > last else "")
                atoms.append(_Atom(i, k + 1, "span", start=start, end=end, label=label))
                i = k + 1
                continue
        # "FY2022", "fy 22", "fiscal year 2022": the US federal fiscal year, October to
        # September, which is how CMS reports; the label says so
        fy = _FY.fullmatch(t)
        k = i + 1
        if fy is None and t in ("fy", "fiscal"):
            k = i + 2 if t == "fiscal" and at(i + 1) == "year" else i + 1
            fy = re.fullmatch(r"(\d{2}|\d{4})", at(k))
            k += 1
        if fy is not None:
            y = int(fy.group(1))
            y = 2000 + y if y < 100 else y
            if 1990 <= y <= 2100:
                start, end = date(y - 1, 10, 1), date(y, 9, 30)
                label = f"FY{y} (Oct {y - 1}-Sep {y})"
                atoms.append(_Atom(i, k, "span", start=start, end=end, label=label))
                i = k
                continue
        m = _Q.fullmatch(t) or _H.fullmatch(t)
        if m:
            num, kind = int(m.group(1)), "quarter" if t[0] == "q" else "half"
            if not 1 <= num <= (4 if kind == "quarter" else 2):
                bad, i = True, skip_bad(i, i + 1)
                continue
            atoms.append(attach_year(_Atom(i, i + 1, kind, part=num)))
            i = atoms[-1].j
            continue
        # "second quarter", "1st half", "last quarter of 2022", "quarter 2"
        if t in vocab.ordinals and at(i + 1) in ("quarter", "qtr", "half"):
            kind = "half" if at(i + 1) == "half" else "quarter"
            num = vocab.ordinals[t]
            num = (4 if kind == "quarter" else 2) if num < 0 else num
            if num > (4 if kind == "quarter" else 2):
                bad, i = True, skip_bad(i, i + 2)
                continue
            atoms.append(attach_year(_Atom(i, i + 2, kind, part=num)))
            i = atoms[-1].j
            continue
        if t in ("quarter", "qtr", "month") and at(i + 1).isdigit() and len(at(i + 1)) <= 2:
            num = int(at(i + 1))
            kind = "month" if t == "month" else "quarter"
            if not 1 <= num <= (12 if kind == "month" else 4):
                bad, i = True, skip_bad(i, i + 2)
                continue
            atoms.append(attach_year(_Atom(i, i + 2, kind, part=num)))
            i = atoms[-1].j
            continue
        if t in vocab.months:
            atom = attach_year(_Atom(i, i + 1, "month", part=vocab.months[t]))
            needs_year = t in vocab.month_words_needing_year
            linked = at(i + 1) in vocab.range_connectors or at(i - 1) in vocab.range_connectors
            if (
                atom.year is None
                and needs_year
                and not linked
                and at(i - 1)
                not in (
                    "in",
                    "since",
                    "through",
                    "thru",
                )
            ):
                i += 1
                continue
            atoms.append(atom)
            i = atom.j
            continue
        # "6/2022", "06/2022"
        if t.isdigit() and len(t) <= 2 and at(i + 1) == "/" and _is_year(at(i + 2)):
            num = int(t)
            if not 1 <= num <= 12:
                bad = True
                out.used.update((i, i + 1, i + 2))
            else:
                atoms.append(_Atom(i, i + 3, "month", year=int(at(i + 2)), part=num))
            i += 3
            continue
        if _is_year(t):
            y = int(t)
            nxt = at(i + 2)
            # "2022-06", "2022/06" (a month) or "2019-21" (years)
            if at(i + 1) in ("-", "/") and nxt.isdigit() and len(nxt) <= 2:
                num = int(nxt)
                if 1 <= num <= 12 and (len(nxt) == 2 or at(i + 1) == "/"):
                    atoms.append(_Atom(i, i + 3, "month", year=y, part=num))
                    i += 3
                    continue
                century_year = y // 100 * 100 + num
                if at(i + 1) == "-" and len(nxt) == 2 and century_year > y:
                    s, _ = _Atom(0, 0, "year", year=y).bounds()
                    atoms.append(_Atom(i, i + 3, "span", start=s, end=date(century_year, 12, 31)))
                    i += 3
                    continue
                bad = True
                out.used.update((i, i + 1, i + 2))
                i += 3
                continue
            atoms.append(_Atom(i, i + 1, "year", year=y))
            i += 1
            continue
        i += 1

    # "Q1 and Q2 2023", "jan vs feb 2022": a listed part without a year takes the year
    # of the part after it (a list is written with the year once, at its end).
    listing = (("and",), ("vs",), ("versus",), ("or",), ("&",))
    for a, b in zip(atoms[-2::-1], atoms[:0:-1], strict=True):
        if (
            a.kind in ("month", "quarter", "half")
            and a.year is None
            and b.kind != "span"
            and b.year is not None
            and low[a.j : b.i] in listing
        ):
            a.year = b.year

    # Join neighbours into ranges: "2019-2021", "jan to mar 2023", "between 2019 and 2021".
    joined: list[_Atom] = []
    k = 0
    while k < len(atoms):
        a = atoms[k]
        b = atoms[k + 1] if k + 1 < len(atoms) else None
        if b is not None and a.kind != "span" and b.kind != "span":
            gap = low[a.j : b.i]
            lead = at(a.i - 1)
            is_range = False
            if len(gap) == 1 and gap[0] in vocab.range_connectors:
                is_range = gap[0] != "to" or not compare or lead in ("from", "between")
            elif gap == ("and",) and lead == "between":
                is_range = not compare  # "compare ... between 2020 and 2022": two periods
            elif not gap and a.kind == b.kind == "month" and a.year is None:
                is_range = True  # "Jan-Sep 2023" (the hyphen between words became a space)
            if is_range:
                ya, yb = a.year, b.year
                if ya is None and yb is not None:
                    ya = yb if a.bounds(yb)[0] <= b.bounds(yb)[1] else yb - 1
                if yb is None and ya is not None:
                    yb = ya if b.bounds(ya)[1] >= a.bounds(ya)[0] else ya + 1
                if ya is None:
                    ya = yb = _latest_complete(b, today)
                    if a.bounds(ya)[0] > b.bounds(ya)[1]:
                        ya -= 1
                start, end = a.bounds(ya)[0], b.bounds(yb)[1]
                if start > end:
                    bad = True
                    out.used.update(range(a.i, b.j))
                else:
                    span = _Atom(a.i, b.j, "span", start=start, end=end)
                    if lead in ("from", "between"):
                        span.i -= 1
                    joined.append(span)
                k += 2
                continue
        joined.append(a)
        k += 1

    for a in joined:
        year = a.year
        if a.kind != "span" and year is None:
            year = _latest_complete(a, today)
        start, end = a.bounds(year)
        label = a.label
        lead, lead2 = at(a.i - 1), at(a.i - 2)
        if lead in ("in", "from") and lead2 in vocab.since_words:
            lead, a.i = lead2, a.i - 1
        tail, tail2 = at(a.j), at(a.j + 1)
        if lead in vocab.since_words or (
            lead == "from" and tail in ("on", "onward", "onwards", "forward", "forwards")
        ):
            base = describe_period(Period(start, end, ""))
            label = f"since {base}"
            if lead == "after":
                start, label = end + timedelta(days=1), f"after {base}"
            end = max(today, start)
            a.i -= 1
            if tail in ("on", "onward", "onwards", "forward", "forwards"):
                a.j += 1
        elif tail in ("to", "through", "thru", "until", "till", "-") and tail2 in (
            vocab.open_end_words
        ):
            end, label = max(today, start), f"since {describe_period(Period(start, end, ''))}"
            a.j += 2
        elif lead == "before":
            label = f"before {describe_period(Period(start, end, ''))}"
            start, end = OPEN_START, start - timedelta(days=1)
            a.i -= 1
        elif lead in vocab.until_words or (lead == "to" and lead2 == "up"):
            # "through September" = the year to the end of September; "through 2021" = up to 2021
            if a.kind in ("month", "quarter", "half"):
                start = date(end.year, 1, 1)
            else:
                label = f"through {describe_period(Period(start, end, ''))}"
                start = OPEN_START
            a.i -= 2 if lead == "to" else 1
        out.used.update(range(max(a.i, 0), a.j))
        if start > end:
            bad = True
            continue
        out.periods.append(make_period(start, end, label))
    if bad:
        out.error = "bad_period"
    return out
