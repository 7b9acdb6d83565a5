"""Which chart an answer gets, and what it shows (pure: no matplotlib, no I/O).

The kind follows the answer's shape (the SQL family in `Answer.shape` and the parts of
the question in `params`), through two registries: a chooser per family picks the kind,
and a builder per kind turns the rows into a `ChartSpec`, the drawing's content: its
categories, series and points, the figure printed by each point, axis labels, a footer.
bot.chart draws a spec; this module decides everything a test or the Chart button needs
to know without importing matplotlib (which costs about a second at start-up).

Suppressed cells (bot.suppress) become points with no value and the figure "<11" or
"withheld": nothing drawn has a length or a colour that would give their count away.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toprank.bot.answer_model import Answer
from toprank.bot.columns import is_number, write

# Drawn as a ranking: horizontal bars, first rank on top.
BARS = "bars"
# Side by side: one colour per group (cohort, period, state, payer), codes in one order.
GROUPED_BARS = "grouped_bars"
# A trend: lines with markers, a partly covered period drawn open and dashed.
LINES = "lines"
# By state: a US tile grid, one square per state and DC.
STATE_MAP = "state_map"
# Part of a whole: one 100% bar per group, split into its parts.
STACKED_BAR = "stacked_bar"
# Movers: bars either side of zero, in share points.
DIVERGING_BARS = "diverging_bars"

KIND_NOUN = {
    BARS: "Bar chart",
    GROUPED_BARS: "Grouped bar chart",
    LINES: "Line chart",
    STATE_MAP: "US state tile map",
    STACKED_BAR: "Stacked bar chart",
    DIVERGING_BARS: "Diverging bar chart",
}

MAX_BARS = 30  # bars in one ranking; the CSV has every row
MAX_GROUPED_CATEGORIES = 15
MAX_SERIES = 6  # more groups than colours that stay distinct: drawn as a ranking instead
MAX_STACK_PARTS = 6
# A map reads well when most states are there; a top-N of states is a ranking.
MAP_MIN_STATES = 20
MAX_ALT_TEXT = 1000  # Slack's limit on a file's alt text
SHARE_KEY = "share_pct"
COUNT_KEYS = ("procedures", "units", "claims")
MEASURE_NOUN = {
    "procedures": "Procedures",
    "units": "Units",
    "claims": "Visits",
    "payments": "Payments ($)",
    "allowed": "Allowed ($)",
    "charges": "Charges ($)",
    "beneficiaries": "Beneficiaries",
}
SERIES_FIELDS = {  # compare_by / per_group -> the row field holding the group
    "cohort": "cohort",
    "period": "period",
    "state": "state",
    "payer": "payer",
    "code": "code",
    "place_of_service": "place_of_service",
    "year": "year",
    "quarter": "quarter",
    "month": "month",
}
STATES_AND_DC = 51
# A US tile grid: one square per state and DC, roughly where each lies (row, column).
STATE_GRID = (
    "AK .. .. .. .. .. .. .. .. .. ME",
    ".. .. .. .. .. WI .. .. .. VT NH",
    "WA ID MT ND MN IL MI .. NY MA ..",
    "OR NV WY SD IA IN OH PA NJ CT RI",
    "CA UT CO NE MO KY WV VA MD DE ..",
    ".. AZ NM KS AR TN NC SC DC .. ..",
    ".. .. .. OK LA MS AL GA .. .. ..",
    "HI .. .. TX .. .. .. FL .. .. ..",
)
STATE_TILES: dict[str, tuple[int, int]] = {
    code: (row, col)
    for row, line in enumerate(STATE_GRID)
    for col, code in enumerate(line.split())
    if code != ".."
}

OTHER_CODES = "Other codes"  # the map's grey for codes beyond the palette
NOT_LISTED = "–"  # a code in one group's list and not another's
# "<11" (the threshold is TOPRANK_MIN_CELL's): what the mark means, said in the footer.
HIDDEN_NOTE = "{mark}: a count under {limit}, hidden with its share (CMS cell-size rule)."
PARTIAL = re.compile(r"\((?P<first>[A-Z][a-z]{2})(?:-(?P<last>[A-Z][a-z]{2}))?\)$")
YEAR = re.compile(r"\b(19|20)\d\d\b")
THROUGH = re.compile(r" through (?P<last>[A-Z][a-z]{2})[a-z]*$")


@dataclass(frozen=True)
class Point:
    """One bar, tile, segment or marker. `value` None: nothing is drawn with a length or
    colour of its own; `figure` says why ("<11", "withheld", "–")."""

    category: str
    value: float | None
    figure: str
    partial: str | None = None  # "to Sep": a period the data covers only in part
    highlight: bool = False  # a code the question asked about


@dataclass(frozen=True)
class Series:
    name: str  # the legend entry; "" for the only series
    points: tuple[Point, ...]


@dataclass(frozen=True)
class ChartSpec:
    """What a chart shows, independent of how it is drawn."""

    kind: str
    title: str
    categories: tuple[str, ...]  # in drawing order (first rank, first period, ...)
    series: tuple[Series, ...]
    value_label: str  # the value axis ("Share (%)", "Procedures", "Change in share (points)")
    footer: str  # source and period, and what the marks mean
    is_share: bool = True
    highlight_label: str = ""  # legend entry for highlighted points

    @property
    def points(self) -> tuple[Point, ...]:
        return tuple(p for s in self.series for p in s.points)

    def figures(self) -> tuple[str, ...]:
        """Every figure the chart prints."""
        return tuple(p.figure for p in self.points if p.figure)


# --------------------------------------------------------------------------- values


def value_key(answer: Answer) -> str | None:
    """The row key the chart plots: the change for movers; a count for totals and for
    trends of a whole scope (the question asked how many); else the share, which stays
    comparable across groups of different sizes and partly covered periods."""
    rows = answer.rows
    family = _family(answer)
    measure = str(answer.params.get("measure") or "procedures")
    counts = (measure, *[k for k in COUNT_KEYS if k != measure])
    if family == "movers":
        order: tuple[str, ...] = ("change_pts",)
    elif family == "total":
        order = counts
    else:
        order = (SHARE_KEY, *counts)
    for key in order:
        if any(is_number(r.get(key)) for r in rows):
            return key
    return None


def _figure(row: Mapping[str, Any], key: str) -> tuple[float | None, str]:
    """A cell's length and printed figure; a hidden cell has no length, never 0."""
    value = row.get(key)
    if is_number(value):
        unit = " pts" if key == "change_pts" else ""  # the axis is in share points
        return float(value), write(key, value) + unit
    if row.get("suppressed") and not row.get("complementary"):
        marks = [v for v in row.values() if isinstance(v, str) and v.startswith("<")]
        return None, marks[0] if marks else "withheld"
    return None, "withheld" if row.get("suppressed") or value is None else str(value)


