"""intents.conversation: a follow-up is the previous spec with what the turn names
changed (a pure function of the previous spec, the last answer's codes and the text);
a complete new question starts afresh."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import LEXICON, TODAY
from toprank.data.catalog import load_catalog
from toprank.intents import Context, follow_up, resolve, understand
from toprank.intents.conversation import resolve_references
from toprank.intents.model import Coverage
from toprank.intents.spec import Spec, intent_name

CATALOG = load_catalog()
DEMO = Coverage(date(2019, 1, 1), date(2023, 9, 30))


def converse(*turns: str, codes: tuple[str, ...] = ()) -> Spec:
    context = None
    spec = understand(turns[0], TODAY, LEXICON)
    for text in turns[1:]:
        context = Context(spec, codes)
        spec = follow_up(context, text, TODAY, LEXICON)
    return spec


def period(spec: Spec) -> tuple[str, str]:
    r = resolve(spec, DEMO)
    return r.period.start.isoformat(), r.period.end.isoformat()


@pytest.mark.parametrize(
    ("turns", "cohorts", "span"),
    [
        (("top PT codes 2020", "and OT?"), ("ot",), ("2020-01-01", "2020-12-31")),
        (("top PT codes 2020", "and for OT?"), ("ot",), ("2020-01-01", "2020-12-31")),
        (("top PT codes 2020", "same for SLP"), ("slp",), ("2020-01-01", "2020-12-31")),
        (("top PT codes 2020", "what about 2021?"), ("pt",), ("2021-01-01", "2021-12-31")),
        (("top PT codes 2020", "now do 2022"), ("pt",), ("2022-01-01", "2022-12-31")),
        (("top PT codes 2020", "Q2"), ("pt",), ("2023-04-01", "2023-06-30")),
    ],
)
def test_a_follow_up_changes_one_part(turns, cohorts, span) -> None:
    spec = converse(*turns)
    assert spec.cohorts == cohorts and period(spec) == span
    assert intent_name(spec) == "top_codes"


def test_filters_replace_or_add() -> None:
    spec = converse("top rehab codes 2021", "in Texas")
    assert spec.states.include == ("TX",) and spec.cohorts == ("rehab",)
    spec = converse("top rehab codes 2021", "in Texas", "in Florida")
    assert spec.states.include == ("FL",)  # an inclusion replaces the last one
    spec = converse("top rehab codes 2021", "just medicare")
    assert spec.payers.include == ("medicare",)
    spec = converse("top rehab codes 2021", "only commercial", "exclude TX")
    assert spec.payers.include == ("commercial",) and spec.states.exclude == ("TX",)
    spec = converse("top rehab codes 2021 for medicare", "exclude medicare")
    assert spec.payers.include == () and spec.payers.exclude == ("medicare",)
    spec = converse("top rehab codes 2019", "drop medicare")
    assert spec.payers.exclude == ("medicare",) and spec.ask == "rank"  # not a trend's "drop"


def test_list_length_grouping_and_measure() -> None:
    assert converse("top rehab codes 2021", "show me the top 20").n == 20
    assert converse("top rehab codes 2021", "top 3").n == 3
    by_payer = converse("top PT codes 2022", "break that down by payer")
    assert (by_payer.group_by, by_payer.ask, by_payer.cohorts) == ("payer", "breakdown", ("pt",))
    trend = converse("top PT codes 2022", "show the trend")
    assert trend.group_by == "year" and trend.periods == ()  # a trend spans all the data
    assert converse("top 5 PT codes 2019", "by units").measure == "units"
    assert converse("how many OT procedures in 2022", "as visits").measure == "claims"


def test_a_reference_to_the_last_answer_is_its_code() -> None:
    codes = ("97110", "97140", "97530")
    assert resolve_references("what is the second one?", codes) == ("what is 97140?", True)
    assert resolve_references("trend of the last one", codes)[0] == "trend of 97530"
    assert resolve_references("what is #3", codes)[0] == "what is 97530"
    assert resolve_references("what is the fifth one", codes) == ("what is the fifth one", False)
    spec = converse("top OT codes 2022", "what is the second one?", codes=codes)
    assert spec.kind == "lookup" and spec.lookup_codes == ("97140",)
    trend = converse("top OT codes 2022", "trend of the first one", codes=codes)
    assert trend.cohorts == ("ot",) and trend.all_codes == ("97110",)
    assert trend.group_by == "year"


def test_a_complete_question_starts_afresh() -> None:
    spec = converse("top OT codes 2020 in Texas", "top PT codes 2021")
    assert spec.cohorts == ("pt",) and spec.states.include == ()
    assert period(spec) == ("2021-01-01", "2021-12-31")
    assert converse("top OT codes 2020", "what is 97110").kind == "lookup"
    assert converse("top OT codes 2020", "help").kind == "help"
    assert converse("top OT codes 2020", "how do OT and PT differ?").kind == "knowledge"


def test_a_follow_up_with_a_code_asks_where_it_stands() -> None:
    spec = converse("top OT codes 2022", "what about 97530")
    assert spec.ask == "share" and spec.all_codes == ("97530",) and spec.cohorts == ("ot",)


def test_unsafe_text_is_never_merged() -> None:
    assert converse("top OT codes 2022", "and; DROP TABLE claim_lines").error == "unsafe"


def test_a_follow_up_can_ask_for_an_amount_and_its_average() -> None:
    spec = converse("top PT codes 2022", "by payments")
    assert (spec.measure, spec.average, spec.cohorts) == ("payments", False, ("pt",))
    spec = converse("top PT codes 2022", "by payments", "average allowed")
    assert (spec.measure, spec.average) == ("allowed", True)
    spec = converse("top PT codes 2022", "by payments", "as procedures")
    assert (spec.measure, spec.average) == ("procedures", False)
