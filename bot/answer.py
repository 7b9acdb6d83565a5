"""Spec + what its query returned -> Answer. Pure: no I/O, no SQL, no clock.

Everything an answer needs arrives as arguments (catalog, coverage, knowledge, the
resolved spec, its plan and rows), so every branch is testable with small inputs.
Data questions are built by bot.answer_data (one builder per SQL family); this module
wraps them in the contract (params, notes, provenance) and builds the answers that
are not figures: a code lookup, the code range, OT vs PT, coverage, help, errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from toprank.bot.answer_data import (
    AMOUNT_NOTES,
    BUILDERS,
    MEASURE_NOUN,
    DataContext,
    fmt_count,
    fmt_pct,
    ordinal,
)
from toprank.bot.answer_model import Answer, Provenance
from toprank.bot.columns import write
from toprank.bot.knowledge import Knowledge, help_text, ot_vs_pt_text
from toprank.bot.suppress import DEFAULT_MIN_CELL, is_small
from toprank.data.catalog import REHAB_FIRST, REHAB_LAST, Catalog, in_rehab_range
from toprank.intents.model import MAX_QUESTION_CHARS, Coverage, Period
from toprank.intents.periods import describe_period
from toprank.intents.resolve import Resolved
from toprank.intents.spec import Spec, intent_name
from toprank.sql.compile import Plan
from toprank.sql.query import Query

__all__ = [
    "DEFAULT_MIN_CELL",
    "build_data",
    "build_other",
    "contract_params",
    "error_answer",
    "fmt_count",
    "fmt_pct",
    "internal_error_answer",
    "nearby_codes",
    "ordinal",
]


# ---------------------------------------------------------------- small helpers


def plain(value: Any) -> Any:
    """A JSON-ready Python value from whatever DuckDB handed back."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


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


def provenance(coverage: Coverage | None, min_cell: int = DEFAULT_MIN_CELL) -> Provenance:
    if coverage is None:
        return Provenance(min_cell=min_cell)
    return Provenance(
        sources=tuple(coverage.sources),
        coverage_start=coverage.start.isoformat(),
        coverage_end=coverage.end.isoformat(),
        claim_lines=coverage.claim_lines,
        procedures=coverage.procedures,
        min_cell=min_cell,
    )


def coverage_phrase(coverage: Coverage | None) -> str:
    if coverage is None:
        return "the database holds no data yet"
    return f"{coverage.start.isoformat()} through {coverage.end.isoformat()}"


def _clip_notes(r: Resolved, coverage: Coverage) -> list[str]:
    """Says so when an asked period ran past the data and was clipped."""
    out = []
    for asked, got in zip(r.asked, r.periods, strict=False):
        if asked is None or not asked.explicit:
            continue
        if got.end < asked.end and asked.end > coverage.end:
            out.append(
                f"The data ends {coverage.end.isoformat()}, so this covers "
                f"{got.start.isoformat()} to {got.end.isoformat()}."
            )
        elif got.start > asked.start and asked.start.year > 1900:
            out.append(
                f"The data starts {coverage.start.isoformat()}, so this covers "
                f"{got.start.isoformat()} to {got.end.isoformat()}."
            )
    return out


def _split_years(period: Period) -> list[int]:
    """The years a period covers only part of (at most its first and last)."""
    first, last = period.start.year, period.end.year
    split = [first] if (period.start.month, period.start.day) != (1, 1) else []
    if (period.end.month, period.end.day) != (12, 31) and last not in split:
        split.append(last)
    return split


def annual_note(periods: Sequence[Period], coverage: Coverage | None) -> str:
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


def _claims_note(spec: Spec, periods: Sequence[Period], coverage: Coverage | None) -> str:
    if spec.measure != "claims" or coverage is None or not coverage.annual_years:
        return ""
    years = sorted(
        {
            y
            for p in periods
            for y in range(p.start.year, p.end.year + 1)
            if y in coverage.annual_years
        }
    )
    if not years:
        return ""
    return (
        f"The CMS file for {', '.join(map(str, years))} has no claim identifiers, so its "
        "procedures count no visits here."
    )


