"""The parser's compiled view of the reference data: phrase tables, cue patterns, speller.

Built once per (Catalog, Vocabulary) pair from data only; parse() then does dict
lookups and precompiled regex searches, no file access.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from toprank.data.catalog import Catalog
from toprank.data.vocab import Vocabulary
from toprank.intents.fuzzy import SpellIndex
from toprank.intents.period_rules import SEASON_WORDS
from toprank.intents.text import tokenize

_WORD = re.compile(r"[a-z]+")
_OPTIONAL_END = re.compile(r"([a-z]+)(\?)?")


@dataclass(frozen=True)
class Entry:
    """What a phrase names. kind: cohort, cohort_weak, payer, state, code, code_weak,
    code_family, subgroup, unsupported (a specialty), noise, negation, measure,
    dimension, place, modifier, city, unsupported_filter, no_place (XX, ZZ)."""

    kind: str
    value: Any


def singular(word: str) -> str:
    """Crude plural folding, applied alike to the phrase tables and the question."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def phrase_key(text: str) -> tuple[str, ...]:
    return _key_of(tokenize(text).low)


def _key_of(low: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(singular(t) for t in low if t not in ("-", "/"))


def _cue_words(fragment: str) -> set[str]:
    """The words a cue fragment spells, both forms of "codes?" ("code", "codes")."""
    words = set()
    for word, optional in _OPTIONAL_END.findall(re.sub(r"\\.", " ", fragment)):
        words.add(word)
        if optional and len(word) > 1:
            words.add(word[:-1])
    return words


def anchor_keys(fragments: tuple[str, ...]) -> frozenset[str] | None:
    """Three-letter word starts one of which any match of these fragments contains, so
    a pattern need not run on a question without them; None when that is unknown."""
    keys: set[str] = set()
    for frag in fragments:
        words = _WORD.findall(re.sub(r"\\.", " ", frag))
        if not words:
            return None
        keys.update(w[:3] for w in words)
    return frozenset(keys)


class LazyPattern:
    """A regular expression compiled on its first use. Most questions run a few of the
    lexicon's patterns (the others are skipped by their anchor words), and compiling all
    of them was a third of building the lexicon, paid by every one-shot `toprank ask`."""

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled().search(text)

    def sub(self, repl: str, text: str) -> str:
        return self.compiled().sub(repl, text)


def _cue_pattern(fragments: tuple[str, ...]) -> LazyPattern:
    # longest first so "year over year" wins over "year"
    alts = sorted(fragments, key=len, reverse=True)
    return LazyPattern(r"(?:^| )(?:" + "|".join(alts) + r")(?= |$)")


@dataclass(frozen=True)
class _CodeIndex:
    weights: dict[str, dict[str, float]]  # code -> word -> weight
    idf: dict[str, float]  # word -> inverse document frequency over the codes
    df: dict[str, int]  # word -> how many codes' names hold it
    codes_by_token: dict[str, list[str]]


class Lexicon:
    def __init__(self, catalog: Catalog, vocab: Vocabulary):
        self.catalog = catalog
        self.vocab = vocab
        self.phrases: dict[tuple[str, ...], list[Entry]] = {}
        targets: set[str] = set()

        def add(text: str, entry: Entry, target: bool = True) -> None:
            low = tokenize(text).low  # once: the key and the spelling targets
            key = _key_of(low)
            if not key:
                return
            entries = self.phrases.setdefault(key, [])
            if entry not in entries:
                entries.append(entry)
            if target:
                targets.update(low)

        weak_cohort = {phrase_key(s) for s in vocab.weak_cohort_synonyms}
        for key, info in catalog.cohorts.items():
            for syn in (info.key, *info.synonyms):
                kind = "cohort_weak" if phrase_key(syn) in weak_cohort else "cohort"
                add(syn, Entry(kind, key))
        # A bare "other" is the provider cohort or a word ("other than", "any other"):
        # intents.tagger decides; the payer is "other payers", the sub-group "unlisted".
        for payer, syns in catalog.payers.items():
            for syn in (payer, *syns):
                if syn != "other":
                    add(syn, Entry("payer", payer))
        for code in catalog.place_states:  # XX and ZZ name no place: not a filter
            add(catalog.states[code], Entry("state", code))
        for alias, code in vocab.state_aliases.items():
            add(alias, Entry("state", code))
        # XX (unknown) and ZZ (foreign): rows count nationally, a filter on them is refused
        for code in catalog.no_place_states:
            add(code, Entry("no_place", code))
        for phrase, code in vocab.no_place_phrases.items():
            add(phrase, Entry("no_place", code))
        weak_code = {phrase_key(s) for s in vocab.weak_code_aliases}
        for code, code_info in catalog.codes.items():
            for name in (code_info.description, *code_info.aliases):
                kind = "code_weak" if phrase_key(name) in weak_code else "code"
                add(name, Entry(kind, code))
        for name, family in vocab.code_families.items():
            add(name, Entry("code_family", tuple(family)))
        for sg in catalog.subgroups:
            if sg.name.lower() != "other":
                add(sg.name, Entry("subgroup", (sg.key,)))
            add(sg.key.replace("_", " "), Entry("subgroup", (sg.key,)))
        for key, syns in vocab.subgroup_synonyms.items():
            for syn in syns:
                add(syn, Entry("subgroup", (key,)))
        for syn, keys in vocab.subgroup_families.items():
            add(syn, Entry("subgroup", tuple(keys)))
        for word in vocab.unsupported_specialties:
            add(word, Entry("unsupported", word))
        for phrase in vocab.noise_phrases:
            add(phrase, Entry("noise", None), target=False)
        for phrase in vocab.negation:
            add(phrase, Entry("negation", None))
        for measure, words in vocab.measures.items():
            for word in words:
                add(word, Entry("measure", measure))
        for dimension, words in vocab.dimensions.items():
            for word in words:
                add(word, Entry("dimension", dimension))
        place_codes: dict[str, list[str]] = {}
        for place in catalog.places.values():
            for syn in place.synonyms:
                place_codes.setdefault(syn, []).append(place.code)
        for syn, place_list in place_codes.items():
            add(syn, Entry("place", tuple(place_list)))
        # Only the longer names of modifiers are phrases ("modifier 59", "gp modifier"): a
        # bare "go" or "59" is a modifier only next to "modifier" (see intents.tagger).
        for mod in catalog.modifiers.values():
            for syn in mod.synonyms:
                if len(phrase_key(syn)) > 1:
                    add(syn, Entry("modifier", mod.code), target=False)
        for setting, words in vocab.facility_settings.items():
            for word in words:
                add(word, Entry("setting", setting))
        for city, state in catalog.cities.items():
            add(city, Entry("city", state))
        for label, words in vocab.unsupported_filters.items():
            for word in words:
                add(word, Entry("unsupported_filter", label))
        # phrase lengths by first word, longest first: the scan tries only these
        sizes: dict[str, set[int]] = {}
        for k in self.phrases:
            sizes.setdefault(k[0], set()).add(len(k))
        self.phrase_sizes = {w: tuple(sorted(v, reverse=True)) for w, v in sizes.items()}
        self.first_words = frozenset(self.phrase_sizes)

        self.cues = {name: _cue_pattern(frags) for name, frags in vocab.cues.items()}
        self.cue_keys = {name: anchor_keys(frags) for name, frags in vocab.cues.items()}
        words_of_cue = {
            name: frozenset(w for f in frags for w in _cue_words(f))
            for name, frags in vocab.cues.items()
        }
        cue_words = set().union(*words_of_cue.values())
        targets |= {w for w in cue_words if len(w) >= 4}
        # the seasons too: "summer" was spelled into "summed" and the season lost
        targets |= set(vocab.months) | set(vocab.number_words) | set(vocab.relative_units)
        targets |= SEASON_WORDS
        for phrase in vocab.relative_periods:
            targets.update(phrase.split())
        self.cue_words = frozenset(cue_words)
        # the words of the "top" cue that ask for a ranking, not a code's rank
        self.top_words = words_of_cue.get("top", frozenset()) - {
            "rank",
            "ranks",
            "ranked",
            "ranking",
            "rankings",
            "most",
            "volume",
        }
        # words of the question's shape ("most", "share", "what"), never part of a code name
        topical = {"mental", "fine_motor", "gross_motor", "focus", "singular_noun", "plural_noun"}
        self.shape_words = frozenset(
            w for name, words in words_of_cue.items() if name not in topical for w in words
        )
        self.known = frozenset(
            targets
            | vocab.filler
            | vocab.common_words
            | set(vocab.ordinals)
            | {w for p in vocab.provider_words for w in p.split()}
            | {w for p in vocab.noise_phrases for w in p.split()}
        )
        self._spelled = frozenset(targets)
        self.state_codes = frozenset(c.lower() for c in catalog.place_states)
        # last words of negations: a state code after one is a state ("excluding AL")
        self.negation_words = frozenset(p.split()[-1] for p in vocab.negation)

        self.unsafe_sql = LazyPattern("|".join(f"(?:{p})" for p in vocab.unsafe_sql))
        self.unsafe_sql_triggers = vocab.unsafe_sql_triggers
        self.privacy_keys = anchor_keys(vocab.unsafe_privacy)
        self.provider_keys = frozenset(
            {p.split()[0] for p in vocab.provider_words} | {"cohort", "dr"}
        )
        self.unsafe_privacy = LazyPattern("|".join(f"(?:{p})" for p in vocab.unsafe_privacy))
        providers = "(?:" + "|".join(sorted(vocab.provider_words, key=len, reverse=True)) + ")"
        self.provider_level = LazyPattern(
            "|".join(f"(?:{p.replace('{P}', providers)})" for p in vocab.provider_level)
        )
        self.privacy_exempt = LazyPattern(
            r"\b(?:" + "|".join(re.escape(p) for p in vocab.privacy_exempt) + r")\b"
        )

    def patterns(self) -> dict[str, LazyPattern]:
        """Every pattern of the lexicon by name (cues as "cue:<name>")."""
        named = {f"cue:{name}": p for name, p in self.cues.items()}
        for name in ("unsafe_sql", "unsafe_privacy", "provider_level", "privacy_exempt"):
            named[name] = getattr(self, name)
        return named

    def compile_patterns(self) -> None:
        """Compile every pattern now (re.error names the bad one): a long-running bot
        does this at start, so a broken pattern in the data is found then, not by a user."""
        for name, pattern in self.patterns().items():
            try:
                pattern.compiled()
            except re.error as exc:
                raise ValueError(f"vocabulary pattern {name} does not compile: {exc}") from None

    # The spelling index and the code-name index are built on first use: most questions
    # need neither, and together they were a third of a one-shot question's start-up.
    @cached_property
    def speller(self) -> SpellIndex:
        return SpellIndex(self._spelled)

    @cached_property
    def _code_index(self) -> _CodeIndex:
        """Token weights per code (name and aliases 1.0, long description 0.5) for
        matching code names by words ("code for hot packs")."""
        stop = self.vocab.filler | {"each", "minute", "minutes", "per", "more", "one", "or"}
        weights: dict[str, dict[str, float]] = {}
        for code, info in self.catalog.codes.items():
            w: dict[str, float] = {}
            for text, weight in (
                (info.long_description, 0.5),
                (info.description, 1.0),
                *((a, 1.0) for a in info.aliases),
            ):
                for t in phrase_key(text):
                    if t.isalpha() and t not in stop:
                        w[t] = max(w.get(t, 0.0), weight)
            weights[code] = w
        df: dict[str, int] = {}
        for w in weights.values():
            for t in w:
                df[t] = df.get(t, 0) + 1
        n = len(weights)
        by_token: dict[str, list[str]] = {}
        for code, w in weights.items():
            for t in w:
                by_token.setdefault(t, []).append(code)
        idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        return _CodeIndex(weights, idf, df, by_token)

    def match_codes(self, words: list[str], limit: int = 5) -> tuple[list[str], bool]:
        """Codes whose names best cover `words` (singular, lower case), best first, and
        whether the match is specific (not only generic words such as "therapeutic")."""
        index = self._code_index
        words = [w for w in words if w in index.idf]
        if not words:
            return [], False
        total = sum(index.idf[w] for w in set(words))
        scores: dict[str, float] = {}
        for w in set(words):
            for code in index.codes_by_token.get(w, ()):
                scores[code] = scores.get(code, 0.0) + index.idf[w] * index.weights[code][w]
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best = [c for c, s in ranked if s >= 0.5 * total and s >= 0.6 * ranked[0][1]][:limit]
        specific = any(index.df.get(w, 99) <= 4 for w in words)
        return best, specific
