"""The columns an answer's rows can carry: what kind of value each holds, its header and
how a cell of it is written. Pure.

Every surface reads this one registry: the terminal table, the Slack table and its
monospace fallback, the chart's printed figures and the sentences of the answer. So a
share prints "47.6%", a ratio "1.5x" and a hidden count "<11" the same everywhere, and a
new measure (payments, allowed, charges, beneficiaries) is one entry in `COLUMNS` (and,
for a new way of writing a value, one entry in `KINDS`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from toprank.data.catalog import cohort_labels

# A cell with no value: a figure withheld (complementary suppression), a share that
# cannot be computed, a column a row does not have.
MISSING = "—"


def is_number(value: Any) -> TypeGuard[float]:
    """An int, float or Decimal (not a bool): a value a table aligns and a chart plots."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _integer(value: Any) -> str:
    return str(int(value)) if is_number(value) else _text(value)


def _count(value: Any) -> str:
    """94964 -> "94,964"; a suppressed count arrives as its mark ("<11") and stays so."""
    if not is_number(value):
        return _text(value)
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def _share(value: Any) -> str:
    return f"{float(value):.1f}%" if is_number(value) else _text(value)


def _ratio(value: Any) -> str:
    return f"{float(value):.1f}x" if is_number(value) else _text(value)


def _points(value: Any) -> str:
    return f"{float(value):+.2f}" if is_number(value) else _text(value)


def _money(value: Any) -> str:
    """Dollars, to the cent: 1234.5 -> "$1,234.50"."""
    if not is_number(value):
        return _text(value)
    sign = "-" if float(value) < 0 else ""
    return f"{sign}${abs(float(value)):,.2f}"


def _cohort(value: Any) -> str:
    """The cohort's short label from data/cohorts.yaml ("ot" -> "OT")."""
    return cohort_labels().get(str(value), _text(value))


@dataclass(frozen=True)
class Kind:
    """How values of one kind are written and aligned."""

    name: str
    write: Callable[[Any], str]
    numeric: bool  # right-aligned, and plotted by a chart


KINDS: Mapping[str, Kind] = {
    k.name: k
    for k in (
        Kind("rank", _integer, numeric=True),
        Kind("year", _integer, numeric=False),
        Kind("code", _text, numeric=False),
        Kind("text", _text, numeric=False),
        Kind("cohort", _cohort, numeric=False),
        Kind("count", _count, numeric=True),
        Kind("share", _share, numeric=True),
        Kind("ratio", _ratio, numeric=True),
        Kind("points", _points, numeric=True),
        Kind("money", _money, numeric=True),
    )
}


@dataclass(frozen=True)
class Column:
    """A row key, its header and its kind. `detail`: in the CSV and JSON, not in a chat
    table (repeated on every row, or internal to the query)."""

    key: str
    label: str
    kind: str
    detail: bool = False

    def write(self, value: Any) -> str:
        """One cell, as every surface prints it."""
        return MISSING if value is None else KINDS[self.kind].write(value)

    @property
    def numeric(self) -> bool:
        return KINDS[self.kind].numeric


# Every key an answer row may carry, in the order a table shows them (group keys, rank,
# code, figures, then the description). Money measures go with the other measures.
COLUMNS: Mapping[str, Column] = {
    c.key: c
    for c in (
        Column("year", "Year", "year"),
        Column("quarter", "Quarter", "text"),
        Column("month", "Month", "text"),
        Column("cohort", "Cohort", "cohort"),
        Column("period", "Period", "text"),
        Column("state", "State", "text"),
        Column("payer", "Payer", "text"),
        Column("place_of_service", "Place", "text"),
        Column("rank", "Rank", "rank"),
        Column("name", "Name", "text"),
        Column("part", "Part", "text"),
        Column("codes", "Codes", "text"),
        Column("direction", "Direction", "text"),
        Column("code", "Code", "code"),
        Column("category_name", "Section", "text"),
        Column("timed", "Timed", "text"),
        Column("first", "First", "code"),
        Column("last", "Last", "code"),
        Column("share_before_pct", "Share before", "share"),
        Column("share_pct", "Share", "share"),
        Column("ot_share_pct", "OT share", "share"),
        Column("pt_share_pct", "PT share", "share"),
        Column("ratio", "Ratio", "ratio"),
        Column("change_pts", "Change (pts)", "points"),
        Column("payments", "Payments", "money"),
        Column("avg_payments", "Avg payment", "money"),
        Column("allowed", "Allowed", "money"),
        Column("avg_allowed", "Avg allowed", "money"),
        Column("charges", "Charges", "money"),
        Column("avg_charges", "Avg charge", "money"),
        Column("beneficiaries", "Beneficiaries", "count"),
        Column("procedures_before", "Procedures before", "count"),
        Column("procedures", "Procedures", "count"),
        Column("units_before", "Units before", "count"),
        Column("units", "Units", "count"),
        Column("claims_before", "Visits before", "count"),
        Column("claims", "Visits", "count"),
        Column("kind", "Kind", "text"),
        Column("first_date", "From", "text"),
        Column("last_date", "To", "text"),
        Column("rows_loaded", "Rows", "count"),
        Column("rows_rejected", "Rejected", "count"),
        Column("description", "Description", "text"),
        # Detail: the CSV and the JSON carry them; a chat table does not.
        Column("cohort_rank", "Rank among all codes", "rank", detail=True),
        Column("cohort_procedures", "Cohort procedures", "count", detail=True),
        Column("months", "Months", "count", detail=True),
        Column("over_represented_in", "Over-represented in", "cohort", detail=True),
        Column("long_description", "Long description", "text", detail=True),
        Column("category", "Category", "text", detail=True),
        Column("subgroup", "Sub-group", "text", detail=True),
        Column("in_rehab_range", "In rehab range", "text", detail=True),
        Column("source_id", "Source id", "rank", detail=True),
        Column("loaded_at", "Loaded at", "text", detail=True),
        Column("rows_read", "Rows read", "count", detail=True),
    )
}
# Row flags, not values: they change how a row is drawn (the asked code is marked,
# a hidden cell is said to be hidden), never shown as a column.
FLAGS = frozenset({"asked", "suppressed", "complementary"})
# Suffixes a measure's variants carry ("payments_before"); the kind is the measure's.
_VARIANTS = {"_before": " before"}