def partial_mark(label: Any) -> str | None:
    """'to Sep' for a period the data covers only in part: '2023 (Jan-Sep)' or '2023
    through September'; 'Apr-Sep' when it starts late."""
    text = str(label or "")
    match = PARTIAL.search(text)
    if match:
        first, last = match["first"], match["last"] or match["first"]
        return f"to {last}" if first == "Jan" else f"{first}-{last}"
    match = THROUGH.search(text)
    return f"to {match['last']}" if match else None


def _period_name(label: Any) -> str:
    """'2023 (Jan-Sep)' -> '2023': the mark is drawn, not repeated in the name."""
    text = str(label)
    return PARTIAL.sub("", THROUGH.sub("", text)).strip()


def _code_label(row: Mapping[str, Any], width: int = 26) -> str:
    code = str(row.get("code") or "?")
    description = str(row.get("description") or "")
    if not description:
        return code
    short = description if len(description) <= width else description[: width - 1] + "…"
    return f"{code}  {short}"


def _group_label(field: str, value: Any, row: Mapping[str, Any] | None = None) -> str:
    if field == "cohort":
        return write("cohort", value)
    if field == "payer":
        return str(value).capitalize()
    if field == "code" and row is not None:
        return _code_label(row)
    return str(value)


def _part_label(row: Mapping[str, Any], by: str) -> str:
    name = str(row.get("name") or row.get(by) or "?")
    return name[:1].upper() + name[1:]


