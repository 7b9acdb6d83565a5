"""understand(text, today, lexicon) -> Spec: one question, read into the query spec.

The tagger (intents.tagger) finds every entity and cue with its position; a short list
of named rules then decides what kind of question it is. Questions about the data are
not told apart by shape: `compose` reads each part of the spec off the tags on its own
(what a negation excludes, which cohorts, codes, filters and periods, the measure, the
grouping, what is compared or joined, the list length), so a new combination of known
parts needs no new rule.

Nothing is quietly dropped: a word no part used is said in a note, a filter the data
cannot apply (a city without its state's data, a patient's age) is refused with the
question without it offered instead, and where two readings are plausible the likelier
is answered and the other offered in `alternatives`.

Pure and deterministic. A bug raises: callers at the edge (the pipeline) log it and
answer with an error, so tests see the exception instead of a quiet "unknown".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from toprank.data.catalog import Catalog, in_rehab_range
from toprank.data.vocab import Vocabulary
from toprank.intents.lexicon import Lexicon, singular
from toprank.intents.model import MAX_QUESTION_CHARS, MAX_TOP_N, ErrorCode
from toprank.intents.safety import is_unsafe
from toprank.intents.spec import MONEY_MEASURES, CodeSet, PeriodRef, Selection, Spec
from toprank.intents.tagger import Tag, Tagged, cues_of, tag

FALLBACK_EXAMPLES = (
    "top OT codes 2022",
    "what share of rehab procedures was 97530 in 2023",
    "what is 97110",
    "help",
)
_DATA_CUES = ("top", "share", "rank", "trend", "volume", "code_noun", "compare")
_MOVERS = ("movers_up", "movers_down", "movers_both")
# Entity kinds a negation can govern, and the list each belongs to.
_FILTER_GROUP = {
    "cohort": "cohort",
    "code_weak": "code",
    "payer": "payer",
    "state": "state",
    "code": "code",
    "code_range": "code",
    "code_family": "code",
    "subgroup": "code",
    "place": "place",
    "setting": "setting",
    "modifier": "modifier",
}
# Negations that mean nothing when nothing follows them ("no thanks", "why not").
_WEAK_NEGATIONS = frozenset({"no", "not", "less", "drop", "remove", "ignore", "omit"})
_LIST_GLUE = ("and", "or", "nor", "&", "-", "plus")
# Leads that make a dimension a series of rankings ("top code in each state").
_PER_GROUP_LEADS = frozenset(
    {"each", "every", "per", "by", "in each", "for each", "in every", "for every", "across"}
)
# Words after "which" that ask for one group ("which state"), not several.
_TOP_WORDS = ("top", "first", "leading", "highest", "biggest", "largest", "most", "best")


# --------------------------------------------------------------------------- entry point


def understand(text: str, today: date, lex: Lexicon) -> Spec:
    """Read one question into a Spec. The lexicon (intents.lexicon: the catalog's and the
    vocabulary's phrases) is built once by the caller (bot.pipeline) and passed in."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text.strip()) > MAX_QUESTION_CHARS:
        return Spec("unknown", text=text[:MAX_QUESTION_CHARS], error="too_long")
    f = tag(text, today, lex)
    if is_unsafe(f, lex):
        return Spec("unknown", text=text, error="unsafe", suggestions=examples(lex))
    ctx = _Ctx(text, f, lex)
    for rule in RULES:
        spec = rule(ctx)
        if spec is not None:
            return spec
    raise AssertionError("the last rule always answers")  # pragma: no cover


def examples(lex: Lexicon, first: tuple[str, ...] = ()) -> tuple[str, ...]:
    out = list(first)
    for e in lex.vocab.examples:
        if e not in out:
            out.append(e)
    return tuple(out[:5])


# --------------------------------------------------------------------------- context


@dataclass
class _Ctx:
    """The tagged question and the views of it the rules share (negation applied)."""

    text: str
    f: Tagged
    lex: Lexicon
    excluded: set[int] = field(default_factory=set)  # positions of tags a negation governs
    dangling: list[str] = field(default_factory=list)  # strong negations governing nothing

    def __post_init__(self) -> None:
        self.excluded, self.dangling, governing = _negations(self.f, self.lex.vocab)
        if governing:  # "drop medicare" excludes; it is no trend's "drop"
            low = ["_" if k in governing else t for k, t in enumerate(self.f.low)]
            self.f.cues = cues_of(low, self.lex)

    @property
    def catalog(self) -> Catalog:
        return self.lex.catalog

    def has(self, *cues: str) -> bool:
        return self.f.has(*cues)

    def included(self, *kinds: str) -> list[Tag]:
        return [t for t in self.f.of(*kinds) if id(t) not in self.excluded]

    def excluded_tags(self, *kinds: str) -> list[Tag]:
        return [t for t in self.f.of(*kinds) if id(t) in self.excluded]

    def values(self, *kinds: str) -> list[Any]:
        return list(dict.fromkeys(t.value for t in self.included(*kinds)))

    @property
    def cohorts(self) -> list[str]:
        return self.values("cohort")

    @property
    def codes(self) -> list[str]:
        return self.values("code")

    @property
    def periods(self) -> list[PeriodRef]:
        return [t.value for t in self.f.of("period")]

    @property
    def terse(self) -> bool:
        return not self.f.unexplained

    def data_entities(self) -> bool:
        f = self.f
        return bool(
            self.cohorts
            or f.of(
                "code",
                "code_range",
                "code_family",
                "subgroup",
                "code_weak",
                "payer",
                "state",
                "place",
                "setting",
                "modifier",
                "unsupported",
                "measure",
                "period",
            )
            or f.periods.error
        )


def _negations(f: Tagged, vocab: Vocabulary) -> tuple[set[int], list[str], set[int]]:
    """The tags each negation governs: the next run of entities of one kind, past glue
    ("not in Texas"), joined by and/or ("excluding medicare and medicaid"). Also the
    strong negations that govern nothing, and the token positions of those that do."""
    starts: dict[int, list[Tag]] = {}
    for t in f.tags:
        if t.kind in _FILTER_GROUP:
            starts.setdefault(t.i, []).append(t)
    excluded: set[int] = set()
    dangling: list[str] = []
    governing: set[int] = set()
    n = len(f.low)
    for neg in f.of("negation"):
        p = neg.j
        while p < n and p not in starts and f.low[p] in vocab.negation_glue:
            p += 1
        if p not in starts:
            word = " ".join(f.low[neg.i : neg.j])
            if word not in _WEAK_NEGATIONS:
                dangling.append(word)
            continue
        group = _FILTER_GROUP[starts[p][0].kind]
        governing.update(range(neg.i, neg.j))
        while p in starts:
            excluded.update(id(t) for t in starts[p])
            q = max(t.j for t in starts[p])
            if q < n and f.low[q] in _LIST_GLUE:
                q += 1
            if q in starts and _FILTER_GROUP[starts[q][0].kind] == group:
                p = q
                continue
            break
    return excluded, dangling, governing


# --------------------------------------------------------------------------- rules


def rule_coverage(c: _Ctx) -> Spec | None:
    has = c.has
    if has("coverage_strong") and not c.codes and not has("top", "share", "trend", "code_for"):
        return Spec("coverage", text=c.text)
    data_cue = has(*_DATA_CUES)
    if has("data_word") and has("coverage_weak") and not (c.cohorts or c.codes or data_cue):
        return Spec("coverage", text=c.text)
    return None


def rule_help(c: _Ctx) -> Spec | None:
    f, has = c.f, c.has
    entities = c.data_entities() or bool(f.of("code_name"))
    data_cue = has(*_DATA_CUES, *_MOVERS)
    asks_something = has(
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
    nothing = not f.low or (
        c.terse
        and not entities
        and not data_cue
        and f.n is None
        and not asks_something
        and not f.bare_numbers
        and not f.of("dimension")
    )
    if nothing or (
        has("help")
        and not entities
        and not has("top", "share", "trend", "compare", "coverage_strong", "code_for")
    ):
        return Spec("help", text=c.text, suggestions=examples(c.lex))
    return None


def rule_codes_difference(c: _Ctx) -> Spec | None:
    """ "difference between therapeutic activities and therapeutic exercises"."""
    codes = c.codes
    if (
        c.has("difference", "versus", "compare")
        and len(codes) >= 2
        and not c.cohorts
        and not c.periods
        and not c.has("share", "volume", "top", "trend", "rank")
        and not c.f.of("state", "payer", "place", "setting", "measure")
    ):
        return Spec("knowledge", text=c.text, lookup_codes=tuple(codes), topic="codes")
    return None


def rule_knowledge(c: _Ctx) -> Spec | None:
    """OT vs PT explained: what each focuses on, how they differ, mental health."""
    f, has = c.f, c.has
    cohorts, codes = c.cohorts, c.codes
    if has(*_DATA_CUES, *_MOVERS) or codes or c.periods or f.periods.error:
        return None
    if (
        f.of(
            "state",
            "payer",
            "place",
            "setting",
            "modifier",
            "measure",
            "code_family",
            "subgroup",
            "code_range",
        )
        or f.n is not None
    ):
        return None
    if not set(cohorts) <= {"ot", "pt"}:
        return None
    topic = None
    fine, gross = has("fine_motor"), has("gross_motor")
    if has("mental"):
        topic = "mental_health"
    elif fine and gross:
        topic = "difference"
    elif fine and not cohorts:
        topic = "ot_focus"
    elif gross and not cohorts and has("focus", "difference", "lookup"):
        topic = "pt_focus"
    elif (
        set(cohorts) == {"ot", "pt"}
        and has("difference", "versus", "focus", "lookup")
        or len(cohorts) == 1
        and has("difference")
    ):
        topic = "difference"
    elif len(cohorts) == 1 and (has("focus", "lookup") or fine or gross):
        topic = "ot_focus" if cohorts[0] == "ot" else "pt_focus"
    if topic is None:
        return None
    return Spec("knowledge", text=c.text, cohorts=tuple(cohorts), topic=topic)


def rule_code_range(c: _Ctx) -> Spec | None:
    """ "which CPT codes are rehab codes", "list the evaluation codes", "/toprank range"."""
    f, has = c.f, c.has
    cohorts = c.cohorts
    subgroups = c.values("subgroup")
    subgroup_keys = [k for keys in subgroups for k in keys]
    ranges = c.values("code_range")
    if has("top", "share", "trend", "compare", *_MOVERS) or c.periods:
        return None
    if f.of("state", "payer", "place", "setting", "modifier", "measure", "dimension") or c.excluded:
        return None
    if has("volume") and not has("range"):
        return None
    if c.codes or f.n is not None or not set(cohorts) <= {"rehab"}:
        return None
    families = f.of("code_family")
    listing = False
    if families and not subgroup_keys and not ranges:
        return None  # "what are the PT evaluation codes": those codes, not the range
    if ranges or has("range") and (cohorts or subgroup_keys or has("code_noun")):
        listing = True
    elif cohorts == ["rehab"] and has("lookup") and not has("code_noun", "volume"):
        listing = True  # "what is rehab": the code range is its definition
    elif "range" in f.low and c.terse and not cohorts:
        listing = True  # "/toprank range"
    elif subgroup_keys and c.terse and not cohorts:
        listing = True  # "/toprank evaluations", "modalities?": the sub-group's codes
    elif subgroup_keys and has("code_noun", "lookup", "range"):
        listing = True
    if not listing:
        return None
    keys = list(subgroup_keys)
    for first, last in ranges:
        for sg in c.catalog.subgroups:
            if (sg.first, sg.last) == (first, last):
                keys = [sg.key]
    return Spec("code_range", text=c.text, subgroups=tuple(dict.fromkeys(keys)))


def rule_lookup(c: _Ctx) -> Spec | None:
    """What a code is: "what is 97110", "/toprank 97140", "code for gait training", "PT
    evaluation codes". Only where nothing asks for a figure."""
    f, has, lex = c.f, c.has, c.lex
    cohorts = c.cohorts
    written = [t.value for t in f.of("code") if t.j - t.i == 1 and t.value.lower() == f.low[t.i]]
    named = [t.value for t in c.included("code") if t.value not in written]
    weak = c.values("code_weak")
    families = c.values("code_family")
    figure_asked = (
        has("top", "trend", "compare", "share", "volume", *_MOVERS)
        or f.of("state", "payer", "place", "setting", "modifier", "measure", "period")
        or c.excluded
        or _groupings(c)
    )
    if written and not figure_asked and (not cohorts or has("lookup", "range")):
        code = written[0]
        error: ErrorCode | None = None if code in c.catalog.codes else "unknown_code"
        return Spec("lookup", text=c.text, lookup_codes=tuple(c.codes), error=error)
    if figure_asked:
        return None
    code_for = has("code_for")
    lookup = has("lookup") and not cohorts
    # a code's name on its own ("gait training", "/toprank manual therapy")
    named_alone = bool(named) and c.terse and not cohorts and not has(*_DATA_CUES)
    family_listed = bool(families) and not cohorts and c.terse
    if not (code_for or lookup or named_alone or family_listed):
        return None
    if named:
        extra = [w for w in weak if w not in named]
        return Spec("lookup", text=c.text, lookup_codes=tuple(named + extra))
    if families and not has("top"):
        return Spec("lookup", text=c.text, lookup_codes=tuple(families[0]))
    if cohorts or has("top", "trend", "share"):
        return None  # "which codes do PTs bill the most" asks for a ranking
    if weak:
        return Spec("lookup", text=c.text, lookup_codes=tuple(weak))
    best, specific = lex.match_codes(_content_words(f, lex))
    if best and specific:
        return Spec("lookup", text=c.text, lookup_codes=tuple(best))
    if not code_for:
        return None
    if best:
        return Spec(
            "lookup",
            text=c.text,
            lookup_codes=tuple(best),
            error="ambiguous",
            suggestions=tuple(f"what is {code}" for code in best),
        )
    if has(*_DATA_CUES) and not has("code_noun"):
        return None
    return Spec(
        "lookup",
        text=c.text,
        error="unknown_code",
        suggestions=examples(lex, ("code for manual therapy", "what is 97530")),
    )


def rule_data(c: _Ctx) -> Spec | None:
    """A figure from the data: composed part by part (see `compose`)."""
    if not _asks_for_data(c):
        return None
    return compose(c)


def rule_unknown(c: _Ctx) -> Spec:
    f = c.f
    first: list[str] = []
    cohorts = c.cohorts
    if cohorts:
        first += [f"top {cohorts[0]} codes", f"{cohorts[0]} volume by year"]
    for code in c.codes[:1]:
        first += [f"what is {code}", f"what share of procedures was {code}"]
    if f.of("unsupported"):
        return Spec(
            "unknown", text=c.text, error="unknown_cohort", suggestions=_cohort_hints(c.lex)
        )
    return Spec(
        "unknown", text=c.text, error=f.periods.error, suggestions=examples(c.lex, tuple(first))
    )


RULES: tuple[Callable[[_Ctx], Spec | None], ...] = (
    rule_coverage,
    rule_help,
    rule_codes_difference,
    rule_knowledge,
    rule_code_range,
    rule_lookup,
    rule_data,
    rule_unknown,
)


# --------------------------------------------------------------------------- data questions


def _asks_for_data(c: _Ctx) -> bool:
    f, has = c.f, c.has
    cohorts = c.cohorts or f.of("cohort_weak")
    subject = bool(
        cohorts
        or f.of("code", "code_family", "subgroup", "code_range", "code_weak", "unsupported")
        or has("code_noun")
        or f.of("measure")
    )
    if not c.terse and not subject:
        return False  # "top golf players 2022": a ranking, but of nothing in the data
    cue = has(*_DATA_CUES, *_MOVERS, "versus", "union_cue")
    filters = bool(f.of("state", "payer", "place", "setting", "modifier", "period", "measure"))
    codes = bool(f.of("code", "code_family", "subgroup", "code_range"))
    grouped = bool(_groupings(c))
    if f.of("unsupported") and (cue or filters or cohorts):
        return True
    if cohorts and (cue or filters or codes or f.n or grouped or c.terse):
        return True
    if codes and (cue or filters or grouped or f.n):
        return True
    if cue and (filters or grouped or f.n or (has("top") and has("code_noun"))):
        return True
    if grouped and (cue or filters or has("code_noun")):
        return True
    if f.tokens.slash and c.terse and (filters or f.n):
        return True
    if has("top") and c.terse and (filters or f.n):
        return True  # "top 5", "top 2022": every word used, a ranking asked for
    n = _bare_n(c)
    return bool(cohorts and n)


def _bare_n(c: _Ctx) -> int | None:
    f = c.f
    if f.n is None and f.bare_numbers and (f.tokens.slash or c.terse):
        small = [v for v in f.bare_numbers if v > 0]
        return min(small[0], MAX_TOP_N) if small else None
    return f.n


def _cohort_hints(lex: Lexicon) -> tuple[str, ...]:
    return tuple(f"top {k} codes" for k in lex.catalog.cohorts)


@dataclass
class _Grouping:
    tag: Tag
    dimension: str
    lead: str  # the word that made it a grouping ("by", "which", "mix", ...)
    plural: bool


def _groupings(c: _Ctx) -> list[_Grouping]:
    """Dimensions the question groups by: "by state", "which payer", "payer mix",
    "quarterly", "top 5 states", "in each state"."""
    f, vocab = c.f, c.lex.vocab
    low, n = f.low, len(f.low)
    out: list[_Grouping] = []
    for t in f.of("dimension"):
        word = " ".join(low[t.i : t.j])
        plural = word.endswith("s") and not word.endswith("ss")
        prev1 = low[t.i - 1] if t.i >= 1 else ""
        prev2 = " ".join(low[t.i - 2 : t.i]) if t.i >= 2 else ""
        nxt = low[t.j] if t.j < n else ""
        lead = ""
        if word in vocab.group_alone:
            lead = word
        elif prev2 in vocab.group_leads:
            lead = prev2
        elif prev1 in vocab.group_leads:
            lead = prev1
        elif f.n_at is not None and f.n_at == t.i - 1 and t.i >= 2 and low[t.i - 2] in _TOP_WORDS:
            lead = low[t.i - 2]  # "top 5 states"
        elif nxt in vocab.group_tails:
            lead = nxt
        elif (
            t.value in ("year", "quarter", "month")
            and c.has("volume", "trend")
            and any(
                u.i == t.j and u.kind in ("cohort", "code", "code_family", "measure")
                for u in f.tags
            )
        ):
            lead = word  # "monthly chiro volume" (typed "month chiro volume")
        if lead:
            out.append(_Grouping(t, str(t.value), lead, plural))
    return out


def _code_sets(c: _Ctx, tags: list[Tag]) -> list[CodeSet]:
    """Code entities as CodeSets, in the order asked."""
    out: list[CodeSet] = []
    catalog = c.catalog
    for t in tags:
        if t.kind == "code" or t.kind == "code_weak":
            out.append(CodeSet(label=t.value, codes=(t.value,), kind="code"))
        elif t.kind == "code_family":
            label = (
                " ".join(c.f.tokens.orig[t.i : t.j])
                if len(c.f.tokens.orig) == len(c.f.low)
                else " ".join(c.f.low[t.i : t.j])
            )
            out.append(CodeSet(label=label, codes=tuple(t.value), kind="family"))
        elif t.kind == "subgroup":
            keys = set(t.value)
            codes = tuple(sorted(k.code for k in catalog.codes.values() if k.category in keys))
            names = [s.name for s in catalog.subgroups if s.key in keys]
            out.append(CodeSet(label=" and ".join(names), codes=codes, kind="subgroup"))
        elif t.kind == "code_range":
            first, last = t.value
            out.append(CodeSet(label=f"{first}-{last}", kind="range", first=first, last=last))
    unique: dict[tuple[Any, ...], CodeSet] = {}
    for s in out:
        unique.setdefault((s.codes, s.first, s.last), s)
    return list(unique.values())


def _between(c: _Ctx, a: Tag, b: Tag) -> tuple[str, ...]:
    return tuple(c.f.low[a.j : b.i])


def _joined_by_or(c: _Ctx, tags: list[Tag]) -> bool:
    return any("or" in _between(c, a, b) for a, b in zip(tags, tags[1:], strict=False))


def _several(c: _Ctx, tags: list[Tag], *, plain_and: str = "compared") -> tuple[str, str | None]:
    """How several values of one kind go together: ("union" | "compared", the other
    reading as a hint for alternatives, or None when the words leave no doubt)."""
    has = c.has
    if has("union_cue"):
        return "union", None
    if has("compare", "versus") and not _joined_by_or(c, tags):
        return "compared", None
    if _joined_by_or(c, tags):
        if has("comparative", "compare", "difference"):
            return "compared", None
        return "union", "compared"
    return plain_and, ("union" if plain_and == "compared" else "compared")


@dataclass
class _Draft:
    """The parts of a data question as they are read, one reader at a time."""

    c: _Ctx
    notes: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    cohorts: list[str] = field(default_factory=list)
    excluded_cohorts: list[str] = field(default_factory=list)
    exclude_cohorts: list[str] = field(default_factory=list)
    cohort_mode: str = "single"
    codes: list[CodeSet] = field(default_factory=list)
    code_mode: str = "each"
    exclude_codes: list[CodeSet] = field(default_factory=list)
    states: Selection = field(default_factory=Selection)
    state_mode: str = "single"
    payers: Selection = field(default_factory=Selection)
    payer_mode: str = "single"
    places: Selection = field(default_factory=Selection)
    settings: Selection = field(default_factory=Selection)
    modifiers: Selection = field(default_factory=Selection)
    periods: list[PeriodRef] = field(default_factory=list)
    period_mode: str = "single"
    measure: str = "procedures"
    average: bool = False
    # what is asked
    groupings: list[_Grouping] = field(default_factory=list)
    top: bool = False
    ranks_codes: bool = False
    trend: bool = False
    ask: str = "rank"
    group_by: str | None = "code"
    per_group: str | None = None
    n: int | None = None
    direction: str = "both"
    subset: tuple[str, ...] = ()

    @property
    def time_groups(self) -> list[_Grouping]:
        return [g for g in self.groupings if g.dimension in ("year", "quarter", "month")]

    @property
    def other_groups(self) -> list[_Grouping]:
        return [g for g in self.groupings if g.dimension not in ("year", "quarter", "month")]

    def refuse(self, error: ErrorCode, *notes: str, alternatives: tuple[str, ...] = ()) -> Spec:
        return Spec("data", text=self.c.text, error=error, notes=notes, alternatives=alternatives)


# --- refusals: what the data cannot answer at all -------------------------------------


def refuse_unknown_cohort(d: _Draft) -> Spec | None:
    c = d.c
    if c.f.of("unsupported") and not c.cohorts:
        return Spec(
            "data",
            text=c.text,
            error="unknown_cohort",
            suggestions=_cohort_hints(c.lex),
            n=_bare_n(c),
        )
    return None


def _without(c: _Ctx, spans: list[tuple[int, int]]) -> str:
    """The question with some words taken out (and the "for", "in"... that led to them):
    the question the data can answer, offered instead of a refusal's dead end."""
    drop: set[int] = set()
    for i, j in spans:
        if i > 0 and c.f.low[i - 1] in ("for", "in", "of", "with", "among", "by", "from"):
            i -= 1
        drop.update(range(i, j))
    words = c.f.tokens.orig if len(c.f.tokens.orig) == len(c.f.low) else tuple(c.f.low)
    return " ".join(w for k, w in enumerate(words) if k not in drop).strip()


def refuse_unsupported_filter(d: _Draft) -> Spec | None:
    """ "top PT codes for kids": the data has no ages; all ages would be another question."""
    tags = d.c.f.of("unsupported_filter")
    names = list(dict.fromkeys(t.value for t in tags))
    if not names:
        return None
    instead = _without(d.c, [(t.i, t.j) for t in tags])
    return d.refuse(
        "unsupported_filter",
        *(f"The data has no {u}." for u in names),
        alternatives=(instead,) if instead else (),
    )


def refuse_no_place(d: _Draft) -> Spec | None:
    """ "top codes in ZZ": XX (unknown) and ZZ (foreign) rows count in national answers
    but are no place to filter on (data/states.csv kind "unknown")."""
    tags = d.c.f.of("no_place")
    codes = list(dict.fromkeys(str(t.value) for t in tags))
    if not codes:
        return None
    names = ", ".join(f"{c} ({d.c.lex.catalog.states.get(c, c).lower()})" for c in codes)
    instead = _without(d.c, [(t.i, t.j) for t in tags])
    return d.refuse(
        "unknown_place",
        f"Rows with the state {names} count in national answers only; they are not a "
        "place the data can be filtered to.",
        alternatives=(instead,) if instead else (),
    )


def refuse_unknown_place(d: _Draft) -> Spec | None:
    f = d.c.f
    if not f.unknown_places:
        return None
    names = ", ".join(f"'{p}'" for p in f.unknown_places)
    spans = [(k, k + len(p.split())) for k, p in zip(f.unknown_at, f.unknown_places, strict=True)]
    instead = _without(d.c, spans)
    return d.refuse(
        "unknown_place",
        f"{names} is not a US state I know, and the data is by state.",
        alternatives=(instead,) if instead else (),
    )


def refuse_dangling_negation(d: _Draft) -> Spec | None:
    """ "top codes excluding the big ones": nothing to exclude is no reason to ignore it."""
    if d.c.dangling:
        return d.refuse("ambiguous", f"I could not tell what '{d.c.dangling[0]}' leaves out.")
    return None


# Questions whose shape is named by a cue (data/vocabulary.yaml) the answers cannot take:
# answering without it would answer another question. Cue -> the reason, in the order
# they are checked.
_REFUSED_CUES = {
    # "bottom 5 PT codes", "fewest OT procedures": rankings run from the most
    "reverse_order": "I rank from the most only: the bottom of a ranking (least, fewest, "
    "lowest) is not something I can answer yet, and the top would answer the opposite "
    "question.",
    # "top PT codes with more than 1000 procedures"
    "count_threshold": "I cannot filter by a threshold on a figure (more than, at least, "
    "under...) yet; ask without it and read the figures in the answer.",
}


def refuse_by_cue(d: _Draft) -> Spec | None:
    for cue, reason in _REFUSED_CUES.items():
        if cue in d.c.f.cues:
            return d.refuse("unsupported", reason)
    return None


REFUSALS: tuple[Callable[[_Draft], Spec | None], ...] = (
    refuse_unknown_cohort,
    refuse_by_cue,
    refuse_unsupported_filter,
    refuse_no_place,
    refuse_unknown_place,
    refuse_dangling_negation,
)


# --- the parts, each read on its own ----------------------------------------------------


def read_cohorts(d: _Draft) -> Spec | None:
    """Cohorts named, joined ("OT and PT combined") or compared ("OT vs PT"), or left
    out ("not billed by PTs", "non-rehab")."""
    c = d.c
    tags = c.included("cohort")
    d.cohorts = list(dict.fromkeys(t.value for t in tags))
    d.excluded_cohorts = list(dict.fromkeys(t.value for t in c.excluded_tags("cohort")))
    if not d.cohorts and c.f.of("cohort_weak"):
        d.cohorts = ["all"]
    if len(d.cohorts) >= 2:
        mode, other = _several(c, tags)
        d.cohort_mode = mode
        if mode == "union" and any(k not in c.catalog.provider_cohorts for k in d.cohorts):
            if "all" not in d.cohorts:
                return d.refuse(
                    "ambiguous",
                    "Rehab codes overlap the provider cohorts, so they cannot be added "
                    "together; compare them instead.",
                    alternatives=(c.text.replace("combined", "") + " compared",),
                )
            d.cohorts, d.cohort_mode = ["all"], "single"
        if other:
            d.alternatives.append(_reword(c, mode, other, "cohorts"))
    if "rehab" in d.excluded_cohorts:  # "non-rehab codes": every code outside the range
        d.exclude_codes.append(
            CodeSet(label="rehab codes (97010-97799)", kind="range", first="97010", last="97799")
        )
    d.exclude_cohorts = [k for k in d.excluded_cohorts if k in c.catalog.provider_cohorts]
    return None


def read_codes(d: _Draft) -> Spec | None:
    """Codes asked about (several: each, combined or compared) and codes left out."""
    c, has = d.c, d.c.has
    kinds = ("code", "code_family", "subgroup", "code_range")
    tags = c.included(*kinds)
    d.codes = _code_sets(c, tags)
    d.exclude_codes += _code_sets(c, c.excluded_tags(*kinds))
    weak = c.included("code_weak")
    if not d.codes and weak and (has("share", "trend", "volume") or len(weak) > 1):
        d.codes = _code_sets(c, weak[:1] if not has("versus", "compare") else weak)
    d.exclude_codes += _code_sets(c, c.excluded_tags("code_weak"))  # "leaving out self-care"
    if len(d.codes) >= 2:
        if has("union_cue"):
            d.code_mode = "combined"
        elif has("compare", "versus") or _joined_by_or(c, tags):
            d.code_mode = "compared"
    return None


def read_filters(d: _Draft) -> Spec | None:
    """States, payers, places of service and modifiers, each kept or left out."""
    c = d.c
    d.states, d.state_mode = _selection(c, "state", d.alternatives)
    d.payers, d.payer_mode = _selection(c, "payer", d.alternatives)
    d.places = Selection(
        tuple(dict.fromkeys(p for t in c.included("place") for p in t.value)),
        tuple(dict.fromkeys(p for t in c.excluded_tags("place") for p in t.value)),
    )
    d.settings = Selection(
        tuple(dict.fromkeys(t.value for t in c.included("setting"))),
        tuple(dict.fromkeys(t.value for t in c.excluded_tags("setting"))),
    )
    d.modifiers = Selection(
        tuple(dict.fromkeys(t.value for t in c.included("modifier"))),
        tuple(dict.fromkeys(t.value for t in c.excluded_tags("modifier"))),
    )
    both = [
        v
        for sel in (d.states, d.payers, d.places, d.settings, d.modifiers)
        for v in sel.include
        if v in sel.exclude
    ]
    both += [k for k in d.cohorts if k in d.excluded_cohorts]
    if both:
        return d.refuse("ambiguous", f"'{both[0]}' is both asked for and excluded.")
    return None


def read_periods(d: _Draft) -> Spec | None:
    """Periods, several taken together ("2021 and 2022 together") or side by side."""
    c, has = d.c, d.c.has
    d.periods = list(c.periods)
    if len(d.periods) >= 2:
        if has("union_cue"):
            d.period_mode = "combined"
        else:
            d.period_mode = "compared"
            plain = not (has("compare", "versus", *_MOVERS) or _joined_by_or(c, c.f.of("period")))
            if plain:  # "2021 and 2022": side by side, or together, offered
                d.alternatives.append(_reword(c, "compared", "combined", "periods"))
    return None


def read_measure(d: _Draft) -> Spec | None:
    measures = list(dict.fromkeys(d.c.values("measure")))
    d.measure = measures[0] if measures else "procedures"
    if len(measures) > 1:
        d.notes.append(f"One measure at a time: this counts {d.measure}.")
    if d.c.has("average"):
        if d.measure in MONEY_MEASURES:
            d.average = True
        elif measures:  # "average units": a per-procedure figure of a count is not kept
            d.notes.append(
                f"Averages are of amounts (payments, allowed, charges): this is the total of {d.measure}."
            )
    return None


PARTS: tuple[Callable[[_Draft], Spec | None], ...] = (
    read_cohorts,
    read_codes,
    read_filters,
    read_periods,
    read_measure,
)


# --- what is asked: the first rule that fits decides (ask, group_by, per_group) -----------

_Asked = tuple[str, "str | None", "str | None"]


def ask_movers(d: _Draft) -> _Asked | None:
    return ("movers", "code", None) if d.c.has(*_MOVERS) else None


def ask_by_category(d: _Draft) -> _Asked | None:
    """ "payer mix", "which state bills the most 97110", "top OT code in each state"."""
    if not d.other_groups:
        return None
    g = d.other_groups[0]
    if len(d.other_groups) > 1:
        d.notes.append(f"One grouping at a time: this is by {_dimension_word(g.dimension)}.")
    if d.ranks_codes and g.lead in _PER_GROUP_LEADS and not _dimension_is_ranked(d.c, g):
        return "rank", "code", g.dimension
    per_group = None
    if d.time_groups or (d.trend and not d.other_groups[1:]):
        per_group = d.time_groups[0].dimension if d.time_groups else "year"
    return "breakdown", g.dimension, per_group


def ask_by_time(d: _Draft) -> _Asked | None:
    """ "quarterly PT volume", "monthly trend of 97530", "top chiro code each year"."""
    if not d.time_groups:
        return None
    g = d.time_groups[0]
    if d.ranks_codes and g.lead in _PER_GROUP_LEADS and not d.trend:
        return "rank", "code", g.dimension  # "top 3 codes per quarter"
    return "trend", g.dimension, None


def ask_trend(d: _Draft) -> _Asked | None:
    return ("trend", "year", None) if d.trend else None


def ask_share(d: _Draft) -> _Asked | None:
    """ "what share of rehab was 97530", "rank of 97116 in rehab"."""
    has = d.c.has
    if d.codes and (has("share") or has("rank") and not d.top):
        return "share", "code", None
    return None


def ask_total(d: _Draft) -> _Asked | None:
    return ("total", None, None) if d.c.has("volume") and not d.ranks_codes else None


def ask_ranking(d: _Draft) -> _Asked | None:
    return ("rank", "code", None) if d.top else None


def ask_standing(d: _Draft) -> _Asked | None:
    """ "97530 rehab 2023": a code with a scope asks where the code stands."""
    scoped = d.cohorts or d.periods or d.states or d.payers or d.places or d.settings or d.modifiers
    return ("share", "code", None) if d.codes and scoped else None


def ask_part(d: _Draft) -> _Asked | None:
    return ("share", None, None) if d.c.has("share") else None


ASKS: tuple[Callable[[_Draft], _Asked | None], ...] = (
    ask_movers,
    ask_by_category,
    ask_by_time,
    ask_trend,
    ask_share,
    ask_total,
    ask_ranking,
    ask_standing,
    ask_part,
)


# --- then what the rest of the question says about it ------------------------------------


def adjust_part_of_a_share(d: _Draft) -> None:
    """ "what fraction of PT procedures are medicare": the part is a filter, not codes."""
    if d.ask in ("share", "total") and d.c.has("share"):
        d.subset = _subset(d.c)
        if d.subset and d.subset != ("codes",):
            d.ask, d.group_by = "total", None
        elif d.subset == ("codes",) and d.ask == "total":
            d.ask, d.group_by = "share", "code"
        if d.subset == ("codes",):
            d.subset = ()


def adjust_compared_volumes(d: _Draft) -> None:
    """ "OT procedures 2019 vs 2022", "PT volume 2021 vs 2022": each one's total."""
    c = d.c
    compared = (
        len(d.periods) > 1
        or len(d.cohorts) > 1
        or len(d.states.include) > 1
        or len(d.payers.include) > 1
    )
    counted = c.f.of("measure") or _measure_noun(c)
    if (
        d.ask == "rank"
        and not d.top
        and not d.codes
        and not _names_codes(c)
        and counted
        and (not d.groupings and compared)
    ):
        d.ask, d.group_by = "total", None
    if d.ask == "rank" and c.has("volume") and not d.codes and d.period_mode == "compared":
        d.ask, d.group_by = "total", None


def adjust_volume_over_years(d: _Draft) -> None:
    """ "PT volume 2019 to 2022": year by year."""
    if (
        d.ask == "total"
        and "volume" in d.c.f.low
        and len(d.periods) == 1
        and not d.codes
        and (_spans_years(d.periods[0]))
    ):
        d.ask, d.group_by = "trend", "year"


def adjust_codes_asked(d: _Draft) -> None:
    """How several codes go with what is asked: a share without codes is a total with
    its share; codes compared stand side by side in the cohort's ranking; a trend of
    several codes is one line each."""
    has = d.c.has
    if d.ask == "share" and not d.codes:
        d.ask, d.group_by = "total", None
    if d.ask == "share" and (d.code_mode == "combined" or _all_sets(d.codes)) and has("volume"):
        d.ask, d.group_by = "total", None
    if d.ask in ("rank", "total") and d.codes and d.code_mode == "compared":
        d.ask, d.group_by = "share", "code"
    if d.ask == "trend" and len(d.codes) > 1 and d.code_mode == "each":
        d.code_mode = "compared"


def adjust_list_length(d: _Draft) -> None:
    """The top-N asked, or one for a singular ("the top code", "which state")."""
    has = d.c.has
    singular = has("singular_noun") and not has("plural_noun")
    if d.n is not None:
        return
    if singular and d.group_by == "code" and d.ask == "rank":
        d.n = 1
    elif d.ask == "breakdown" and d.other_groups:
        g = d.other_groups[0]
        asked_one = g.lead in ("which", "what", *_TOP_WORDS)
        if asked_one and not g.plural:
            d.n = 1
        elif asked_one:
            d.n = 10


def adjust_direction(d: _Draft) -> None:
    has = d.c.has
    if d.ask != "movers":
        return
    if has("movers_up") and not has("movers_down", "movers_both"):
        d.direction = "up"
    elif has("movers_down") and not has("movers_up", "movers_both"):
        d.direction = "down"


ADJUSTMENTS: tuple[Callable[[_Draft], None], ...] = (
    adjust_part_of_a_share,
    adjust_compared_volumes,
    adjust_volume_over_years,
    adjust_codes_asked,
    adjust_list_length,
    adjust_direction,
)


def compose(c: _Ctx) -> Spec:
    """The spec of a data question: refusals first, then each part read on its own,
    what is asked (the first rule of ASKS that fits), then the adjustments."""
    d = _Draft(c, notes=list(c.f.notes))
    for step in (*REFUSALS, *PARTS):
        refused = step(d)
        if refused is not None:
            return refused
    d.groupings = _groupings(c)
    d.top = _top_cue(c)
    d.ranks_codes = d.top and _ranks_codes(c, d.groupings)
    d.trend = _trend_cue(c, d.groupings) and not c.has(*_MOVERS)
    d.n = _bare_n(c)
    asked = next((a for rule in ASKS if (a := rule(d)) is not None), ("rank", "code", None))
    d.ask, d.group_by, d.per_group = asked
    for adjust in ADJUSTMENTS:
        adjust(d)
    spec = Spec(
        "data",
        text=c.text,
        ask=d.ask,  # type: ignore[arg-type]
        measure=d.measure,  # type: ignore[arg-type]
        average=d.average,
        cohorts=tuple(d.cohorts),
        cohort_mode=d.cohort_mode,  # type: ignore[arg-type]
        exclude_cohorts=tuple(d.exclude_cohorts),
        codes=tuple(d.codes),
        code_mode=d.code_mode,  # type: ignore[arg-type]
        exclude_codes=tuple(d.exclude_codes),
        states=d.states,
        payers=d.payers,
        places=d.places,
        settings=d.settings,
        modifiers=d.modifiers,
        state_mode=d.state_mode,  # type: ignore[arg-type]
        payer_mode=d.payer_mode,  # type: ignore[arg-type]
        periods=tuple(d.periods),
        period_mode=d.period_mode,  # type: ignore[arg-type]
        group_by=d.group_by,  # type: ignore[arg-type]
        per_group=d.per_group,  # type: ignore[arg-type]
        n=d.n,
        direction=d.direction,  # type: ignore[arg-type]
        subset=d.subset,
        error=c.f.periods.error,
    )
    spec = _one_comparison(spec, d.notes)
    d.notes += _unused_words(c)
    d.alternatives += _family_alternative(c, spec)
    return replace(
        spec,
        notes=tuple(dict.fromkeys(d.notes)),
        alternatives=tuple(dict.fromkeys(a for a in d.alternatives if a)),
    )


_RANK_WORDS = frozenset({"rank", "ranks", "ranked", "ranking", "rankings"})
# Verbs that lead from a share's whole to its part: "share of PT procedures [that] are
# medicare", "what portion of 97110 is billed by PTs".
_LINKS = frozenset(
    {
        "is",
        "are",
        "was",
        "were",
        "comes",
        "come",
        "came",
        "happen",
        "happens",
        "happened",
        "occur",
        "occurs",
        "occurred",
        "carry",
        "carries",
        "carried",
        "had",
        "have",
        "has",
        "billed",
        "done",
        "performed",
        "go",
        "goes",
        "went",
        "paid",
        "get",
        "gets",
        "got",
        "made",
        "represent",
        "represents",
        "represented",
        "account",
        "accounts",
        "accounted",
        "belong",
        "belongs",
        "fall",
        "falls",
        "delivered",
        "provided",
        "involve",
        "involved",
    }
)
_SUBSET_KINDS = {
    "code": "codes",
    "code_family": "codes",
    "subgroup": "codes",
    "code_range": "codes",
    "code_weak": "codes",
    "payer": "payers",
    "state": "states",
    "place": "places",
    "setting": "settings",
    "modifier": "modifiers",
    "cohort": "cohorts",
}
_SHARE_WORDS = frozenset(
    {
        "share",
        "shares",
        "percent",
        "percents",
        "percentage",
        "percentages",
        "pct",
        "proportion",
        "proportions",
        "fraction",
        "portion",
        "much",
        "part",
        "slice",
        "piece",
    }
)
_SCOPE_PREPS = frozenset({"in", "among", "within", "across", "for", "of"})


def _subset(c: _Ctx) -> tuple[str, ...]:
    """Which part of a share question is the part, not the whole: what follows the
    linking verb ("share of PT procedures are medicare"), else what stands before the
    share word ("97162 share of OT"), else what follows "of" up to "in"/"among"
    ("share of 97032 in rehab"). Codes are the part when nothing says otherwise."""
    f = c.f
    low = f.low
    cue = next((k for k, t in enumerate(low) if t in _SHARE_WORDS), None)
    if cue is None:
        return ("codes",)
    tags = [t for t in f.tags if t.kind in _SUBSET_KINDS and id(t) not in c.excluded]
    verb = next((k for k in range(cue + 1, len(low)) if low[k] in _LINKS and k not in f.used), None)
    part: list[Tag] = []
    if verb is not None:
        part = [t for t in tags if t.i > verb]
    if not part:
        part = [t for t in tags if t.j <= cue]
    if not part:
        k = cue + 1
        if k < len(low) and low[k] == "of":
            k += 1
        end = next((m for m in range(k, len(low)) if low[m] in _SCOPE_PREPS - {"of"}), len(low))
        part = [t for t in tags if k <= t.i < end]
        if part and not any(_SUBSET_KINDS[t.kind] == "codes" for t in part):
            part = []  # "share of OT procedures in 2022": the whole, not a part
    kinds = tuple(dict.fromkeys(_SUBSET_KINDS[t.kind] for t in part))
    if not kinds or "codes" in kinds:
        return ("codes",)
    return kinds


def _spans_years(ref: PeriodRef) -> bool:
    return bool(ref.start and ref.end and ref.end.year > ref.start.year and ref.start.month == 1)


def _names_codes(c: _Ctx) -> bool:
    """The question says "code(s)", "CPT", "HCPCS": it asks about codes."""
    return any(t in ("code", "codes", "cpt", "cpts", "hcpcs") for t in c.f.low)


def _measure_noun(c: _Ctx) -> bool:
    return any(t in ("procedure", "procedures", "service", "services", "volume") for t in c.f.low)


def _top_cue(c: _Ctx) -> bool:
    """A ranking is asked ("top", "most common"), not only a code's rank ("rank of
    97116 in rehab": where that code stands)."""
    if not c.has("top"):
        return False
    words = set(c.f.low)
    return not words & _RANK_WORDS or bool(words & c.lex.top_words)


_CODE_NOUNS = frozenset(
    {"code", "codes", "procedure", "procedures", "cpt", "cpts", "hcpcs", "service", "services"}
)


def _ranks_codes(c: _Ctx, groupings: list[_Grouping]) -> bool:
    """The ranking is of codes ("top 3 codes by state", "which codes are most common in
    each state"): a code noun near a top word, with no grouped dimension between them
    ("PT procedures by state - top 5" ranks states)."""
    low = c.f.low
    dims = {k for g in groupings for k in range(g.tag.i, g.tag.j)}
    top_words = c.lex.top_words | {"most"}
    for k, t in enumerate(low):
        if t not in top_words:
            continue
        for step in (1, -1):
            for m in range(k + step, k + step * 5, step):
                if not 0 <= m < len(low) or m in dims:
                    break
                if low[m] in _CODE_NOUNS:
                    return True
    return False


def _all_sets(codes: list[CodeSet]) -> bool:
    return bool(codes) and all(s.kind != "code" for s in codes)


def _trend_cue(c: _Ctx, groupings: list[_Grouping]) -> bool:
    """A trend is asked in words of its own ("trend", "over time", "grew"), not only
    by the grouping ("each year" in "top code each year" ranks codes per year)."""
    if not c.has("trend"):
        return False
    low = list(c.f.low)
    for g in groupings:
        width = (
            len(g.lead.split())
            if g.lead not in (low[g.tag.j] if g.tag.j < len(low) else "",)
            else 0
        )
        for k in range(max(0, g.tag.i - width), g.tag.j):
            low[k] = "_"
    return bool(c.lex.cues["trend"].search(" ".join(low)))


def _dimension_is_ranked(c: _Ctx, g: _Grouping) -> bool:
    """ "which state bills the most 97110": the dimension is what is ranked."""
    return g.lead in ("which", "what", *_TOP_WORDS)


def _dimension_word(dimension: str) -> str:
    return {"place_of_service": "place of service", "cohort": "specialty"}.get(dimension, dimension)


def _selection(c: _Ctx, kind: str, alternatives: list[str]) -> tuple[Selection, str]:
    tags = c.included(kind)
    include = tuple(dict.fromkeys(t.value for t in tags))
    exclude = tuple(dict.fromkeys(t.value for t in c.excluded_tags(kind)))
    mode = "single"
    if len(include) >= 2:
        unique = list({t.value: t for t in tags}.values())
        mode, other = _several(c, unique, plain_and="compared")
        if other:
            alternatives.append(_reword(c, mode, other, kind + "s"))
    return Selection(include, exclude), mode


def _one_comparison(spec: Spec, notes: list[str]) -> Spec:
    """Side by side works along one dimension at a time; a second comparison in the same
    question becomes a union, and the answer says so."""
    compared = [
        name
        for name, on in (
            ("cohort", spec.cohort_mode == "compared"),
            ("period", spec.period_mode == "compared"),
            ("state", spec.state_mode == "compared"),
            ("payer", spec.payer_mode == "compared"),
        )
        if on
    ]
    if spec.ask == "movers" and "period" in compared:
        compared.remove("period")
    if len(compared) <= 1:
        return spec
    keep = compared[0]
    changes: dict[str, Any] = {}
    for name in compared[1:]:
        if name == "period":
            changes["period_mode"] = "combined"
        else:
            changes[f"{name}_mode"] = "union"
        notes.append(
            f"One comparison at a time: the {name}s are taken together, the {keep}s side by side."
        )
    return replace(spec, **changes)


def _unused_words(c: _Ctx) -> list[str]:
    """Content words no part of the spec used, said rather than dropped."""
    f = c.f
    skip = {"code", "cpt", "hcpc", "billing", "bill", "billed", "number", "called", *_LINKS}
    words = [w for w in f.unexplained if singular(w) not in skip and len(w) > 1]
    grouped = [g.tag for g in _groupings(c)]
    nouns = {
        "state": ("state",),
        "payer": ("payer",),
        "place_of_service": ("place",),
        "cohort": ("cohort", "unsupported"),
    }
    ends = {t.j: t.kind for t in f.tags}
    for t in f.of("dimension"):
        # "office settings", "the Texas state", "medicare payers": the noun of the entity
        if t in grouped or ends.get(t.i) in nouns.get(str(t.value), ()):
            continue
        words.append(" ".join(f.low[t.i : t.j]))
    if not words:
        return []
    shown = ", ".join(f"'{w}'" for w in dict.fromkeys(words))
    return [f"Not used: {shown} (words I do not know how to apply to the data)."]


def _family_alternative(c: _Ctx, spec: Spec) -> list[str]:
    """ "OT evaluations" is a family of codes (97165-97167) and also "evaluations billed
    by OTs": the first is answered, the second offered."""
    out = []
    for t in c.included("code_family"):
        words = c.f.low[t.i : t.j]
        if words and words[0] in ("ot", "pt") and not spec.cohorts:
            cohort = words[0].upper()
            rest = " ".join(words[1:])
            text = c.text
            phrase = (
                " ".join(c.f.tokens.orig[t.i : t.j])
                if len(c.f.tokens.orig) == len(c.f.low)
                else " ".join(words)
            )
            if phrase in text:
                out.append(text.replace(phrase, f"{rest} billed by {cohort}s", 1))
    return out


def _reword(c: _Ctx, chosen: str, other: str, what: str) -> str:
    """The question asked the other way: "... combined" for a union, "... compared" for
    a comparison (the parser reads both words)."""
    text = c.text.rstrip(" ?.!")
    if other in ("union", "combined"):
        return f"{text} combined"
    return f"{text} compared" if " vs " not in text.lower() else text


def _content_words(f: Tagged, lex: Lexicon) -> list[str]:
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


def default_cohort(codes: tuple[str, ...]) -> str:
    """A question naming codes but no cohort: the rehab list when every code is in
    97010-97799 (whoever billed it), else all procedures."""
    return "rehab" if codes and all(in_rehab_range(c) for c in codes) else "all"