def sql_params(query: Query | None) -> dict[str, Any]:
    return {} if query is None else {k: plain(v) for k, v in query.params}


def contract_params(
    spec: Spec, r: Resolved | None = None, plan: Plan | None = None
) -> dict[str, Any]:
    """The contract's params. The first wave's fields keep their meaning (cohort,
    cohorts, start/end as queried, n, code, state, payer); the rest say what else was
    understood."""
    periods = r.periods if r is not None else ()
    cohorts = list(r.cohorts if r is not None else spec.cohorts)
    compared = spec.compare_by
    single_cohort = len(cohorts) == 1 and spec.cohort_mode != "union"
    start = min(p.start for p in periods).isoformat() if periods else None
    end = max(p.end for p in periods).isoformat() if periods else None
    codes = list(spec.all_codes) or list(spec.lookup_codes)
    bound = dict(plan.query.params) if plan is not None else {}
    n = r.n if r is not None else spec.n
    if plan is not None and plan.family == "ranked" and "n" in bound and bound["n"]:
        n = bound["n"]
    if spec.kind == "knowledge":
        cohorts = ["ot", "pt"]
    return {
        "cohort": cohorts[0] if single_cohort else None,
        "cohorts": cohorts,
        "start": start,
        "end": end,
        "n": n,
        "code": codes[0] if codes else None,
        "state": spec.states.include[0] if len(spec.states.include) == 1 else None,
        "payer": spec.payers.include[0] if len(spec.payers.include) == 1 else None,
        # understanding v2
        "ask": spec.ask if spec.kind == "data" else None,
        "measure": spec.measure,
        "average": spec.average,
        "codes": codes,
        "code_sets": [
            {
                "label": s.label,
                "kind": s.kind,
                "codes": list(s.codes),
                **({"first": s.first, "last": s.last} if s.is_range else {}),
            }
            for s in spec.codes
        ],
        "code_mode": spec.code_mode,
        "cohort_mode": spec.cohort_mode,
        "include": {
            "states": list(spec.states.include),
            "payers": list(spec.payers.include),
            "places": list(spec.places.include),
            "settings": list(spec.settings.include),
            "modifiers": list(spec.modifiers.include),
        },
        "exclude": {
            "cohorts": list(spec.exclude_cohorts),
            "codes": [c for s in spec.exclude_codes for c in (s.codes or (s.label,))],
            "states": list(spec.states.exclude),
            "payers": list(spec.payers.exclude),
            "places": list(spec.places.exclude),
            "settings": list(spec.settings.exclude),
            "modifiers": list(spec.modifiers.exclude),
        },
        "group_by": spec.group_by if spec.kind == "data" else None,
        "per_group": spec.per_group,
        "compare_by": compared
        if compared
        else ("code" if spec.code_mode == "compared" and spec.kind == "data" else None),
        "periods": [
            {"start": p.start.isoformat(), "end": p.end.isoformat(), "label": p.label}
            for p in periods
        ],
        "period_mode": spec.period_mode,
    }


def _answer(
    spec: Spec,
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
    alternatives: Sequence[str] = (),
    summary: Sequence[str] | None = None,
    columns: Sequence[str] = (),
    min_cell: int = DEFAULT_MIN_CELL,
) -> Answer:
    return Answer(
        question=(spec.text if question is None else question)[: MAX_QUESTION_CHARS * 2],
        intent=intent_name(spec),
        params=params,
        rows=tuple(rows) if error is None else (),
        text=text,
        sql=query.sql if query is not None else None,
        sql_params=sql_params(query),
        shape=query.template if query is not None else None,
        error=error,
        title=title,
        period_label=period_label,
        provenance=provenance(coverage, min_cell),
        suggestions=tuple(suggestions),
        notes=tuple(notes),
        alternatives=tuple(alternatives),
        summary=(text,) if summary is None else tuple(summary),
        columns=tuple(columns),
    )


