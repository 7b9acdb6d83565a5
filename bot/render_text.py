"""Answer -> text for the terminal (`toprank ask`, `toprank chat`). Pure.

Tabular answers print the headline, an aligned table, the notes and a context line
(source, coverage); knowledge answers print their text wrapped. The SQL goes under
it only when asked for (--sql).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from bot.answer_model import MONEY_KEYS, Answer

WIDTH = 88
MAX_DESCRIPTION = 44

# (row key, column header, align) per tabular intent; group keys are added in front.
_OT_VS_PT = (
    ("code", "Code", "<"),
    ("description", "Description", "<"),
    ("ot_share_pct", "OT share", ">"),
    ("pt_share_pct", "PT share", ">"),
    ("ratio_label", "Ratio", ">"),
)
_SUBGROUPS = (
    ("name", "Sub-group", "<"),
    ("range", "Codes", "<"),
    ("codes", "In dictionary", ">"),
)
_CODES = (
    ("code", "Code", "<"),
    ("description", "Description", "<"),
    ("timed", "Timed", "<"),
)
_SOURCES = (
    ("name", "Source", "<"),
    ("kind", "Kind", "<"),
    ("first_date", "From", "<"),
    ("last_date", "To", "<"),
    ("rows_loaded", "Rows", ">"),
    ("rows_rejected", "Rejected", ">"),
)
# Data answers: the columns their rows may carry, in display order, with headers.
_DATA = (
    ("cohort", "Cohort", "<"),
    ("period", "Period", "<"),
    ("state", "State", "<"),
    ("payer", "Payer", "<"),
    ("place_of_service", "Place", "<"),
    ("name", "Name", "<"),
    ("part", "Part", "<"),
    ("codes", "Codes", "<"),
    ("direction", "Direction", "<"),
    ("rank", "Rank", ">"),
    ("code", "Code", "<"),
    ("share_before_pct", "Share before", ">"),
    ("share_pct", "Share", ">"),
    ("change_pts", "Change (pts)", ">"),
    ("procedures_before", "Procedures before", ">"),
    ("procedures", "Procedures", ">"),
    ("units_before", "Units before", ">"),
    ("units", "Units", ">"),
    ("claims_before", "Visits before", ">"),
    ("claims", "Visits", ">"),
    ("payments", "Payments", ">"),
    ("avg_payments", "Avg payment", ">"),
    ("allowed", "Allowed", ">"),
    ("avg_allowed", "Avg allowed", ">"),
    ("charges", "Charges", ">"),
    ("avg_charges", "Avg charge", ">"),
    ("beneficiaries", "Beneficiaries", ">"),
    ("description", "Description", "<"),
)
_DATA_INTENTS = frozenset(
    {"top_codes", "code_share", "compare", "trend", "total", "breakdown", "movers"}
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_pct"):
        return f"{float(value):.1f}%"
    if key == "change_pts":
        return f"{float(value):+.2f}"
    if key == "ratio":
        return f"{float(value):.1f}x"
    if key in MONEY_KEYS and isinstance(value, (int, float)):
        return f"${float(value):,.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and key not in ("rank", "year"):
        return f"{value:,}"
    if key == "cohort":
        return str(value).upper() if len(str(value)) <= 5 else str(value)
    if key == "description":
        text = str(value)
        return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
    return str(value)


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str, str]],
    *,
    grouped: bool = False,
) -> str:
    """An aligned plain-text table; with `grouped`, a blank line between the groups of
    a comparison (the first column)."""
    cells = [[_cell(key, row.get(key)) for key, _, _ in columns] for row in rows]
    widths = [
        max([len(header), *(len(r[i]) for r in cells)]) for i, (_, header, _) in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            f"{v:{align}{w}}" for v, w, (_, _, align) in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line([h for _, h, _ in columns]), line(["-" * w for w in widths])]
    group_key = columns[0][0] if grouped else None
    previous = None
    for row, values in zip(rows, cells, strict=True):
        if group_key and previous is not None and row.get(group_key) != previous:
            out.append("")
        previous = row.get(group_key) if group_key else None
        out.append(line(values))
    return "\n".join(out)


def data_columns(rows: tuple[dict[str, Any], ...]) -> tuple[tuple[str, str, str], ...]:
    """The columns of a data answer: those its rows carry with a value, in one order."""
    present = {k for row in rows for k, v in row.items() if v is not None}
    if "period" in present:
        present -= {"year", "quarter", "month"}
    columns = tuple(c for c in _DATA if c[0] in present)
    for key in ("year", "quarter", "month"):
        if key in present:
            columns = ((key, key.capitalize(), "<"), *columns)
    return columns


def _columns(answer: Answer) -> tuple[tuple[str, str, str], ...] | None:
    rows = answer.rows
    if not rows:
        return None
    first = rows[0]
    if answer.intent in _DATA_INTENTS:
        return data_columns(rows)
    if answer.intent == "ot_vs_pt":
        return _OT_VS_PT
    if answer.intent == "code_range":
        return _SUBGROUPS if "first" in first else _CODES
    if answer.intent == "coverage":
        return _SOURCES
    return None


def _wrap(text: str) -> str:
    paragraphs = []
    for block in text.split("\n"):
        if not block.strip() or block.startswith(("  ", "•")):
            paragraphs.append(block)
        else:
            paragraphs.append(textwrap.fill(block, WIDTH))
    return "\n".join(paragraphs)


def context_line(answer: Answer) -> str:
    p = answer.provenance
    if not p.coverage_start:
        return ""
    sources = ", ".join(p.sources) or "unknown source"
    return (
        f"Source: {sources} · data {p.coverage_start} to {p.coverage_end} · "
        f"{p.claim_lines:,} claim lines"
    )


def _prepared_rows(answer: Answer) -> list[dict[str, Any]]:
    if answer.intent == "ot_vs_pt":
        return [
            {
                **row,
                "ratio_label": f"only {str(row.get('over_represented_in', '')).upper()}"
                if row.get("ratio") is None
                else f"{float(row['ratio']):.1f}x",
            }
            for row in answer.rows
        ]
    if answer.intent == "code_range":
        return [
            {
                **row,
                "range": row["first"]
                if row["first"] == row["last"]
                else f"{row['first']}-{row['last']}",
            }
            if "first" in row
            else row
            for row in answer.rows
        ]
    return list(answer.rows)


def render_text(answer: Answer, *, show_sql: bool = False) -> str:
    """The answer as terminal text."""
    columns = _columns(answer)
    parts: list[str] = []
    if answer.error or columns is None:
        parts.append(_wrap(answer.text))
        if answer.error:
            parts.append(f"[{answer.error}]")
    else:
        if answer.intent == "ot_vs_pt":
            # Knowledge first; its last paragraph lists the rows, which the table shows.
            *knowledge, data = answer.text.split("\n\n")
            parts.append(_wrap("\n\n".join(knowledge) if knowledge else data))
            parts.append(data.split("\n")[0] if knowledge else "")
        elif answer.intent in ("code_range", "coverage"):
            # Indented lines repeat the rows; the table shows them instead.
            kept = [ln for ln in answer.text.split("\n") if not ln.startswith("  ")]
            parts.append(_wrap("\n".join(kept)))
        else:
            parts.append(
                _wrap("\n".join([answer.title or answer.text.split("\n")[0], *answer.summary]))
            )
        first_key = columns[0][0] if columns else ""
        keys = [r.get(first_key) for r in answer.rows]
        grouped = first_key in ("cohort", "period", "state", "payer", "year") and (
            1 < len(set(keys)) < len(keys)
        )
        parts.append(table(_prepared_rows(answer), columns, grouped=grouped))
        if answer.notes and answer.intent not in ("code_range", "coverage"):
            parts.append(_wrap("\n".join(answer.notes)))
    context = context_line(answer) if answer.rows else ""
    if context:
        parts.append(context)
    if show_sql and answer.sql:
        params = ", ".join(f"{k}={v!r}" for k, v in answer.sql_params.items())
        parts.append(f"SQL ({params}):\n{answer.sql}")
    return "\n\n".join(p for p in parts if p)