def column(key: str) -> Column:
    """The column of a row key; a key the registry does not know is text, or a share when
    it ends in "_pct" (its label made from the key)."""
    known = COLUMNS.get(key)
    if known is not None:
        return known
    for suffix, said in _VARIANTS.items():
        base = COLUMNS.get(key.removesuffix(suffix))
        if key.endswith(suffix) and base is not None:
            return Column(key, base.label + said, base.kind, base.detail)
    kind = "share" if key.endswith("_pct") else "text"
    words = key.removesuffix("_pct").split("_")
    if kind == "share" and "share" not in words:
        words.append("share")
    labels = cohort_labels()
    label = " ".join(labels.get(w, w) if w in labels and len(w) <= 5 else w for w in words)
    return Column(key, label[:1].upper() + label[1:], kind)


def write(key: str, value: Any) -> str:
    """One cell of row key `key`, as every surface prints it."""
    return column(key).write(value)


def _order(key: str) -> int:
    keys = list(COLUMNS)
    if key in COLUMNS:
        return keys.index(key)
    return keys.index("description")  # unknown keys go just before the description


def table_columns(
    rows: Sequence[Mapping[str, Any]], preferred: Iterable[str] | None = None
) -> tuple[Column, ...]:
    """The columns a table of `rows` shows: the keys they carry with a simple value, in
    the registry's order (or `preferred`'s, when given), details and flags left out. A
    period label names its year, quarter or month already, so those go when it is there."""
    present: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if value is None or key in FLAGS or isinstance(value, (dict, list, tuple, bool)):
                continue
            present[key] = None
    if "period" in present:
        for key in ("year", "quarter", "month"):
            present.pop(key, None)
    if preferred is not None:
        keys = [k for k in preferred if k in present]
    else:
        keys = sorted(present, key=_order)
    return tuple(c for c in (column(k) for k in keys) if not c.detail)


def right_aligned(col: Column, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Numbers line up on the right; a suppressed count ("<11") is still a number."""
    values = [r.get(col.key) for r in rows if r.get(col.key) is not None]
    return (
        col.kind not in ("code", "year")
        and bool(values)
        and all(is_number(v) or (isinstance(v, str) and v.startswith("<")) for v in values)
    )


def text_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    max_line: int | None = None,
    max_cell: int | None = None,
    max_description: int | None = None,
    min_description: int = 0,
    mark: str = "",
    rule: bool = False,
    grouped: bool = False,
) -> list[str]:
    """The one plain-text table: a header line, an optional rule, one line per row.

    Every line is clipped to `max_line`: a wide description (the last column) is
    clipped to the room left, or left out when less than `min_description` characters
    would remain. Descriptions are clipped to `max_description`, other text cells to
    `max_cell`. `mark` prefixes the rank of the row the question asked about; `grouped`
    puts a blank line between the groups of a comparison (the first column's values).
    """
    cols = list(columns)
    if not rows or not cols:
        return []
    cells = []
    for row in rows:
        written = []
        for col in cols:
            text = col.write(row.get(col.key))
            if max_cell and col.kind == "text" and col.key != "description":
                text = clip(text, max_cell)
            if max_description and col.key == "description":
                text = clip(text, max_description)
            if mark and col.key == "rank" and row.get("asked"):
                text = mark + text
            written.append(text)
        cells.append(written)
    labels = [c.label for c in cols]
    widths = [max(len(labels[i]), *(len(c[i]) for c in cells)) for i in range(len(cols))]
    if max_line and cols[-1].key == "description" and len(cols) > 1:
        room = max_line - sum(w + 2 for w in widths[:-1])
        if room < min_description:  # a stub of a description helps nobody: leave it out
            cols, labels, widths = cols[:-1], labels[:-1], widths[:-1]
            cells = [c[:-1] for c in cells]
    aligns = [right_aligned(c, rows) for c in cols]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            if i == len(values) - 1 and cols[i].key == "description":
                parts.append(value)  # no padding: the line is clipped instead
            else:
                parts.append(value.rjust(widths[i]) if aligns[i] else value.ljust(widths[i]))
        text = "  ".join(parts).rstrip()
        return clip(text, max_line) if max_line else text

    out = [line(labels)]
    if rule:
        out.append(line(["-" * w for w in widths]))
    previous: Any = None
    for index, (row, values) in enumerate(zip(rows, cells, strict=True)):
        group = row.get(cols[0].key)
        if grouped and index and group != previous:
            out.append("")
        previous = group
        out.append(line(values))
    return out


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
