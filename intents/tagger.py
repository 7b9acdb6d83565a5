"""Tokens -> tags: every entity a question names, where it stands, and its cue words.

The taggers run in order over the spell-corrected tokens, and each token is claimed by
at most one tag: periods first (period_rules), then written codes and code ranges,
state codes, modifiers, the top-N, the longest phrases of the lexicon (cohorts,
payers, states, code names, families, sub-groups, places of service, measures,
dimensions, negations, cities, unsupported filters) and a bare "other". Tags keep their
token span, so composition (intents.understand) can read what a negation governs and
what a list joins. Cue words (top, share, trend, compare...) are patterns over the
whole text (data/vocabulary.yaml). Words nothing claimed are `unexplained`: the
understanding says so rather than drop them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from toprank.data.vocab import Vocabulary
from toprank.intents.lexicon import Lexicon, singular
from toprank.intents.model import MAX_TOP_N
from toprank.intents.period_rules import SEASON_WORDS, PeriodScan, scan_periods
from toprank.intents.text import Tokens, tokenize

_CODE = re.compile(r"\d{5}|[a-v]\d{4}")
_CODE_PATTERN = re.compile(r"(97|970|977|9[0-9]{1,3})x{1,3}")  # "97xxx", "970xx"
_NOUNS = frozenset(
    {"code", "codes", "procedure", "procedures", "service", "services", "cpt", "cpts"}
)
_DETERMINERS = frozenset({"the", "a", "an", "my", "our", "this", "that", "all"})
_STATE_LEADS = frozenset({"in", "for", "from", "across", "within", "of", "vs", "versus", "and"})
_GREETINGS_FIRST = frozenset({"hi", "oh", "ok", "me", "so", "yo"})
_PLACE_LEADS = frozenset({"in", "from", "across", "within", "near", "around"})
_VERSUS = frozenset({"vs", "versus", "v"})
# Words that can follow a place: "in or for medicare", "in al in 2022", "in pa vs wa".
_AFTER_PLACE = frozenset(
    {
        "vs",
        "versus",
        "compared",
        "and",
        "or",
        "for",
        "by",
        "in",
        "excluding",
        "except",
        "without",
        "during",
        "only",
        "alone",
        "state",
        "through",
        "thru",
        "since",
        "from",
    }
)
# "other" alone names the provider cohort only where a cohort can stand.
_OTHER_NOT_BEFORE = frozenset({"than", "then", "payer", "payers", "insurance", "words"})


@dataclass(frozen=True)
class Tag:
    i: int  # token span [i, j)
    j: int
    kind: str
    value: Any = None


@dataclass
class Tagged:
    tokens: Tokens
    low: list[str]  # lower case, spell-corrected
    text: str  # " ".join(low): what the cue patterns read
    cues: set[str]
    periods: PeriodScan
    tags: list[Tag] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    n: int | None = None  # top-N
    n_at: int | None = None
    bare_numbers: list[int] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    unexplained_at: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # a place the data cannot filter on ("in Springfield"), as written, and where
    unknown_places: list[str] = field(default_factory=list)
    unknown_at: list[int] = field(default_factory=list)

    def has(self, *cues: str) -> bool:
        return any(c in self.cues for c in cues)

    def of(self, *kinds: str) -> list[Tag]:
        return sorted((t for t in self.tags if t.kind in kinds), key=lambda t: t.i)

    def values(self, *kinds: str) -> list[Any]:
        return list(dict.fromkeys(t.value for t in self.of(*kinds)))

    def claim(self, tag: Tag) -> None:
        self.tags.append(tag)
        self.used.update(range(tag.i, tag.j))


def _correct(low: tuple[str, ...], lex: Lexicon) -> list[str]:
    out = []
    for t in low:
        # no domain word is longer than 20 letters; longer "words" are noise, left alone
        if 5 <= len(t) <= 24 and t.isalpha() and t not in lex.known:
            t = lex.speller.correct(t) or t
        out.append(t)
    return out


def cues_of(low: list[str], lex: Lexicon) -> set[str]:
    """The names of the cue patterns (data/vocabulary.yaml) the words match."""
    ctext = " ".join(low)
    starts = {t[:3] for t in low}
    out = set()
    for name, pat in lex.cues.items():
        keys = lex.cue_keys[name]
        if (keys is None or not keys.isdisjoint(starts)) and pat.search(ctext):
            out.add(name)
    return out


# --- taggers: (tagged, lex) -> None, each claiming what it reads ----------------------


def tag_codes(f: Tagged, lex: Lexicon) -> None:
    """Written codes ("97110", "G0283") and code ranges ("97010-97799", "97xxx")."""
    low, n = f.low, len(f.low)
    for i, t in enumerate(low):
        if i in f.used:
            continue
        if (
            _CODE.fullmatch(t)
            and i + 2 < n
            and low[i + 1] in ("-", "to", "through", "thru")
            and _CODE.fullmatch(low[i + 2])
        ):
            f.claim(Tag(i, i + 3, "code_range", (t.upper(), low[i + 2].upper())))
        elif _CODE_PATTERN.fullmatch(t):
            f.claim(
                Tag(
                    i,
                    i + 1,
                    "code_range",
                    (t.replace("x", "0").upper(), t.replace("x", "9").upper()),
                )
            )
        elif _CODE.fullmatch(t) and not (t[0] in "qh" and t[1:3] in ("19", "20")):
            f.claim(Tag(i, i + 1, "code", t.upper()))


def _in_phrase(low: list[str], i: int, lex: Lexicon) -> bool:
    """True when the token at i ends a longer phrase of the lexicon ("washington dc")."""
    for start in (i - 2, i - 1):
        if start >= 0 and tuple(singular(t) for t in low[start : i + 1]) in lex.phrases:
            return True
    return False


def _names_state(low: list[str], i: int, lex: Lexicon) -> bool:
    """True when a state name, or a code that is no English word, starts at position i."""
    if low[i] in lex.state_codes and low[i] not in lex.vocab.ambiguous_state_codes:
        return True
    for size in (1, 2, 3):
        entries = lex.phrases.get(tuple(singular(t) for t in low[i : i + size]))
        if entries and any(e.kind == "state" for e in entries):
            return True
    return False


def _starts_period(word: str, vocab: Vocabulary) -> bool:
    """True for a word that opens a period phrase: a year, a month, a quarter or half."""
    if word.isdigit() and len(word) == 4:
        return True
    if word in vocab.months or word in vocab.relative_lead_words:
        return True
    return word[:1] in ("q", "h") and word[1:].isdigit()


def _is_state_code(f: Tagged, lex: Lexicon, i: int) -> bool:
    """A two-letter token that is a USPS code, read as a state where it stands as one:
    codes that are also English words ("in", "or", "me") only in capitals, after a
    place word, or as slash arguments."""
    low, tokens, vocab, n = f.low, f.tokens, lex.vocab, len(f.low)
    t = low[i]
    if t not in lex.state_codes or _in_phrase(low, i, lex):
        return False  # "washington dc" is one state, not two
    if t in vocab.ambiguous_state_codes and i + 1 < n and _names_state(low, i + 1, lex):
        return False  # "in texas": the word before a state is a preposition
    orig = tokens.orig[i] if len(tokens.orig) == n else t
    stands = _stands_as_state(f, lex, i)
    if (
        t in vocab.function_word_state_codes
        and not orig.isupper()
        and not stands
        and i + 1 < n
        and _starts_period(low[i + 1], vocab)
    ):
        return False  # "/toprank pt in 2022": a preposition; "/toprank pt 2022 in" is Indiana
    if t in vocab.ambiguous_state_codes and not tokens.slash:
        if stands:
            return True
        if not orig.isupper() or tokens.shouting:
            return False
        if i == 0 and t in _GREETINGS_FIRST:
            return False
        prev = low[i - 1] if i else ""
        nxt = low[i + 1] if i + 1 < n else ""
        if (
            prev not in _STATE_LEADS
            and prev not in lex.negation_words
            and (nxt.isdigit() or nxt in _DETERMINERS or nxt in lex.first_words)
        ):
            return False
    return True


def _stands_as_state(f: Tagged, lex: Lexicon, i: int) -> bool:
    """A code that is also a word ("or", "me", "pa") stands as a state in any case where
    a place word leads to it and what follows can end a place: "in or 2022", "in al in
    2022", "from pa vs wa"; or beside "vs" with a state on the other side ("or vs wa")."""
    low, n = f.low, len(f.low)
    prev = low[i - 1] if i else ""
    nxt = low[i + 1] if i + 1 < n else ""
    if prev in _PLACE_LEADS and (
        not nxt or nxt in _AFTER_PLACE or _starts_period(nxt, lex.vocab) or nxt in lex.state_codes
    ):
        return True
    if nxt in _VERSUS and i + 2 < n and low[i + 2] in lex.state_codes:
        return True
    # the second of two places: "or vs wa", "in DE and MD", "texas or ok"
    return (
        (prev in _VERSUS or prev in ("and", "or"))
        and i >= 2
        and (low[i - 2] in lex.state_codes or _names_state(low, i - 2, lex))
        and (prev in _VERSUS or not nxt or nxt in _AFTER_PLACE or _starts_period(nxt, lex.vocab))
    )