def _family(answer: Answer) -> str:
    return (answer.shape or answer.intent or "").split(":")[0]


def _footer(answer: Answer, extra: Sequence[str] = ()) -> str:
    parts = []
    sources = ", ".join(answer.provenance.sources)
    if sources:
        parts.append(f"Source: {sources}")
    if answer.period_label:
        parts.append(f"Period: {answer.period_label}")
    return "  ·  ".join(parts + [e for e in dict.fromkeys(extra) if e])


PARTIAL_NOTE = {
    LINES: "Open marker and dashed line: a period the data covers only in part.",
    BARS: "Hatched bar: a period the data covers only in part.",
    GROUPED_BARS: "Hatched bar: a period the data covers only in part.",
}


def _marks_notes(kind: str, points: Sequence[Point], top_n: int | None = None) -> list[str]:
    notes: list[str] = []
    marks = sorted({p.figure for p in points if p.figure.startswith("<")})
    notes.extend(HIDDEN_NOTE.format(mark=m, limit=m[1:]) for m in marks)
    if any(p.figure == "withheld" for p in points):
        notes.append("withheld: hidden so that a small count cannot be worked out.")
    if any(p.figure == NOT_LISTED for p in points):
        where = f"top {top_n}" if top_n else "list"
        notes.append(f"{NOT_LISTED}: not in that group's {where}.")
    if any(p.partial for p in points) and kind in PARTIAL_NOTE:
        notes.append(PARTIAL_NOTE[kind])
    return notes


def _value_label(key: str) -> str:
    if key == "change_pts":
        return "Change in share (points)"
    if key.endswith("_pct"):
        return "Share (%)"
    return MEASURE_NOUN.get(key, key.capitalize())


def _title(answer: Answer) -> str:
    title = (answer.title or answer.question).strip().rstrip(",")
    # Titles of data answers name their periods; others (OT vs PT) get the period here.
    if answer.period_label and not YEAR.search(title):
        title = f"{title} ({answer.period_label})"
    return title


def _truncated(total: int, shown: int) -> list[str]:
    return [f"Showing {shown} of {total}; the CSV has every row."] if shown < total else []


def _spec(
    answer: Answer,
    kind: str,
    key: str,
    categories: Sequence[str],
    series: Sequence[Series],
    notes: Sequence[str] = (),
    highlight_label: str = "",
) -> ChartSpec:
    points = [p for s in series for p in s.points]
    return ChartSpec(
        kind=kind,
        title=_title(answer),
        categories=tuple(categories),
        series=tuple(series),
        value_label=_value_label(key),
        footer=_footer(answer, [*notes, *_marks_notes(kind, points, answer.params.get("n"))]),
        is_share=key.endswith("_pct"),
        highlight_label=highlight_label,
    )


def _series_field(answer: Answer) -> str | None:
    """The row field that splits the rows into groups side by side, if any."""
    by = answer.params.get("compare_by") or answer.params.get("per_group")
    return SERIES_FIELDS.get(str(by)) if by else None


def _split(rows: Sequence[Mapping[str, Any]], field: str) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        out.setdefault(_group_label(field, row.get(field), row), []).append(row)
    return out


# --------------------------------------------------------------------------- choosers


def _choose_ranked(answer: Answer) -> str:
    params = answer.params
    field = _series_field(answer)
    if params.get("per_group"):
        groups = _split(answer.rows, str(field))
        if field == "state" and len(groups) >= MAP_MIN_STATES:
            return STATE_MAP  # each state coloured by its top code
        if (params.get("n") or 1) > 1 and len(groups) <= MAX_SERIES:
            return GROUPED_BARS
        return BARS
    if field and field != "code" and len(_split(answer.rows, field)) > 1:
        return GROUPED_BARS
    return BARS


def _choose_breakdown(answer: Answer) -> str:
    by = str(answer.params.get("group_by") or "")
    field = _series_field(answer)
    if by == "state" and not field:
        return STATE_MAP if len(answer.rows) >= MAP_MIN_STATES else BARS
    groups = _split(answer.rows, field) if field else {"": list(answer.rows)}
    if all(_stackable(rows, by) for rows in groups.values()):
        return STACKED_BAR
    return GROUPED_BARS if len(groups) > 1 else BARS


