"""Intent + result frame -> Answer. Pure: no I/O, no SQL, no clock, no environment.

Everything an answer needs arrives as arguments (catalog, coverage, knowledge, the
Query that ran and its frame), so every branch here is testable with small frames.
The contract is DESIGN.md's: params, ranked rows {rank, code, description, share_pct,
procedures}, text (headline first), sql and a short error code with empty rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from bot.answer_model import Answer, Provenance
from bot.knowledge import Knowledge, help_text, ot_vs_pt_text
from data.catalog import REHAB_FIRST, REHAB_LAST, Catalog, in_rehab_range
from intents.model import MAX_QUESTION_CHARS, Coverage, Intent, Period
from sql.query import Query

# CMS cell-size rule: counts from 1 to MIN_CELL-1 are shown as "<MIN_CELL" and their
# shares withheld. 0 turns suppression off. The pipeline reads TOPRANK_MIN_CELL.
DEFAULT_MIN_CELL = 11
# How many rows of each group the plain-text summary lists (the rows hold them all).
TEXT_ROWS = 10
COMPARE_TEXT_ROWS = 5


# ---------------------------------------------------------------- small helpers


def _plain(value: Any) -> Any:
    """A JSON-ready Python value from whatever pandas/numpy/DuckDB handed back."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


# What a query returned: a DataFrame (engine.run) or its rows as mappings
# (engine.records, which the pipeline uses because it skips building a DataFrame).
Result = pd.DataFrame | Sequence[Mapping[str, Any]]