def _with_notes(lines: Sequence[str], notes: Sequence[str], sep: str = "\n") -> str:
    return sep.join(lines) + "".join(f"\n{n}" for n in notes if n)


# ---------------------------------------------------------------- errors


def error_text(
    error: str,
    spec: Spec,
    *,
    coverage: Coverage | None,
    knowledge: Knowledge,
    suggestions: Sequence[str] = (),
) -> str:
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    try_ = f" Try: {'; '.join(suggestions)}." if suggestions else ""
    notes = " ".join(spec.notes)
    if error == "no_data":
        asked = " and ".join(p.label for p in spec.periods if p.label)
        asked = f" for {asked}" if asked else ""
        return f"No data{asked}: the data covers {coverage_phrase(coverage)}.{try_}"
    if error == "unknown_code":
        code = (
            spec.lookup_codes[0]
            if spec.lookup_codes
            else (spec.all_codes[0] if spec.all_codes else "That code")
        )
        return f"{code} is not in the code dictionary.{hint}"
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
        return (
            f"{notes or 'I need a little more to answer that.'}{try_ or ' ' + knowledge.help_intro}"
        )
    if error == "unsupported_filter":
        return (
            f"{notes} I cannot narrow the figures that way, and all of them would answer a "
            f"different question.{try_}"
        )
    if error == "unknown_place":
        return f"{notes} Ask for a state instead.{try_}"
    if error == "unsupported":
        return f"{notes}{try_}"
    return f"I could not answer that ({error}).{hint}"


def error_answer(
    spec: Spec,
    error: str,
    *,
    catalog: Catalog,
    coverage: Coverage | None,
    knowledge: Knowledge,
    resolved: Resolved | None = None,
    plan: Plan | None = None,
    text: str | None = None,
    suggestions: Sequence[str] = (),
    question: str | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
) -> Answer:
    """An answer that understood the question but cannot give rows: rows are empty."""
    suggestions = tuple(suggestions) or spec.suggestions or spec.alternatives
    if error == "unknown_code" and not suggestions:
        code = (spec.lookup_codes or spec.all_codes or ("",))[0]
        if code:
            suggestions = nearby_codes(code, catalog)
    body = text or error_text(
        error, spec, coverage=coverage, knowledge=knowledge, suggestions=suggestions
    )
    return _answer(
        spec,
        question=question,
        params=contract_params(spec, resolved, plan),
        text=body,
        query=plan.query if plan is not None else None,
        error=error,
        title="Cannot answer that",
        coverage=coverage,
        suggestions=suggestions,
        alternatives=spec.alternatives,
        min_cell=min_cell,
    )


def timeout_answer(question: str, intent_kind: str, seconds: float) -> Answer:
    """A question whose query ran past its deadline: said plainly, nothing half-done."""
    answer = internal_error_answer(question, intent_kind)
    text = (
        f"That question took longer than {seconds:g} seconds to answer, so I stopped "
        "it. Try a narrower one (a cohort, a year), or ask again in a moment."
    )
    return replace(answer, error="timeout", title="That took too long", text=text, summary=(text,))


def internal_error_answer(question: str, intent_kind: str = "unknown") -> Answer:
    """What the user sees when something broke inside: no traceback, ever."""
    spec = Spec("unknown", text=question)
    answer = _answer(
        spec,
        question=question,
        params=contract_params(spec),
        text="Sorry, something went wrong while answering that. The error has been logged.",
        error="internal",
        title="Something went wrong",
    )
    return replace(answer, intent=intent_kind)


# ---------------------------------------------------------------- data questions


