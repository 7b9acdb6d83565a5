"""Answer -> Slack Block Kit. Pure: values in, plain dicts out (no I/O, no Slack calls).

Every message is {"text": fallback, "blocks": [...]}: the fallback is what Slack shows in
notifications and to clients that cannot draw blocks. Slack rejects a message that breaks
a Block Kit limit, so every piece of text is clipped here, before it leaves, and long
tables are split over several sections and cut with a pointer to the CSV.

User and core text is escaped before it lands in mrkdwn: an echoed "<!channel>" must not
notify a channel, and "&", "<", ">" are Slack's control characters.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from bot.answer_model import Answer, Provenance
from bot.chart_kinds import has_chart
from bot.controls import Menus, alternatives_block, refine_block
from bot.feedback import feedback_block
from intents.model import Coverage

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_MESSAGE_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
# Slack truncates the top-level text of a message at 40,000 characters; a notification
# needs far less, so the fallback is kept short.
MAX_FALLBACK_TEXT = 3000

# Table rows shown in a message; the CSV button carries the rest. The table block holds
# 100 rows (the header included) of at most 20 cells.
MAX_TABLE_ROWS = 99
MAX_TABLE_COLUMNS = 20
MAX_TABLE_CELL = 200
# A line of the monospace table. Description goes last so that, when a phone wraps a
# long line, only the description wraps and the numbers stay aligned.
MAX_TABLE_LINE = 72
MAX_TEXT_CELL = 28  # a text column other than the description
MIN_DESCRIPTION = 18  # narrower than this, the description column is dropped

# Button action ids: the listeners in bot/listeners/actions.py match on these.
ACTION_SHOW_SQL = "toprank_show_sql"
ACTION_CHART = "toprank_chart"
ACTION_CSV = "toprank_csv"
ACTION_SHARE = "toprank_share"

# Example questions for usage, help and the App Home tab: each is a form the parser takes.
EXAMPLE_QUESTIONS: tuple[str, ...] = (
    "top rehab codes in 2023",
    "what share of OT procedures was 97530 in 2022?",
    "compare ot and pt 2022",
    "trend of 97112 in rehab",
    "how do OT and PT differ?",
    "what is 97140?",
    "top 5 PT codes in Florida 2021",
    "what data do you have?",
)
EXAMPLE_SLASH_COMMANDS: tuple[str, ...] = (
    "/toprank ot 2022",
    "/toprank rehab 2023 15",
    "/toprank PT 2021 FL",
    "/toprank compare ot pt 2022",
    "/toprank trend 97112 rehab",
    "/toprank 97530",
    "/toprank help",
)

DIGEST_HELP = (
    "*Digests:* `/toprank subscribe weekly top rehab codes last month at 08:30` posts that "
    "answer in the channel every Monday (also `daily`, `monthly`); `/toprank subscriptions` "
    "lists them, `/toprank unsubscribe N` stops one."
)

# What the bot answers, for help and the App Home tab.
CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("Top codes", "the most billed CPT codes of a cohort in a period, with shares"),
    ("Share of a code", "one code's share and rank within a cohort"),
    ("Compare", "cohorts side by side, or two periods, states or payers"),
    ("Trend", "a code's share (or a cohort's volume) year by year"),
    ("Lookups", "what a code means, or which code matches some words"),
    ("The 97010-97799 range", "the rehab code range and its sub-groups"),
    ("OT vs PT", "how the professions differ, with the codes each bills most"),
    ("Coverage", "which data is loaded and the period it covers"),
)

# Friendly labels for known row keys; other keys get a label made from the key.
COLUMN_LABELS: Mapping[str, str] = {
    "rank": "#",
    "code": "Code",
    "cohort": "Cohort",
    "year": "Year",
    "period": "Period",
    "state": "State",
    "payer": "Payer",
    "share_pct": "Share",
    "procedures": "Procedures",
    "ratio": "Ratio",
    "description": "Description",
}
# The chat table's columns per intent, in order (those the rows carry with a value);
# the CSV has every column. Other intents show every simple column.
RANKED = ("rank", "code", "share_pct", "procedures", "description")
COLUMNS_BY_INTENT: Mapping[str, tuple[str, ...]] = {
    "top_codes": RANKED,
    "code_share": RANKED,
    "compare": ("cohort", "period", "state", "payer", *RANKED),
    "trend": ("period", "rank", "share_pct", "procedures"),
    "ot_vs_pt": ("code", "ot_share_pct", "pt_share_pct", "ratio", "description"),
    "code_lookup": ("code", "description", "category_name", "timed"),
    "code_range": ("code", "name", "first", "last", "codes", "description", "timed"),
    "coverage": ("name", "kind", "first_date", "last_date", "rows_loaded"),
}
# Columns shown first, in this order, when an intent has no list above; description last.
LEADING_COLUMNS = ("cohort", "period", "year", "state", "payer", "rank", "code")
# Internal to the SQL or repeated on every row: in the CSV, not in the chat table.
HIDDEN_COLUMNS = frozenset({"cohort_procedures", "months", "asked", "suppressed"})
# A row with asked=True (code_share: the code the question was about) gets this mark.
ASKED_MARK = "▶"
COHORT_TOKENS = frozenset({"ot", "pt", "slp", "pmr", "chiro"})

SHARE_SUFFIX = "_pct"


# --------------------------------------------------------------------------- text helpers


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so user text shows as typed and pings nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _code_safe(text: str) -> str:
    """Text for inside a ``` block: escaped, and unable to close the block early."""
    return escape_mrkdwn(text).replace("```", "'''")


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text or " ", limit), "emoji": True}


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text or " ", limit)}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(text, MAX_HEADER_TEXT)}


def context(*texts: str) -> dict[str, Any]:
    elements = [_mrkdwn(t, MAX_CONTEXT_TEXT) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [_mrkdwn(" ")]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    return element


def text_sections(text: str, limit: int = MAX_SECTION_TEXT) -> list[dict[str, Any]]:
    """Already-escaped mrkdwn split at paragraph/line boundaries into sections <= limit."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single line longer than a section: hard split
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [section(c) for c in chunks if c.strip()]


# --------------------------------------------------------------------------- formatting


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def format_cell(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith(SHARE_SUFFIX):
        return f"{float(value):.1f}%" if _is_number(value) else str(value)
    if key == "ratio":
        return f"×{float(value):.2f}" if _is_number(value) else str(value)
    if _is_number(value):
        if isinstance(value, numbers.Integral) or float(value).is_integer():
            return f"{int(value):,}" if key != "year" else str(int(value))
        return f"{float(value):,.2f}"
    text = " ".join(str(value).split())
    if key == "cohort" and text in COHORT_TOKENS:
        return text.upper()
    # Only the description (last column) may be long; other text cells are kept short.
    return text if key == "description" else clip(text, MAX_TEXT_CELL)


def column_label(key: str) -> str:
    if key in COLUMN_LABELS:
        return COLUMN_LABELS[key]
    words = key.removesuffix(SHARE_SUFFIX).split("_")
    if key.endswith(SHARE_SUFFIX) and "share" not in words:
        words.append("share")
    words = [w.upper() if w in COHORT_TOKENS else w for w in words]
    label = " ".join(words)
    return label[:1].upper() + label[1:]


def table_columns(rows: Sequence[Mapping[str, Any]], intent: str | None = None) -> list[str]:
    """The columns to show, in display order, from the keys the rows carry with a value."""
    present: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key in present or key in HIDDEN_COLUMNS or value is None:
                continue
            if isinstance(value, (dict, list, tuple, bool)):
                continue
            present.append(key)
    preferred = COLUMNS_BY_INTENT.get(intent or "")
    if preferred:
        return [k for k in preferred if k in present]
    leading = [k for k in LEADING_COLUMNS if k in present]
    middle = [k for k in present if k not in LEADING_COLUMNS and k != "description"]
    trailing = ["description"] if "description" in present else []
    return leading + middle + trailing


def _right_aligned(key: str, rows: Sequence[Mapping[str, Any]]) -> bool:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    return (
        key not in ("code", "year")
        and bool(values)
        and all(_is_number(v) or (isinstance(v, str) and v.startswith("<")) for v in values)
    )


def table_lines(rows: Sequence[Mapping[str, Any]], intent: str | None = None) -> list[str]:
    """A monospace table (header line + one line per row), each line <= MAX_TABLE_LINE."""
    columns = table_columns(rows, intent)
    if not rows or not columns:
        return []
    cells = [[format_cell(k, row.get(k)) for k in columns] for row in rows]
    if "rank" in columns:  # mark the asked code's row
        at = columns.index("rank")
        for cell, row in zip(cells, rows, strict=True):
            cell[at] = (ASKED_MARK if row.get("asked") else "") + cell[at]
    labels = [column_label(k) for k in columns]
    widths = [max(len(labels[i]), *(len(c[i]) for c in cells)) for i in range(len(columns))]
    if columns[-1] == "description" and len(columns) > 1:
        room = MAX_TABLE_LINE - sum(w + 2 for w in widths[:-1])
        if room < MIN_DESCRIPTION:  # a stub of a description helps nobody: leave it out
            columns, labels, widths = columns[:-1], labels[:-1], widths[:-1]
            cells = [c[:-1] for c in cells]
    aligns = [_right_aligned(k, rows) for k in columns]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            last = i == len(values) - 1
            if last and columns[i] == "description":
                parts.append(value)  # no padding: clipped below instead
            else:
                parts.append(value.rjust(widths[i]) if aligns[i] else value.ljust(widths[i]))
        return clip("  ".join(parts).rstrip(), MAX_TABLE_LINE)

    return [line(labels)] + [line(c) for c in cells]


def table_blocks(
    rows: Sequence[Mapping[str, Any]],
    intent: str | None = None,
    *,
    max_rows: int = MAX_TABLE_ROWS,
    max_blocks: int = 4,
) -> tuple[list[dict[str, Any]], int]:
    """Sections of ``` tables, each within the section limit. Returns (blocks, rows left out)."""
    shown = list(rows[:max_rows])
    # Escaped before measuring: "&" grows to "&amp;" and the limit counts what is sent.
    lines = [_code_safe(line) for line in table_lines(shown, intent)]
    if not lines:
        return [], 0
    head, body = lines[0], lines[1:]
    budget = MAX_SECTION_TEXT - len("```\n\n```") - len(head) - 1
    blocks: list[dict[str, Any]] = []
    chunk: list[str] = []
    used = 0
    rows_in_blocks = 0
    for row_line in body:
        if chunk and used + len(row_line) + 1 > budget:
            if len(blocks) + 1 >= max_blocks:
                break
            blocks.append(_code_block(head, chunk))
            rows_in_blocks += len(chunk)
            chunk, used = [], 0
        chunk.append(row_line)
        used += len(row_line) + 1
    if chunk and len(blocks) < max_blocks:
        blocks.append(_code_block(head, chunk))
        rows_in_blocks += len(chunk)
    return blocks, len(rows) - rows_in_blocks


# "<!channel>", "<@U123>", "<#C123>": Slack's markup, never let through in plain text
_SLACK_MARKUP = re.compile(r"<(?=[!@#])")


def native_table(
    rows: Sequence[Mapping[str, Any]], intent: str | None = None, *, max_rows: int = MAX_TABLE_ROWS
) -> tuple[dict[str, Any] | None, int]:
    """Slack's table block: a header row, then up to `max_rows` rows; numbers right-aligned.
    Returns (block, rows shown)."""
    shown = list(rows[:max_rows])
    columns = table_columns(shown, intent)[:MAX_TABLE_COLUMNS]
    if not shown or not columns:
        return None, 0

    def cell(text: str) -> dict[str, Any]:
        # plain text, shown as is ("<11" stays "<11"); Slack's own markup cannot ping
        safe = _SLACK_MARKUP.sub("‹", text)
        return {"type": "raw_text", "text": clip(safe, MAX_TABLE_CELL) or " "}

    body = []
    for row in shown:
        cells = [format_cell(k, row.get(k)) for k in columns]
        if "rank" in columns and row.get("asked"):
            cells[columns.index("rank")] = ASKED_MARK + cells[columns.index("rank")]
        body.append([cell(c) for c in cells])
    settings = [
        {"align": "right"} if _right_aligned(k, shown) else {"is_wrapped": k == "description"}
        for k in columns
    ]
    block = {
        "type": "table",
        "rows": [[cell(column_label(k)) for k in columns], *body],
        "column_settings": settings,
    }
    return block, len(shown)


def _code_block(head: str, lines: Sequence[str]) -> dict[str, Any]:
    body = "\n".join([head, *lines])
    return section(f"```\n{body}\n```")


# --------------------------------------------------------------------------- answer parts


def _cohort_name(cohort: str, names: Mapping[str, str]) -> str:
    return names.get(cohort, cohort)


def resolved_line(answer: Answer, cohort_names: Mapping[str, str] | None = None) -> str:
    """What the question resolved to: asked text, cohort, period covered and filters."""
    names = cohort_names or {}
    p = answer.params or {}
    parts = [f"*Asked:* {escape_mrkdwn(clip(answer.question.strip(), 300))}"]
    cohorts = list(p.get("cohorts") or [])
    if len(cohorts) > 1:
        join = " + " if p.get("cohort_mode") == "union" else " vs "
        parts.append("*Cohorts:* " + join.join(_cohort_name(c, names) for c in cohorts))
    elif p.get("cohort") or cohorts:
        parts.append(f"*Cohort:* {_cohort_name(p.get('cohort') or cohorts[0], names)}")
    period = answer.period_label or (
        f"{p['start']} to {p['end']}" if p.get("start") and p.get("end") else None
    )
    if period:
        parts.append(f"*Period:* {escape_mrkdwn(str(period))}")
    for key, label in (("code", "Code"), ("state", "State"), ("payer", "Payer"), ("n", "Top")):
        if p.get(key) not in (None, "", ()):
            parts.append(f"*{label}:* {escape_mrkdwn(str(p[key]))}")
    excluded = [v for values in (p.get("exclude") or {}).values() for v in values]
    if excluded:
        parts.append("*Excluding:* " + escape_mrkdwn(", ".join(map(str, excluded))))
    if p.get("measure") not in (None, "procedures"):
        parts.append(f"*Counting:* {'visits' if p['measure'] == 'claims' else p['measure']}")
    return "  ·  ".join(parts)


def provenance_line(provenance: Provenance) -> str:
    """The context line: where the numbers come from and how much data stands behind them."""
    parts = []
    if provenance.sources:
        parts.append("Source: " + escape_mrkdwn(", ".join(provenance.sources)))
    if provenance.coverage_start and provenance.coverage_end:
        parts.append(f"Data {provenance.coverage_start} to {provenance.coverage_end}")
    if provenance.claim_lines:
        parts.append(f"{provenance.claim_lines:,} claim lines")
    if provenance.procedures:
        parts.append(f"{provenance.procedures:,} procedures")
    return "  ·  ".join(parts)


def answer_title(answer: Answer) -> str:
    if answer.title:
        return answer.title
    first = (answer.text or "").strip().split("\n", 1)[0]
    return first or "toprank"


def action_buttons(
    answer: Answer, *, shareable: bool, value: str | None = None
) -> dict[str, Any] | None:
    """Buttons carry only the question (or "@<answer id>" for an answer kept in the state
    store: a follow-up or a refined answer): re-asking is deterministic, and no SQL or
    data ever travels through Slack in a button."""
    question = (value if value is not None else answer.question).strip()
    if answer.error or answer.intent in ("unknown", "help") or not question:
        return None
    if len(question) > MAX_BUTTON_VALUE:
        return None
    elements = []
    if answer.sql:
        elements.append(button("Show SQL", ACTION_SHOW_SQL, question))
    if has_chart(answer):  # a single total or a lookup has no picture to offer
        elements.append(button("Chart", ACTION_CHART, question))
    if answer.rows:
        elements.append(button("CSV", ACTION_CSV, question))
    if shareable:
        elements.append(button("Share in channel", ACTION_SHARE, question, style="primary"))
    return {"type": "actions", "elements": elements} if elements else None


def fallback_text(answer: Answer) -> str:
    """The notification text: the title, and the table in monospace (what clients that
    cannot draw a table block show), or the first line."""
    title = answer_title(answer)
    lines = table_lines(answer.rows[:MAX_TABLE_ROWS], answer.intent) if shows_table(answer) else []
    if lines and not (answer.error or answer.intent == "unknown"):
        body = "\n".join(_code_safe(line) for line in lines)
        head = escape_mrkdwn(clip(title, 300))
        room = MAX_FALLBACK_TEXT - len(head) - len("\n```\n\n```")
        if len(body) > room:
            body = body[:room].rsplit("\n", 1)[0]
        return f"{head}\n```\n{body}\n```"
    if answer.error or answer.intent == "unknown" or not answer.rows:
        first = (answer.text or "").strip().split("\n", 1)[0]
        text = first if first and first != title else title
        return escape_mrkdwn(clip(text, MAX_FALLBACK_TEXT))
    top: list[str] = []
    for row in answer.rows[:3]:
        code = row.get("code")
        share = row.get("share_pct")
        if code is None:
            continue
        item = f"{row.get('rank', len(top) + 1)}. {code}"
        if row.get("description"):
            item += f" {row['description']}"
        if _is_number(share):
            item += f" {float(share):.1f}%"
        top.append(item)
    text = f"{title}: " + "; ".join(top) if top else title
    return escape_mrkdwn(clip(text, MAX_FALLBACK_TEXT))


def _suggestion_lines(suggestions: Iterable[str]) -> str:
    return "\n".join(f"•  `{_code_safe(clip(s, 200))}`" for s in suggestions)


# --------------------------------------------------------------------------- messages


# Lines of the core's plain-text answer that restate table rows: "1. 97110 ...",
# "2022: 34.0% ...", "Occupational therapy: 1. 97110 ...", or a row's code followed by
# its description. The table shows those, so the blocks keep the sentences around them.
_ROW_LINE = re.compile(r"^\s*(?:\d+\.\s|\d{4}\b[^:]{0,20}:\s|[^:]{1,60}:\s*\d+\.\s\S+\s)")


def summary_text(answer: Answer) -> str:
    """The answer in sentences: a data answer carries them (`summary`); for the others,
    the text without its title line and without lines the table restates."""
    if answer.summary or answer.shape and ":" in answer.shape:
        return "\n".join(answer.summary)
    lines = (answer.text or "").strip().split("\n")
    if lines and lines[0].strip() == answer_title(answer).strip():
        lines = lines[1:]
    notes = {note.strip() for note in answer.notes}
    lines = [line for line in lines if line.strip() not in notes]  # shown under the table
    if answer.rows:
        restated = tuple(
            f"{row['code']} {row['description']}"
            for row in answer.rows
            if row.get("code") and row.get("description")
        )
        lines = [
            line
            for line in lines
            if not _ROW_LINE.match(line) and not line.strip().startswith(restated or ("\0",))
        ]
    return "\n".join(lines).strip()


def shows_table(answer: Answer) -> bool:
    """A single code lookup says everything in its text; other answers show their rows."""
    return bool(answer.rows) and not (answer.intent == "code_lookup" and len(answer.rows) == 1)


def answer_blocks(
    answer: Answer,
    *,
    shareable: bool = False,
    shared_by: str | None = None,
    cohort_names: Mapping[str, str] | None = None,
    menus: Menus | None = None,
    changed: str | None = None,
    button_value: str | None = None,
    feedback: str | None = None,
    lead: str | None = None,
) -> list[dict[str, Any]]:
    """The blocks of one answer, within MAX_MESSAGE_BLOCKS and every text limit.

    Header (title), what changed (a refined answer), what the question resolved to, the
    summary sentences, the table, notes, "did you mean" buttons, the source, the refine
    menus, the buttons, then the thumbs up / down (`feedback`: the answer's log id).
    `lead` is a line above it all (a digest's name and schedule).
    """
    if answer.intent == "unknown" or answer.error or answer.intent == "help":
        problem = answer.intent == "unknown" or bool(answer.error)
        body = problem_blocks(answer) if problem else help_blocks(answer)
        return ([context(lead)] if lead else []) + body[: MAX_MESSAGE_BLOCKS - 1]

    blocks: list[dict[str, Any]] = [context(lead)] if lead else []
    blocks.append(header(answer_title(answer)))
    if changed:
        blocks.append(context(f"*{escape_mrkdwn(changed)}*"))
    if shared_by:
        blocks.append(context(f"Shared by <@{escape_mrkdwn(shared_by)}>"))
    blocks.append(context(resolved_line(answer, cohort_names)))
    blocks.extend(text_sections(escape_mrkdwn(summary_text(answer)))[:10])

    tail: list[dict[str, Any]] = []
    alternatives = alternatives_block(answer)
    if alternatives:
        tail.append(alternatives)
    provenance = provenance_line(answer.provenance)
    if provenance:
        tail.append(context(provenance))
    if menus is not None:
        tail.append(refine_block(menus))
    actions = action_buttons(answer, shareable=shareable, value=button_value)
    if actions:
        tail.append(actions)
    if feedback:
        tail.append(feedback_block(feedback))

    if shows_table(answer):
        table, shown = native_table(answer.rows, answer.intent)
        if table is not None:
            blocks.append(table)
            if shown < len(answer.rows):
                blocks.append(
                    context(f"Showing {shown:,} of {len(answer.rows):,} rows; *CSV* has them all.")
                )
    if answer.notes:
        notes = [escape_mrkdwn(note) for note in answer.notes]
        for k in range(0, len(notes), MAX_CONTEXT_ELEMENTS):
            blocks.append(context(*notes[k : k + MAX_CONTEXT_ELEMENTS]))
    return (blocks[: MAX_MESSAGE_BLOCKS - len(tail)] + tail)[:MAX_MESSAGE_BLOCKS]


def problem_blocks(answer: Answer) -> list[dict[str, Any]]:
    """Unknown questions and understood-but-unanswerable ones: what happened and what to try."""
    icon = ":thinking_face:" if answer.intent == "unknown" else ":warning:"
    suggestions = tuple(answer.suggestions) or EXAMPLE_QUESTIONS[:4]
    # The core's text may end with its own "Try: a; b" line: the list below replaces it.
    lines = [
        line for line in (answer.text or "").strip().split("\n") if not line.startswith("Try:")
    ]
    text = "\n".join(lines).strip() or "I couldn't answer that."
    blocks = [section(f"{icon} {escape_mrkdwn(clip(text, MAX_SECTION_TEXT - 40))}")]
    blocks.append(section("*Try one of these:*\n" + _suggestion_lines(suggestions[:8])))
    blocks.append(context("Ask `/toprank help` for everything I can answer."))
    provenance = provenance_line(answer.provenance)
    if provenance and answer.intent != "unknown":
        blocks.append(context(provenance))
    return blocks


def help_blocks(answer: Answer | None = None) -> list[dict[str, Any]]:
    """Usage: the core's help text (what it answers, examples), then the ways to ask."""
    title = answer.title if answer and answer.title else "How to ask toprank"
    blocks: list[dict[str, Any]] = [header(title)]
    intro = (answer.text or "").strip() if answer else ""
    if intro:
        blocks.extend(text_sections(escape_mrkdwn(intro))[:8])
    else:
        blocks.append(section("*What I answer*\n" + _capability_lines()))
        blocks.append(section("*Examples*\n" + _suggestion_lines(EXAMPLE_QUESTIONS)))
    blocks.append(
        section(
            "*Slash command* (the answer is only for you, with a button to share it)\n"
            + _suggestion_lines(EXAMPLE_SLASH_COMMANDS)
        )
    )
    blocks.append(
        context("Or mention me in a channel (I answer in the thread), or send me a direct message.")
    )
    blocks.append(context(DIGEST_HELP))
    if answer:
        provenance = provenance_line(answer.provenance)
        if provenance:
            blocks.append(context(provenance))
    return blocks[:MAX_MESSAGE_BLOCKS]


def _capability_lines() -> str:
    return "\n".join(f"•  *{name}*: {what}" for name, what in CAPABILITIES)


def answer_message(
    answer: Answer,
    *,
    shareable: bool = False,
    shared_by: str | None = None,
    cohort_names: Mapping[str, str] | None = None,
    menus: Menus | None = None,
    changed: str | None = None,
    button_value: str | None = None,
    feedback: str | None = None,
    lead: str | None = None,
) -> dict[str, Any]:
    """{"text", "blocks"} ready for chat.postMessage, respond() or say(). `lead` is a
    line above the answer (a digest's name and schedule)."""
    blocks = answer_blocks(
        answer,
        shareable=shareable,
        shared_by=shared_by,
        cohort_names=cohort_names,
        menus=menus,
        changed=changed,
        button_value=button_value,
        feedback=feedback,
        lead=lead,
    )
    text = fallback_text(answer)
    if lead:
        text = clip(f"{lead}\n{text}", MAX_FALLBACK_TEXT)
    return {"text": text, "blocks": blocks}


def sql_message(answer: Answer) -> dict[str, Any]:
    """The exact SQL template that ran and the values bound to its parameters."""
    if not answer.sql:
        return {
            "text": "That answer did not run a query.",
            "blocks": [section("That answer did not run a query (it comes from reference data).")],
        }
    title = f"SQL for: {clip(answer.question.strip(), 200)}"
    blocks: list[dict[str, Any]] = [context(escape_mrkdwn(title))]
    sql_lines = answer.sql.strip().split("\n")
    limit = MAX_SECTION_TEXT - len("```\n\n```")
    chunk: list[str] = []
    for sql_line in sql_lines:
        sql_line = _code_safe(sql_line)
        if chunk and len("\n".join([*chunk, sql_line])) > limit:
            blocks.append(section("```\n" + "\n".join(chunk) + "\n```"))
            chunk = []
        chunk.append(clip(sql_line, limit))
    if chunk:
        blocks.append(section("```\n" + "\n".join(chunk) + "\n```"))
    params = "\n".join(f"${k} = {_sql_literal(v)}" for k, v in answer.sql_params.items())
    if params:
        blocks.append(section("*Parameters* (bound, never spliced into the SQL)"))
        blocks.append(section(clip("```\n" + _code_safe(params), limit) + "\n```"))
    blocks = blocks[: MAX_MESSAGE_BLOCKS - 1]
    blocks.append(context("Run it in DuckDB against the database `toprank data info` shows."))
    return {"text": escape_mrkdwn(clip(title, MAX_FALLBACK_TEXT)), "blocks": blocks}


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_sql_literal(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return f"DATE '{value.isoformat()}'"
    return str(value)


def notice_message(text: str) -> dict[str, Any]:
    """A one-line message (already mrkdwn-safe text)."""
    return {"text": text, "blocks": [section(text)]}


def failure_message() -> dict[str, Any]:
    """What a user sees when something broke inside the bot: no details, a way forward."""
    text = (
        ":warning: Sorry, something went wrong on my side while answering that. "
        "It has been logged. Please try again, or try a different question."
    )
    return {
        "text": "Sorry, something went wrong on my side while answering that.",
        "blocks": [
            section(text),
            section("*Try one of these:*\n" + _suggestion_lines(EXAMPLE_QUESTIONS[:4])),
        ],
    }


# --------------------------------------------------------------------------- App Home


def home_view(coverage: Coverage | None) -> dict[str, Any]:
    """The App Home tab: what the bot answers, examples, and the data behind it."""
    blocks: list[dict[str, Any]] = [
        header("toprank"),
        section(
            "Ranked, sourced answers about claims data: the top CPT codes of a cohort "
            "(OT, PT, rehab, SLP, PM&amp;R, chiropractic or all) in a period, with shares, "
            "the period actually covered and the exact SQL on demand."
        ),
        divider(),
        section("*What I answer*\n" + _capability_lines()),
        section("*Slash command*\n" + _suggestion_lines(EXAMPLE_SLASH_COMMANDS)),
        section(
            "*In words:* mention me in a channel (I reply in the thread) or message me "
            "in the *Messages* tab\n" + _suggestion_lines(EXAMPLE_QUESTIONS)
        ),
        divider(),
        section("*Data coverage*\n" + coverage_text(coverage)),
        context(
            "Every answer comes from a templated, validated SQL query: the same question "
            "always gets the same answer. Counts under 11 are shown as &lt;11."
        ),
    ]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def coverage_text(coverage: Coverage | None) -> str:
    if coverage is None:
        return "No data is loaded yet. Run `toprank data demo` or ingest claim files."
    lines = [f"•  Service dates {coverage.start.isoformat()} to {coverage.end.isoformat()}"]
    if coverage.sources:
        lines.append("•  Sources: " + escape_mrkdwn(", ".join(coverage.sources)))
    if coverage.claim_lines:
        lines.append(f"•  {coverage.claim_lines:,} claim lines")
    if coverage.procedures:
        lines.append(f"•  {coverage.procedures:,} procedures")
    return "\n".join(lines)