def _stackable(rows: Sequence[Mapping[str, Any]], by: str) -> bool:
    """Parts of a whole that one bar can show: every part listed with its share (no
    hidden cell, whose segment would give its count away), and few enough to label."""
    shares = [r.get(SHARE_KEY) for r in rows]
    if not 2 <= len(rows) <= MAX_STACK_PARTS or not all(is_number(s) for s in shares):
        return False
    return abs(sum(float(s) for s in shares if s is not None) - 100.0) < 0.6


def _choose_total(answer: Answer) -> str | None:
    return BARS if len(answer.rows) > 1 else None  # one figure needs no picture


CHOOSERS: dict[str, Callable[[Answer], str | None]] = {
    "ranked": _choose_ranked,
    "breakdown": _choose_breakdown,
    "time": lambda answer: LINES,
    "movers": lambda answer: DIVERGING_BARS,
    "total": _choose_total,
    "over_represented": lambda answer: GROUPED_BARS,  # OT vs PT: each code's two shares
}


def chart_kind(answer: Answer) -> str | None:
    """The kind of chart the answer gets, or None (a total, a lookup, nothing to plot)."""
    if answer.error or not answer.rows:
        return None
    chooser = CHOOSERS.get(_family(answer))
    if chooser is None or value_key(answer) is None:
        return None
    return chooser(answer)


def has_chart(answer: Answer) -> bool:
    return chart_kind(answer) is not None


def no_chart_reason(answer: Answer) -> str | None:
    """Why the answer has no chart, in words for a user; None when it has one."""
    if has_chart(answer):
        return None
    if answer.error or answer.intent in ("unknown", "help"):
        return "the question was not answered with data"
    if not answer.rows or _family(answer) not in CHOOSERS:
        return "the answer has no figures to plot"
    if value_key(answer) is None:
        limit = answer.provenance.min_cell
        return f"every figure in the answer is hidden (counts under {limit})"
    return "the answer is a single figure"


# --------------------------------------------------------------------------- builders


def _bar_label(answer: Answer, row: Mapping[str, Any]) -> str:
    """A ranking's bar: the code, or the group (period, cohort, state...) it stands for;
    a per-group ranking's bar names both."""
    per = answer.params.get("per_group")
    if per and row.get("code") is not None:
        field = SERIES_FIELDS.get(str(per), str(per))
        return f"{_group_label(field, row.get(field))} · {_code_label(row, 22)}"
    if row.get("code") is not None:
        return _code_label(row)
    for field in ("name", "period", "cohort", "state", "payer", "year"):
        if row.get(field) is not None:
            return (
                _period_name(row[field]) if field == "period" else _group_label(field, row[field])
            )
    return "?"


def build_bars(answer: Answer) -> ChartSpec:
    key = str(value_key(answer))
    rows = list(answer.rows)
    if answer.params.get("per_group") and (answer.params.get("n") or 1) > 1:
        rows = [r for r in rows if r.get("rank") == 1]  # drawn: each group's first
    shown = rows[:MAX_BARS]
    points = []
    for row in shown:
        value, figure = _figure(row, key)
        points.append(
            Point(
                _bar_label(answer, row),
                value,
                figure,
                partial=partial_mark(row.get("period")),
                highlight=bool(row.get("asked")),
            )
        )
    notes = _truncated(len(rows), len(shown))
    if len(rows) < len(answer.rows) and not notes:
        notes = ["Each group's first code is drawn; the table lists the rest."]
    highlighted = any(p.highlight for p in points) and not all(p.highlight for p in points)
    return _spec(
        answer,
        BARS,
        key,
        [p.category for p in points],
        [Series("", tuple(points))],
        notes,
        highlight_label="asked about" if highlighted else "",
    )


