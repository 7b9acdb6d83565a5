"""Property tests for the understanding (hypothesis): total on any input (an exception
fails the test: nothing is swallowed into "unknown"), canonical values, slash forms and
templates round-trip, negations exclude, specs said in words read back the same, and
noise does not change what is understood."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LEXICON, TODAY, examples
from toprank.data.catalog import Catalog, load_catalog
from toprank.data.vocab import load_vocab
from toprank.intents import resolve, understand
from toprank.intents.model import MAX_QUESTION_CHARS, MAX_TOP_N, Coverage
from toprank.intents.phrase import question_for
from toprank.intents.spec import MEASURES, Spec, intent_name

DEMO = Coverage(date(2019, 1, 1), date(2023, 9, 30))
KINDS = ("data", "lookup", "code_range", "knowledge", "coverage", "help", "unknown")
COHORTS = ("ot", "pt", "rehab", "slp", "pmr", "chiro", "other", "all")


def parse(text: str, today: date, catalog: Catalog) -> Spec:
    assert catalog is CATALOG  # the lexicon below is this catalog's
    return understand(text, today, LEXICON)


CATALOG = load_catalog()
VOCAB = load_vocab()
AMBIGUOUS = VOCAB.ambiguous_state_codes
PROPS = settings(
    deadline=None, max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow]
)

# words that name each cohort (a sample of the synonyms people type)
COHORT_WORDS = {
    "ot": ["ot", "OT", "occupational therapy", "OTs", "occupational therapists"],
    "pt": ["pt", "PT", "physical therapy", "physio", "physical therapists"],
    "rehab": ["rehab", "rehabilitation", "PM&R", "physical medicine and rehab"],
    "slp": ["slp", "SLP", "speech therapy"],
    "chiro": ["chiro", "chiropractors"],
    "pmr": ["physiatrists", "physiatry"],
}
STATES = sorted(CATALOG.place_states)  # XX and ZZ are no place to filter on
REHAB_CODES = sorted(c for c in CATALOG.codes if c.startswith("97"))


def _valid(spec: Spec, catalog: Catalog) -> None:
    assert isinstance(spec, Spec)
    assert spec.kind in KINDS
    assert all(c in COHORTS for c in spec.cohorts)
    assert spec.n is None or 1 <= spec.n <= MAX_TOP_N
    assert spec.measure in MEASURES
    for sel in (spec.states,):
        assert all(s in catalog.place_states for s in (*sel.include, *sel.exclude))
    assert all(p in catalog.payers for p in (*spec.payers.include, *spec.payers.exclude))
    assert not set(spec.states.include) & set(spec.states.exclude)
    assert not set(spec.payers.include) & set(spec.payers.exclude)
    for ref in spec.periods:
        if ref.start and ref.end:
            assert ref.start <= ref.end
    if spec.kind == "data" and spec.error is None:
        r = resolve(spec, DEMO)
        for p in r.periods:
            assert DEMO.start <= p.start <= p.end <= DEMO.end
    intent_name(spec)


any_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=600),
    st.text(alphabet=st.sampled_from(list("/toprank 0123456789-qQhH?!;*'\"<@U>&%")), max_size=80),
    st.lists(
        st.sampled_from(
            [
                "top",
                "OT",
                "pt",
                "rehab",
                "2022",
                "Q2",
                "vs",
                "compare",
                "trend",
                "97110",
                "share",
                "in",
                "IN",
                "FL",
                "medicare",
                "what",
                "is",
                "code",
                "for",
                "-",
                "to",
                "between",
                "and",
                "since",
                "last",
                "year",
                "month",
                "13",
                "/toprank",
                "help",
                "\x00",
                "\u200b",
                "🙏",
                "<@U012>",
                "patients",
                "select",
                "drop",
                "table",
            ]
        ),
        max_size=14,
    ).map(" ".join),
)


@PROPS
@given(any_text)
def test_any_text_gives_a_valid_spec(text: str) -> None:
    spec = parse(text, TODAY, CATALOG)
    _valid(spec, CATALOG)
    assert parse(text, TODAY, CATALOG) == spec  # deterministic


@PROPS
@given(st.text(min_size=MAX_QUESTION_CHARS - 1), st.dates(date(1990, 1, 1), date(2100, 1, 1)))
def test_over_length_is_too_long(body: str, today: date) -> None:
    spec = parse(f"x{body}x", today, CATALOG)
    assert (spec.kind, spec.error) == ("unknown", "too_long")


@PROPS
@given(any_text, st.dates(date(1900, 1, 1), date(2100, 12, 31)))
def test_any_today_is_fine(text: str, today: date) -> None:
    _valid(parse(text, today, CATALOG), CATALOG)


@st.composite
def slash_forms(draw: st.DrawFn) -> tuple[str, str, int, int, str]:
    cohort = draw(st.sampled_from(sorted(COHORT_WORDS)))
    word = draw(st.sampled_from([w for w in COHORT_WORDS[cohort] if " " not in w]))
    year = draw(st.integers(2019, 2023))
    n = draw(st.integers(1, 80))
    state = draw(st.sampled_from(STATES))
    # Lower-case "in"/"or"/"me"... before a year read as a preposition ("/toprank pt in
    # 2022"); those codes round-trip only in capitals.
    cases = [state] if state.lower() in VOCAB.function_word_state_codes else [state, state.lower()]
    state_text = draw(st.sampled_from(cases))
    args = [word, str(year), str(n), state_text]
    order = draw(st.permutations(range(4)))
    return "/toprank " + " ".join(args[k] for k in order), cohort, year, n, state


@PROPS
@given(slash_forms())
def test_slash_forms_round_trip(form: tuple[str, str, int, int, str]) -> None:
    text, cohort, year, n, state = form
    spec = parse(text, TODAY, CATALOG)
    assert intent_name(spec) == "top_codes", text
    assert spec.cohorts == (cohort,), text
    assert spec.n == min(n, MAX_TOP_N), text
    assert spec.states.include == (state,), text
    assert [(p.start, p.end) for p in spec.periods] == [(date(year, 1, 1), date(year, 12, 31))]


N_WORDS = {3: "three", 5: "five", 10: "ten", 12: "twelve", 20: "twenty", 25: "twenty-five"}


@PROPS
@given(
    st.sampled_from(sorted(COHORT_WORDS)),
    st.data(),
    st.integers(2019, 2023),
    st.sampled_from(sorted(N_WORDS)),
    st.booleans(),
    st.sampled_from(
        [
            "top {n} {c} codes {y}",
            "top {n} {c} procedures in {y}",
            "what are the top {n} {c} codes for {y}",
            "{n} most common {c} codes {y}",
            "show me the top {n} {c} CPT codes in {y} pls",
        ]
    ),
)
def test_top_templates_round_trip(
    cohort: str, data: st.DataObject, year: int, n: int, as_word: bool, template: str
) -> None:
    word = data.draw(st.sampled_from(COHORT_WORDS[cohort]))
    text = template.format(n=N_WORDS[n] if as_word else n, c=word, y=year)
    spec = parse(text, TODAY, CATALOG)
    assert (intent_name(spec), spec.cohorts, spec.n) == ("top_codes", (cohort,), n), text
    assert spec.periods[0].start is not None and spec.periods[0].start.year == year


@PROPS
@given(
    st.sampled_from(REHAB_CODES),
    st.sampled_from(["ot", "pt", "rehab"]),
    st.data(),
    st.integers(2019, 2023),
    st.sampled_from(
        [
            "what share of {c} procedures was {code} in {y}",
            "{code} share of {c} procedures {y}",
            "rank of {code} in {c} {y}",
            "what percent of {c} codes in {y} were {code}",
            "how does {code} rank among {c} codes in {y}",
        ]
    ),
)
def test_share_templates_round_trip(
    code: str, cohort: str, data: st.DataObject, year: int, template: str
) -> None:
    word = data.draw(st.sampled_from(COHORT_WORDS[cohort]))
    text = template.format(code=code, c=word, y=year)
    spec = parse(text, TODAY, CATALOG)
    assert (intent_name(spec), spec.cohorts, spec.all_codes) == ("code_share", (cohort,), (code,))
    assert spec.n is None
    assert spec.periods[0].start is not None and spec.periods[0].start.year == year


VALID = [
    "top OT procedures 2022",
    "top 15 rehab codes 2023",
    "most common physical therapy codes for medicare 2022",
    "top PT codes for Florida 2022",
    "what share of rehab procedures was 97530 for 2023",
    "what percent of OT procedures for 2022 were manual therapy",
    "compare OT and PT top codes 2021",
    "trend of 97110 for OT",
    "what is 97110",
    "what code is therapeutic activities",
    "which CPT codes are rehab codes",
    "what's the difference between OT and PT",
    "how does occupational therapy help mental health",
    "what years does the data cover",
    "how do I use this bot",
    "medicare vs medicaid rehab 2022",
    "top 5 occupational therapy codes Q2 2023",
]
NOISE = ["!", "?", ",", ".", "...", "🙏", "😀", "👍", "*", "~", "  ", "\u200b", "\t"]


def _key(spec: Spec) -> tuple:
    return (
        intent_name(spec),
        *(v for k, v in spec.__dict__.items() if k not in ("text", "notes", "alternatives")),
    )


@PROPS
@given(
    st.sampled_from(VALID),
    st.data(),
    st.sampled_from(["", "hey bot ", "<@U012ABC> ", "please ", "can you tell me "]),
    st.sampled_from(["", " pls", " please", " thanks", "?", " 🙏", "!!"]),
)
def test_noise_does_not_change_the_parse(
    question: str, data: st.DataObject, lead: str, tail: str
) -> None:
    words = question.split()
    noisy = []
    for w in words:
        if w.lower() not in AMBIGUOUS:  # "IN" in capitals is Indiana, by design
            w = data.draw(st.sampled_from([w, w.lower(), w.upper(), w.title()]))
        noisy.append(w + data.draw(st.sampled_from(["", "", *NOISE])))
    text = lead + " ".join(noisy) + tail
    assert _key(parse(text, TODAY, CATALOG)) == _key(parse(question, TODAY, CATALOG)), text


INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u0301", "\ufe0f"]


@PROPS
@given(st.sampled_from(VALID), st.data())
def test_invisible_characters_inside_words_change_nothing(
    question: str, data: st.DataObject
) -> None:
    # zero-width, soft hyphen, combining marks: "202\u200b2" is still 2022
    chars = list(question)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(1, len(chars)))
        chars.insert(at, data.draw(st.sampled_from(INVISIBLE)))
    text = "".join(chars)
    assert _key(parse(text, TODAY, CATALOG)) == _key(parse(question, TODAY, CATALOG)), repr(text)


@pytest.mark.parametrize("question", VALID)
def test_valid_questions_are_understood(question: str) -> None:
    assert parse(question, TODAY, CATALOG).kind != "unknown"


# --- negations: a value after an exclusion word is excluded, never included ---------------

PAYER_WORDS = {"medicare": "medicare", "medicaid": "medicaid", "commercial": "commercial"}
NEGATIONS = [
    "excluding",
    "except",
    "without",
    "not",
    "other than",
    "besides",
    "minus",
    "w/o",
    "non-",
    "apart from",
    "not counting",
    "outside",
]


@PROPS
@given(
    st.sampled_from(sorted(COHORT_WORDS)),
    st.sampled_from(NEGATIONS),
    st.sampled_from(sorted(PAYER_WORDS)),
    st.sampled_from(STATES),
    st.integers(2019, 2023),
    st.booleans(),
    st.sampled_from(
        [
            "top {c} codes {neg}{x} {y}",
            "{neg}{x}, top {c} codes {y}",
            "top {c} codes in {y} {neg}{x}",
        ]
    ),
)
def test_negations_exclude(cohort, neg, payer, state, year, use_state, template) -> None:
    word = COHORT_WORDS[cohort][0]
    x = state if use_state else payer
    text = template.format(c=word, neg=neg if neg.endswith("-") else neg + " ", x=x, y=year)
    spec = parse(text, TODAY, CATALOG)
    assert spec.error is None, text
    sel = spec.states if use_state else spec.payers
    assert sel.exclude == (x,) and sel.include == (), text


# --- a spec said in words reads back as the same spec ---------------------------------------


@st.composite
def data_specs(draw: st.DrawFn) -> str:
    cohort = draw(st.sampled_from(["OT", "PT", "SLP", "chiro", "rehab"]))
    year = draw(st.integers(2019, 2023))
    payer = draw(st.sampled_from(["", "for medicare", "excluding medicaid", "for commercial"]))
    state = draw(st.sampled_from(["", "in TX", "excluding FL", "in new york"]))
    shape = draw(
        st.sampled_from(
            [
                "top {n} {c} codes {p} {s} {y}",
                "how many {c} procedures {p} {s} {y}",
                "{c} procedures by state {p} {y}",
                "{c} volume by quarter {p} {s} {y}",
                "what share of {c} procedures was 97110 {p} {s} {y}",
                "top {c} codes {p} {s} {y} vs {y2}",
            ]
        )
    )
    n = draw(st.integers(2, 20))
    return shape.format(
        n=n, c=cohort, p=payer, s=state, y=year, y2=year - 1 if year > 2019 else year + 1
    )


@st.composite
def money_specs(draw: st.DrawFn) -> str:
    """Questions about money and people, in each shape."""
    cohort = draw(st.sampled_from(["OT", "PT", "SLP", "chiro", "rehab"]))
    year = draw(st.integers(2019, 2023))
    payer = draw(st.sampled_from(["", "for medicare", "excluding medicaid"]))
    state = draw(st.sampled_from(["", "in TX", "excluding FL"]))
    measure = draw(
        st.sampled_from(
            [
                "payments",
                "allowed amounts",
                "charges",
                "beneficiaries",
                "average payments",
                "average allowed amount",
            ]
        )
    )
    shape = draw(
        st.sampled_from(
            [
                "top {n} {c} codes by {m} {p} {s} {y}",
                "total {c} {m} {p} {s} {y}",
                "{c} {m} by state {p} {y}",
                "{c} {m} by quarter {p} {s} {y}",
                "what share of {c} {m} was 97110 {p} {s} {y}",
            ]
        )
    )
    n = draw(st.integers(2, 20))
    return shape.format(n=n, c=cohort, p=payer, s=state, y=year, m=measure)


@PROPS
@given(st.one_of(data_specs(), money_specs()))
def test_a_spec_said_in_words_reads_back_the_same(question: str) -> None:
    spec = parse(question, TODAY, CATALOG)
    assert spec.kind == "data" and spec.error is None, question
    again = parse(question_for(spec), TODAY, CATALOG)
    for part in (
        "ask",
        "measure",
        "average",
        "cohorts",
        "cohort_mode",
        "codes",
        "code_mode",
        "states",
        "payers",
        "places",
        "modifiers",
        "group_by",
        "per_group",
        "n",
        "period_mode",
    ):
        assert getattr(again, part) == getattr(spec, part), (part, question, question_for(spec))
    assert [(p.start, p.end) for p in again.periods] == [(p.start, p.end) for p in spec.periods]


@PROPS
@given(money_specs())
def test_money_and_people_are_read_as_their_measure(question: str) -> None:
    spec = parse(question, TODAY, CATALOG)
    assert spec.kind == "data" and spec.error is None, question
    word = {"payments": "payments", "allowed": "allowed", "charges": "charges"}
    expected = next((m for w, m in word.items() if w in question), "beneficiaries")
    assert spec.measure == expected, (question, spec.measure)
    assert spec.average == ("average" in question), question
