"""The parser: the development question set, then paraphrases, typos, slash forms and
adversarial inputs for every intent and entity (table-driven)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from data.catalog import Catalog
from intents import parse, resolve_period
from intents.model import COHORTS, INTENT_KINDS, MAX_QUESTION_CHARS, MAX_TOP_N, Coverage, Intent
from tests.conftest import TODAY

DEMO = Coverage(date(2019, 1, 1), date(2023, 9, 30))
_HERE = Path(__file__).resolve().parent
_QUESTION_FILES = (_HERE / "data/questions.jsonl", _HERE.parents[1] / "shared/eval/questions.jsonl")


def _dev_set() -> list[dict]:
    path = next((p for p in _QUESTION_FILES if p.exists()), None)
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


DEV = _dev_set()


def test_dev_set_is_present() -> None:
    assert len(DEV) >= 50


@pytest.mark.parametrize("item", DEV, ids=[f"{k:02d}" for k in range(len(DEV))])
def test_dev_set_parse(item: dict, catalog: Catalog) -> None:
    """Every expectation the parser decides (the rest, rows and shares, is the answer's)."""
    exp = item["expect"]
    intent = parse(item["q"], TODAY, catalog)
    period = resolve_period(intent, DEMO)
    if "intent" in exp:
        assert intent.kind == exp["intent"]
    if "intent_any" in exp:
        assert intent.kind in exp["intent_any"]
    for key in ("cohort", "n", "code", "state", "payer"):
        if key in exp:
            assert str(getattr(intent, key)).lower() == str(exp[key]).lower(), key
    if "cohorts" in exp:
        assert sorted(intent.cohorts) == sorted(exp["cohorts"])
    if "start" in exp:
        assert period is not None and period.start.isoformat() == exp["start"]
    if "end" in exp:
        assert period is not None and period.end.isoformat() == exp["end"]
    if exp.get("error"):
        # a parse-level error, or a period outside the data (answered as no_data)
        assert intent.error is not None or period is None
    if exp.get("error_or_unknown"):
        assert intent.error is not None or intent.kind in ("unknown", "help")
    if exp.get("no_rows") and "intent" not in exp and "intent_any" not in exp:
        assert intent.kind in ("unknown", "help") or intent.error is not None


# (question, expected attributes). "period" is (start, end) after clipping to the demo
# coverage, or None when the period lies outside it.
CASES: list[tuple[str, dict]] = [
    # a named family of codes is listed, not the whole range
    ("list the pt evaluation codes", dict(kind="code_lookup", codes=("97161", "97162", "97163"))),
    ("PT evaluation codes", dict(kind="code_lookup", codes=("97161", "97162", "97163"))),
    ("what are the OT evaluation codes", dict(kind="code_lookup", codes_include=("97165",))),
    # a one-key slip keeps the plural: "codez" is "codes", so no top-1
    ("wat r the top physcal therapy codez 2021", dict(kind="top_codes", cohort="pt", n=None)),
    # a bare ranking request: every word used, so the overall list
    ("top 5", dict(kind="top_codes", cohort="all", n=5)),
    ("top ten", dict(kind="top_codes", cohort="all", n=10)),
    ("top 2022", dict(kind="top_codes", cohort="all", period=("2022-01-01", "2022-12-31"))),
    ("how many claim lines do you have", dict(kind="coverage")),
    ("how much data do you have?", dict(kind="coverage")),
    ("how many claims for PT in 2022", dict(kind="top_codes", cohort="pt")),
    # seasons need their year; fiscal years are the federal Oct-Sep year
    ("top ot codes in fall 2022", dict(kind="top_codes", period=("2022-09-01", "2022-11-30"))),
    ("top pt codes winter 2022", dict(kind="top_codes", period=("2021-12-01", "2022-02-28"))),
    ("did ot volume fall in 2022", dict(kind="trend", period=("2022-01-01", "2022-12-31"))),
    ("top ot codes in FY2022", dict(kind="top_codes", period=("2021-10-01", "2022-09-30"))),
    ("pt codes fiscal year 2021", dict(kind="top_codes", period=("2020-10-01", "2021-09-30"))),
    (
        "top ot codes last quarter of 2022",
        dict(kind="top_codes", period=("2022-10-01", "2022-12-31")),
    ),
    # a ranking of a named set of codes ranks the set, not the whole cohort
    (
        "what is the most common OT evaluation code",
        dict(kind="top_codes", n=1, codes=("97165", "97166", "97167")),
    ),
    (
        "top modality codes in pt 2022",
        dict(kind="top_codes", cohort="pt", codes_include=("97010", "97035")),
    ),
    ("which wound care code is most common", dict(kind="top_codes", codes_include=("97597",))),
    # a list of parts takes its year from the end: "Q1 and Q2 2023"
    (
        "compare the top codes in Q1 and Q2 2023 for PT",
        dict(kind="compare", compare_by="period", period_labels=("Q1 2023", "Q2 2023")),
    ),
    ("jan-sep 2023 rehab", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    # a cohort glued to its year; a sub-group named alone lists its codes
    ("/toprank ot2022", dict(kind="top_codes", cohort="ot", period=("2022-01-01", "2022-12-31"))),
    ("/toprank evaluations", dict(kind="code_range", subgroup="evaluations")),
    ("wound care", dict(kind="code_range", subgroup="active_wound_care")),
    # a cohort's volume over a span of years is a trend
    ("pt volume 2019 to 2022", dict(kind="trend", cohort="pt", code=None)),
    # --- top_codes: paraphrases, typos, noise --------------------------------
    (
        "wat r the top 5 OT codes for 2021 pls 🙏",
        dict(kind="top_codes", cohort="ot", n=5, period=("2021-01-01", "2021-12-31")),
    ),
    (
        "<@U0ABC> top physio codes in texas last year",
        dict(kind="top_codes", cohort="pt", state="TX", period=("2022-01-01", "2022-12-31")),
    ),
    (
        "<@U0ABC|toprank> hey bot top rehab codes 2022 thanks",
        dict(kind="top_codes", cohort="rehab", period=("2022-01-01", "2022-12-31")),
    ),
    (
        "top twenty rehab codes",
        dict(kind="top_codes", cohort="rehab", n=20, period=("2023-01-01", "2023-09-30")),
    ),
    ("top twenty-five PT codes 2022", dict(kind="top_codes", cohort="pt", n=25)),
    ("top ten OT procedures", dict(kind="top_codes", cohort="ot", n=10)),
    ("top five occupational therapy codes", dict(kind="top_codes", cohort="ot", n=5)),
    ("top 3 rehab codes", dict(kind="top_codes", cohort="rehab", n=3)),
    ("top-5 rehab codes 2022", dict(kind="top_codes", cohort="rehab", n=5)),
    ("top5 PT codes", dict(kind="top_codes", cohort="pt", n=5)),
    ("10 most common PT procedures in 2021", dict(kind="top_codes", cohort="pt", n=10)),
    ("first 7 OT codes 2020", dict(kind="top_codes", cohort="ot", n=7)),
    ("top 100 rehab codes", dict(kind="top_codes", cohort="rehab", n=MAX_TOP_N)),
    ("top 0 rehab codes", dict(kind="top_codes", cohort="rehab", n=None)),
    (
        "hey bot can you tell me the most billed occupational therapy codes in 2022 thanks",
        dict(kind="top_codes", cohort="ot", period=("2022-01-01", "2022-12-31")),
    ),
    ("leading rehab codes 2023", dict(kind="top_codes", cohort="rehab")),
    ("popular PT codes", dict(kind="top_codes", cohort="pt", period=("2023-01-01", "2023-09-30"))),
    ("highest volume physical therapy procedures 2021", dict(kind="top_codes", cohort="pt")),
    ("most frequent OT procedures", dict(kind="top_codes", cohort="ot")),
    (
        "ranking of OT codes 2020",
        dict(kind="top_codes", cohort="ot", period=("2020-01-01", "2020-12-31")),
    ),
    ("which codes do PTs bill the most", dict(kind="top_codes", cohort="pt")),
    ("what do physical therapists bill most", dict(kind="top_codes", cohort="pt")),
    ("show me OT codes", dict(kind="top_codes", cohort="ot")),
    ("what's the top code for OT", dict(kind="top_codes", cohort="ot", n=1)),
    (
        "what's the most common code billed by chiropractors",
        dict(kind="top_codes", cohort="chiro", n=1),
    ),
    ("top codes 2022", dict(kind="top_codes", cohort="all", period=("2022-01-01", "2022-12-31"))),
    ("most common procedures", dict(kind="top_codes", cohort="all")),
    ("top overall codes 2021", dict(kind="top_codes", cohort="all")),
    ("top PM&R codes 2022", dict(kind="top_codes", cohort="rehab")),
    ("top PMR codes 2022", dict(kind="top_codes", cohort="rehab")),
    ("top physical medicine codes", dict(kind="top_codes", cohort="rehab")),
    ("top physical medicine and rehabilitation codes", dict(kind="top_codes", cohort="rehab")),
    ("top physiatrist codes 2022", dict(kind="top_codes", cohort="pmr")),
    ("top chiropractor codes 2021", dict(kind="top_codes", cohort="chiro")),
    ("top speech therapy codes 2021", dict(kind="top_codes", cohort="slp")),
    (
        "top 5 codes for speech language pathologists in california 2021",
        dict(kind="top_codes", cohort="slp", n=5, state="CA"),
    ),
    ("top physcial therapy codes 2022", dict(kind="top_codes", cohort="pt")),
    ("top occupatinal therapy codes 2021", dict(kind="top_codes", cohort="ot")),
    ("rehabilitaion top procedues 2023", dict(kind="top_codes", cohort="rehab")),
    ("top ocupational therapists codes", dict(kind="top_codes", cohort="ot")),
    ("top codes in florda 2022", dict(kind="top_codes", cohort="all", state="FL")),
    (
        "top rehab codes for medicaire 2021",
        dict(kind="top_codes", cohort="rehab", payer="medicare"),
    ),
    ("top OT codes, please!!! 😀😀", dict(kind="top_codes", cohort="ot")),
    ("TOP OT CODES 2022", dict(kind="top_codes", cohort="ot", period=("2022-01-01", "2022-12-31"))),
    ("Top Ot Codes 2022", dict(kind="top_codes", cohort="ot")),
    ("  top   OT   codes   2022 ??? ", dict(kind="top_codes", cohort="ot")),
    (
        "top OT codes 2022 in texas for medicare top 5",
        dict(kind="top_codes", cohort="ot", n=5, state="TX", payer="medicare"),
    ),
    (
        "show me the top 7 codes PTs billed in Q4 2022 in NY",
        dict(kind="top_codes", cohort="pt", n=7, state="NY", period=("2022-10-01", "2022-12-31")),
    ),
    ("what r the top rehab cpts", dict(kind="top_codes", cohort="rehab")),
    ("rehab 2023", dict(kind="top_codes", cohort="rehab")),
    ("ot", dict(kind="top_codes", cohort="ot")),
    ("top dentist codes 2022", dict(kind="top_codes", cohort=None, error="unknown_cohort")),
    # --- slash forms ---------------------------------------------------------
    (
        "/toprank PT 2021 FL",
        dict(kind="top_codes", cohort="pt", state="FL", period=("2021-01-01", "2021-12-31")),
    ),
    ("/toprank rehab 2023 15", dict(kind="top_codes", cohort="rehab", n=15)),
    (
        "/toprank 15 2023 rehab",
        dict(kind="top_codes", cohort="rehab", n=15, period=("2023-01-01", "2023-09-30")),
    ),
    ("/toprank ot 2022 ma 5", dict(kind="top_codes", cohort="ot", n=5, state="MA")),
    ("/toprank pt 2022 in", dict(kind="top_codes", cohort="pt", state="IN")),
    ("/toprank pt medicaid 2021", dict(kind="top_codes", cohort="pt", payer="medicaid")),
    ("/toprank ot 2022 99", dict(kind="top_codes", cohort="ot", n=MAX_TOP_N)),
    ("/toprank 2022", dict(kind="top_codes", cohort="all")),
    ("/TOPRANK OT 2022", dict(kind="top_codes", cohort="ot")),
    (
        "/toprank compare ot pt slp 2022",
        dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt", "slp")),
    ),
    (
        "/toprank compare 2021 2022 ot",
        dict(kind="compare", compare_by="period", cohort="ot", cohorts=("ot",)),
    ),
    (
        "/toprank compare fl tx pt 2022",
        dict(kind="compare", compare_by="state", states=("FL", "TX"), cohort="pt"),
    ),
    ("/toprank trend 97112 rehab", dict(kind="trend", cohort="rehab", code="97112")),
    (
        "/toprank trend ot",
        dict(kind="trend", cohort="ot", code=None, period=("2019-01-01", "2023-09-30")),
    ),
    ("/toprank 97530", dict(kind="code_lookup", code="97530")),
    ("/toprank 97530 ot 2022", dict(kind="code_share", cohort="ot", code="97530")),
    ("/toprank help", dict(kind="help")),
    ("/toprank", dict(kind="help")),
    ("/toprank ot vs pt", dict(kind="ot_vs_pt", topic="difference")),
    ("/toprank top 5 pt codes in texas", dict(kind="top_codes", cohort="pt", n=5, state="TX")),
    ("trned of 97110 for OT", dict(kind="trend", cohort="ot", code="97110")),
    ("comapre OT and PT 2021", dict(kind="compare", cohorts=("ot", "pt"))),
    ("top OT cdoes 2022", dict(kind="top_codes", cohort="ot")),
    ("top OT codes in Califronia 2022", dict(kind="top_codes", cohort="ot", state="CA")),
    ("top rehab codes for comercial payers 2021", dict(kind="top_codes", payer="commercial")),
    ("what was the #1 rehab procedure in 2023", dict(kind="top_codes", cohort="rehab", n=1)),
    ("what's the diff between OT and PT", dict(kind="ot_vs_pt", topic="difference")),
    # --- states ----------------------------------------------------------------
    ("top PT codes in IN 2022", dict(kind="top_codes", cohort="pt", state="IN")),
    ("top PT codes in 2022", dict(kind="top_codes", cohort="pt", state=None)),
    ("TOP PT CODES IN 2022", dict(kind="top_codes", cohort="pt", state=None)),
    ("top PT codes in Indiana", dict(kind="top_codes", cohort="pt", state="IN")),
    ("top ot codes for OR 2022", dict(kind="top_codes", cohort="ot", state="OR")),
    ("top ot codes in or around 2022", dict(kind="top_codes", cohort="ot", state=None)),
    ("top ot codes in ME 2022", dict(kind="top_codes", cohort="ot", state="ME")),
    ("tell ME the top OT codes", dict(kind="top_codes", cohort="ot", state=None)),
    ("OK top OT codes 2022", dict(kind="top_codes", cohort="ot", state=None)),
    ("HI there, top PT codes", dict(kind="top_codes", cohort="pt", state=None)),
    ("top PT codes for HI 2022", dict(kind="top_codes", cohort="pt", state="HI")),
    ("top pt codes ca 2022", dict(kind="top_codes", cohort="pt", state="CA")),
    ("top codes in DC 2022", dict(kind="top_codes", state="DC")),
    ("top PT codes washington dc 2022", dict(kind="top_codes", cohort="pt", state="DC")),
    ("top PT codes in washington 2022", dict(kind="top_codes", cohort="pt", state="WA")),
    ("top PT codes in west virginia 2022", dict(kind="top_codes", cohort="pt", state="WV")),
    ("top OT codes in the district of columbia", dict(kind="top_codes", cohort="ot", state="DC")),
    (
        "top occupational therapy codes in new york 2022",
        dict(kind="top_codes", cohort="ot", state="NY"),
    ),
    # --- payers ----------------------------------------------------------------
    (
        "top 5 rehab codes commercial 2022",
        dict(kind="top_codes", cohort="rehab", n=5, payer="commercial"),
    ),
    (
        "top 5 rehab codes private insurance 2022",
        dict(kind="top_codes", cohort="rehab", payer="commercial"),
    ),
    ("top codes self pay 2022", dict(kind="top_codes", payer="other")),
    ("top PT codes medicare advantage", dict(kind="top_codes", cohort="pt", payer="medicare")),
    # --- periods -----------------------------------------------------------------
    ("top rehab codes Q2 2023", dict(kind="top_codes", period=("2023-04-01", "2023-06-30"))),
    ("top OT codes 2nd quarter 2023", dict(kind="top_codes", period=("2023-04-01", "2023-06-30"))),
    (
        "top OT codes second quarter of 2023",
        dict(kind="top_codes", period=("2023-04-01", "2023-06-30")),
    ),
    ("top OT codes 2023 q1", dict(kind="top_codes", period=("2023-01-01", "2023-03-31"))),
    ("top OT codes Q3", dict(kind="top_codes", period=("2023-07-01", "2023-09-30"))),
    ("top OT codes H1 2022", dict(kind="top_codes", period=("2022-01-01", "2022-06-30"))),
    (
        "top OT codes second half of 2022",
        dict(kind="top_codes", period=("2022-07-01", "2022-12-31")),
    ),
    ("top OT codes first half 2021", dict(kind="top_codes", period=("2021-01-01", "2021-06-30"))),
    ("top OT codes in June 2022", dict(kind="top_codes", period=("2022-06-01", "2022-06-30"))),
    ("top OT codes jun 2022", dict(kind="top_codes", period=("2022-06-01", "2022-06-30"))),
    ("top OT codes 2022-06", dict(kind="top_codes", period=("2022-06-01", "2022-06-30"))),
    ("top OT codes 6/2022", dict(kind="top_codes", period=("2022-06-01", "2022-06-30"))),
    ("top rehab codes thru Sept", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    (
        "top rehab codes through September 2022",
        dict(kind="top_codes", period=("2022-01-01", "2022-09-30")),
    ),
    ("top rehab codes Jan-Sep 2023", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    (
        "top rehab codes january to march 2023",
        dict(kind="top_codes", period=("2023-01-01", "2023-03-31")),
    ),
    ("top rehab codes ytd", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    ("top rehab codes year to date", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    ("top rehab codes this year", dict(kind="top_codes", period=("2023-01-01", "2023-09-30"))),
    ("top rehab codes last year", dict(kind="top_codes", period=("2022-01-01", "2022-12-31"))),
    ("top PT codes 2019 through 2021", dict(kind="top_codes", period=("2019-01-01", "2021-12-31"))),
    ("top PT codes 2019-2021", dict(kind="top_codes", period=("2019-01-01", "2021-12-31"))),
    (
        "top OT codes between 2019 and 2021",
        dict(kind="top_codes", period=("2019-01-01", "2021-12-31")),
    ),
    ("top OT codes from 2019 to 2021", dict(kind="top_codes", period=("2019-01-01", "2021-12-31"))),
    ("top OT codes since 2021", dict(kind="top_codes", period=("2021-01-01", "2023-09-30"))),
    ("top OT codes last 3 years", dict(kind="top_codes", period=("2020-01-01", "2022-12-31"))),
    (
        "top rehab codes in the last 12 months",
        dict(kind="top_codes", period=("2022-10-01", "2023-09-30")),
    ),
    ("top OT codes 2050", dict(kind="top_codes", cohort="ot", period=None)),
    ("top OT codes 2018", dict(kind="top_codes", cohort="ot", period=None)),
    ("top OT codes Q5 2022", dict(kind="top_codes", cohort="ot", error="bad_period")),
    ("top OT codes month 13", dict(kind="top_codes", cohort="ot", error="bad_period")),
    ("top OT codes 13/2022", dict(kind="top_codes", error="bad_period")),
    ("top OT codes H3 2022", dict(kind="top_codes", error="bad_period")),
    # --- code_share --------------------------------------------------------------
    (
        "what percentage of PT claims in texas were 97110 last year",
        dict(
            kind="code_share",
            cohort="pt",
            code="97110",
            state="TX",
            period=("2022-01-01", "2022-12-31"),
        ),
    ),
    (
        "what share of OT procedures were therapeutic exercises in 2022",
        dict(kind="code_share", cohort="ot", code="97110"),
    ),
    (
        "what % of OT procedures were ther ex in 2022",
        dict(kind="code_share", cohort="ot", code="97110"),
    ),
    (
        "how much of rehab was 97140 in Q2 2023",
        dict(kind="code_share", cohort="rehab", code="97140", period=("2023-04-01", "2023-06-30")),
    ),
    ("97530 rehab 2023", dict(kind="code_share", cohort="rehab", code="97530")),
    ("share of manual therapy for PT", dict(kind="code_share", cohort="pt", code="97140")),
    ("where does 97116 rank in PT 2022", dict(kind="code_share", cohort="pt", code="97116")),
    ("how many 97110 did OTs bill in 2022", dict(kind="code_share", cohort="ot", code="97110")),
    ("what share of procedures was 97530", dict(kind="code_share", cohort="rehab", code="97530")),
    (
        "what share of procedures was 99213 in 2022",
        dict(kind="code_share", cohort="all", code="99213"),
    ),
    (
        "what percent of chiro procedures were 98940 in 2021",
        dict(kind="code_share", cohort="chiro", code="98940"),
    ),
    (
        "share of neuromuscular re-education in rehab 2023",
        dict(kind="code_share", cohort="rehab", code="97112"),
    ),
    (
        "what share of rehab procedures was theraputic activities in 2023",
        dict(kind="code_share", cohort="rehab", code="97530"),
    ),
    (
        "what share of OT procedures were PT evaluations in 2022",
        dict(kind="code_share", cohort="ot", code=None, error="ambiguous"),
    ),
    # --- compare -------------------------------------------------------------------
    ("OT vs PT top codes 2022", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("OT vs PT 2022", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("compare OT and PT", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("OT and PT", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    (
        "OT OR PT top codes",
        dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"), state=None),
    ),
    (
        "top codes for occupational and physical therapists 2022",
        dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt")),
    ),
    (
        "compare pt, ot, slp and chiro top codes",
        dict(kind="compare", compare_by="cohort", cohorts=("pt", "ot", "slp", "chiro")),
    ),
    (
        "difference between OT and PT codes",
        dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt")),
    ),
    (
        "compare 2021 and 2022 for OT",
        dict(
            kind="compare",
            compare_by="period",
            cohort="ot",
            cohorts=("ot",),
            period_labels=("2021", "2022"),
        ),
    ),
    (
        "OT 2021 vs 2022",
        dict(kind="compare", compare_by="period", cohort="ot", period_labels=("2021", "2022")),
    ),
    (
        "top OT codes 2021 and 2022",
        dict(kind="compare", compare_by="period", period_labels=("2021", "2022")),
    ),
    (
        "how do top OT codes compare between 2020 and 2022",
        dict(kind="compare", compare_by="period", period_labels=("2020", "2022")),
    ),
    (
        "compare Q1 2023 vs Q2 2023 rehab",
        dict(
            kind="compare",
            compare_by="period",
            cohort="rehab",
            period_labels=("Q1 2023", "Q2 2023"),
        ),
    ),
    (
        "PT in FL vs TX 2022",
        dict(kind="compare", compare_by="state", cohort="pt", cohorts=("pt",), states=("FL", "TX")),
    ),
    (
        "compare florida and texas rehab 2023",
        dict(kind="compare", compare_by="state", states=("FL", "TX")),
    ),
    (
        "top PT codes in new york and florida 2022",
        dict(kind="compare", compare_by="state", states=("NY", "FL")),
    ),
    (
        "medicare vs medicaid rehab 2022",
        dict(
            kind="compare",
            compare_by="payer",
            cohort="rehab",
            cohorts=("rehab",),
            payers=("medicare", "medicaid"),
        ),
    ),
    (
        "compare top codes for medicare and medicaid in PT 2022",
        dict(kind="compare", compare_by="payer", cohort="pt", payers=("medicare", "medicaid")),
    ),
    (
        "commercial versus medicare top OT codes",
        dict(kind="compare", compare_by="payer", payers=("commercial", "medicare")),
    ),
    # --- trend ---------------------------------------------------------------------
    (
        "OT volume by year",
        dict(kind="trend", cohort="ot", code=None, period=("2019-01-01", "2023-09-30")),
    ),
    ("year over year growth of rehab procedures", dict(kind="trend", cohort="rehab")),
    ("how has 97110 changed since 2019", dict(kind="trend", cohort="rehab", code="97110")),
    ("trend 97112", dict(kind="trend", cohort="rehab", code="97112")),
    ("trend of 99213", dict(kind="trend", cohort="all", code="99213")),
    (
        "trend of OT volume since 2020",
        dict(kind="trend", cohort="ot", period=("2020-01-01", "2023-09-30")),
    ),
    (
        "how has rehab volume changed from 2019 to 2022",
        dict(kind="trend", cohort="rehab", period=("2019-01-01", "2022-12-31")),
    ),
    ("is manual therapy growing in PT", dict(kind="trend", cohort="pt", code="97140")),
    ("97530 share over time for OT", dict(kind="trend", cohort="ot", code="97530")),
    (
        "therapeutic activities trend for physical therapists",
        dict(kind="trend", cohort="pt", code="97530"),
    ),
    # --- code_lookup ----------------------------------------------------------------
    ("describe 97530", dict(kind="code_lookup", code="97530")),
    ("97530?", dict(kind="code_lookup", code="97530")),
    ("what is G0283", dict(kind="code_lookup", code="G0283")),
    ("what is g0283", dict(kind="code_lookup", code="G0283")),
    ("what's 97035", dict(kind="code_lookup", code="97035")),
    ("what does 97140 mean", dict(kind="code_lookup", code="97140")),
    ("explain 97530", dict(kind="code_lookup", code="97530")),
    ("is 97110 a rehab code", dict(kind="code_lookup", code="97110")),
    ("what is 99999", dict(kind="code_lookup", code="99999", error="unknown_code")),
    ("what is 12345?", dict(kind="code_lookup", code="12345", error="unknown_code")),
    ("code for hot packs", dict(kind="code_lookup", code="97010")),
    ("code for hot/cold packs", dict(kind="code_lookup", code="97010")),
    ("cpt code for gait training", dict(kind="code_lookup", code="97116")),
    ("what code do I use for ultrasound", dict(kind="code_lookup", code="97035")),
    ("billing code for neuromuscular re-education", dict(kind="code_lookup", code="97112")),
    ("code for neuromuscular re education", dict(kind="code_lookup", code="97112")),
    ("what code is ther ex", dict(kind="code_lookup", code="97110")),
    ("what code is therapeutic exercise", dict(kind="code_lookup", code="97110")),
    ("what code do OTs use for splinting", dict(kind="code_lookup", code="97760")),
    ("what is manual therapy", dict(kind="code_lookup", code="97140")),
    (
        "what's the code for electrical stimulation",
        dict(kind="code_lookup", code="97014", codes_include=("97014", "97032", "G0283")),
    ),
    ("what is the code for a new patient visit", dict(kind="code_lookup", code="99202")),
    ("what code is therapeutic", dict(kind="code_lookup", code=None, error="ambiguous")),
    (
        "what code is for underwater basket weaving",
        dict(kind="code_lookup", code=None, error="unknown_code"),
    ),
    ("code for walking training", dict(kind="code_lookup", code="97116")),
    ("what code is used for iontophoresis", dict(kind="code_lookup", code="97033")),
    ("manual therapy", dict(kind="code_lookup", code="97140")),
    ("gait training?", dict(kind="code_lookup", code="97116")),
    ("whats the cpt for manual therpy", dict(kind="code_lookup", code="97140")),
    ("code for therapeutic excercise", dict(kind="code_lookup", code="97110")),
    ("what is the code for ADL training", dict(kind="code_lookup", code="97535")),
    # --- code_range -----------------------------------------------------------------
    ("what is the rehab code range", dict(kind="code_range")),
    ("what codes are in 97010-97799", dict(kind="code_range", subgroup=None)),
    ("which CPT codes count as rehab", dict(kind="code_range")),
    ("what are the rehab codes", dict(kind="code_range")),
    ("list the evaluation codes", dict(kind="code_range", subgroup="evaluations")),
    (
        "what are the modality codes",
        dict(
            kind="code_range",
            subgroup="supervised_modalities",
            subgroups=("supervised_modalities", "constant_attendance_modalities"),
        ),
    ),
    ("what are the wound care codes", dict(kind="code_range", subgroup="active_wound_care")),
    (
        "what codes are in 97032-97039",
        dict(kind="code_range", subgroup="constant_attendance_modalities"),
    ),
    ("97xxx codes?", dict(kind="code_range")),
    ("what is rehab", dict(kind="code_range")),
    ("what is PM&R?", dict(kind="code_range")),
    ("/toprank range", dict(kind="code_range")),
    ("is 97799 in the rehab range", dict(kind="code_lookup", code="97799")),
    # --- ot_vs_pt --------------------------------------------------------------------
    ("OT vs PT", dict(kind="ot_vs_pt", topic="difference")),
    ("how do OT and PT differ?", dict(kind="ot_vs_pt", topic="difference")),
    ("occupational therapy versus physical therapy", dict(kind="ot_vs_pt", topic="difference")),
    ("is PT different from OT", dict(kind="ot_vs_pt", topic="difference")),
    ("fine motor vs gross motor", dict(kind="ot_vs_pt", topic="difference")),
    (
        "difference between therapeutic activities and therapeutic exercises",
        dict(kind="ot_vs_pt", topic="codes"),
    ),
    ("what's the difference between 97530 and 97110", dict(kind="ot_vs_pt", topic="codes")),
    (
        "what is the difference between manual therapy and massage",
        dict(kind="ot_vs_pt", topic="codes"),
    ),
    ("what does OT work on", dict(kind="ot_vs_pt", topic="ot_focus")),
    ("what do occupational therapists do", dict(kind="ot_vs_pt", topic="ot_focus")),
    ("what is OT", dict(kind="ot_vs_pt", topic="ot_focus")),
    ("why would someone see an OT", dict(kind="ot_vs_pt", topic="ot_focus")),
    ("what is physical therapy", dict(kind="ot_vs_pt", topic="pt_focus")),
    ("what does a physical therapist do", dict(kind="ot_vs_pt", topic="pt_focus")),
    ("what does physio treat?", dict(kind="ot_vs_pt", topic="pt_focus")),
    ("how can OT help with anxiety", dict(kind="ot_vs_pt", topic="mental_health")),
    ("does occupational therapy help mental health?", dict(kind="ot_vs_pt", topic="mental_health")),
    # --- coverage ----------------------------------------------------------------------
    ("how recent is the data", dict(kind="coverage")),
    ("date range of the data", dict(kind="coverage")),
    ("when does the data end", dict(kind="coverage")),
    ("what data do you have", dict(kind="coverage")),
    ("how far back does the data go", dict(kind="coverage")),
    ("what's the latest month in the data", dict(kind="coverage")),
    ("is the data up to date", dict(kind="coverage")),
    ("when was the data last updated", dict(kind="coverage")),
    ("what time period do you cover", dict(kind="coverage")),
    # --- help ----------------------------------------------------------------------------
    ("help", dict(kind="help")),
    ("HELP!", dict(kind="help")),
    ("what can you do", dict(kind="help")),
    ("what questions can I ask", dict(kind="help")),
    ("examples", dict(kind="help")),
    ("show me examples", dict(kind="help")),
    ("usage", dict(kind="help")),
    ("commands?", dict(kind="help")),
    ("how does this work", dict(kind="help")),
    ("hi", dict(kind="help")),
    ("<@U0ABC>", dict(kind="help")),
    ("", dict(kind="help")),
    ("   ", dict(kind="help")),
    # --- unknown, off-topic ------------------------------------------------------------
    ("tell me a joke", dict(kind="unknown", error=None)),
    ("what's the weather", dict(kind="unknown")),
    ("whats the weather like in ohio", dict(kind="unknown")),
    ("what's the capital of france", dict(kind="unknown")),
    ("who won the game last night", dict(kind="unknown")),
    ("write me a poem about therapy", dict(kind="unknown")),
    ("top golf players 2022", dict(kind="unknown")),
    ("2022", dict(kind="unknown")),
    ("I love OT", dict(kind="unknown")),
    # --- unsafe ----------------------------------------------------------------------------
    ("1; DROP TABLE claim_lines", dict(kind="unknown", error="unsafe")),
    ("select * from claim_lines", dict(kind="unknown", error="unsafe")),
    ("SELECT hcpcs_code FROM rollup_month WHERE 1=1", dict(kind="unknown", error="unsafe")),
    ("delete", dict(kind="unknown", error="unsafe")),
    ("update claims set code = 1", dict(kind="unknown", error="unsafe")),
    ("insert into claim_lines values (1)", dict(kind="unknown", error="unsafe")),
    ("top codes union select password from users", dict(kind="unknown", error="unsafe")),
    ("top OT codes -- drop everything select", dict(kind="unknown", error="unsafe")),
    ("'; drop table x; --", dict(kind="unknown", error="unsafe")),
    ("top codes; select 1", dict(kind="unknown", error="unsafe")),
    ("/toprank ot 2022; DROP TABLE sources", dict(kind="unknown", error="unsafe")),
    ("list all patients with 97110", dict(kind="unknown", error="unsafe")),
    ("patient names for 97110", dict(kind="unknown", error="unsafe")),
    ("show me patient level data for OT", dict(kind="unknown", error="unsafe")),
    ("member ids", dict(kind="unknown", error="unsafe")),
    ("ssn of patients", dict(kind="unknown", error="unsafe")),
    ("date of birth of members", dict(kind="unknown", error="unsafe")),
    ("which doctor billed the most", dict(kind="unknown", error="unsafe")),
    ("which provider billed the most 97110", dict(kind="unknown", error="unsafe")),
    ("top 10 providers for OT", dict(kind="unknown", error="unsafe")),
    ("who billed the most 97530", dict(kind="unknown", error="unsafe")),
    ("give me the names of therapists billing 97110", dict(kind="unknown", error="unsafe")),
    ("which PT billed the most", dict(kind="unknown", error="unsafe")),
    ("NPI of the top rehab biller", dict(kind="unknown", error="unsafe")),
    ("x" * (MAX_QUESTION_CHARS + 1), dict(kind="unknown", error="too_long")),
    ("top OT codes 2022 " * 40, dict(kind="unknown", error="too_long")),
    # cohort words that name people are cohorts, not individuals
    (
        "top codes billed by physical therapists in 2022",
        dict(kind="top_codes", cohort="pt", error=None),
    ),
]


def _check(intent: Intent, exp: dict) -> None:
    for key, want in exp.items():
        if key == "period":
            got = resolve_period(intent, DEMO)
            if want is None:
                assert got is None, f"period {got}"
            else:
                assert got is not None, "period None"
                assert (got.start.isoformat(), got.end.isoformat()) == want
        elif key == "period_labels":
            assert tuple(p.label for p in intent.periods) == want
        elif key == "codes_include":
            assert set(want) <= set(intent.codes)
        else:
            assert getattr(intent, key) == want, f"{key}: {getattr(intent, key)!r} != {want!r}"


@pytest.mark.parametrize(("question", "exp"), CASES, ids=[q[:60] for q, _ in CASES])
def test_parse_cases(question: str, exp: dict, catalog: Catalog) -> None:
    _check(parse(question, TODAY, catalog), exp)


def test_case_table_covers_every_intent() -> None:
    kinds = {exp["kind"] for _, exp in CASES}
    assert kinds == set(INTENT_KINDS)


def test_intent_fields_are_canonical(catalog: Catalog) -> None:
    for question, _ in CASES:
        intent = parse(question, TODAY, catalog)
        assert intent.kind in INTENT_KINDS
        assert intent.cohort is None or intent.cohort in COHORTS
        assert all(c in COHORTS for c in intent.cohorts)
        assert intent.state is None or intent.state in catalog.states
        assert all(s in catalog.states for s in intent.states)
        assert intent.n is None or 1 <= intent.n <= MAX_TOP_N
        assert intent.text == question


def test_compare_other_than_cohort_carries_its_cohort(catalog: Catalog) -> None:
    for question in ("OT 2021 vs 2022", "PT in FL vs TX 2022", "medicare vs medicaid rehab 2022"):
        intent = parse(question, TODAY, catalog)
        assert intent.kind == "compare" and intent.compare_by != "cohort"
        assert intent.cohorts == (intent.cohort,)


def test_unknown_offers_suggestions(catalog: Catalog) -> None:
    intent = parse("tell me a joke", TODAY, catalog)
    assert intent.kind == "unknown"
    assert intent.suggestions and all(isinstance(s, str) and s for s in intent.suggestions)
    # each suggestion is itself a question the parser understands
    for s in intent.suggestions:
        assert parse(s, TODAY, catalog).kind not in ("unknown", "help")


def test_relative_periods_follow_today(catalog: Catalog) -> None:
    later = date(2025, 3, 2)
    assert parse("top OT codes last year", later, catalog).period.start == date(2024, 1, 1)
    ytd = parse("top OT codes ytd", later, catalog).period
    assert (ytd.start, ytd.end) == (date(2025, 1, 1), later)
    # a yearless "through September" means the latest September that has ended
    thru = parse("top rehab codes through September", later, catalog).period
    assert (thru.start, thru.end) == (date(2024, 1, 1), date(2024, 9, 30))


def test_no_period_means_default(catalog: Catalog) -> None:
    intent = parse("Top rehab codes", TODAY, catalog)
    assert intent.period is None
    got = resolve_period(intent, DEMO)
    assert got is not None and not got.explicit
    assert (got.start, got.end, got.label) == (
        date(2023, 1, 1),
        date(2023, 9, 30),
        "2023 through September",
    )


def test_non_string_input_never_raises(catalog: Catalog) -> None:
    for value in (None, 42, b"top ot codes", ["top"], 3.5):
        intent = parse(value, TODAY, catalog)  # type: ignore[arg-type]
        assert intent.kind in INTENT_KINDS


def test_year_words_are_not_top_n_or_codes(catalog: Catalog) -> None:
    intent = parse("what share of rehab procedures was 97110 in 2022", TODAY, catalog)
    assert (intent.code, intent.n) == ("97110", None)
    assert intent.period is not None and intent.period.start.year == 2022


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("/toprank pt in 2022", None),  # a preposition, not Indiana
        ("/toprank pt or 2022", None),
        ("/toprank pt IN 2022", "IN"),
        ("/toprank pt oh 2022", "OH"),
        ("/toprank pt OR 2022", "OR"),
    ],
)
def test_function_word_state_codes_need_capitals(text, state, catalog):
    intent = parse(text, TODAY, catalog)
    assert intent.kind == "top_codes"
    assert intent.state == state


@pytest.mark.parametrize(
    ("text", "n", "note"),
    [
        ("top 100 ot codes 2022", MAX_TOP_N, f"Lists stop at {MAX_TOP_N} codes."),
        ("top 0 ot codes 2022", None, "A top 0 lists nothing"),
        ("top ot codes in Narnia 2022", None, "'Narnia' is not a US state"),
        ("Top PT codes in Puerto Rico", None, "'Puerto Rico' is not a US state"),
        ("what share of PT procedures in Ontario was 97110", None, "'Ontario' is not a US"),
    ],
)
def test_parser_notes_what_it_changed_or_could_not_use(text, n, note, catalog: Catalog) -> None:
    intent = parse(text, TODAY, catalog)
    assert intent.error is None and intent.n == n and intent.state is None
    assert any(x.startswith(note) for x in intent.notes), intent.notes


@pytest.mark.parametrize(
    ("text", "measure"),
    [
        ("how many patients got 97110 in 2022", "patients"),
        ("top ot codes in 2022 by revenue", "payments"),
        ("average reimbursement for 97110", "payments"),
        ("what did medicare spend on PT codes in 2021", "spending"),
    ],
)
def test_a_measure_the_data_lacks_is_said(text: str, measure: str, catalog: Catalog) -> None:
    intent = parse(text, TODAY, catalog)
    assert intent.error is None
    assert any(f"not {measure}" in note for note in intent.notes), intent.notes


def test_a_year_far_outside_the_data_is_a_period_not_noise(catalog: Catalog) -> None:
    intent = parse("share of 97110 in 1850", TODAY, catalog)
    assert intent.period is not None and intent.period.start.year == 1850


@pytest.mark.parametrize(
    "text",
    [
        "top 50 ot codes 2022",
        "top OT codes in Florida 2022",
        "top codes in Q2 2023",
        "top codes in PT in 2021",
        "hey bot, top ot codes in Texas pls",
        "TOP OT CODES IN TEXAS",
        "what is 97110",
    ],
)
def test_parser_notes_nothing_when_everything_was_used(text, catalog: Catalog) -> None:
    assert parse(text, TODAY, catalog).notes == ()