def _records(frame: Result | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    if isinstance(frame, pd.DataFrame):
        if frame.empty:
            return []
        rows: Iterable[Mapping[str, Any]] = frame.to_dict("records")
    else:
        rows = frame
    return [{k: _plain(v) for k, v in rec.items()} for rec in rows]


def _int(value: Any) -> int | None:
    value = _plain(value)
    return None if value is None else int(value)


def _pct(value: Any) -> float | None:
    value = _plain(value)
    return None if value is None else round(float(value), 2)


def fmt_count(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    return f"{int(value):,}"


def fmt_pct(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}%"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def suppressed(procedures: int | None, min_cell: int) -> bool:
    return procedures is not None and min_cell > 0 and 0 < procedures < min_cell


def ranked_row(
    *,
    rank: int | None,
    code: str,
    share_pct: float | None,
    procedures: int | None,
    catalog: Catalog,
    min_cell: int,
) -> dict[str, Any]:
    """One ranked row of the contract, with the small-cell rule applied."""
    row: dict[str, Any] = {
        "rank": rank,
        "code": code,
        "description": catalog.describe(code),
        "share_pct": _pct(share_pct),
        "procedures": procedures,
    }
    if suppressed(procedures, min_cell):
        row["procedures"] = f"<{min_cell}"
        row["share_pct"] = None
        row["suppressed"] = True
    return row


def nearby_codes(code: str, catalog: Catalog, k: int = 3) -> tuple[str, ...]:
    """Dictionary codes numerically closest to an unknown one ("did you mean"), of the
    same shape: CPT codes for a CPT code, the same letter for a HCPCS code (G0283)."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if not digits:
        return ()
    target = int(digits)
    prefix = code[:1] if code[:1].isalpha() else ""
    alike = [
        c
        for c in catalog.codes
        if (c[:1] == prefix if prefix else c.isdigit()) and c[len(prefix) :].isdigit()
    ]
    alike.sort(key=lambda c: (abs(int(c[len(prefix) :]) - target), c))
    return tuple(alike[:k])


def provenance(coverage: Coverage | None) -> Provenance:
    if coverage is None:
        return Provenance()
    return Provenance(
        sources=tuple(coverage.sources),
        coverage_start=coverage.start.isoformat(),
        coverage_end=coverage.end.isoformat(),
        claim_lines=coverage.claim_lines,
        procedures=coverage.procedures,
    )


def coverage_phrase(coverage: Coverage | None) -> str:
    if coverage is None:
        return "the database holds no data yet"
    return f"{coverage.start.isoformat()} through {coverage.end.isoformat()}"


def _filter_words(intent: Intent, catalog: Catalog) -> list[str]:
    words = []
    if intent.state:
        words.append(catalog.states.get(intent.state, intent.state))
    if intent.payer:
        words.append(catalog.payer_names.get(intent.payer, intent.payer))
    return words


def _label(period: Period | None, period_label: str | None) -> str:
    if period_label:
        return period_label
    if period is None:
        return "the whole period"
    return period.label or f"{period.start.isoformat()} to {period.end.isoformat()}"


def _clip_note(intent: Intent, period: Period | None, coverage: Coverage | None) -> str:
    """Says so when the asked period ran past the data and was clipped."""
    asked = intent.period
    if asked is None or period is None or coverage is None:
        return ""
    if period.end < asked.end:
        return (
            f"The data ends {coverage.end.isoformat()}, so this covers "
            f"{period.start.isoformat()} to {period.end.isoformat()}."
        )
    if period.start > asked.start:
        return (
            f"The data starts {coverage.start.isoformat()}, so this covers "
            f"{period.start.isoformat()} to {period.end.isoformat()}."
        )
    return ""


def _split_years(period: Period) -> list[int]:
    """The years a period covers only part of (at most its first and last)."""
    first, last = period.start.year, period.end.year
    split = [first] if (period.start.month, period.start.day) != (1, 1) else []
    if (period.end.month, period.end.day) != (12, 31) and last not in split:
        split.append(last)
    return split


def _annual_note(periods: Sequence[Period], coverage: Coverage | None) -> str:
    """Says so when a part-year period meets a year held only as annual totals (CMS PUF):
    those totals all sit in January, so the answer cannot split them by month."""
    if coverage is None or not coverage.annual_years:
        return ""
    years = sorted({y for p in periods for y in _split_years(p) if y in coverage.annual_years})
    if not years:
        return ""
    listed = ", ".join(str(y) for y in years)
    return (
        f"Data for {listed} comes from the annual CMS Medicare file, counted as of January 1: "
        "a part-year period holds all of that year's file or none of it."
    )


def sql_params(query: Query | None) -> dict[str, Any]:
    return {} if query is None else {k: _plain(v) for k, v in query.params}


def contract_params(
    intent: Intent,
    period: Period | None,
    query: Query | None = None,
    periods: Sequence[Period] = (),
) -> dict[str, Any]:
    """The contract's params: the period is the one actually queried (clipped)."""
    bound = dict(query.params) if query is not None else {}
    start = end = None
    if periods:
        start = min(p.start for p in periods).isoformat()
        end = max(p.end for p in periods).isoformat()
    elif period is not None:
        start, end = period.start.isoformat(), period.end.isoformat()
    cohorts = list(intent.cohorts)
    cohort = intent.cohort
    if intent.kind == "compare" and intent.compare_by in (None, "cohort"):
        cohorts = [str(c) for c in bound.get("cohorts", cohorts)]
        cohort = None
    elif intent.kind == "ot_vs_pt":
        cohorts = ["ot", "pt"]
    elif "cohort" in bound and cohort is None:
        cohort = bound["cohort"]
    # The n actually bound (defaulted and capped by the planner); ot_vs_pt's list
    # length is the bot's choice, not the user's, so it reports what was asked.
    n = intent.n if intent.kind == "ot_vs_pt" else bound.get("n", intent.n)
    return {
        "cohort": cohort,
        "cohorts": cohorts,
        "start": start,
        "end": end,
        "n": n,
        "code": intent.code,
        "state": intent.state,
        "payer": intent.payer,
    }


def _answer(
    intent: Intent,
    *,
    question: str | None,
    params: dict[str, Any],
    rows: Iterable[dict[str, Any]] = (),
    text: str,
    query: Query | None = None,
    error: str | None = None,
    title: str = "",
    period_label: str | None = None,
    coverage: Coverage | None = None,
    suggestions: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Answer:
    return Answer(
        question=intent.text if question is None else question,
        intent=intent.kind,
        params=params,
        rows=tuple(rows) if error is None else (),
        text=text,
        sql=query.sql if query is not None else None,
        sql_params=sql_params(query),
        error=error,
        title=title,
        period_label=period_label,
        provenance=provenance(coverage),
        suggestions=tuple(suggestions),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- errors


def error_text(
    error: str,
    intent: Intent,
    *,
    catalog: Catalog,
    coverage: Coverage | None,
    knowledge: Knowledge,
    suggestions: Sequence[str] = (),
) -> str:
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    if error == "no_data":
        asked = f" for {intent.period.label}" if intent.period and intent.period.label else ""
        return f"No data{asked}: the data covers {coverage_phrase(coverage)}."
    if error == "unknown_code":
        return f"{intent.code or 'That code'} is not in the code dictionary.{hint}"
    if error == "unknown_cohort":
        return f"I do not know that cohort. {knowledge.help_cohorts}{hint}"
    if error == "too_long":
        return (
            f"That message is over {MAX_QUESTION_CHARS} characters; please ask a shorter question."
        )
    if error == "unsafe":
        return knowledge.unknown_refuse
    if error == "bad_period":
        return f"That period does not exist on the calendar. {knowledge.help_filters}"
    if error == "ambiguous":
        return f"I need a little more to answer that.{hint or ' ' + knowledge.help_intro}"
    return f"I could not answer that ({error}).{hint}"


def error_answer(
    intent: Intent,
    error: str,
    *,
    catalog: Catalog,
    coverage: Coverage | None,
    knowledge: Knowledge,
    period: Period | None = None,
    text: str | None = None,
    suggestions: Sequence[str] = (),
    question: str | None = None,
    query: Query | None = None,
) -> Answer:
    """An answer that understood the question but cannot give rows: rows are empty."""
    suggestions = tuple(suggestions) or intent.suggestions
    if error == "unknown_code" and not suggestions and intent.code:
        suggestions = nearby_codes(intent.code, catalog)
    body = text or error_text(
        error,
        intent,
        catalog=catalog,
        coverage=coverage,
        knowledge=knowledge,
        suggestions=suggestions,
    )
    return _answer(
        intent,
        question=question,
        params=contract_params(intent, period, query),
        text=body,
        query=query,
        error=error,
        title="Cannot answer that",
        coverage=coverage,
        suggestions=suggestions,
    )


def internal_error_answer(question: str, intent_kind: str = "unknown") -> Answer:
    """What the user sees when something broke inside: no traceback, ever."""
    return Answer(
        question=question,
        intent=intent_kind,
        params=contract_params(Intent(kind="unknown"), None),
        rows=(),
        text="Sorry, something went wrong while answering that. The error has been logged.",
        error="internal",
        title="Something went wrong",
    )


# ---------------------------------------------------------------- per-intent builders


def _cohort_total(records: list[dict[str, Any]]) -> int:
    return max((_int(r.get("cohort_procedures")) or 0 for r in records), default=0)


def _ranked_lines(rows: Sequence[dict[str, Any]], limit: int = TEXT_ROWS) -> list[str]:
    lines = []
    for row in rows[:limit]:
        rank = f"{row['rank']}." if row.get("rank") is not None else "-"
        lines.append(
            f"{rank} {row['code']} {row['description']}: {fmt_pct(row['share_pct'])} "
            f"({fmt_count(row['procedures'])})"
        )
    return lines


def _scope(intent: Intent, catalog: Catalog, label: str) -> str:
    return ", ".join([*_filter_words(intent, catalog), label])


def _procedures(noun: str) -> str:
    """ "OT procedures", but "procedures" for the all cohort (not "all all procedures")."""
    return "procedures" if noun == "all" else f"{noun} procedures"


def _no_rows(intent, noun, *, catalog, coverage, knowledge, period, label, query, question):
    filters = _filter_words(intent, catalog)
    where = f" ({', '.join(filters)})" if filters else ""
    return error_answer(
        intent,
        "no_data",
        catalog=catalog,
        coverage=coverage,
        knowledge=knowledge,
        period=period,
        text=(
            f"No {_procedures(noun)}{where} in {label}. The data covers {coverage_phrase(coverage)}."
            + "".join(f" {n}" for n in [_annual_note([period] if period else [], coverage)] if n)
        ),
        question=question,
        query=query,
    )


def _ranked_record(ctx: _Ctx, r: dict[str, Any]) -> dict[str, Any]:
    """A ranked SQL row (rank, code, share_pct, procedures) as an answer row."""
    return ranked_row(
        rank=_int(r["rank"]),
        code=str(r["code"]),
        share_pct=r["share_pct"],
        procedures=_int(r["procedures"]),
        catalog=ctx.catalog,
        min_cell=ctx.min_cell,
    )


def code_set_label(intent: Intent, catalog: Catalog) -> str:
    """What a set of codes is called: its sub-groups' names ("Active wound care"), or
    the shared start of its codes' descriptions ("PT evaluation" for 97161-97163)."""
    names = [s.name for s in catalog.subgroups if s.key in intent.subgroups]
    if names:
        return " and ".join([names[0], *(n[:1].lower() + n[1:] for n in names[1:])])
    words = [catalog.describe(c).split(" (")[0].split() for c in intent.codes]
    shared: list[str] = []
    for column in zip(*words, strict=False):
        if len(set(column)) != 1:
            break
        shared.append(column[0])
    return " ".join(shared) if shared else ", ".join(intent.codes)


def _mid_sentence(label: str) -> str:
    """ "Active wound care" -> "active wound care"; "PT evaluation" stays as it is."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() else label[:1].lower() + label[1:]


def _top_codes_among(ctx: _Ctx) -> Answer:
    """top_codes restricted to a set of codes: ranked against each other, each with its
    share of the whole cohort."""
    records = ctx.records
    phrase = ctx.knowledge.phrase(ctx.cohort)
    label = code_set_label(ctx.intent, ctx.catalog)
    if not records or _cohort_total(records) == 0:
        return ctx.error(
            "no_data",
            f"None of the {len(ctx.intent.codes)} codes of {_mid_sentence(label)} was billed in "
            f"{_procedures(phrase.noun)}, {ctx.scope}. "
            f"The data covers {coverage_phrase(ctx.coverage)}.",
        )
    rows = [{**_ranked_record(ctx, r), "cohort_rank": _int(r["cohort_rank"])} for r in records]
    n = ctx.params["n"]
    title = f"{label}: top {n} in {_procedures(phrase.noun)}, {ctx.scope}"
    total = _cohort_total(records)
    lead = rows[0]
    codes_of = "codes" if phrase.noun == "all" else f"{phrase.noun} codes"
    together = _int(records[0]["set_procedures"]) or 0
    together_line = (
        f"Together the {len(ctx.intent.codes)} codes of {_mid_sentence(label)} were "
        f"{fmt_pct(100.0 * together / total)} of {_procedures(phrase.noun)} "
        f"({fmt_count(together)} of {fmt_count(total)})."
    )
    if suppressed(together, ctx.min_cell):
        together_line = (
            f"The codes of {_mid_sentence(label)} had fewer than {ctx.min_cell} procedures."
        )
    notes = [
        f"Ranks are within this set of {len(ctx.intent.codes)} codes; shares are of all "
        f"{fmt_count(total)} {_procedures(phrase.noun)} in the period.",
        f"The first, {lead['code']}, is {ordinal(lead['cohort_rank'])} among all {codes_of}.",
    ]
    if len(rows) < n:
        notes.append(f"Only {len(rows)} of these codes were billed in this cohort and period.")
    return ctx.answer(rows, [title, *_ranked_lines(rows)], title, notes=[together_line, *notes])


def _top_codes(ctx: _Ctx) -> Answer:
    if ctx.intent.codes:
        return _top_codes_among(ctx)
    records = ctx.records
    phrase = ctx.knowledge.phrase(ctx.cohort)
    if not records or _cohort_total(records) == 0:
        return ctx.no_rows(phrase.noun)
    rows = [_ranked_record(ctx, r) for r in records]
    n = ctx.params["n"]
    title = f"Top {n} {phrase.title}, {ctx.scope}"
    total = _cohort_total(records)
    notes = [f"Shares are of all {fmt_count(total)} {_procedures(phrase.noun)} in the period."]
    if len(rows) < n:
        notes.append(f"Only {len(rows)} codes were billed in this cohort and period.")
    return ctx.answer(rows, [title, *_ranked_lines(rows)], title, notes=notes)


def _code_share(ctx: _Ctx) -> Answer:
    records = ctx.records
    intent = ctx.intent
    phrase = ctx.knowledge.phrase(ctx.cohort)
    if not records or _cohort_total(records) == 0:
        return ctx.no_rows(phrase.noun)
    total = _cohort_total(records)
    rows = [{**_ranked_record(ctx, r), "asked": str(r["code"]) == intent.code} for r in records]
    asked = next((row for row in rows if row["asked"]), None)
    if asked is None and intent.code not in ctx.catalog.codes:
        return ctx.unknown_code()
    if asked is None:  # never billed by this cohort in the period: share 0, no rank
        asked = ranked_row(
            rank=None,
            code=str(intent.code),
            share_pct=0.0,
            procedures=0,
            catalog=ctx.catalog,
            min_cell=ctx.min_cell,
        )
        asked["asked"] = True
        rows.append(asked)
    title = f"{intent.code} {asked['description']} in {phrase.noun} procedures, {ctx.scope}"
    who = _code_phrase(str(intent.code), asked["description"])
    if asked["rank"] is None:
        headline = f"{who} was not billed in {phrase.noun} procedures, {ctx.scope}."
    elif asked["share_pct"] is None:
        headline = (
            f"{who} ranked {ordinal(asked['rank'])} among "
            f"{phrase.noun} procedures, {ctx.scope}, with fewer than {ctx.min_cell} procedures "
            "(share withheld)."
        )
    else:
        headline = (
            f"{who} was {fmt_pct(asked['share_pct'])} of "
            f"{phrase.noun} procedures, {ctx.scope}: ranked {ordinal(asked['rank'])}, "
            f"{fmt_count(asked['procedures'])} of {fmt_count(total)} procedures."
        )
    lines = [headline, "Top codes for context:", *_ranked_lines(rows)]
    notes = [f"Shares are of all {fmt_count(total)} {_procedures(phrase.noun)} in the period."]
    if ctx.cohort == "rehab" and intent.code and not in_rehab_range(intent.code):
        notes.append(
            f"{intent.code} is outside the rehab range ({REHAB_FIRST}-{REHAB_LAST}), "
            "so it is never in the rehab cohort."
        )
    return ctx.answer(rows, lines, title, notes=notes)


_GROUP_KEYS = {
    None: "cohort",
    "cohort": "cohort",
    "period": "period",
    "state": "state",
    "payer": "payer",
}


def _group_name(ctx: _Ctx, by: str, value: Any) -> str:
    if by == "cohort":
        return ctx.knowledge.phrase(str(value)).noun
    if by == "state":
        return ctx.catalog.states.get(str(value), str(value))
    if by == "payer":
        return ctx.catalog.payer_names.get(str(value), str(value))
    return str(value)


def _compare(ctx: _Ctx) -> Answer:
    intent = ctx.intent
    by = _GROUP_KEYS.get(intent.compare_by, "cohort")
    records = ctx.records
    if not records:
        noun = ctx.knowledge.phrase(ctx.cohort).noun if by != "cohort" else "matching"
        return ctx.no_rows(noun)
    rows = [{by: r[by], **_ranked_record(ctx, r)} for r in records]
    asked_groups = {
        "cohort": [str(c) for c in ctx.params["cohorts"]],
        "period": [p.label for p in ctx.periods],
        "state": list(intent.states),
        "payer": list(intent.payers),
    }[by]
    groups = list(dict.fromkeys([*asked_groups, *(row[by] for row in rows)]))
    names = [_group_name(ctx, by, g) for g in groups]
    n = ctx.params["n"]
    if by == "cohort":
        title = f"Top {n} codes: {' vs '.join(names)}, {ctx.scope}"
    elif by == "period":
        phrase = ctx.knowledge.phrase(ctx.cohort)
        filters = _filter_words(intent, ctx.catalog)
        where = f", {', '.join(filters)}" if filters else ""
        title = f"Top {n} {phrase.title}: {' vs '.join(names)}{where}"
    else:
        phrase = ctx.knowledge.phrase(ctx.cohort)
        title = f"Top {n} {phrase.title}: {' vs '.join(names)}, {ctx.scope}"
    lines = [title]
    for group, name in zip(groups, names, strict=True):
        group_rows = [row for row in rows if row[by] == group]
        if not group_rows:
            lines.append(f"{name}: no procedures in this period.")
            continue
        top = ", ".join(
            f"{row['rank']}. {row['code']} {fmt_pct(row['share_pct'])}"
            for row in group_rows[:COMPARE_TEXT_ROWS]
        )
        lines.append(f"{name}: {top}")
    notes = [f"Each {by}'s shares are of its own procedures in the period."]
    if by == "period" and len(intent.periods) > len(ctx.periods):
        notes.append(f"Periods outside the data ({coverage_phrase(ctx.coverage)}) are left out.")
    if len(groups) > 1:
        tops = [[row["code"] for row in rows if row[by] == g][:3] for g in groups]
        if all(tops) and all(t == tops[0] for t in tops):
            notes.append(f"The same top {len(tops[0])} codes lead in each: {', '.join(tops[0])}.")
    return ctx.answer(rows, lines, title, notes=notes)


def _year_label(year: int, months: int | None, period: Period | None) -> str:
    if months is None or months >= 12:
        return str(year)
    if period is not None and period.end.year == year and period.start.year != year:
        return f"{year} (to {period.end.strftime('%b')})"
    return f"{year} ({months} mo)"


def _trend(ctx: _Ctx) -> Answer:
    intent = ctx.intent
    phrase = ctx.knowledge.phrase(ctx.cohort)
    records = [r for r in ctx.records if (_int(r.get("cohort_procedures")) or 0) > 0]
    if not records:
        return ctx.no_rows(phrase.noun)
    if (
        intent.code
        and intent.code not in ctx.catalog.codes
        and not any(_int(r["procedures"]) for r in records)
    ):
        return ctx.unknown_code()
    rows = []
    for r in records:
        year = _int(r["year"])
        months = _int(r.get("months"))
        if ctx.coverage is not None and year in ctx.coverage.annual_years:
            months = 12  # an annual file's totals sit in January but cover the whole year
        procedures = _int(r["procedures"])
        row: dict[str, Any] = {
            "year": year,
            "period": _year_label(year, months, ctx.period),
            "code": intent.code,
            "description": ctx.catalog.describe(intent.code) if intent.code else None,
            "rank": _int(r.get("rank")) if intent.code else None,
            "share_pct": _pct(r["share_pct"]) if intent.code else None,
            "procedures": procedures,
            "months": months,
            "cohort_procedures": _int(r["cohort_procedures"]),
        }
        if suppressed(procedures, ctx.min_cell):
            row.update(procedures=f"<{ctx.min_cell}", share_pct=None, suppressed=True)
        rows.append(row)
    notes: list[str] = []
    if intent.code:
        description = ctx.catalog.describe(intent.code)
        title = (
            f"{intent.code} {description}: share of {phrase.noun} procedures by year, {ctx.scope}"
        )
        lines = [title]
        for row in rows:
            rank = f", rank {row['rank']}" if row["rank"] is not None else ""
            lines.append(
                f"{row['period']}: {fmt_pct(row['share_pct'])}{rank} "
                f"({fmt_count(row['procedures'])})"
            )
        shares = [row for row in rows if row["share_pct"] is not None]
        if len(shares) >= 2:
            first, last = shares[0], shares[-1]
            change = last["share_pct"] - first["share_pct"]
            direction = "up" if change > 0.05 else "down" if change < -0.05 else "about flat"
            notes.append(
                f"From {fmt_pct(first['share_pct'])} in {first['period']} to "
                f"{fmt_pct(last['share_pct'])} in {last['period']} ({direction}, "
                f"{change:+.1f} points)."
            )
    else:
        title = f"{phrase.noun[:1].upper()}{phrase.noun[1:]} procedures by year, {ctx.scope}"
        lines = [title]
        for row in rows:
            lines.append(f"{row['period']}: {fmt_count(row['procedures'])} procedures")
    if any((row["months"] or 12) < 12 for row in rows):
        notes.append("Years marked with months are only partly covered by the data.")
    return ctx.answer(rows, lines, title, notes=notes)


def _ot_vs_pt(ctx: _Ctx) -> Answer:
    intent = ctx.intent
    knowledge = ctx.knowledge
    bound = dict(ctx.query.params) if ctx.query is not None else {}
    lead = str(bound.get("lead", "ot"))
    rows = []
    for i, r in enumerate(ctx.records, start=1):
        lead_share, other_share = _pct(r["lead_share_pct"]), _pct(r["other_share_pct"])
        ratio = _plain(r["ratio"])
        row = {
            "rank": i,
            "code": str(r["code"]),
            "description": ctx.catalog.describe(str(r["code"])),
            "share_pct": lead_share,
            "procedures": _int(r["lead_procedures"]),
            "ot_share_pct": lead_share if lead == "ot" else other_share,
            "pt_share_pct": other_share if lead == "ot" else lead_share,
            "ratio": None if ratio is None else round(float(ratio), 2),
            "over_represented_in": lead,
        }
        if suppressed(row["procedures"], ctx.min_cell):
            row.update(procedures=f"<{ctx.min_cell}", share_pct=None, suppressed=True)
        rows.append(row)
    lead_noun, other_noun = ("OT", "PT") if lead == "ot" else ("PT", "OT")
    titles = {
        "ot_focus": "What occupational therapy focuses on",
        "pt_focus": "What physical therapy focuses on",
        "mental_health": "Occupational therapy and mental health",
        "codes": "OT and PT procedure codes",
    }
    title = titles.get(intent.topic or "", "Occupational therapy vs physical therapy")
    parts = [title, ot_vs_pt_text(knowledge, intent.topic)]
    if rows:
        intro = knowledge.ot_vs_pt["data_intro"].format(
            lead=lead_noun, other=other_noun, period=ctx.scope
        )
        data_lines = []
        for row in rows:
            ratio = "only " + lead_noun if row["ratio"] is None else f"{row['ratio']:.1f}x"
            lead_pct = row["ot_share_pct"] if lead == "ot" else row["pt_share_pct"]
            other_pct = row["pt_share_pct"] if lead == "ot" else row["ot_share_pct"]
            data_lines.append(
                f"{row['code']} {row['description']}: {fmt_pct(lead_pct)} of {lead_noun} vs "
                f"{fmt_pct(other_pct)} of {other_noun} ({ratio})"
            )
        parts.append("\n".join([intro, *data_lines]))
    return ctx.answer(rows, parts, title, sep="\n\n")


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


def _codes_count(count: int) -> str:
    return f"{count} code" if count == 1 else f"{count} codes"


def _code_phrase(code: str, description: str) -> str:
    """ "97530 (Therapeutic activities)", without nesting parentheses."""
    return f"{code}, {description}," if "(" in description else f"{code} ({description})"


def _category_name(category: str, catalog: Catalog) -> str:
    for sub in catalog.subgroups:
        if sub.key == category:
            return f"{sub.name} ({sub.first}-{sub.last})"
    return category.replace("_", " ").capitalize()


_TIMED = {"yes": "timed (billed per 15 minutes)", "no": "untimed (billed once per session)"}


def _code_lookup(ctx: _Ctx) -> Answer:
    intent = ctx.intent
    catalog = ctx.catalog
    codes = list(dict.fromkeys([*([intent.code] if intent.code else []), *intent.codes]))
    known = [c for c in codes if c in catalog.codes]
    if not known:
        return error_answer(
            intent,
            "unknown_code" if codes else "ambiguous",
            catalog=catalog,
            coverage=ctx.coverage,
            knowledge=ctx.knowledge,
            question=ctx.question,
        )
    context = [
        {
            "cohort": r["cohort"],
            "rank": _int(r["rank"]),
            "share_pct": None
            if suppressed(_int(r["procedures"]), ctx.min_cell)
            else _pct(r["share_pct"]),
            "procedures": _int(r["procedures"]),
        }
        for r in ctx.records
    ]
    rows = []
    for i, code in enumerate(known):
        info = catalog.codes[code]
        row = {
            "code": code,
            "description": info.description,
            "long_description": info.long_description,
            "category": info.category,
            "category_name": _category_name(info.category, catalog),
            "timed": info.timed,
            "in_rehab_range": in_rehab_range(code),
        }
        if i == 0:
            row["context"] = context
        rows.append(row)
    main = rows[0]
    title = f"CPT {main['code']}: {main['description']}"
    lines = [
        f"{main['code']}: {main['description']}. {main['long_description']}.",
        f"Section: {main['category_name']}; {_TIMED.get(main['timed'], 'timing not applicable')}.",
    ]
    if main["in_rehab_range"]:
        lines.append(f"It is in the rehab range (CPT {REHAB_FIRST}-{REHAB_LAST}).")
    note = ctx.knowledge.code_notes.get(main["code"])
    if note:
        lines.append(note)
    standings = [
        f"{ordinal(c['rank'])} in {ctx.knowledge.phrase(c['cohort']).noun}"
        + (f" ({fmt_pct(c['share_pct'])})" if c["share_pct"] is not None else "")
        for c in context
        if c["rank"] is not None
    ]
    if standings:
        lines.append(f"In {ctx.label} it ranked {', '.join(standings)}.")
    if len(rows) > 1:
        lines.append(
            "Other matches: " + ", ".join(f"{r['code']} {r['description']}" for r in rows[1:])
        )
    return ctx.answer(rows, lines, title)


def _code_range(ctx: _Ctx) -> Answer:
    intent = ctx.intent
    catalog = ctx.catalog
    k = ctx.knowledge.code_range
    subgroups = sorted(catalog.subgroups, key=lambda s: (s.first, s.last))
    counts = {
        s.key: sum(1 for c in catalog.codes.values() if c.category == s.key) for s in subgroups
    }
    asked = next((s for s in subgroups if s.key == intent.subgroup), None)
    lines = [k["summary"]]
    if intent.code:
        home = next(
            (
                s
                for s in subgroups
                if catalog.codes.get(intent.code) and catalog.codes[intent.code].category == s.key
            ),
            None,
        ) or next((s for s in subgroups if s.first <= intent.code <= s.last), None)
        if in_rehab_range(intent.code):
            where = f" ({home.name})" if home else ""
            lines.insert(0, f"Yes: {intent.code} is in the rehab range{where}.")
        else:
            lines.insert(
                0, f"No: {intent.code} is outside the rehab range {REHAB_FIRST}-{REHAB_LAST}."
            )
    if asked is not None:
        title = f"{asked.name}: CPT {asked.first}-{asked.last}"
        lines.append(f"{asked.name} ({asked.first}-{asked.last}): {asked.description}.")
        rows = [
            {"code": c.code, "description": c.description, "timed": c.timed, "subgroup": asked.key}
            for c in sorted(catalog.codes.values(), key=lambda c: c.code)
            if c.category == asked.key
        ]
        lines.extend(f"  {r['code']} {r['description']}" for r in rows)
    else:
        title = f"Rehab codes: CPT {REHAB_FIRST}-{REHAB_LAST}"
        rows = [
            {
                "subgroup": s.key,
                "name": s.name,
                "first": s.first,
                "last": s.last,
                "codes": counts[s.key],
                "description": s.description,
            }
            for s in subgroups
        ]
        lines.append(ctx.knowledge.cohorts)
        lines.append(k["subgroups_intro"])
        lines.extend(
            "  "
            + k["subgroup_detail"].format(
                name=s.name, span=_span(s.first, s.last), count=_codes_count(counts[s.key])
            )
            for s in subgroups
        )
    return ctx.answer(rows, lines, title)


def _coverage(ctx: _Ctx) -> Answer:
    coverage = ctx.coverage
    rows = ctx.records
    if coverage is None:
        return ctx.no_rows("loaded")
    sources = ", ".join(coverage.sources) or "no sources"
    text = ctx.knowledge.coverage_text.format(
        start=coverage.start.isoformat(),
        end=coverage.end.isoformat(),
        claim_lines=fmt_count(coverage.claim_lines),
        sources=sources,
    )
    lines = [text, f"{fmt_count(coverage.procedures)} procedures in all."]
    for r in rows:
        lines.append(
            f"  {r.get('name')} ({r.get('kind')}): {r.get('first_date')} to {r.get('last_date')}, "
            f"{fmt_count(r.get('rows_loaded'))} rows loaded"
        )
    return ctx.answer(rows, lines, "Data coverage")


def _help(ctx: _Ctx) -> Answer:
    return ctx.answer(
        (),
        [help_text(ctx.knowledge)],
        "How to ask toprank",
        suggestions=ctx.knowledge.help_examples[:4],
    )


def _unknown(ctx: _Ctx) -> Answer:
    text = ctx.knowledge.unknown_text
    suggestions = ctx.intent.suggestions or ctx.knowledge.help_examples[:3]
    text += "\nTry: " + "; ".join(suggestions)
    return ctx.answer((), [text], "Not sure what you meant", suggestions=suggestions)


class _Ctx:
    """Everything a per-intent builder reads, computed once."""

    def __init__(
        self,
        intent: Intent,
        period: Period | None,
        frame: Result | None,
        *,
        catalog: Catalog,
        coverage: Coverage | None,
        query: Query | None,
        knowledge: Knowledge,
        period_label: str | None,
        periods: Sequence[Period],
        question: str | None,
        min_cell: int,
    ) -> None:
        self.intent = intent
        self.period = period
        self.records = _records(frame)
        self.catalog = catalog
        self.coverage = coverage
        self.query = query
        self.knowledge = knowledge
        self.periods = tuple(periods)
        self.question = question
        self.min_cell = min_cell
        self.params = contract_params(intent, period, query, periods)
        self.cohort = self.params["cohort"]
        self.label = _label(period, period_label)
        self.period_label = None if period is None and not periods else self.label
        self.scope = _scope(intent, catalog, self.label)

    def answer(
        self,
        rows: Iterable[dict[str, Any]],
        lines: Sequence[str],
        title: str,
        *,
        notes: Sequence[str] = (),
        sep: str = "\n",
        suggestions: Sequence[str] = (),
    ) -> Answer:
        """`lines` start with the headline; `notes` are footnotes (also kept apart so a
        table renderer can print them under the table instead of the listed rows)."""
        clip = _clip_note(self.intent, self.period, self.coverage)
        periods = self.periods or ((self.period,) if self.period else ())
        annual = _annual_note(periods, self.coverage)
        notes = tuple(n for n in (*notes, *self.intent.notes, clip, annual) if n)
        text = sep.join(lines) + "".join(f"\n{note}" for note in notes)
        return _answer(
            self.intent,
            question=self.question,
            params=self.params,
            rows=rows,
            text=text,
            query=self.query,
            title=title,
            period_label=self.period_label,
            coverage=self.coverage,
            suggestions=suggestions,
            notes=notes,
        )

    def error(self, error: str, text: str | None = None) -> Answer:
        """An error answer for this question, its period and its query."""
        return error_answer(
            self.intent,
            error,
            catalog=self.catalog,
            coverage=self.coverage,
            knowledge=self.knowledge,
            period=self.period,
            text=text,
            question=self.question,
            query=self.query,
        )

    def unknown_code(self) -> Answer:
        """A code the dictionary does not know and the data never billed."""
        return self.error("unknown_code")

    def no_rows(self, noun: str) -> Answer:
        return _no_rows(
            self.intent,
            noun,
            catalog=self.catalog,
            coverage=self.coverage,
            knowledge=self.knowledge,
            period=self.period,
            label=self.label,
            query=self.query,
            question=self.question,
        )


_BUILDERS = {
    "top_codes": _top_codes,
    "code_share": _code_share,
    "compare": _compare,
    "trend": _trend,
    "ot_vs_pt": _ot_vs_pt,
    "code_lookup": _code_lookup,
    "code_range": _code_range,
    "coverage": _coverage,
    "help": _help,
    "unknown": _unknown,
}


def build(
    intent: Intent,
    period: Period | None,
    frame: Result | None,
    *,
    catalog: Catalog,
    coverage: Coverage | None,
    query: Query | None,
    knowledge: Knowledge,
    period_label: str | None = None,
    periods: Sequence[Period] = (),
    question: str | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
) -> Answer:
    """The Answer for `intent` from the result its Query returned (pure): a DataFrame
    or the same rows as mappings.

    `period` is the clipped period that was queried, `period_label` how to say it
    ("2023 through September"); `periods` the resolved periods of a compare-by-period.
    An intent that already carries an error gives that error with empty rows.
    """
    if intent.error is not None:
        return error_answer(
            intent,
            intent.error,
            catalog=catalog,
            coverage=coverage,
            knowledge=knowledge,
            period=period,
            question=question,
        )
    ctx = _Ctx(
        intent,
        period,
        frame,
        catalog=catalog,
        coverage=coverage,
        query=query,
        knowledge=knowledge,
        period_label=period_label,
        periods=periods,
        question=question,
        min_cell=min_cell,
    )
    return _BUILDERS.get(intent.kind, _unknown)(ctx)


def rows_as_mapping(answer: Answer) -> Mapping[str, dict[str, Any]]:
    """Rows keyed by code (first occurrence), a convenience for surfaces and tests."""
    out: dict[str, dict[str, Any]] = {}
    for row in answer.rows:
        code = row.get("code")
        if code is not None and code not in out:
            out[str(code)] = row
    return out