def _suppression_note(rows: Sequence[dict[str, Any]], min_cell: int) -> str:
    """Say what hidden cells mean, so a dash is never read as zero."""
    small = any(r.get("suppressed") and not r.get("complementary") for r in rows)
    withheld = any(r.get("complementary") for r in rows)
    if withheld:
        return (
            f"Counts under {min_cell} are hidden (<{min_cell}); a dash is a larger count "
            "withheld so that a hidden one cannot be worked out from the total."
        )
    if small:
        return (
            f"Counts under {min_cell} are hidden (<{min_cell}), as CMS's cell-size rule requires."
        )
    return ""


def build_data(
    r: Resolved,
    plan: Plan,
    records: Sequence[Mapping[str, Any]],
    *,
    catalog: Catalog,
    coverage: Coverage,
    knowledge: Knowledge,
    question: str | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
) -> Answer:
    spec = r.spec
    ctx = DataContext(
        r=r,
        plan=plan,
        records=[{k: plain(v) for k, v in rec.items()} for rec in records],
        catalog=catalog,
        knowledge=knowledge,
        coverage=coverage,
        min_cell=min_cell,
    )
    unknown = [c for c in spec.all_codes if c not in catalog.codes]
    if unknown and not _billed(unknown, ctx.records):
        # a code the dictionary does not know and the data never billed: a typo, said so
        asked = replace(spec, lookup_codes=(unknown[0],))
        return error_answer(
            asked,
            "unknown_code",
            catalog=catalog,
            coverage=coverage,
            knowledge=knowledge,
            resolved=r,
            plan=plan,
            question=question,
            min_cell=min_cell,
        )
    held = coverage.amounts
    if ctx.amount and held is not None and spec.measure not in held:
        # a source without the amount: said, never a 0 presented as a figure
        return error_answer(
            spec,
            "no_data",
            catalog=catalog,
            coverage=coverage,
            knowledge=knowledge,
            resolved=r,
            plan=plan,
            question=question,
            text=no_amounts_text(spec.measure, coverage),
        )
    built = BUILDERS[plan.family](ctx)
    if built.empty_text:
        return error_answer(
            spec,
            "no_data",
            catalog=catalog,
            coverage=coverage,
            knowledge=knowledge,
            resolved=r,
            plan=plan,
            question=question,
            text=built.empty_text,
            min_cell=min_cell,
        )
    notes = [
        *built.notes,
        *spec.notes,
        *r.notes,
        *_clip_notes(r, coverage),
        annual_note(r.periods, coverage),
        _claims_note(spec, r.periods, coverage),
        *_amount_notes(ctx),
        _suppression_note(built.rows, min_cell),
    ]
    if spec.alternatives:
        notes.append("Or did you mean: " + "; ".join(f"'{a}'" for a in spec.alternatives) + "?")
    notes = list(dict.fromkeys(n for n in notes if n))
    label = describe_period(r.period, coverage)
    return _answer(
        spec,
        question=question,
        params=contract_params(spec, r, plan),
        rows=built.rows,
        text=_with_notes([built.title, *built.summary, *built.lines], notes),
        query=plan.query,
        title=built.title,
        summary=built.summary,
        period_label=label,
        coverage=coverage,
        notes=notes,
        alternatives=spec.alternatives,
        min_cell=min_cell,
    )


def no_amounts_text(measure: str, coverage: Coverage) -> str:
    noun = MEASURE_NOUN.get(measure, measure)
    sources = ", ".join(coverage.sources) or "no source"
    where = (
        "the CMS file's Tot_Benes"
        if measure == "beneficiaries"
        else "a claim file's charge_amount, allowed_amount or paid_amount columns, or the CMS "
        "file's averages"
    )
    return (
        f"The data ({sources}) has no {noun}: no loaded source carries them. They come from "
        f"{where}; procedures can be asked for instead."
    )


