"""parse(text, today, catalog) -> Intent: which question shape, with what entities.

The choice is a short ordered list of rules over the entities and cue words that
intents.entities found; the first rule that fits decides. Anything that fits none
is "unknown" with example questions, never a guessed ranking.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from data.catalog import Catalog, in_rehab_range
from data.vocab import Vocabulary, load_vocab
from intents.entities import Found, find
from intents.lexicon import Lexicon, get_lexicon, singular
from intents.model import MAX_QUESTION_CHARS, MAX_TOP_N, Intent, Period
from intents.periods import make_period
from intents.safety import is_unsafe

_FALLBACK_EXAMPLES = (
    "top OT codes 2022",
    "what share of rehab procedures was 97530 in 2023",
    "what is 97110",
    "help",
)
# Intents whose answers carry the parser's notes (those answered from the data).
_NOTED_KINDS = frozenset({"top_codes", "code_share", "compare", "trend", "ot_vs_pt", "code_lookup"})
_DATA_CUES = ("top", "share", "rank", "trend", "volume", "code_noun", "compare")


def parse(text: str, today: date, catalog: Catalog, vocab: Vocabulary | None = None) -> Intent:
    """Read one question. Pure and total: never raises, whatever the input."""
    try:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if len(text.strip()) > MAX_QUESTION_CHARS:
            return Intent("unknown", text=text, error="too_long")
        vocab = vocab if vocab is not None else load_vocab()
        lex = get_lexicon(catalog, vocab)
        found = find(text, today, lex)
        if is_unsafe(found, lex):
            return Intent("unknown", text=text, error="unsafe", suggestions=_examples(lex))
        intent = _decide(text, found, lex)
        if intent.kind == "top_codes" and intent.error is None:
            intent = _among(intent, found, lex)
        if found.notes and intent.kind in _NOTED_KINDS and intent.error is None:
            intent = replace(intent, notes=tuple(found.notes))
        return intent
    except Exception:  # a parser bug must not reach the user as a stack trace
        return Intent(
            "unknown", text=text if isinstance(text, str) else "", suggestions=_FALLBACK_EXAMPLES
        )


def _among(intent: Intent, f: Found, lex: Lexicon) -> Intent:
    """A ranking of a named set of codes ("the most common OT evaluation code", "top
    modality codes in PT"): the set's codes go in `codes`, so the answer ranks them
    against each other instead of ranking every code of the cohort."""
    if f.families:
        codes = tuple(dict.fromkeys(c for family in f.families for c in family))
    elif f.subgroups:
        wanted = set(f.subgroups)
        codes = tuple(sorted(c.code for c in lex.catalog.codes.values() if c.category in wanted))
    else:
        return intent
    if not codes:
        return intent
    cohort = intent.cohort
    if cohort == "all" and not f.cohorts and not f.weak_all:
        # no cohort named: the rehab list when the whole set is rehab codes
        cohort = "rehab" if all(in_rehab_range(c) for c in codes) else "all"
    return replace(intent, codes=codes, cohort=cohort, subgroups=tuple(f.subgroups))


def _examples(lex: Lexicon, first: tuple[str, ...] = ()) -> tuple[str, ...]:
    out = list(first)
    for e in lex.vocab.examples:
        if e not in out:
            out.append(e)
    return tuple(out[:5])


def _default_cohort(code: str | None) -> str:
    """A code asked about with no cohort: the rehab list for 97010-97799, else all."""
    return "rehab" if code and in_rehab_range(code) else "all"


def _period(periods: list[Period]) -> Period | None:
    if not periods:
        return None
    if len(periods) == 1:
        return periods[0]
    return make_period(min(p.start for p in periods), max(p.end for p in periods))


def _decide(text: str, f: Found, lex: Lexicon) -> Intent:
    cohorts = list(f.cohorts)
    if not cohorts and f.weak_all:
        cohorts = ["all"]
    codes = f.any_code
    periods = f.periods.periods
    perr = f.periods.error
    has = f.has
    common = dict(
        text=text,
        period=_period(periods),
        state=f.states[0] if f.states else None,
        payer=f.payers[0] if f.payers else None,
        error=perr,
    )
    entities = bool(
        cohorts
        or codes
        or periods
        or perr
        or f.states
        or f.payers
        or f.subgroups
        or f.code_range
        or f.families
        or f.weak_code_names
        or f.unsupported
    )
    data_cue = has(*_DATA_CUES)
    terse = not f.unexplained

    if has("coverage_strong") and not codes and not has("top", "share", "trend", "code_for"):
        return Intent("coverage", text=text)
    if has("data_word") and has("coverage_weak") and not (cohorts or codes or data_cue):
        return Intent("coverage", text=text)

    # nothing to read, or only "hi" / "help"
    if not f.low or (
        terse
        and not entities
        and not data_cue
        and f.n is None
        and not has(
            "coverage_strong",
            "lookup",
            "code_for",
            "range",
            "mental",
            "fine_motor",
            "gross_motor",
            "difference",
            "versus",
        )
        and not f.bare_numbers
    ):
        return Intent("help", text=text, suggestions=_examples(lex))
    if (
        has("help")
        and not entities
        and not has("top", "share", "trend", "compare", "coverage_strong", "code_for")
    ):
        return Intent("help", text=text, suggestions=_examples(lex))

    # "difference between therapeutic activities and therapeutic exercises"
    if has("difference", "versus", "compare") and len(codes) >= 2 and not cohorts and not periods:
        return Intent("ot_vs_pt", text=text, codes=tuple(codes), topic="codes")

    knowledge = _knowledge_topic(f, cohorts, codes, data_cue)
    if knowledge:
        return Intent("ot_vs_pt", text=text, cohorts=tuple(cohorts), topic=knowledge)

    if _is_code_range(f, cohorts, codes):
        subgroups = list(f.subgroups)
        if f.code_range:
            for sg in lex.catalog.subgroups:
                if (sg.first, sg.last) == f.code_range:
                    subgroups = [sg.key]
        return Intent(
            "code_range",
            text=text,
            subgroup=subgroups[0] if subgroups else None,
            subgroups=tuple(subgroups),
        )

    compared = _compare(f, cohorts, periods, common)
    if compared is not None:
        return compared

    code = codes[0] if codes else None
    if has("trend") and (codes or cohorts or f.weak_code_names or has("volume", "code_noun")):
        code = code or (f.weak_code_names[0] if f.weak_code_names else None)
        return Intent(
            "trend",
            cohort=cohorts[0] if cohorts else _default_cohort(code),
            code=code,
            n=f.n,
            **common,
        )
    if (
        has("volume")
        and cohorts
        and not codes
        and not has("top")
        and (
            len(periods) > 1
            or (periods and periods[0].label.startswith("since"))
            or (periods and periods[0].start.year != periods[0].end.year)  # "2019 to 2022"
        )
    ):
        return Intent("trend", cohort=cohorts[0], **common)

    share_cue = has("share", "rank", "volume")
    lookup_cue = has("lookup", "code_for")
    # "97530 rehab 2023" asks for its share; "is 97799 in the rehab range" asks what it is
    terse_share = (
        not lookup_cue and not has("range") and (cohorts or periods or f.states or f.payers)
    )
    if code and (share_cue or terse_share):
        return Intent(
            "code_share",
            cohort=cohorts[0] if cohorts else _default_cohort(code),
            code=code,
            **common,
        )
    if not code and has("share") and (f.weak_code_names or f.families):
        if f.weak_code_names:
            code = f.weak_code_names[0]
            return Intent(
                "code_share",
                cohort=cohorts[0] if cohorts else _default_cohort(code),
                code=code,
                **common,
            )
        family = f.families[0]
        return Intent(
            "code_share",
            cohort=cohorts[0] if cohorts else _default_cohort(family[0]),
            codes=family,
            **{**common, "error": common["error"] or "ambiguous"},
            suggestions=tuple(f"what share of procedures was {c}" for c in family),
        )

    looked_up = _lookup(text, f, lex, cohorts, data_cue)
    if looked_up is not None:
        return looked_up

    return _top_or_unknown(f, lex, cohorts, common, terse)


def _knowledge_topic(f: Found, cohorts: list[str], codes: list[str], data_cue: bool) -> str | None:
    """ot_vs_pt topic for a knowledge question about OT and PT; None for a data question."""
    has = f.has
    if data_cue or codes or f.periods.periods or f.periods.error or f.states or f.payers:
        return None
    if f.n is not None or f.families or f.subgroups or f.code_range:
        return None
    otpt = set(cohorts) <= {"ot", "pt"}
    if not otpt:
        return None
    if has("mental"):
        return "mental_health"
    fine, gross = has("fine_motor"), has("gross_motor")
    if fine and gross:
        return "difference"
    if fine and not cohorts:
        return "ot_focus"
    if gross and not cohorts and has("focus", "difference", "lookup"):
        return "pt_focus"
    if set(cohorts) == {"ot", "pt"} and has("difference", "versus", "focus", "lookup"):
        return "difference"
    if len(cohorts) == 1 and has("difference"):
        return "difference"
    if len(cohorts) == 1 and (has("focus", "lookup") or fine or gross):
        return "ot_focus" if cohorts[0] == "ot" else "pt_focus"
    return None


def _is_code_range(f: Found, cohorts: list[str], codes: list[str]) -> bool:
    if f.has("top", "share", "trend", "compare") or f.periods.periods or f.states or f.payers:
        return False
    if codes or f.n is not None or not set(cohorts) <= {"rehab"}:
        return False
    if f.families and not f.subgroups and not f.code_range:
        return False  # "what are the PT evaluation codes": those codes, not the range
    if f.code_range:
        return True
    if f.has("range") and (cohorts or f.subgroups or f.has("code_noun")):
        return True
    if cohorts == ["rehab"] and f.has("lookup") and not f.has("code_noun", "volume"):
        return True  # "what is rehab": the code range is its definition
    if "range" in f.low and not f.unexplained and not cohorts:
        return True  # "/toprank range"
    if f.subgroups and not f.unexplained and not f.cohorts:
        return True  # "/toprank evaluations", "modalities?": the sub-group's codes
    return bool(f.subgroups) and f.has("code_noun", "lookup", "range")


def _compare(f: Found, cohorts: list[str], periods: list[Period], common: dict) -> Intent | None:
    has = f.has
    cue = has("compare", "versus")
    if not (cue or has("top", "code_noun", "share") or not f.unexplained):
        return None
    if cue and len(cohorts) == 1 and f.weak_all:
        cohorts = [*cohorts, "all"]
    base = dict(common, n=f.n, code=f.any_code[0] if f.any_code else None)
    cohort = cohorts[0] if cohorts else (_default_cohort(base["code"]) if base["code"] else "all")
    if len(cohorts) >= 2:
        return Intent("compare", compare_by="cohort", cohorts=tuple(cohorts), **base)
    if len(periods) >= 2:
        base["period"] = None
        return Intent(
            "compare",
            compare_by="period",
            cohort=cohort,
            cohorts=(cohort,),
            periods=tuple(periods),
            **base,
        )
    if len(f.states) >= 2:
        base["state"] = None
        return Intent(
            "compare",
            compare_by="state",
            cohort=cohort,
            cohorts=(cohort,),
            states=tuple(f.states),
            **base,
        )
    if len(f.payers) >= 2:
        base["payer"] = None
        return Intent(
            "compare",
            compare_by="payer",
            cohort=cohort,
            cohorts=(cohort,),
            payers=tuple(f.payers),
            **base,
        )
    return None


def _content_words(f: Found, lex: Lexicon) -> list[str]:
    """Words that may name a code: not used by an entity, not glue, not question words."""
    words = []
    for k, t in enumerate(f.low):
        if k in f.used or not t.isalpha() or t in lex.vocab.filler or t in lex.shape_words:
            continue
        key = singular(t)
        if key in ("code", "cpt", "hcpc", "billing", "bill", "billed", "number", "called"):
            continue
        words.append(key)
    return words


def _lookup(text: str, f: Found, lex: Lexicon, cohorts: list[str], data_cue: bool) -> Intent | None:
    has = f.has
    if f.codes and not has("top", "trend", "compare"):
        code = f.codes[0]
        error = None if code in lex.catalog.codes else "unknown_code"
        return Intent("code_lookup", text=text, code=code, codes=tuple(f.codes), error=error)
    code_for = has("code_for")
    lookup = has("lookup") and not cohorts and not f.periods.periods
    # a code's name on its own ("gait training", "/toprank manual therapy")
    named_alone = bool(f.code_names) and not f.unexplained and not cohorts and not data_cue
    # "PT evaluation codes", "list the OT evaluation codes": the family's codes
    family_listed = (
        bool(f.families)
        and not cohorts
        and not f.unexplained
        and not f.periods.periods
        and not has("top", "share", "trend", "compare", "volume")
    )
    if not (code_for or lookup or named_alone or family_listed):
        return None
    if f.code_names:
        extra = [c for c in f.weak_code_names if c not in f.code_names]
        return Intent(
            "code_lookup", text=text, code=f.code_names[0], codes=tuple(f.code_names + extra)
        )
    if f.families and not has("top"):  # "the most common OT evaluation code" ranks them
        family = f.families[0]
        return Intent("code_lookup", text=text, code=family[0], codes=family)
    if cohorts or has("top", "trend", "share"):
        return None  # "which codes do PTs bill the most" asks for a ranking
    if f.weak_code_names:
        return Intent(
            "code_lookup", text=text, code=f.weak_code_names[0], codes=tuple(f.weak_code_names)
        )
    best, specific = lex.match_codes(_content_words(f, lex))
    if best and specific:
        return Intent("code_lookup", text=text, code=best[0], codes=tuple(best))
    if not code_for:
        return None
    if best:
        return Intent(
            "code_lookup",
            text=text,
            codes=tuple(best),
            error="ambiguous",
            suggestions=tuple(f"what is {c}" for c in best),
        )
    if cohorts or (data_cue and not has("code_noun")):
        return None
    return Intent(
        "code_lookup",
        text=text,
        error="unknown_code",
        suggestions=_examples(lex, ("code for manual therapy", "what is 97530")),
    )


def _top_or_unknown(
    f: Found, lex: Lexicon, cohorts: list[str], common: dict, terse: bool
) -> Intent:
    has = f.has
    slash = f.tokens.slash
    n = f.n
    if n is None and f.bare_numbers and (slash or terse):
        small = [v for v in f.bare_numbers if v > 0]
        n = min(small[0], MAX_TOP_N) if small else None
    wants_top = (
        (has("top") and (cohorts or has("code_noun")))
        or (cohorts and (has("code_noun") or f.periods.periods or f.states or f.payers or n))
        or (cohorts and terse)
        or (slash and terse and (f.periods.periods or f.states or f.payers or n))
        # "top 5", "top ten", "top 2022": every word used, a ranking asked for
        or (has("top") and terse and (f.periods.periods or f.states or f.payers or n))
    )
    if f.unsupported and not f.cohorts:
        if has("top", "code_noun", "share", "trend", "compare") or f.periods.periods:
            return Intent(
                "top_codes",
                n=n,
                suggestions=_cohort_hints(lex),
                **{**common, "error": "unknown_cohort"},
            )
        return Intent(
            "unknown", text=common["text"], error="unknown_cohort", suggestions=_cohort_hints(lex)
        )
    if wants_top:
        if n is None and has("singular_noun") and not has("plural_noun"):
            n = 1
        return Intent("top_codes", cohort=cohorts[0] if cohorts else "all", n=n, **common)
    return Intent(
        "unknown", text=common["text"], error=common["error"], suggestions=_suggest(f, lex, cohorts)
    )


def _cohort_hints(lex: Lexicon) -> tuple[str, ...]:
    return tuple(f"top {c} codes" for c in lex.catalog.cohorts)


def _suggest(f: Found, lex: Lexicon, cohorts: list[str]) -> tuple[str, ...]:
    first: list[str] = []
    if cohorts:
        first += [f"top {cohorts[0]} codes", f"{cohorts[0]} volume by year"]
    for code in f.any_code[:1]:
        first += [f"what is {code}", f"what share of procedures was {code}"]
    return _examples(lex, tuple(first))
