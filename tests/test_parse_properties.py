"""Property tests for the parser (hypothesis): total on any input, canonical values,
slash forms and templates round-trip, noise does not change a parse."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.catalog import Catalog, load_catalog
from data.vocab import load_vocab
from intents import parse
from intents.model import COHORTS, INTENT_KINDS, MAX_QUESTION_CHARS, MAX_TOP_N, Intent
from tests.conftest import TODAY

CATALOG = load_catalog()
VOCAB = load_vocab()
AMBIGUOUS = VOCAB.ambiguous_state_codes
PROPS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

# words that name each cohort (a sample of the synonyms people type)
COHORT_WORDS = {
    "ot": ["ot", "OT", "occupational therapy", "OTs", "occupational therapists"],
    "pt": ["pt", "PT", "physical therapy", "physio", "physical therapists"],
    "rehab": ["rehab", "rehabilitation", "PM&R", "physical medicine and rehab"],
    "slp": ["slp", "SLP", "speech therapy"],
    "chiro": ["chiro", "chiropractors"],
    "pmr": ["physiatrists", "physiatry"],
}
STATES = sorted(CATALOG.states)
REHAB_CODES = sorted(c for c in CATALOG.codes if c.startswith("97"))


def _valid(intent: Intent, catalog: Catalog) -> None:
    assert isinstance(intent, Intent)
    assert intent.kind in INTENT_KINDS
    assert intent.cohort is None or intent.cohort in COHORTS
    assert all(c in COHORTS for c in intent.cohorts)
    assert intent.n is None or 1 <= intent.n <= MAX_TOP_N
    assert intent.state is None or intent.state in catalog.states
    assert all(s in catalog.states for s in intent.states)
    assert intent.payer is None or intent.payer in catalog.payers
    for p in (intent.period, *intent.periods):
        if p is not None:
            assert p.start <= p.end


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
def test_any_text_gives_a_valid_intent(text: str) -> None:
    intent = parse(text, TODAY, CATALOG)
    _valid(intent, CATALOG)
    assert parse(text, TODAY, CATALOG) == intent  # deterministic


@PROPS
@given(st.text(min_size=MAX_QUESTION_CHARS - 1), st.dates(date(1990, 1, 1), date(2100, 1, 1)))
def test_over_length_is_too_long(body: str, today: date) -> None:
    intent = parse(f"x{body}x", today, CATALOG)
    assert (intent.kind, intent.error) == ("unknown", "too_long")


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
    intent = parse(text, TODAY, CATALOG)
    assert intent.kind == "top_codes", text
    assert intent.cohort == cohort, text
    assert intent.n == min(n, MAX_TOP_N), text
    assert intent.state == state, text
    assert intent.period is not None and intent.period.start == date(year, 1, 1), text
    assert intent.period.end == date(year, 12, 31)


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
    intent = parse(text, TODAY, CATALOG)
    assert (intent.kind, intent.cohort, intent.n) == ("top_codes", cohort, n), text
    assert intent.period is not None and intent.period.start.year == year


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
    intent = parse(text, TODAY, CATALOG)
    assert (intent.kind, intent.cohort, intent.code) == ("code_share", cohort, code), text
    assert intent.n is None
    assert intent.period is not None and intent.period.start.year == year


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


def _key(intent: Intent) -> tuple:
    return (
        intent.kind,
        intent.cohort,
        intent.cohorts,
        intent.code,
        intent.n,
        intent.state,
        intent.payer,
        intent.period,
        intent.periods,
        intent.compare_by,
        intent.topic,
        intent.error,
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


@pytest.mark.parametrize("question", VALID)
def test_valid_questions_are_understood(question: str) -> None:
    assert parse(question, TODAY, CATALOG).kind != "unknown"