def tag_state_codes(f: Tagged, lex: Lexicon) -> None:
    for i in range(len(f.low)):
        if i not in f.used and _is_state_code(f, lex, i):
            code = f.low[i].upper()
            f.claim(Tag(i, i + 1, "state", code))
            orig = f.tokens.orig[i] if len(f.tokens.orig) == len(f.low) else f.low[i]
            if f.low[i] in lex.vocab.function_word_state_codes or not orig.isupper():
                name = lex.catalog.states.get(code, code)
                f.notes.append(f"Read '{orig}' as the state {name} ({code}).")


def tag_modifiers(f: Tagged, lex: Lexicon) -> None:
    """Billing modifiers: a code next to "modifier(s)" ("modifier 59", "the KX modifier",
    "modifiers GO and GP"), or a letter modifier written in capitals ("GP")."""
    low, vocab, n = f.low, lex.vocab, len(f.low)
    known = {m.lower(): m for m in lex.catalog.modifiers}
    orig = f.tokens.orig if len(f.tokens.orig) == n else tuple(low)
    for i, t in enumerate(low):
        if i in f.used or t not in vocab.modifier_words:
            continue
        # codes after the word, a list joined by and/or ("modifiers GO and GP")
        k, found = i + 1, []
        while k < n and low[k] in known and k not in f.used:
            found.append(k)
            k += 1
            if k + 1 < n and low[k] in ("and", "or", "-") and low[k + 1] in known:
                k += 1
        # ...or one code before it ("the 59 modifier")
        before = not found and i > 0 and low[i - 1] in known and i - 1 not in f.used
        if before:
            found = [i - 1]
        # the word belongs to the tag next to it, so "without modifier 59" governs it
        for n_found, k in enumerate(found):
            start, end = k, k + 1
            if n_found == 0:
                start, end = (k, i + 1) if before else (i, k + 1)
            f.claim(Tag(start, end, "modifier", known[low[k]]))
    for i in range(n):
        if i in f.used or orig[i] not in vocab.bare_modifiers or f.tokens.shouting:
            continue
        f.claim(Tag(i, i + 1, "modifier", orig[i]))


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


