"""Answer -> text for the terminal (`toprank ask`, `toprank chat`). Pure.

Every answer prints its headline and its sentences (`summary`), then its table (the
one plain-text table of bot.columns), its notes and a context line (source, coverage);
an answer that could not be given prints its message and its error code. The SQL goes
under it only when asked for (--sql). Nothing is read back out of the answer's prose.
"""

from __future__ import annotations

import textwrap

from toprank.bot.answer_model import Answer
from toprank.bot.columns import text_table

WIDTH = 88
MAX_DESCRIPTION = 44
# Group keys whose change between rows starts a new block of a comparison.
_GROUP_KEYS = ("cohort", "period", "state", "payer", "year")


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


def table(answer: Answer) -> str:
    """The answer's rows as an aligned table; a blank line between the groups of a
    comparison (the first column's values, when they repeat)."""
    columns = answer.table.columns
    if not columns:
        return ""
    first = columns[0].key
    keys = [row.get(first) for row in answer.rows]
    grouped = first in _GROUP_KEYS and 1 < len(set(keys)) < len(keys)
    lines = text_table(
        answer.rows, columns, max_description=MAX_DESCRIPTION, rule=True, grouped=grouped
    )
    return "\n".join(lines)


def render_text(answer: Answer, *, show_sql: bool = False) -> str:
    """The answer as terminal text."""
    parts: list[str] = []
    if answer.error or answer.intent in ("unknown", "help"):
        parts.append(_wrap(answer.text))
        if answer.error:
            parts.append(f"[{answer.error}]")
    else:
        parts.append(_wrap("\n".join([answer.headline, *(s for s in answer.summary if s)])))
        if answer.has_table:
            parts.append(table(answer))
        if answer.notes:
            parts.append(_wrap("\n".join(answer.notes)))
    context = context_line(answer) if answer.rows else ""
    if context:
        parts.append(context)
    if show_sql and answer.sql:
        params = ", ".join(f"{k}={v!r}" for k, v in answer.sql_params.items())
        parts.append(f"SQL ({params}):\n{answer.sql}")
    return "\n\n".join(p for p in parts if p)