def _grouped_from_rows(
    answer: Answer, key: str, field: str, category_of: Callable[[Mapping[str, Any]], str]
) -> ChartSpec:
    groups = _split(answer.rows, field)
    categories: list[str] = []
    for rows in groups.values():  # the first group's order, then codes only later ones list
        for row in rows:
            name = category_of(row)
            if name not in categories:
                categories.append(name)
    shown = categories[:MAX_GROUPED_CATEGORIES]
    series = []
    for name, rows in groups.items():
        cells = {category_of(r): r for r in rows}
        points = []
        for category in shown:
            cell = cells.get(category)
            if cell is None:
                points.append(Point(category, None, NOT_LISTED))
                continue
            value, figure = _figure(cell, key)
            partial = partial_mark(cell.get("period"))
            points.append(Point(category, value, figure, partial=partial))
        label = _period_name(name) if field == "period" else name
        series.append(Series(label, tuple(points)))
    return _spec(answer, GROUPED_BARS, key, shown, series, _truncated(len(categories), len(shown)))


def _two_shares(answer: Answer) -> ChartSpec:
    """OT vs PT: each code's share of OT and of PT procedures, side by side."""
    shown = list(answer.rows[:MAX_GROUPED_CATEGORIES])
    categories = [_code_label(r) for r in shown]
    series = []
    for cohort in ("ot", "pt"):
        points = []
        for row, category in zip(shown, categories, strict=True):
            value, figure = _figure(row, f"{cohort}_share_pct")
            points.append(Point(category, value, figure))
        series.append(Series(write("cohort", cohort), tuple(points)))
    return _spec(answer, GROUPED_BARS, SHARE_KEY, categories, series)


def build_grouped_bars(answer: Answer) -> ChartSpec:
    if _family(answer) == "over_represented":
        return _two_shares(answer)
    key = str(value_key(answer))
    field = str(_series_field(answer))
    if _family(answer) == "breakdown":
        by = str(answer.params.get("group_by"))
        return _grouped_from_rows(answer, key, field, lambda r: _part_label(r, by))
    return _grouped_from_rows(answer, key, field, _code_label)


def build_lines(answer: Answer) -> ChartSpec:
    key = str(value_key(answer))
    field = _series_field(answer)
    groups = _split(answer.rows, field) if field else {"": list(answer.rows)}
    categories: list[str] = []
    series = []
    for name, rows in groups.items():
        points = []
        for row in rows:
            category = _period_name(row.get("period") or row.get("year"))
            if category not in categories:
                categories.append(category)
            value, figure = _figure(row, key)
            points.append(Point(category, value, figure, partial=partial_mark(row.get("period"))))
        series.append(Series(name if len(groups) > 1 else "", tuple(points)))
    return _spec(answer, LINES, key, categories, series)


def build_state_map(answer: Answer) -> ChartSpec:
    """Shaded by the value; for 'the top code in each state', coloured by the code (one
    named series per code)."""
    key = str(value_key(answer))
    if answer.params.get("per_group") == "state":
        rows = [r for r in answer.rows if r.get("rank") == 1]
        by_code: dict[str, list[Point]] = {}
        for row in rows:
            value, figure = _figure(row, key)
            point = Point(str(row["state"]), value, figure)
            by_code.setdefault(_code_label(row), []).append(point)
        # the codes that lead most states; the rest share one grey, never a reused colour
        ranked = sorted(by_code.items(), key=lambda item: -len(item[1]))
        series = [Series(code, tuple(points)) for code, points in ranked[:MAX_SERIES]]
        rest = tuple(p for _, points in ranked[MAX_SERIES:] for p in points)
        if rest:
            series.append(Series(OTHER_CODES, rest))
        notes = [
            "Each state is coloured by its top code.",
            *_unlisted([p for s in series for p in s.points]),
        ]
        states = [p.category for s in series for p in s.points]
        return _spec(answer, STATE_MAP, key, states, series, notes)
    points = []
    for row in answer.rows:
        value, figure = _figure(row, key)
        points.append(Point(str(row["state"]), value, figure))
    states = [p.category for p in points]
    return _spec(answer, STATE_MAP, key, states, [Series("", tuple(points))], _unlisted(points))


def _unlisted(listed: Sequence[Point]) -> list[str]:
    """What the tiles cannot show: a white square is a state not in the answer; a
    territory or military code (no square on the grid) is named with its figure."""
    on_grid = [p for p in listed if p.category in STATE_TILES]
    notes = ["White: not in the answer (no procedures)."] if len(on_grid) < STATES_AND_DC else []
    off_grid = [p for p in listed if p.category not in STATE_TILES]
    if off_grid:
        notes.append(
            "Not on the map: " + ", ".join(f"{p.category} {p.figure}" for p in off_grid) + "."
        )
    return notes


