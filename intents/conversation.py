"""Follow-ups: (the conversation so far, text) -> Spec. Pure.

A turn that is a complete question (a subject, cohort or code, and something asked
about it) starts afresh. Anything else continues the previous question with the parts
the turn names changed: "and for PT?" (cohort), "what about 2021?" / "now do 2020"
(period), "in Texas" / "just medicare" (an inclusion replaces the last one), "exclude
medicare" (an exclusion is added), "top 20" (the list length), "by payer" (a
grouping), "as visits" (the measure), "what is the second one?" (a row of the last
answer: references are resolved to codes before reading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from toprank.intents.lexicon import Lexicon
from toprank.intents.spec import MONEY_MEASURES, TIME_DIMENSIONS, Selection, Spec
from toprank.intents.tagger import tag
from toprank.intents.understand import _MOVERS, _Ctx, compose, understand

_REFERENCE = re.compile(
    r"\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|seventh|"
    r"7th|eighth|8th|ninth|9th|tenth|10th|last|top|bottom)\s+(?:one|code|row|item)\b"
    r"|(?:\bnumber|\bno\.?|#)\s*(\d{1,2})\b(?!\s*(?:codes?|rows?))",
    re.I,
)
_THAT = re.compile(r"\b(?:that|this|the same)\s+(?:one|code)\b|\bit\b", re.I)
_ORDINALS = {
    "first": 1,
    "1st": 1,
    "top": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
}


@dataclass(frozen=True)
class Context:
    """What a follow-up continues: the last question's spec and the codes its answer
    listed, in order (for "the second one")."""

    spec: Spec
    codes: tuple[str, ...] = ()


def resolve_references(text: str, codes: tuple[str, ...]) -> tuple[str, bool]:
    """ "what is the second one" -> "what is 97140" (the last answer's rows); the flag
    says whether a reference was replaced."""
    if not codes:
        return text, False
    found = False

    def sub(m: re.Match[str]) -> str:
        nonlocal found
        word, number = m.group(1), m.group(2)
        if number:
            k = int(number)
        elif word and word.lower() in ("last", "bottom"):
            k = len(codes)
        else:
            k = _ORDINALS.get((word or "").lower(), 0)
        if 1 <= k <= len(codes):
            found = True
            return codes[k - 1]
        return m.group(0)

    out = _REFERENCE.sub(sub, text)
    if not found and len(codes) == 1 and _THAT.search(text):
        out = _THAT.sub(codes[0], text, count=1)
        found = True
    return out, found


def follow_up(
    context: Context | None,
    text: str,
    today: date,
    lex: Lexicon,
) -> Spec:
    """The spec of `text` as the next turn after `context`."""
    if context is None:
        return understand(text, today, lex)
    text, referenced = resolve_references(text, context.codes)
    fresh = understand(text, today, lex)
    previous = context.spec
    if previous.kind != "data" or fresh.error in ("unsafe", "too_long"):
        return fresh
    f = tag(text, today, lex)
    c = _Ctx(text, f, lex)
    if fresh.kind in ("lookup", "knowledge", "coverage", "help", "code_range") and not (
        f.has("follow_up") and fresh.kind == "lookup" and not referenced
    ):
        return fresh  # "what is the second one?", "help": a question of its own
    if _complete(c, fresh) and not f.has("follow_up") and not referenced:
        return fresh
    if not _names_something(c):
        return fresh
    return _merge(previous, c, compose(c))


def _complete(c: _Ctx, fresh: Spec) -> bool:
    """A question that stands on its own: a subject and something asked about it."""
    if fresh.kind != "data":
        return fresh.kind != "unknown"
    subject = bool(c.cohorts or c.f.of("code", "code_family", "subgroup", "code_range"))
    asked = c.has("top", "share", "rank", "trend", "volume", "compare", "versus", *_MOVERS) or (
        bool(c.f.of("dimension"))
    )
    return subject and asked


def _names_something(c: _Ctx) -> bool:
    f = c.f
    return bool(
        f.tags
        or f.n is not None
        or f.bare_numbers
        or c.has("top", "share", "trend", "volume", "compare", "versus", "union_cue", *_MOVERS)
    )


def _selection(previous: Selection, c: _Ctx, kind: str, flatten: bool = False) -> Selection:
    def values(tags: list[Any]) -> tuple[str, ...]:
        if flatten:
            return tuple(dict.fromkeys(v for t in tags for v in t.value))
        return tuple(dict.fromkeys(t.value for t in tags))

    include, exclude = values(c.included(kind)), values(c.excluded_tags(kind))
    out = previous
    if include:
        out = Selection(include, tuple(v for v in out.exclude if v not in include))
    if exclude:
        out = out.excluding(*exclude)
    return out


def _merge(previous: Spec, c: _Ctx, fresh: Spec) -> Spec:
    """The previous spec with what the turn names changed."""
    f, has = c.f, c.has
    changes: dict[str, Any] = {"text": c.text}
    if c.included("cohort") or f.of("cohort_weak"):
        changes.update(
            cohorts=fresh.cohorts,
            cohort_mode=fresh.cohort_mode,
            exclude_cohorts=fresh.exclude_cohorts,
        )
    elif fresh.exclude_cohorts:  # "exclude PT": the same scope, less that cohort
        changes["exclude_cohorts"] = tuple(
            dict.fromkeys([*previous.exclude_cohorts, *fresh.exclude_cohorts])
        )
    if fresh.codes:
        changes.update(codes=fresh.codes, code_mode=fresh.code_mode)
        if previous.ask == "rank" and previous.group_by == "code" and not previous.codes:
            changes["ask"] = "share"
    if fresh.exclude_codes:
        changes["exclude_codes"] = tuple(
            dict.fromkeys([*previous.exclude_codes, *fresh.exclude_codes])
        )
    changes["states"] = _selection(previous.states, c, "state")
    changes["payers"] = _selection(previous.payers, c, "payer")
    changes["places"] = _selection(previous.places, c, "place", flatten=True)
    changes["settings"] = _selection(previous.settings, c, "setting")
    changes["modifiers"] = _selection(previous.modifiers, c, "modifier")
    if c.included("state"):
        changes["state_mode"] = fresh.state_mode
    if c.included("payer"):
        changes["payer_mode"] = fresh.payer_mode
    if fresh.periods:
        changes.update(periods=fresh.periods, period_mode=fresh.period_mode)
    if f.of("measure"):
        changes["measure"] = fresh.measure
        changes["average"] = fresh.average
    elif has("average") and previous.measure in MONEY_MEASURES:
        changes["average"] = True  # "and the average?" after an amount
    n = fresh.n
    if n is not None:
        changes["n"] = n
    # what is asked: a new grouping or cue changes the shape
    if fresh.kind == "data" and (f.of("dimension") or has("trend", *_MOVERS)):
        changes.update(
            ask=fresh.ask,
            group_by=fresh.group_by,
            per_group=fresh.per_group,
            direction=fresh.direction,
        )
        if fresh.group_by in TIME_DIMENSIONS and not fresh.periods:
            changes.update(periods=(), period_mode="single")  # a trend spans all the data
    elif fresh.kind == "data" and has("share") and (changes.get("codes") or previous.codes):
        changes["ask"] = "share"
    elif fresh.kind == "data" and has("volume") and not has("top"):
        changes.update(ask="total", group_by=None, per_group=None)
    elif fresh.kind == "data" and has("top") and previous.ask in ("total", "share"):
        changes.update(ask="rank", group_by="code")
    notes = tuple(n for n in fresh.notes if n not in previous.notes)
    spec = replace(previous, **changes, notes=notes, alternatives=(), error=fresh.error)
    if len(spec.cohorts) < 2 and spec.cohort_mode != "single":
        spec = replace(spec, cohort_mode="single")
    if len(spec.periods) < 2 and spec.period_mode != "single":
        spec = replace(spec, period_mode="single")
    if len(spec.states.include) < 2 and spec.state_mode != "single":
        spec = replace(spec, state_mode="single")
    if len(spec.payers.include) < 2 and spec.payer_mode != "single":
        spec = replace(spec, payer_mode="single")
    return spec


__all__ = ["Context", "compose", "follow_up", "resolve_references"]