def tag_top_n(f: Tagged, lex: Lexicon) -> None:
    """Top-N: "top 5", "top five", "5 most common", "first 10 codes", or a bare number
    in a slash command ("/toprank rehab 2023 15"). Runs before the phrases, so "top
    ten" is a number, not a code alias ("tens")."""
    low, used = f.low, f.used
    lead_words = set(lex.vocab.cues.get("top_lead", ()))
    follow_words = set(lex.vocab.cues.get("n_follow", ()))
    dims = {w for words in lex.vocab.dimensions.values() for w in words}
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
            if t in _NOUNS or t in dims:
                noun_follows = t in _NOUNS or prev in lead_words or t.endswith("s")
                break
            if t.isdigit() or t == "-" or t in lead_words or t in follow_words:
                break  # "quick one - most billed codes": the number is not the list's
        if low[i] in ("one", "a") and prev not in lead_words and nxt not in _NOUNS:
            i += width  # "one" and "a dozen" count only next to their noun or "top"
            continue
        if prev in lead_words or nxt in follow_words or noun_follows:
            if f.n is None:
                f.n, f.n_at = (min(value, MAX_TOP_N) if value > 0 else None), i
                if value > MAX_TOP_N:
                    f.notes.append(f"Lists stop at {MAX_TOP_N} rows.")
                elif value == 0:
                    f.notes.append("A top 0 lists nothing, so this shows the usual length.")
            used.update(range(i, i + width))
        elif low[i].isdigit() or f.tokens.slash:
            f.bare_numbers.append(value)
            if f.tokens.slash:
                used.update(range(i, i + width))
        i += width


