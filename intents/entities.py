"""Entities and cues of one question: cohorts, codes, periods, states, payers, top-N.

Everything is found on the token list from intents.text after spelling correction;
each token is claimed by at most one entity (periods first, then codes, state codes,
then the longest phrase from the lexicon's tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from intents.lexicon import Entry, Lexicon, singular
from intents.model import MAX_TOP_N
from intents.periods import SEASON_WORDS, PeriodScan, scan_periods
from intents.text import Tokens, tokenize

if TYPE_CHECKING:
    from data.vocab import Vocabulary

_CODE = re.compile(r"\d{5}|[a-v]\d{4}")
_CODE_PATTERN = re.compile(r"(97|970|977|9[0-9]{1,3})x{1,3}")  # "97xxx", "970xx"
_NOUNS = frozenset(
    {"code", "codes", "procedure", "procedures", "service", "services", "cpt", "cpts"}
)
_DETERMINERS = frozenset({"the", "a", "an", "my", "our", "this", "that", "all"})
_STATE_LEADS = frozenset({"in", "for", "from", "across", "within", "of", "vs", "versus", "and"})
_GREETINGS_FIRST = frozenset({"hi", "oh", "ok", "me", "so", "yo"})
# Words that describe codes, never what a code is called ("what code is ...").
_NOT_CODE_WORDS = frozenset(
    {"code", "cpt", "hcpcs", "billing", "bill", "billed", "number", "use", "used", "called"}
)


@dataclass(frozen=True)
class Mention:
    i: int  # token span [i, j)
    j: int
    entries: tuple[Entry, ...]


@dataclass
class Found:
    tokens: Tokens
    low: list[str]  # lower case, spell-corrected
    text: str  # " ".join(low): what the cue patterns read
    cues: set[str]
    periods: PeriodScan
    mentions: list[Mention] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    cohorts: list[str] = field(default_factory=list)  # named cohorts, in order
    weak_all: bool = False  # "all"/"total": the all cohort, if nothing else is named
    codes: list[str] = field(default_factory=list)  # written codes ("97110"), in order
    code_names: list[str] = field(default_factory=list)  # codes named in words
    weak_code_names: list[str] = field(default_factory=list)  # "manual", "group" ...
    families: list[tuple[str, ...]] = field(default_factory=list)  # "PT evaluation"
    subgroups: list[str] = field(default_factory=list)
    code_range: tuple[str, str] | None = None  # "97010-97799", "97xxx"
    states: list[str] = field(default_factory=list)
    payers: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    n: int | None = None
    bare_numbers: list[int] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # see Intent.notes

    def has(self, *cues: str) -> bool:
        return any(c in self.cues for c in cues)

    @property
    def any_code(self) -> list[str]:
        return self.codes + [c for c in self.code_names if c not in self.codes]


def _add(seq: list, value: object) -> None:
    if value not in seq:
        seq.append(value)


def _correct(low: tuple[str, ...], lex: Lexicon) -> list[str]:
    out = []
    for t in low:
        # no domain word is longer than 20 letters; longer "words" are noise, left alone
        if 5 <= len(t) <= 24 and t.isalpha() and t not in lex.known:
            t = lex.speller.correct(t) or t
        out.append(t)
    return out


def _number_at(low: list[str], i: int, lex: Lexicon) -> tuple[int | None, int]:
    """(value, tokens used) for a number written in digits or words at position i."""
    t = low[i]
    if t.isdigit():
        return (int(t), 1) if len(t) <= 4 else (None, 0)
    words = lex.vocab.number_words
    if t in words:
        value, width = words[t], 1
        nxt = low[i + 1] if i + 1 < len(low) else ""
        if 20 <= value < 100 and value % 10 == 0 and nxt in words and words[nxt] < 10:
            value, width = value + words[nxt], 2
        return value, width
    if t == "a" and i + 1 < len(low) and low[i + 1] == "dozen":
        return 12, 2
    return None, 0


def _in_phrase(low: list[str], i: int, lex: Lexicon) -> bool:
    """True when the token at i ends a longer phrase of the lexicon ("washington dc")."""
    for start in (i - 2, i - 1):
        if start >= 0 and tuple(singular(t) for t in low[start : i + 1]) in lex.phrases:
            return True
    return False


def _names_state(low: list[str], i: int, lex: Lexicon) -> bool:
    """True when a state name or code starts at position i."""
    if low[i] in lex.state_codes:
        return True
    for size in (1, 2, 3):
        entries = lex.phrases.get(tuple(singular(t) for t in low[i : i + size]))
        if entries and any(e.kind == "state" for e in entries):
            return True
    return False


def _cues(low: list[str], lex: Lexicon) -> set[str]:
    """The names of the cue patterns (data/vocabulary.yaml) the words match."""
    ctext = " ".join(low)
    starts = {t[:3] for t in low}
    return {
        name
        for name, pat in lex.cues.items()
        if (lex.cue_keys[name] is None or not lex.cue_keys[name].isdisjoint(starts))
        and pat.search(ctext)
    }


def find(text: str, today: date, lex: Lexicon) -> Found:
    tokens = tokenize(text)
    low = _correct(tokens.low, lex)
    ctext = " ".join(low)
    cues = _cues(low, lex)
    scan = scan_periods(tuple(low), today, lex.vocab, compare=bool(cues & {"compare", "versus"}))
    seasons = {k for k in scan.used if low[k] in SEASON_WORDS}
    if seasons:  # "fall 2022" is a period, not a trend's "fall": read the cues without it
        low = [("_" if k in seasons else t) for k, t in enumerate(low)]
        ctext = " ".join(low)
        cues = _cues(low, lex)
    f = Found(tokens, low, ctext, cues, scan)
    used = f.used
    used |= scan.used
    n = len(low)
    vocab = lex.vocab

    # code ranges ("97010-97799", "97010 to 97799", "97xxx") and written codes
    for i, t in enumerate(low):
        if i in used:
            continue
        if (
            _CODE.fullmatch(t)
            and i + 2 < n
            and low[i + 1] in ("-", "to", "through", "thru")
            and _CODE.fullmatch(low[i + 2])
        ):
            f.code_range = (t.upper(), low[i + 2].upper())
            used.update((i, i + 1, i + 2))
            continue
        if _CODE_PATTERN.fullmatch(t):
            f.code_range = (t.replace("x", "0").upper(), t.replace("x", "9").upper())
            used.add(i)
            continue
        if _CODE.fullmatch(t) and not (t[0] in "qh" and t[1:3] in ("19", "20")):
            _add(f.codes, t.upper())
            used.add(i)

    # two-letter state codes; ones that are also words only in capitals (or as slash args)
    for i, t in enumerate(low):
        if i in used or t not in lex.state_codes:
            continue
        if _in_phrase(low, i, lex):
            continue  # "washington dc" is one state, not two
        if t in vocab.ambiguous_state_codes and i + 1 < n and _names_state(low, i + 1, lex):
            continue  # "in texas": the word before a state is a preposition
        if (
            t in vocab.function_word_state_codes
            and not tokens.orig[i].isupper()
            and i + 1 < n
            and _starts_period(low[i + 1], vocab)
        ):
            continue  # "/toprank pt in 2022": a preposition; "/toprank pt 2022 in" is Indiana
        if t in vocab.ambiguous_state_codes and not tokens.slash:
            orig = tokens.orig[i]
            if not orig.isupper() or tokens.shouting:
                continue
            if i == 0 and t in _GREETINGS_FIRST:
                continue
            prev = low[i - 1] if i else ""
            nxt = low[i + 1] if i + 1 < n else ""
            if prev not in _STATE_LEADS and (
                nxt.isdigit() or nxt in _DETERMINERS or nxt in lex.first_words
            ):
                continue
        _add(f.states, t.upper())
        used.add(i)

    # top-N before phrases, so "top ten" is a number, not a code alias ("tens")
    _find_n(f, lex)

    # phrases: the longest match from each position wins
    keys = [singular(t) for t in low]
    i = 0
    while i < n:
        if i in used or keys[i] not in lex.first_words:
            i += 1
            continue
        hit = None
        for size in lex.phrase_sizes[keys[i]]:
            if i + size > n:
                continue
            entries = lex.phrases.get(tuple(keys[i : i + size]))
            if entries and not any(k in used for k in range(i + 1, i + size)):
                hit = Mention(i, i + size, tuple(entries))
                break
        if hit is None:
            i += 1
            continue
        f.mentions.append(hit)
        used.update(range(hit.i, hit.j))
        i = hit.j

    state_at: list[tuple[int, str]] = [
        (i, t.upper()) for i, t in enumerate(low) if t.upper() in f.states
    ]
    for m in f.mentions:
        for e in m.entries:
            if e.kind == "cohort":
                _add(f.cohorts, e.value)
            elif e.kind == "cohort_weak":
                f.weak_all = True
            elif e.kind == "payer":
                _add(f.payers, e.value)
            elif e.kind == "state":
                state_at.append((m.i, e.value))
            elif e.kind == "code":
                _add(f.code_names, e.value)
            elif e.kind == "code_weak":
                _add(f.weak_code_names, e.value)
            elif e.kind == "code_family":
                _add(f.families, e.value)
            elif e.kind == "subgroup":
                for key in e.value:
                    _add(f.subgroups, key)
            elif e.kind == "unsupported":
                _add(f.unsupported, e.value)
    f.states = []
    for _, code in sorted(state_at):
        _add(f.states, code)

    stop = vocab.filler | lex.cue_words | set(vocab.months) | set(vocab.ordinals)
    unexplained_at = [
        k
        for k, t in enumerate(low)
        if k not in used and t.isalpha() and t not in stop and t not in vocab.number_words
    ]
    f.unexplained = [low[k] for k in unexplained_at]
    _note_unknown_places(f, unexplained_at)
    _note_unsupported_measures(f, vocab)
    return f


def _note_unsupported_measures(f: Found, vocab: Vocabulary) -> None:
    """ "how many patients got 97110": the data counts procedures, so say that the
    figures are procedures rather than leave them to pass as patients or dollars."""
    named = dict.fromkeys(
        vocab.unsupported_measures[t] for t in f.low if t in vocab.unsupported_measures
    )
    for measure in named:
        f.notes.append(
            f"The data counts procedures (claim lines), not {measure}: "
            "the figures here are procedures."
        )


_PLACE_LEADS = frozenset({"in", "from", "across", "within"})


def _note_unknown_places(f: Found, unexplained_at: list[int]) -> None:
    """ "in Narnia": a capitalised name after "in" that is no state we know. The answer
    goes ahead without a state filter, and says why, instead of ignoring it silently."""
    orig = f.tokens.orig
    if f.tokens.shouting or len(orig) != len(f.low):
        return
    unexplained = set(unexplained_at)
    for k in unexplained_at:
        if not (k > 0 and f.low[k - 1] in _PLACE_LEADS and orig[k][:1].isupper()):
            continue
        end = k + 1  # "Puerto Rico", "British Columbia": the whole name
        while end in unexplained and orig[end][:1].isupper():
            end += 1
        name = " ".join(orig[k:end])
        if len(name) > 2:
            f.notes.append(f"'{name}' is not a US state I know, so no state filter was applied.")


def _find_n(f: Found, lex: Lexicon) -> None:
    """Top-N: "top 5", "top five", "5 most common", "first 10 codes", or a bare number
    in a slash command ("/toprank rehab 2023 15")."""
    low, used = f.low, f.used
    lead_words = {w for w in lex.vocab.cues.get("top_lead", ())}
    follow_words = {w for w in lex.vocab.cues.get("n_follow", ())}
    i = 0
    while i < len(low):
        if i in used:
            i += 1
            continue
        value, width = _number_at(low, i, lex)
        if value is None:
            i += 1
            continue
        k = i - 1
        while k >= 0 and low[k] in ("-", "the", "a"):
            k -= 1
        prev = low[k] if k >= 0 else ""
        after = low[i + width : i + width + 5]
        nxt = after[0] if after else ""
        noun_follows = False
        for t in after:
            if t in _NOUNS:
                noun_follows = True
                break
            if t.isdigit():
                break
        is_digit = low[i].isdigit()
        if prev in lead_words or nxt in follow_words or noun_follows:
            if f.n is None:
                f.n = min(value, MAX_TOP_N) if value > 0 else None
                if value > MAX_TOP_N:
                    f.notes.append(f"Lists stop at {MAX_TOP_N} codes.")
                elif value == 0:
                    f.notes.append("A top 0 lists nothing, so this shows the usual length.")
            used.update(range(i, i + width))
        elif is_digit or f.tokens.slash:
            f.bare_numbers.append(value)
            if f.tokens.slash:
                used.update(range(i, i + width))
        i += width


def _starts_period(word: str, vocab: Vocabulary) -> bool:
    """True for a word that opens a period phrase: a year, a month, a quarter or half."""
    if word.isdigit() and len(word) == 4:
        return True
    if word in vocab.months or word in vocab.relative_lead_words:
        return True
    return word[:1] in ("q", "h") and word[1:].isdigit()