def _amount_notes(ctx: DataContext) -> list[str]:
    """What an amount is and, for an average, how it is worked out."""
    if not ctx.amount:
        return []
    notes = [AMOUNT_NOTES[ctx.measure]]
    if ctx.average_key:
        notes.append(
            f"Averages are the total of {ctx.noun} over the procedures that carry them (a "
            "ratio of sums, not an average of averages)."
        )
        if ctx.plan.family == "breakdown" or (ctx.plan.family == "ranked" and not ctx.spec.codes):
            small = f"; averages over fewer than {ctx.min_cell} procedures rank last"
            notes.append(
                "Ranked by the average per procedure" + (small if ctx.min_cell > 0 else "") + "."
            )
    notes.append(
        f"Procedures beside the {ctx.noun} are those whose source carries them; sources "
        "without them are left out."
    )
    return notes


def _billed(codes: Sequence[str], records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any of `codes` shows in the rows (a code row, or a non-zero total of
    the codes asked about)."""
    for rec in records:
        if "code" in rec and rec["code"] in codes and rec.get("value"):
            return True
        if "code" not in rec and rec.get("value"):
            return True
    return False


# ---------------------------------------------------------------- other questions


def build_other(
    spec: Spec,
    records: Sequence[Mapping[str, Any]] | None,
    *,
    catalog: Catalog,
    coverage: Coverage | None,
    knowledge: Knowledge,
    query: Query | None = None,
    period: Period | None = None,
    question: str | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
) -> Answer:
    """Lookups, the code range, OT vs PT, coverage, help and unknown questions."""
    ctx = _Other(
        spec,
        [{k: plain(v) for k, v in r.items()} for r in records or ()],
        catalog=catalog,
        coverage=coverage,
        knowledge=knowledge,
        query=query,
        period=period,
        question=question,
        min_cell=min_cell,
    )
    builder = {
        "lookup": _code_lookup,
        "code_range": _code_range,
        "knowledge": _ot_vs_pt,
        "coverage": _coverage,
        "help": _help,
    }.get(spec.kind, _unknown)
    return builder(ctx)


class _Other:
    def __init__(
        self,
        spec: Spec,
        records: list[dict[str, Any]],
        *,
        catalog: Catalog,
        coverage: Coverage | None,
        knowledge: Knowledge,
        query: Query | None,
        period: Period | None,
        question: str | None,
        min_cell: int,
    ) -> None:
        self.spec = spec
        self.records = records
        self.catalog = catalog
        self.coverage = coverage
        self.knowledge = knowledge
        self.query = query
        self.period = period
        self.question = question
        self.min_cell = min_cell
        self.label = describe_period(period, coverage) if period is not None else ""

    def answer(
        self,
        rows: Iterable[dict[str, Any]],
        lines: Sequence[str],
        title: str,
        *,
        sep: str = "\n",
        suggestions: Sequence[str] = (),
        summary: Sequence[str] | None = None,
        columns: Sequence[str] = (),
    ) -> Answer:
        params = contract_params(self.spec)
        if self.period is not None:
            params.update(start=self.period.start.isoformat(), end=self.period.end.isoformat())
        return _answer(
            self.spec,
            question=self.question,
            params=params,
            rows=rows,
            text=sep.join(lines),
            query=self.query,
            title=title,
            period_label=self.label or None,
            coverage=self.coverage,
            suggestions=suggestions,
            summary=lines if summary is None else summary,
            columns=columns,
            min_cell=self.min_cell,
        )


def _ot_vs_pt(ctx: _Other) -> Answer:
    spec = ctx.spec
    knowledge = ctx.knowledge
    bound = dict(ctx.query.params) if ctx.query is not None else {}
    lead = str(bound.get("lead", "ot"))
    rows = []
    for i, r in enumerate(ctx.records, start=1):
        lead_share = _round(r["lead_share_pct"])
        other_share = _round(r["other_share_pct"])
        ratio = r["ratio"]
        procedures = int(r["lead_procedures"])
        row: dict[str, Any] = {
            "rank": i,
            "code": str(r["code"]),
            "description": ctx.catalog.describe(str(r["code"])),
            "share_pct": lead_share,
            "procedures": procedures,
            "ot_share_pct": lead_share if lead == "ot" else other_share,
            "pt_share_pct": other_share if lead == "ot" else lead_share,
            "ratio": None if ratio is None else round(float(ratio), 2),
            "over_represented_in": lead,
        }
        if is_small(int(r["other_procedures"]), ctx.min_cell):
            # the other cohort's share of a code it billed 1-10 times, with its total
            # from another question, would give the count
            row.update({f"{'pt' if lead == 'ot' else 'ot'}_share_pct": None, "ratio": None})
        if is_small(procedures, ctx.min_cell):
            row.update(
                procedures=f"<{ctx.min_cell}",
                share_pct=None,
                ot_share_pct=None,
                pt_share_pct=None,
                ratio=None,
                suppressed=True,
            )
        rows.append(row)
    lead_noun, other_noun = ("OT", "PT") if lead == "ot" else ("PT", "OT")
    titles = {
        "ot_focus": "What occupational therapy focuses on",
        "pt_focus": "What physical therapy focuses on",
        "mental_health": "Occupational therapy and mental health",
        "codes": "OT and PT procedure codes",
    }
    title = titles.get(spec.topic or "", "Occupational therapy vs physical therapy")
    parts = [title, ot_vs_pt_text(knowledge, spec.topic)]
    summary = parts[1:]
    if rows:
        intro = knowledge.ot_vs_pt["data_intro"].format(
            lead=lead_noun, other=other_noun, period=ctx.label
        )
        data_lines = []
        for row in rows:
            if row["ratio"] is not None:
                ratio = write("ratio", row["ratio"])
            elif (
                row["pt_share_pct"] if lead == "ot" else row["ot_share_pct"]
            ) is None and not row.get("suppressed"):
                ratio = f"fewer than {ctx.min_cell} in {other_noun}"
            else:
                ratio = "only " + lead_noun
            lead_pct = row["ot_share_pct"] if lead == "ot" else row["pt_share_pct"]
            other_pct = row["pt_share_pct"] if lead == "ot" else row["ot_share_pct"]
            data_lines.append(
                f"{row['code']} {row['description']}: {fmt_pct(lead_pct)} of {lead_noun} vs "
                f"{fmt_pct(other_pct)} of {other_noun} ({ratio})"
            )
        parts.append("\n".join([intro, *data_lines]))
        summary.append(intro)
    columns = ("code", "ot_share_pct", "pt_share_pct", "ratio", "description")
    return ctx.answer(rows, parts, title, sep="\n\n", summary=summary, columns=columns)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


def _codes_count(count: int) -> str:
    return f"{count} code" if count == 1 else f"{count} codes"


def _category_name(category: str, catalog: Catalog) -> str:
    for sub in catalog.subgroups:
        if sub.key == category:
            return f"{sub.name} ({sub.first}-{sub.last})"
    return category.replace("_", " ").capitalize()


_TIMED = {"yes": "timed (billed per 15 minutes)", "no": "untimed (billed once per session)"}


def _code_lookup(ctx: _Other) -> Answer:
    spec = ctx.spec
    catalog = ctx.catalog
    codes = list(dict.fromkeys(spec.lookup_codes))
    known = [c for c in codes if c in catalog.codes]
    if not known:
        return error_answer(
            spec,
            "unknown_code" if codes else "ambiguous",
            catalog=catalog,
            coverage=ctx.coverage,
            knowledge=ctx.knowledge,
            question=ctx.question,
            min_cell=ctx.min_cell,
        )
    context = []
    for r in ctx.records:
        procedures = int(r["procedures"])
        context.append(
            {
                "cohort": r["cohort"],
                "rank": int(r["rank"]),
                "share_pct": None if is_small(procedures, ctx.min_cell) else _round(r["share_pct"]),
                "procedures": f"<{ctx.min_cell}"
                if is_small(procedures, ctx.min_cell)
                else procedures,
            }
        )
    rows = []
    for i, code in enumerate(known):
        info = catalog.codes[code]
        row: dict[str, Any] = {
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
    ]
    if standings:
        lines.append(f"In {ctx.label} it ranked {', '.join(standings)}.")
    if len(rows) > 1:
        lines.append(
            "Other matches: " + ", ".join(f"{r['code']} {r['description']}" for r in rows[1:])
        )
    columns = ("code", "description", "category_name", "timed")
    return ctx.answer(rows, lines, title, columns=columns)


def _code_range(ctx: _Other) -> Answer:
    spec = ctx.spec
    catalog = ctx.catalog
    k = ctx.knowledge.code_range
    subgroups = sorted(catalog.subgroups, key=lambda s: (s.first, s.last))
    counts = {
        s.key: sum(1 for c in catalog.codes.values() if c.category == s.key) for s in subgroups
    }
    asked = next((s for s in subgroups if s.key in spec.subgroups), None)
    lines = [k["summary"]]
    columns: tuple[str, ...] = ("name", "first", "last", "codes", "description")
    rows: list[dict[str, Any]]
    if asked is not None:
        title = f"{asked.name}: CPT {asked.first}-{asked.last}"
        lines.append(f"{asked.name} ({asked.first}-{asked.last}): {asked.description}.")
        rows = [
            {"code": c.code, "description": c.description, "timed": c.timed, "subgroup": asked.key}
            for c in sorted(catalog.codes.values(), key=lambda c: c.code)
            if c.category in spec.subgroups
        ]
        columns = ("code", "description", "timed")
        summary = list(lines)
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
        summary = list(lines)
        lines.extend(
            "  "
            + k["subgroup_detail"].format(
                name=s.name, span=_span(s.first, s.last), count=_codes_count(counts[s.key])
            )
            for s in subgroups
        )
    return ctx.answer(rows, lines, title, summary=summary, columns=columns)


def _coverage(ctx: _Other) -> Answer:
    coverage = ctx.coverage
    rows = ctx.records
    if coverage is None:
        return error_answer(
            ctx.spec,
            "no_data",
            catalog=ctx.catalog,
            coverage=None,
            knowledge=ctx.knowledge,
            question=ctx.question,
            min_cell=ctx.min_cell,
        )
    sources = ", ".join(coverage.sources) or "no sources"
    text = ctx.knowledge.coverage_text.format(
        start=coverage.start.isoformat(),
        end=coverage.end.isoformat(),
        claim_lines=fmt_count(coverage.claim_lines),
        sources=sources,
    )
    lines = [text, f"{fmt_count(coverage.procedures)} procedures in all."]
    summary = list(lines)
    for r in rows:
        lines.append(
            f"  {r.get('name')} ({r.get('kind')}): {r.get('first_date')} to {r.get('last_date')}, "
            f"{fmt_count(r.get('rows_loaded'))} rows loaded"
        )
    columns = ("name", "kind", "first_date", "last_date", "rows_loaded", "rows_rejected")
    return ctx.answer(rows, lines, "Data coverage", summary=summary, columns=columns)


def _help(ctx: _Other) -> Answer:
    return ctx.answer(
        (),
        [help_text(ctx.knowledge)],
        "How to ask toprank",
        suggestions=ctx.knowledge.help_examples[:4],
    )


def _unknown(ctx: _Other) -> Answer:
    text = ctx.knowledge.unknown_text
    suggestions = ctx.spec.suggestions or ctx.knowledge.help_examples[:3]
    lines = [text + "\nTry: " + "; ".join(suggestions)]
    return ctx.answer((), lines, "Not sure what you meant", suggestions=suggestions, summary=[text])