def tag_phrases(f: Tagged, lex: Lexicon) -> None:
    """The longest phrase of the lexicon from each position wins."""
    low, n = f.low, len(f.low)
    keys = [singular(t) for t in low]
    i = 0
    while i < n:
        if i in f.used or keys[i] not in lex.first_words:
            i += 1
            continue
        hit = None
        for size in lex.phrase_sizes[keys[i]]:
            if i + size > n:
                continue
            entries = lex.phrases.get(tuple(keys[i : i + size]))
            if entries and not any(k in f.used for k in range(i + 1, i + size)):
                hit = (size, entries)
                break
        if hit is None:
            i += 1
            continue
        size, entries = hit
        for e in entries:
            f.tags.append(Tag(i, i + size, e.kind, e.value))
        f.used.update(range(i, i + size))
        i += size


def tag_bare_other(f: Tagged, lex: Lexicon) -> None:
    """ "/toprank other 2022", "top codes for other": the provider cohort 'other' where a
    cohort can stand (not "other than", "other payers", "any other codes")."""
    low, n = f.low, len(f.low)
    for i, t in enumerate(low):
        if t != "other" or i in f.used:
            continue
        nxt = low[i + 1] if i + 1 < n else ""
        prev = low[i - 1] if i else ""
        if nxt in _OTHER_NOT_BEFORE or prev in ("any", "the", "an", "some", "what", "which"):
            continue
        if f.tokens.slash or nxt in ("", "cohort", "specialty", "-") or prev in ("for", "by"):
            f.claim(Tag(i, i + 1, "cohort", "other"))


_AGE_LEADS = frozenset({"over", "under", "above", "below", "older", "younger", "aged", "age"})
_AGE_WORDS = frozenset(
    {
        "patient",
        "patients",
        "people",
        "members",
        "beneficiaries",
        "adults",
        "kids",
        "children",
        "women",
        "men",
        "folks",
        "seniors",
        "years",
        "year",
        "yrs",
        "yo",
        "old",
        "older",
        "younger",
    }
)


def tag_ages(f: Tagged, lex: Lexicon) -> None:
    """ "patients over 65", "kids under 12", "65 and older": an age the data does not
    hold (it has no patients' ages), so it cannot pass for a top-N or a year."""
    low, n = f.low, len(f.low)
    for i, t in enumerate(low):
        if i in f.used or not t.isdigit() or not 0 < int(t) <= 120:
            continue
        prev = low[i - 1] if i else ""
        prev2 = low[i - 2] if i > 1 else ""
        nxt = " ".join(low[i + 1 : i + 3])
        led = prev in _AGE_LEADS or (prev == "than" and prev2 in ("older", "younger"))
        near = {prev2, *low[i + 1 : i + 3]} & _AGE_WORDS or nxt in (
            "and older",
            "and over",
            "and under",
            "and up",
        )
        if (led and near) or nxt in ("and older", "and over", "and under", "years old"):
            start = i - 1 if led else i
            if start > 0 and low[start - 1] in _AGE_WORDS and start - 1 not in f.used:
                start -= 1  # "patients over 65": the whole phrase
            f.claim(Tag(start, min(i + 1, n), "unsupported_filter", "patient ages"))


