"""Loads data/vocabulary.yaml (the parser's cue words, number words, months, refusals).

Like data/catalog.py this is the edge: the file is read once per process and the
result handed to the pure parser (intents.parse takes it as an optional argument).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from toprank.data.catalog import DATA_DIR
from toprank.data.examples import load_examples
from toprank.data.yaml_file import read_yaml


@dataclass(frozen=True)
class Vocabulary:
    filler: frozenset[str]
    common_words: frozenset[str]
    number_words: Mapping[str, int]
    ordinals: Mapping[str, int]
    months: Mapping[str, int]
    month_words_needing_year: frozenset[str]
    relative_periods: Mapping[str, str]
    relative_lead_words: frozenset[str]
    relative_units: Mapping[str, str]
    since_words: frozenset[str]
    open_end_words: frozenset[str]
    until_words: frozenset[str]
    range_connectors: frozenset[str]
    ambiguous_state_codes: frozenset[str]
    # Of those, the ones that are everyday function words: never a state in lower case,
    # even as a slash argument ("/toprank pt in 2022").
    function_word_state_codes: frozenset[str]
    state_aliases: Mapping[str, str]
    no_place_phrases: Mapping[str, str]  # words for XX (unknown) and ZZ (foreign)
    facility_settings: Mapping[str, tuple[str, ...]]  # facility / non-facility -> words
    weak_cohort_synonyms: tuple[str, ...]
    noise_phrases: tuple[str, ...]
    unsupported_specialties: tuple[str, ...]
    unsupported_measures: Mapping[str, str]
    code_families: Mapping[str, tuple[str, ...]]
    weak_code_aliases: frozenset[str]
    subgroup_synonyms: Mapping[str, tuple[str, ...]]
    subgroup_families: Mapping[str, tuple[str, ...]]
    # cue name -> regular-expression fragments matched on whole words
    cues: Mapping[str, tuple[str, ...]]
    unsafe_sql: tuple[str, ...]
    unsafe_sql_triggers: tuple[str, ...]
    unsafe_privacy: tuple[str, ...]
    provider_words: tuple[str, ...]
    provider_level: tuple[str, ...]
    privacy_exempt: tuple[str, ...]
    examples: tuple[str, ...]
    # understanding v2
    negation: tuple[str, ...]
    negation_glue: frozenset[str]
    measures: Mapping[str, tuple[str, ...]]
    dimensions: Mapping[str, tuple[str, ...]]
    group_leads: frozenset[str]
    group_tails: frozenset[str]
    group_alone: frozenset[str]
    modifier_words: frozenset[str]
    bare_modifiers: frozenset[str]
    unsupported_filters: Mapping[str, tuple[str, ...]]


def _words(items: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in (items or ()))


def _mapping(items: Any, cast: Callable[[Any], Any] = str) -> Mapping[str, Any]:
    return MappingProxyType({str(k): cast(v) for k, v in dict(items or {}).items()})


@lru_cache(maxsize=4)
def load_vocab(path: Path = DATA_DIR / "vocabulary.yaml") -> Vocabulary:
    d = read_yaml(path)
    unsafe = d.get("unsafe") or {}
    return Vocabulary(
        filler=frozenset(_words(d.get("filler"))),
        common_words=frozenset(_words(d.get("common_words"))),
        number_words=_mapping(d.get("number_words"), int),
        ordinals=_mapping(d.get("ordinals"), int),
        months=_mapping(d.get("months"), int),
        month_words_needing_year=frozenset(_words(d.get("month_words_needing_year"))),
        relative_periods=_mapping(d.get("relative_periods")),
        relative_lead_words=frozenset(_words(d.get("relative_lead_words"))),
        relative_units=_mapping(d.get("relative_units")),
        since_words=frozenset(_words(d.get("since_words"))),
        open_end_words=frozenset(_words(d.get("open_end_words"))),
        until_words=frozenset(_words(d.get("until_words"))),
        range_connectors=frozenset(_words(d.get("range_connectors"))),
        ambiguous_state_codes=frozenset(_words(d.get("ambiguous_state_codes"))),
        function_word_state_codes=frozenset(_words(d.get("function_word_state_codes"))),
        state_aliases=_mapping(d.get("state_aliases"), lambda v: str(v).upper()),
        no_place_phrases=_mapping(d.get("no_place_phrases"), lambda v: str(v).upper()),
        facility_settings=_mapping(d.get("facility_settings"), lambda v: tuple(str(w) for w in v)),
        weak_cohort_synonyms=_words(d.get("weak_cohort_synonyms")),
        noise_phrases=_words(d.get("noise_phrases")),
        unsupported_specialties=_words(d.get("unsupported_specialties")),
        unsupported_measures=_mapping(d.get("unsupported_measures")),
        code_families=_mapping(d.get("code_families"), _words),
        weak_code_aliases=frozenset(_words(d.get("weak_code_aliases"))),
        subgroup_synonyms=_mapping(d.get("subgroup_synonyms"), _words),
        subgroup_families=_mapping(d.get("subgroup_families"), _words),
        cues=_mapping(d.get("cues"), _words),
        unsafe_sql=_words(unsafe.get("sql")),
        unsafe_sql_triggers=_words(unsafe.get("sql_triggers")),
        unsafe_privacy=_words(unsafe.get("privacy")),
        provider_words=_words(unsafe.get("provider_words")),
        provider_level=_words(unsafe.get("provider_level")),
        privacy_exempt=_words(unsafe.get("privacy_exempt")),
        examples=load_examples().questions,
        negation=_words(d.get("negation")),
        negation_glue=frozenset(_words(d.get("negation_glue"))),
        measures=_mapping(d.get("measures"), _words),
        dimensions=_mapping(d.get("dimensions"), _words),
        group_leads=frozenset(_words(d.get("group_leads"))),
        group_tails=frozenset(_words(d.get("group_tails"))),
        group_alone=frozenset(_words(d.get("group_alone"))),
        modifier_words=frozenset(_words(d.get("modifier_words"))),
        bare_modifiers=frozenset(_words(d.get("bare_modifiers"))),
        unsupported_filters=_mapping(d.get("unsupported_filters"), _words),
    )
