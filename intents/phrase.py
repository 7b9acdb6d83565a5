"""Spec -> a question in words that understand() reads back into the same spec.

Used wherever the bot offers a question to ask: the other reading of an ambiguous
question, the latest covered equivalent of "last year", a follow-up's full question.
Pure. The round trip (understand(question_for(spec)) == spec, for the parts a question
can say) is a property test.
"""

from __future__ import annotations

from datetime import date

from toprank.intents.periods import MONTH_NAMES, month_end
from toprank.intents.spec import CodeSet, PeriodRef, Selection, Spec

_COHORT_WORDS = {
    "ot": "OT",
    "pt": "PT",
    "slp": "SLP",
    "pmr": "physiatry",
    "chiro": "chiro",
    "rehab": "rehab",
    "all": "all",
    "other": "other specialties",
}
_PAYER_WORDS = {
    "medicare": "medicare",
    "medicaid": "medicaid",
    "commercial": "commercial",
    "other": "other payers",
}
_DIMENSION_WORDS = {
    "state": "state",
    "payer": "payer",
    "cohort": "specialty",
    "place_of_service": "place of service",
    "year": "year",
    "quarter": "quarter",
    "month": "month",
}
_MEASURE_WORDS = {
    "procedures": "procedures",
    "units": "units",
    "claims": "visits",
    "payments": "payments",
    "allowed": "allowed amounts",
    "charges": "charges",
    "beneficiaries": "beneficiaries",
}


def period_words(ref: PeriodRef) -> str:
    """A period as words the period rules read back the same."""
    if ref.kind == "yearless" and ref.months:
        first, last = ref.months
        if first == last:
            return f"in {MONTH_NAMES[first]}"
        return f"{MONTH_NAMES[first]} to {MONTH_NAMES[last]}"
    if ref.kind == "relative":
        return ref.label
    assert ref.start and ref.end
    return dates_words(ref.start, ref.end)


def dates_words(start: date, end: date) -> str:
    whole = start.day == 1 and end == month_end(end.year, end.month)
    if not whole:
        return f"{MONTH_NAMES[start.month]} {start.year} to {MONTH_NAMES[end.month]} {end.year}"
    if start.month == 1 and end.month == 12:
        return str(start.year) if start.year == end.year else f"{start.year} to {end.year}"
    if start.year == end.year and start.month % 3 == 1 and end.month == start.month + 2:
        return f"Q{(start.month + 2) // 3} {start.year}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{MONTH_NAMES[start.month]} {start.year}"
    return f"{MONTH_NAMES[start.month]} {start.year} to {MONTH_NAMES[end.month]} {end.year}"


def _codes_words(sets: tuple[CodeSet, ...], joiner: str) -> str:
    return f" {joiner} ".join(
        s.first + "-" + (s.last or "")
        if s.is_range and s.first
        else s.codes[0]
        if s.kind == "code"
        else s.label
        for s in sets
    )


def _selection_words(sel: Selection, words: dict[str, str] | None, lead: str, joiner: str) -> str:
    def name(v: str) -> str:
        return words.get(v, v) if words else v

    parts = []
    if sel.include:
        parts.append(f"{lead} " + f" {joiner} ".join(name(v) for v in sel.include))
    if sel.exclude:
        parts.append("excluding " + " and ".join(name(v) for v in sel.exclude))
    return " ".join(parts)


def question_for(spec: Spec) -> str:
    """A question that asks `spec` (data specs; other kinds give their text)."""
    if spec.kind != "data":
        return spec.text
    cohort_join = {"union": "and", "compared": "vs", "single": "and"}[spec.cohort_mode]
    cohorts = f" {cohort_join} ".join(_COHORT_WORDS.get(c, c) for c in spec.cohorts)
    measure = ("average " if spec.average else "") + _MEASURE_WORDS[spec.measure]
    codes = _codes_words(spec.codes, "vs" if spec.code_mode == "compared" else "and")
    parts: list[str] = []
    n = f" {spec.n}" if spec.n else ""
    if spec.ask == "movers":
        head = {"up": "fastest growing", "down": "fastest declining", "both": "biggest movers"}
        parts.append(f"{head[spec.direction]}{n} {cohorts} codes".replace("  ", " "))
    elif spec.ask == "total":
        parts.append(f"how many {cohorts} {measure}")
        if codes:
            parts.append(f"for {codes}")
    elif spec.ask == "share":
        parts.append(f"what share of {cohorts or 'all'} {measure} was {codes}")
    elif spec.ask == "trend":
        parts.append(f"{cohorts} {codes} {measure} by {_DIMENSION_WORDS[spec.group_by or 'year']}")
    elif spec.ask == "breakdown":
        parts.append(f"{cohorts} {codes} {measure}")
        parts.append(f"by {_DIMENSION_WORDS[spec.group_by or 'state']}")
    else:
        parts.append(f"top{n} {cohorts} codes")
        if codes:
            parts.append(f"among {codes}")
        if spec.measure != "procedures":
            parts.append(f"by {measure}")
    if spec.per_group:
        parts.append(f"in each {_DIMENSION_WORDS[spec.per_group]}")
    if spec.exclude_codes:
        parts.append("excluding " + _codes_words(spec.exclude_codes, "and"))
    state_join = "vs" if spec.state_mode == "compared" else "or"
    payer_join = "vs" if spec.payer_mode == "compared" else "or"
    parts.append(_selection_words(spec.states, None, "in", state_join))
    parts.append(_selection_words(spec.payers, _PAYER_WORDS, "for", payer_join))
    if spec.places:
        parts.append(_selection_words(spec.places, None, "at place of service", "or"))
    if spec.settings:
        parts.append(_selection_words(spec.settings, None, "in the fee schedule's", "or"))
        parts.append("settings" if len(spec.settings.include) > 1 else "setting")
    if spec.modifiers:
        parts.append(_selection_words(spec.modifiers, None, "with modifier", "or"))
    if spec.periods:
        join = {"compared": " vs ", "combined": " and ", "single": " and "}[spec.period_mode]
        parts.append(join.join(period_words(p) for p in spec.periods))
        if spec.period_mode == "combined":
            parts.append("combined")
    if (spec.cohort_mode == "union" or spec.code_mode == "combined") and "combined" not in parts:
        parts.append("combined")
    return " ".join(" ".join(p.split()) for p in parts if p.strip())