TAGGERS: tuple[Callable[[Tagged, Lexicon], None], ...] = (
    tag_codes,
    tag_ages,
    tag_state_codes,
    tag_modifiers,
    tag_top_n,
    tag_phrases,
    tag_bare_other,
)


def tag(text: str, today: date, lex: Lexicon) -> Tagged:
    tokens = tokenize(text)
    low = _correct(tokens.low, lex)
    cues = cues_of(low, lex)
    scan = scan_periods(tuple(low), today, lex.vocab, compare=bool(cues & {"compare", "versus"}))
    seasons = {k for k in scan.used if low[k] in SEASON_WORDS}
    if seasons:  # "fall 2022" is a period, not a trend's "fall": read the cues without it
        low = [("_" if k in seasons else t) for k, t in enumerate(low)]
        cues = cues_of(low, lex)
    f = Tagged(tokens, low, " ".join(low), cues, scan)
    f.used |= scan.used
    for hit in scan.hits:
        f.tags.append(Tag(hit.i, hit.j, "period", hit.ref))
    for tagger in TAGGERS:
        tagger(f, lex)
    f.tags.sort(key=lambda t: (t.i, t.j))
    _cities(f, lex)
    vocab = lex.vocab
    stop = (
        vocab.filler
        | lex.cue_words
        | set(vocab.months)
        | set(vocab.ordinals)
        | vocab.group_tails
        | {w for lead in vocab.group_leads for w in lead.split()}
    )
    f.unexplained_at = [
        k
        for k, t in enumerate(f.low)
        if k not in f.used and t.isalpha() and t not in stop and t not in vocab.number_words
    ]
    f.unexplained = [f.low[k] for k in f.unexplained_at]
    _unknown_places(f)
    _unsupported_measures(f, vocab)
    return f


def _cities(f: Tagged, lex: Lexicon) -> None:
    """A city is its state, said as such: "Dallas, TX" and "Houston" filter Texas, and
    the answer notes that the data is by state (a city alone is offered as the state)."""
    for city in f.of("city"):
        name = (
            " ".join(f.tokens.orig[city.i : city.j])
            if len(f.tokens.orig) == len(f.low)
            else " ".join(f.low[city.i : city.j])
        )
        state_name = lex.catalog.states.get(city.value, city.value)
        f.notes.append(
            f"'{name}' is a city; the data is by state, so this covers all of {state_name}."
        )
        f.tags.append(Tag(city.i, city.j, "state", city.value))
    f.tags.sort(key=lambda t: (t.i, t.j))


def _unknown_places(f: Tagged) -> None:
    """ "in Narnia", "in Springfield": a capitalised name after a place word that is no
    state or city we know. The data cannot be filtered to it, so it is refused rather
    than answered for the whole country."""
    orig = f.tokens.orig
    if f.tokens.shouting or len(orig) != len(f.low):
        return
    unexplained = set(f.unexplained_at)
    for k in f.unexplained_at:
        if not (k > 0 and f.low[k - 1] in _PLACE_LEADS and orig[k][:1].isupper()):
            continue
        end = k + 1  # "Puerto Rico", "British Columbia": the whole name
        while end in unexplained and orig[end][:1].isupper():
            end += 1
        name = " ".join(orig[k:end])
        if len(name) > 2:
            f.unknown_places.append(name)
            f.unknown_at.append(k)


def _unsupported_measures(f: Tagged, vocab: Vocabulary) -> None:
    """ "how many patients got 97110": the data counts procedures, so say that the
    figures are procedures rather than leave them to pass as patients or dollars."""
    named = dict.fromkeys(
        vocab.unsupported_measures[t] for t in f.low if t in vocab.unsupported_measures
    )
    for measure in named:
        # The measure is decided later (procedures, visits, units...): the note says what
        # the figures are not, never which measure they are.
        if measure == "patients":
            f.notes.append(
                f"The data counts procedures and claims, not {measure}: these figures are "
                f"not numbers of {measure}."
            )
        else:  # "cost", "price": which amount is meant is not said
            f.notes.append(
                f"The data has payments, allowed amounts and charges, not {measure}: these "
                f"figures are not {measure}; ask for one of those amounts."
            )