def build_stacked_bar(answer: Answer) -> ChartSpec:
    """One 100% bar per group (or one in all), its parts in the first group's order."""
    key = SHARE_KEY
    by = str(answer.params.get("group_by"))
    field = _series_field(answer)
    groups: dict[str, list[Mapping[str, Any]]] = (
        _split(answer.rows, field) if field else {"": list(answer.rows)}
    )
    parts: list[str] = []
    for rows in groups.values():
        for row in rows:
            if _part_label(row, by) not in parts:
                parts.append(_part_label(row, by))
    categories = [_period_name(g) if field == "period" else g for g in groups]
    series = []
    for part in parts:
        points = []
        for category, members in zip(categories, groups.values(), strict=True):
            cell = next((r for r in members if _part_label(r, by) == part), None)
            value, figure = _figure(cell, key) if cell is not None else (None, NOT_LISTED)
            points.append(Point(category, value, figure))
        series.append(Series(part, tuple(points)))
    return _spec(answer, STACKED_BAR, key, categories, series)


def build_diverging_bars(answer: Answer) -> ChartSpec:
    key = "change_pts"
    rows = list(answer.rows[:MAX_BARS])
    categories = [_code_label(r) for r in rows]
    series = []
    for direction, name in (("up", "Share rose"), ("down", "Share fell")):
        points = []
        for row, category in zip(rows, categories, strict=True):
            if row.get("direction") == direction:
                value, figure = _figure(row, key)
                points.append(Point(category, value, figure))
        if points:
            series.append(Series(name, tuple(points)))
    return _spec(answer, DIVERGING_BARS, key, categories, series)


BUILDERS: dict[str, Callable[[Answer], ChartSpec]] = {
    BARS: build_bars,
    GROUPED_BARS: build_grouped_bars,
    LINES: build_lines,
    STATE_MAP: build_state_map,
    STACKED_BAR: build_stacked_bar,
    DIVERGING_BARS: build_diverging_bars,
}


def chart_spec(answer: Answer) -> ChartSpec:
    """What the answer's chart shows. ValueError when the answer gets no chart."""
    kind = chart_kind(answer)
    if kind is None:
        raise ValueError("the answer has no chart (a single figure, or no numbers to plot)")
    return BUILDERS[kind](answer)


# --------------------------------------------------------------------------- alt text


def _listing(points: Sequence[Point], limit: int = 12) -> str:
    items = [
        f"{p.category.split('  ')[0]} {p.figure}{f' ({p.partial})' if p.partial else ''}".strip()
        for p in points[:limit]
    ]
    more = f", and {len(points) - limit} more" if len(points) > limit else ""
    return ", ".join(items) + more


def alt_text(spec: ChartSpec) -> str:
    """What the picture shows, in words, for a screen reader (Slack's file alt text)."""
    head = f"{KIND_NOUN[spec.kind]}: {spec.title}."
    parts = [head, f"Values: {spec.value_label.lower()}."]
    for series in spec.series:
        points = series.points
        if spec.kind == LINES:
            shown = [p for p in points if p.value is not None]
            body = _listing(points)
            if len(shown) >= 2:
                body = f"from {shown[0].figure} in {shown[0].category} to {shown[-1].figure} in {shown[-1].category}"
                if shown[-1].partial:
                    body += f" ({shown[-1].partial})"
            elif not shown:
                body = "every value hidden"
        elif spec.kind == STATE_MAP and not series.name:
            ranked = sorted(
                (p for p in points if p.value is not None), key=lambda p: -(p.value or 0)
            )
            body = f"{len(points)} states; highest: {_listing(ranked, 5)}"
        else:
            body = _listing(points)
        parts.append(f"{series.name}: {body}." if series.name else f"{body[:1].upper()}{body[1:]}.")
    text = " ".join(parts)
    return text if len(text) <= MAX_ALT_TEXT else text[: MAX_ALT_TEXT - 1] + "…"


def wrap(text: str, width: int) -> str:
    """A title that wraps instead of running off the image."""
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True)) or text
