"""Refusals: SQL text, patient-level data, individual providers.

These questions get intent "unknown" with error "unsafe" before anything else is
read from them; the patterns are data (data/vocabulary.yaml, section `unsafe`).
"""

from __future__ import annotations

from toprank.intents.lexicon import Lexicon
from toprank.intents.tagger import Tagged


def is_unsafe(found: Tagged, lex: Lexicon) -> bool:
    lowered = found.tokens.lowered
    if any(t in lowered for t in lex.unsafe_sql_triggers) and lex.unsafe_sql.search(lowered):
        return True
    words = list(found.low)
    # "physical therapists" names a cohort, not people: hide cohort phrases first
    for t in found.of("cohort", "cohort_weak"):
        for k in range(t.i, t.j):
            words[k] = "cohort"
    if any(t.kind == "dimension" and t.value == "cohort" for t in found.tags):
        # "who bills the most 97112, by specialty": the who is a specialty, not a person
        words = ["which specialty" if w == "who" else w for w in words]
    text = " ".join(words)
    starts = {w[:3] for w in words}
    if (lex.privacy_keys is None or not lex.privacy_keys.isdisjoint(starts)) and (
        lex.unsafe_privacy.search(lex.privacy_exempt.sub(" ", text))
    ):
        return True
    return not lex.provider_keys.isdisjoint(words) and bool(lex.provider_level.search(text))
