"""Answer -> Slack Block Kit. Pure: values in, plain dicts out (no I/O, no Slack calls).

Every message is {"text": fallback, "blocks": [...]}: the fallback is what Slack shows in
notifications and to clients that cannot draw blocks. Slack rejects a message that breaks
a Block Kit limit, so every piece of text is clipped here, before it leaves, and long
tables are split over several sections and cut with a pointer to the CSV.

User and core text is escaped before it lands in mrkdwn: an echoed "<!channel>" must not
notify a channel, and "&", "<", ">" are Slack's control characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from toprank.bot.answer_model import Answer, Provenance
from toprank.bot.chart_kinds import has_chart
from toprank.bot.columns import Column, clip, right_aligned, text_table, write
from toprank.bot.controls import Menus, alternatives_block, refine_block
from toprank.bot.feedback import feedback_block
from toprank.bot.mrkdwn import defuse_markup, escape_mrkdwn
from toprank.bot.suppress import DEFAULT_MIN_CELL
from toprank.data.catalog import cohort_labels
from toprank.data.examples import load_examples
from toprank.intents.model import Coverage

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

# Example questions for usage, help and the App Home tab (data/examples.yaml).
EXAMPLE_QUESTIONS: tuple[str, ...] = load_examples().questions
EXAMPLE_SLASH_COMMANDS: tuple[str, ...] = load_examples().slash_commands

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

# A row with asked=True (code_share: the code the question was about) gets this mark.
ASKED_MARK = "▶"


# --------------------------------------------------------------------------- text helpers


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


def table_lines(answer: Answer, rows: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """The answer's table in monospace (header line + one line per row), each line <=
    MAX_TABLE_LINE: the one plain-text table (bot.columns), narrowed for a phone."""
    return text_table(
        answer.rows if rows is None else rows,
        answer.table.columns,
        max_line=MAX_TABLE_LINE,
        max_cell=MAX_TEXT_CELL,
        min_description=MIN_DESCRIPTION,
        mark=ASKED_MARK,
    )


def table_blocks(
    answer: Answer,
    *,
    max_rows: int = MAX_TABLE_ROWS,
    max_blocks: int = 4,
) -> tuple[list[dict[str, Any]], int]:
    """Sections of ``` tables, each within the section limit. Returns (blocks, rows left out)."""
    rows = answer.rows
    shown = list(rows[:max_rows])
    # Escaped before measuring: "&" grows to "&amp;" and the limit counts what is sent.
    lines = [_code_safe(line) for line in table_lines(answer, shown)]
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


def native_table(
    answer: Answer, *, max_rows: int = MAX_TABLE_ROWS
) -> tuple[dict[str, Any] | None, int]:
    """Slack's table block: a header row, then up to `max_rows` rows; numbers right-aligned.
    Returns (block, rows shown)."""
    shown = list(answer.rows[:max_rows])
    columns = answer.table.columns[:MAX_TABLE_COLUMNS]
    if not shown or not columns:
        return None, 0

    def cell(text: str) -> dict[str, Any]:
        # plain text, shown as is ("<11" stays "<11"); Slack's own markup cannot ping
        return {"type": "raw_text", "text": clip(defuse_markup(text), MAX_TABLE_CELL) or " "}

    def written(col: Column, row: Mapping[str, Any]) -> str:
        text = col.write(row.get(col.key))
        if col.kind == "text" and col.key != "description":
            text = clip(text, MAX_TEXT_CELL)  # only the description may be long
        return ASKED_MARK + text if col.key == "rank" and row.get("asked") else text

    body = [[cell(written(col, row)) for col in columns] for row in shown]
    settings = [
        {"align": "right"}
        if right_aligned(col, shown)
        else {"is_wrapped": col.key == "description"}
        for col in columns
    ]
    block = {
        "type": "table",
        "rows": [[cell(col.label) for col in columns], *body],
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
    return answer.headline


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
    lines = table_lines(answer, answer.rows[:MAX_TABLE_ROWS]) if answer.has_table else []
    if lines and not (answer.error or answer.intent == "unknown"):
        body = "\n".join(_code_safe(line) for line in lines)
        head = escape_mrkdwn(clip(title, 300))
        room = MAX_FALLBACK_TEXT - len(head) - len("\n```\n\n```")
        if len(body) > room:
            body = body[:room].rsplit("\n", 1)[0]
        return f"{head}\n```\n{body}\n```"
    if answer.error or answer.intent == "unknown" or not answer.rows:
        first = next((s for s in answer.summary if s), "").strip().split("\n", 1)[0]
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
        if share is not None:
            item += f" {write('share_pct', share)}"
        top.append(item)
    text = f"{title}: " + "; ".join(top) if top else title
    return escape_mrkdwn(clip(text, MAX_FALLBACK_TEXT))


def _suggestion_lines(suggestions: Iterable[str]) -> str:
    return "\n".join(f"•  `{_code_safe(clip(s, 200))}`" for s in suggestions)


# --------------------------------------------------------------------------- messages


def summary_text(answer: Answer) -> str:
    """The answer in sentences, as the answer carries them (the table shows the rows)."""
    return "\n".join(s for s in answer.summary if s).strip()


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

    if answer.has_table:
        table, shown = native_table(answer)
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
    # The suggestions are a list below, not the prose's "Try: a; b".
    text = summary_text(answer) or "I couldn't answer that."
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
    intro = summary_text(answer) if answer else ""
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


def home_view(coverage: Coverage | None, min_cell: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """The App Home tab: what the bot answers, examples, and the data behind it."""
    blocks: list[dict[str, Any]] = [
        header("toprank"),
        section(
            "Ranked, sourced answers about claims data: the top CPT codes of a cohort "
            f"({escape_mrkdwn(_cohort_list())}) in a period, with shares, "
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
            f"always gets the same answer. {small_cell_text(min_cell)}"
        ),
    ]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _cohort_list() -> str:
    """ "OT, PT, Rehab, ... or All": the cohorts of data/cohorts.yaml, by their labels."""
    labels = list(cohort_labels().values())
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)


def small_cell_text(min_cell: int) -> str:
    """What the App Home says of small counts, from the limit in force."""
    if min_cell <= 0:
        return "Every count is shown (small-cell suppression is off)."
    return escape_mrkdwn(f"Counts under {min_cell} are shown as <{min_cell}.")


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
