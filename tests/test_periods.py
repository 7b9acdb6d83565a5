"""Periods: reading them (relative to a pinned today), clipping to coverage, naming them."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import LEXICON
from toprank.data.catalog import load_catalog
from toprank.data.vocab import load_vocab
from toprank.intents import resolve, understand
from toprank.intents.model import Coverage, Period
from toprank.intents.period_rules import scan_periods
from toprank.intents.periods import clip_to_coverage, describe_period, month_end
from toprank.intents.resolve import yearless_year
from toprank.intents.spec import PeriodRef, Spec
from toprank.intents.text import tokenize

CATALOG = load_catalog()

DEMO = Coverage(date(2019, 1, 1), date(2023, 9, 30))
TODAY = date(2023, 10, 15)


def P(start: str, end: str, label: str = "") -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end), label)


@pytest.mark.parametrize(
    ("start", "end", "coverage", "label"),
    [
        ("2022-01-01", "2022-12-31", None, "2022"),
        ("2023-01-01", "2023-09-30", DEMO, "2023 through September"),
        ("2023-01-01", "2023-09-30", None, "January-September 2023"),
        ("2023-04-01", "2023-06-30", DEMO, "Q2 2023"),
        ("2022-07-01", "2022-12-31", None, "H2 2022"),
        ("2022-01-01", "2022-06-30", None, "H1 2022"),
        ("2022-06-01", "2022-06-30", None, "June 2022"),
        ("2023-01-01", "2023-03-31", None, "Q1 2023"),
        ("2023-01-01", "2023-02-28", None, "January-February 2023"),
        ("2019-01-01", "2021-12-31", None, "2019-2021"),
        ("2019-01-01", "2023-09-30", DEMO, "2019 through September 2023"),
        ("2022-06-01", "2023-03-31", None, "June 2022-March 2023"),
        ("2023-01-01", "2023-10-15", None, "2023 through October 15"),
        ("2022-03-05", "2022-04-07", None, "2022-03-05 to 2022-04-07"),
    ],
)
def test_describe_period(start: str, end: str, coverage: Coverage | None, label: str) -> None:
    assert describe_period(P(start, end), coverage) == label


def test_describe_keeps_open_ended_labels_until_clipped() -> None:
    since = P("2019-01-01", "2023-10-15", "since 2019")
    assert describe_period(since) == "since 2019"
    clipped = clip_to_coverage(since, DEMO)
    assert clipped is not None and clipped.label == "2019 through September 2023"


def test_clip_to_coverage() -> None:
    got = clip_to_coverage(P("2023-01-01", "2023-12-31", "2023"), DEMO)
    assert got == Period(date(2023, 1, 1), date(2023, 9, 30), "2023 through September")
    got = clip_to_coverage(P("2018-01-01", "2019-12-31"), DEMO)
    assert got is not None and (got.start, got.end, got.label) == (
        date(2019, 1, 1),
        date(2019, 12, 31),
        "2019",
    )
    assert clip_to_coverage(P("2050-01-01", "2050-12-31"), DEMO) is None
    assert clip_to_coverage(P("2023-10-01", "2023-12-31"), DEMO) is None
    assert clip_to_coverage(P("2018-01-01", "2018-12-31"), DEMO) is None


def test_clip_keeps_explicit_flag() -> None:
    p = Period(date(2022, 1, 1), date(2022, 12, 31), "2022", explicit=False)
    got = clip_to_coverage(p, DEMO)
    assert got is not None and got.explicit is False


def _resolved(spec: Spec, coverage: Coverage = DEMO) -> Period:
    r = resolve(spec, coverage)
    assert r.error is None
    return r.period


def test_default_period_is_latest_year_with_data() -> None:
    got = _resolved(Spec("data", cohorts=("ot",)))
    assert (got.start, got.end, describe_period(got, DEMO)) == (
        date(2023, 1, 1),
        date(2023, 9, 30),
        "2023 through September",
    )
    whole_year = Coverage(date(2019, 1, 1), date(2022, 12, 31))
    got = _resolved(Spec("data", cohorts=("ot",)), whole_year)
    assert describe_period(got, whole_year) == "2022"


def test_default_trend_period_is_all_the_data() -> None:
    got = _resolved(Spec("data", ask="trend", group_by="year", cohorts=("ot",)))
    assert (got.start, got.end) == (DEMO.start, DEMO.end)
    assert describe_period(got, DEMO) == "2019 through September 2023"


def test_resolve_period_outside_data_is_no_data() -> None:
    ref = PeriodRef("absolute", "2050", start=date(2050, 1, 1), end=date(2050, 12, 31))
    assert resolve(Spec("data", cohorts=("ot",), periods=(ref,)), DEMO).error == "no_data"


def test_compared_periods_outside_the_data_are_left_out_and_said() -> None:
    refs = tuple(
        PeriodRef("absolute", str(y), start=date(y, 1, 1), end=date(y, 12, 31))
        for y in (2018, 2022)
    )
    r = resolve(Spec("data", cohorts=("ot",), periods=refs, period_mode="compared"), DEMO)
    assert [describe_period(p, DEMO) for p in r.periods] == ["2022"]
    assert any("No data for 2018" in n for n in r.notes)


def test_yearless_parts_take_the_latest_year_the_data_covers() -> None:
    assert yearless_year((4, 6), DEMO) == 2023
    assert yearless_year((10, 12), DEMO) == 2022  # not covered in 2023
    assert yearless_year((7, 12), DEMO) == 2022  # 2023 covers it only in part
    only_part = Coverage(date(2023, 1, 1), date(2023, 9, 30))
    assert yearless_year((7, 12), only_part) == 2023  # in part, when that is all there is
    assert yearless_year((10, 12), only_part) is None


def _scan(text: str, today: date = TODAY, compare: bool = False) -> list[tuple[str, str]]:
    """The periods read, as dates: a part of a year without its year is placed in the
    latest year the demo covers it in."""
    found = scan_periods(tokenize(text).low, today, load_vocab(), compare=compare)
    assert found.error is None, text
    out = []
    for ref in found.refs:
        if ref.kind == "yearless":
            assert ref.months is not None
            y = yearless_year(ref.months, DEMO)
            assert y is not None
            first, last = ref.months
            start, end = date(y if first <= last else y - 1, first, 1), month_end(y, last)
        else:
            assert ref.start and ref.end
            start, end = ref.start, ref.end
        out.append((start.isoformat(), end.isoformat()))
    return out


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2022", [("2022-01-01", "2022-12-31")]),
        ("in 2019", [("2019-01-01", "2019-12-31")]),
        ("Q2 2023", [("2023-04-01", "2023-06-30")]),
        ("q2-2023", [("2023-04-01", "2023-06-30")]),
        ("2023Q2", [("2023-04-01", "2023-06-30")]),
        ("2nd quarter 2023", [("2023-04-01", "2023-06-30")]),
        ("second quarter of 2023", [("2023-04-01", "2023-06-30")]),
        ("fourth quarter 2022", [("2022-10-01", "2022-12-31")]),
        ("quarter 3 2021", [("2021-07-01", "2021-09-30")]),
        ("H1 2022", [("2022-01-01", "2022-06-30")]),
        ("first half of 2022", [("2022-01-01", "2022-06-30")]),
        ("the back half of 2021", [("2021-07-01", "2021-12-31")]),
        ("June 2022", [("2022-06-01", "2022-06-30")]),
        ("jun 2022", [("2022-06-01", "2022-06-30")]),
        ("Sept. 2021", [("2021-09-01", "2021-09-30")]),
        ("2022-06", [("2022-06-01", "2022-06-30")]),
        ("06/2022", [("2022-06-01", "2022-06-30")]),
        ("may 2021", [("2021-05-01", "2021-05-31")]),
        ("2019 through 2021", [("2019-01-01", "2021-12-31")]),
        ("2019-2021", [("2019-01-01", "2021-12-31")]),
        ("2019–2021", [("2019-01-01", "2021-12-31")]),
        ("2019-21", [("2019-01-01", "2021-12-31")]),
        ("from 2019 to 2021", [("2019-01-01", "2021-12-31")]),
        ("between 2019 and 2021", [("2019-01-01", "2021-12-31")]),
        ("2019 thru 2021", [("2019-01-01", "2021-12-31")]),
        ("Jan-Sep 2023", [("2023-01-01", "2023-09-30")]),
        ("january to march 2023", [("2023-01-01", "2023-03-31")]),
        ("June 2022 to March 2023", [("2022-06-01", "2023-03-31")]),
        ("Q1 2022 through Q2 2023", [("2022-01-01", "2023-06-30")]),
        ("through September 2023", [("2023-01-01", "2023-09-30")]),
        ("thru sept", [("2023-01-01", "2023-09-30")]),
        ("since 2019", [("2019-01-01", "2023-10-15")]),
        ("since June 2022", [("2022-06-01", "2023-10-15")]),
        ("from 2020 onwards", [("2020-01-01", "2023-10-15")]),
        ("2020 to present", [("2020-01-01", "2023-10-15")]),
        ("after 2020", [("2021-01-01", "2023-10-15")]),
        ("before 2021", [("1900-01-01", "2020-12-31")]),
        ("YTD", [("2023-01-01", "2023-10-15")]),
        ("year to date", [("2023-01-01", "2023-10-15")]),
        ("this year", [("2023-01-01", "2023-10-15")]),
        ("last year", [("2022-01-01", "2022-12-31")]),
        ("last quarter", [("2023-07-01", "2023-09-30")]),
        ("last month", [("2023-09-01", "2023-09-30")]),
        ("last 3 years", [("2020-01-01", "2022-12-31")]),
        ("past twelve months", [("2022-10-01", "2023-09-30")]),
        ("Q2", [("2023-04-01", "2023-06-30")]),
        ("Q4", [("2022-10-01", "2022-12-31")]),
        ("in October", [("2022-10-01", "2022-10-31")]),
        ("2050", [("2050-01-01", "2050-12-31")]),
        ("1850", [("1850-01-01", "1850-12-31")]),  # a year: no_data, not ignored
        ("1750", []),  # too old to be meant as a year of claims
        ("may I see the codes", []),
        ("year over year by year", []),
    ],
)
def test_scan_periods(text: str, want: list[tuple[str, str]]) -> None:
    assert _scan(text) == want


def test_scan_two_periods_when_comparing() -> None:
    assert _scan("2021 vs 2022", compare=True) == [
        ("2021-01-01", "2021-12-31"),
        ("2022-01-01", "2022-12-31"),
    ]
    assert _scan("compare 2021 to 2022", compare=True) == [
        ("2021-01-01", "2021-12-31"),
        ("2022-01-01", "2022-12-31"),
    ]
    # without a comparison "to" joins a range
    assert _scan("2021 to 2022") == [("2021-01-01", "2022-12-31")]


def test_relative_periods_move_with_today() -> None:
    today = date(2024, 2, 10)
    assert _scan("last year", today) == [("2023-01-01", "2023-12-31")]
    assert _scan("last quarter", today) == [("2023-10-01", "2023-12-31")]
    assert _scan("this quarter", today) == [("2024-01-01", "2024-02-10")]
    assert _scan("ytd", today) == [("2024-01-01", "2024-02-10")]
    found = scan_periods(tokenize("last year").low, today, load_vocab())
    assert found.refs[0].kind == "relative" and found.refs[0].relative == "year"


def test_yearless_periods_are_kept_without_a_year() -> None:
    found = scan_periods(tokenize("Q2").low, TODAY, load_vocab())
    assert [(r.kind, r.months, r.label) for r in found.refs] == [("yearless", (4, 6), "Q2")]
    found = scan_periods(tokenize("through June").low, TODAY, load_vocab())
    assert [(r.kind, r.months) for r in found.refs] == [("yearless", (1, 6))]
    found = scan_periods(tokenize("first 6 months of 2022").low, TODAY, load_vocab())
    assert [(r.start, r.end) for r in found.refs] == [(date(2022, 1, 1), date(2022, 6, 30))]


@pytest.mark.parametrize(
    "text",
    ["Q5 2022", "q0 2021", "H3 2022", "month 13", "13/2022", "2022-13", "fifth quarter 2022"],
)
def test_bad_periods(text: str) -> None:
    found = scan_periods(tokenize(text).low, TODAY, load_vocab())
    assert found.error == "bad_period"
    assert found.hits == []


def test_end_before_start_is_bad() -> None:
    found = scan_periods(tokenize("from 2022 to 2019").low, TODAY, load_vocab())
    assert found.error == "bad_period"


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("top rehab codes 2023", "2023 through September"),
        ("top rehab codes YTD", "2023 through September"),
        ("top rehab codes Q2 2023", "Q2 2023"),
        ("top OT codes H1 2022", "H1 2022"),
        ("top OT codes June 2022", "June 2022"),
        ("top OT codes 2019 through 2021", "2019-2021"),
        ("top OT codes Jan-Mar 2023", "Q1 2023"),
        ("top OT codes Jan-Feb 2023", "January-February 2023"),
        ("top OT codes 2018-2019", "2019"),
        ("how has OT volume changed since 2019", "2019 through September 2023"),
    ],
)
def test_understand_then_resolve_labels(question: str, label: str) -> None:
    r = resolve(understand(question, TODAY, LEXICON), DEMO)
    assert r.error is None and describe_period(r.period, DEMO) == label
