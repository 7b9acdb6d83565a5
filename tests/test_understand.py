"""Understanding: the development question set, then paraphrases, typos, slash forms and
adversarial inputs for every kind of question (table-driven), read through the spec and
its resolution against the demo's coverage."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LEXICON, TODAY
from toprank.data.catalog import load_catalog
from toprank.intents import resolve, understand
from toprank.intents.model import MAX_QUESTION_CHARS, MAX_TOP_N, Coverage
from toprank.intents.periods import describe_period
from toprank.intents.spec import Spec, intent_name

DEMO = Coverage(date(2019, 1, 1), date(2023, 9, 30))
CATALOG = load_catalog()
_HERE = Path(__file__).resolve().parent
_QUESTION_FILES = (
    _HERE.parent / "bot/bench/questions.jsonl",
    _HERE.parents[1] / "shared/eval/questions.jsonl",
)
INTENTS = (
    "top_codes",
    "code_share",
    "compare",
    "trend",
    "total",
    "breakdown",
    "movers",
    "code_lookup",
    "code_range",
    "ot_vs_pt",
    "coverage",
    "help",
    "unknown",
)


def _dev_set() -> list[dict]:
    path = next((p for p in _QUESTION_FILES if p.exists()), None)
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


DEV = _dev_set()


def facts(question: str, today: date = TODAY) -> dict[str, Any]:
    """What a question was understood as, in the first wave's terms: the intent, the
    cohort(s), the period as resolved against the demo's coverage (None: no data)."""
    spec = understand(question, today, LEXICON)
    out: dict[str, Any] = {
        "spec": spec,
        "kind": intent_name(spec),
        "error": spec.error,
        "n": spec.n,
        "topic": spec.topic,
        "compare_by": spec.compare_by,
        "codes": spec.lookup_codes or spec.all_codes,
        "code": None
        if spec.error == "ambiguous"
        else (spec.lookup_codes or spec.all_codes or (None,))[0],
        "state": spec.states.include[0] if len(spec.states.include) == 1 else None,
        "states": spec.states.include,
        "payer": spec.payers.include[0] if len(spec.payers.include) == 1 else None,
        "payers": spec.payers.include,
        "subgroup": spec.subgroups[0] if spec.subgroups else None,
        "subgroups": spec.subgroups,
        "cohorts": spec.cohorts,
        "cohort": spec.cohorts[0] if len(spec.cohorts) == 1 else None,
        "notes": spec.notes,
    }
    if spec.kind == "data" and spec.error is None:
        r = resolve(spec, DEMO)
        if r.error is None:
            out["cohorts"] = r.cohorts
            out["cohort"] = (
                r.cohorts[0] if len(r.cohorts) == 1 and spec.cohort_mode != "union" else None
            )
        out["period"] = None if r.error else (r.period.start.isoformat(), r.period.end.isoformat())
        out["period_labels"] = tuple(describe_period(p, DEMO) for p in r.periods)
        if r.error and out["error"] is None:
            out["resolve_error"] = r.error
    return out


def test_dev_set_is_present() -> None:
    assert len(DEV) >= 50


@pytest.mark.parametrize("item", DEV, ids=[f"{k:02d}" for k in range(len(DEV))])
def test_dev_set_understood(item: dict) -> None:
    """Every expectation the understanding decides (rows and shares are the answer's)."""
    exp = item["expect"]
    got = facts(item["q"])
    if "intent" in exp:
        assert got["kind"] == exp["intent"]
    if "intent_any" in exp:
        assert got["kind"] in exp["intent_any"]
    for key in ("cohort", "n", "code", "state", "payer"):
        if key in exp:
            assert str(got[key]).lower() == str(exp[key]).lower(), key
    if "cohorts" in exp:
        assert sorted(got["cohorts"]) == sorted(exp["cohorts"])
    if "start" in exp:
        assert got["period"] is not None and got["period"][0] == exp["start"]
    if "end" in exp:
        assert got["period"] is not None and got["period"][1] == exp["end"]
    if exp.get("error"):
        assert got["error"] is not None or got.get("period", 1) is None
    if exp.get("error_or_unknown"):
        assert got["error"] is not None or got["kind"] in ("unknown", "help")


# (question, expected facts). "period" is (start, end) after clipping to the demo
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
    # v2: claims are a measure of their own (distinct claims)
    ("how many claims for PT in 2022", dict(kind="total", cohort="pt")),
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
    ("how many 97110 did OTs bill in 2022", dict(kind="total", cohort="ot", code="97110")),
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
    # v2: a family's share is answered (each code and the family together)
    (
        "what share of OT procedures were PT evaluations in 2022",
        dict(kind="code_share", cohort="ot", codes_include=("97161", "97162", "97163")),
    ),
    # --- compare -------------------------------------------------------------------
    ("OT vs PT top codes 2022", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("OT vs PT 2022", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("compare OT and PT", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    ("OT and PT", dict(kind="compare", compare_by="cohort", cohorts=("ot", "pt"))),
    # v2: "or" joins cohorts into one scope (the comparison is offered instead)
    (
        "OT OR PT top codes",
        dict(kind="top_codes", compare_by=None, cohorts=("ot", "pt"), state=None),
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
    # --- v2: exclusions ----------------------------------------------------------------
    ("top PT codes excluding medicare 2022", dict(kind="top_codes", payer=None)),
    ("top rehab codes 2020 without 97140", dict(kind="top_codes", cohort="rehab")),
    ("non-medicare PT codes 2022", dict(kind="top_codes", cohort="pt")),
    ("outside California top ot codes", dict(kind="top_codes", state=None)),
    # --- v2: totals, breakdowns, movers --------------------------------------------------
    ("how many chiro procedures in 2020", dict(kind="total", cohort="chiro")),
    ("how many OT evaluations were billed in 2022", dict(kind="total", code="97165")),
    ("PT volume 2019 vs 2022", dict(kind="compare", compare_by="period")),
    ("which state bills the most 97110", dict(kind="breakdown", n=1)),
    ("payer mix for PT", dict(kind="breakdown", cohort="pt", n=None)),
    ("top OT code in each state", dict(kind="breakdown", cohort="ot", n=1)),
    ("fastest growing rehab codes 2022 vs 2021", dict(kind="movers", cohort="rehab")),
    ("monthly trend of 97530 in 2022", dict(kind="trend", code="97530")),
    # cohort words that name people are cohorts, not individuals
    (
        "top codes billed by physical therapists in 2022",
        dict(kind="top_codes", cohort="pt", error=None),
    ),
]


def check(question: str, exp: dict) -> None:
    got = facts(question)
    for key, want in exp.items():
        if key == "codes_include":
            assert set(want) <= set(got["codes"]), got["codes"]
        else:
            assert got.get(key) == want, f"{key}: {got.get(key)!r} != {want!r} ({got['spec']})"


@pytest.mark.parametrize(("question", "exp"), CASES, ids=[q[:60] for q, _ in CASES])
def test_understanding_cases(question: str, exp: dict) -> None:
    check(question, exp)


def test_case_table_covers_every_intent() -> None:
    kinds = {exp["kind"] for _, exp in CASES}
    assert kinds == set(INTENTS)


def spec_of(question: str, today: date = TODAY) -> Spec:
    return understand(question, today, LEXICON)


# --- exclusions: never the opposite filter, never dropped ------------------------------


@pytest.mark.parametrize(
    ("question", "part", "include", "exclude"),
    [
        ("top PT codes excluding medicare 2022", "payers", (), ("medicare",)),
        ("top PT codes except medicare and medicaid", "payers", (), ("medicare", "medicaid")),
        ("non-medicare PT codes", "payers", (), ("medicare",)),
        ("top OT codes not in Texas", "states", (), ("TX",)),
        ("top OT codes outside California", "states", (), ("CA",)),
        ("top rehab codes except TX or FL", "states", (), ("TX", "FL")),
        ("top OT codes other than medicare, in Texas", "states", ("TX",), ()),
        ("top OT codes other than medicare, in Texas", "payers", (), ("medicare",)),
        ("top PT codes w/o medicaid", "payers", (), ("medicaid",)),
        ("top PT codes minus commercial", "payers", (), ("commercial",)),
        ("top PT codes not at home", "places", (), ("12",)),
        ("top PT codes without modifier 59", "modifiers", (), ("59",)),
        ("top PT codes without the KX modifier", "modifiers", (), ("KX",)),
        ("top PT codes that didn't have a GP modifier", "modifiers", (), ("GP",)),
        ("top PT codes in office settings", "places", ("11",), ()),
        ("top PT codes in nursing homes", "places", ("31", "32"), ()),
    ],
)
def test_negations_exclude_what_follows(question, part, include, exclude) -> None:
    spec = spec_of(question)
    assert spec.kind == "data" and spec.error is None
    sel = getattr(spec, part)
    assert (sel.include, sel.exclude) == (include, exclude)


@pytest.mark.parametrize(
    ("question", "excluded"),
    [
        ("top rehab codes 2020 without 97140", ("97140",)),
        ("besides 97110, what are the top OT codes", ("97110",)),
        ("top pt codes not counting evaluations", ("97161", "97172")),
        ("top OT codes leaving out self-care", ("97535",)),
    ],
)
def test_excluded_codes(question: str, excluded: tuple[str, ...]) -> None:
    spec = spec_of(question)
    codes = [c for s in spec.exclude_codes for c in s.codes]
    assert set(excluded) <= set(codes) or (len(excluded) == 2 and excluded[0] in codes)
    assert not spec.codes  # excluded, not asked about


def test_a_negation_with_nothing_to_exclude_is_not_ignored() -> None:
    spec = spec_of("top OT codes excluding the big ones")
    assert spec.error == "ambiguous"


def test_excluding_a_cohort_keeps_the_others() -> None:
    spec = spec_of("top codes not billed by PTs 2022")
    assert spec.cohorts == () and spec.exclude_cohorts == ("pt",)
    rehab = spec_of("top rehab codes not billed by PTs in 2021")
    assert rehab.cohorts == ("rehab",) and rehab.exclude_cohorts == ("pt",)
    non_rehab = spec_of("top non-rehab codes 2022")
    assert [(s.first, s.last) for s in non_rehab.exclude_codes] == [("97010", "97799")]


# --- unions, comparisons, the other cohort ------------------------------------------------


@pytest.mark.parametrize(
    ("question", "cohorts", "mode"),
    [
        ("top codes for OT and PT combined 2022", ("ot", "pt"), "union"),
        ("top codes for OTs or PTs", ("ot", "pt"), "union"),
        ("compare OT and PT 2022", ("ot", "pt"), "compared"),
        ("OT vs PT top codes", ("ot", "pt"), "compared"),
        ("/toprank other 2022", ("other",), "single"),
        ("top codes for other specialties", ("other",), "single"),
    ],
)
def test_cohorts_joined_or_compared(question, cohorts, mode) -> None:
    spec = spec_of(question)
    assert (spec.cohorts, spec.cohort_mode) == (cohorts, mode)


def test_other_payers_is_the_payer_not_the_cohort() -> None:
    spec = spec_of("top PT codes for other payers 2022")
    assert spec.cohorts == ("pt",) and spec.payers.include == ("other",)
    assert spec_of("top codes other than 97110").exclude_codes


def test_periods_together_or_compared() -> None:
    together = spec_of("top PT codes 2021 and 2022 together")
    assert together.period_mode == "combined" and len(together.periods) == 2
    compared = spec_of("top PT codes 2021 vs 2022")
    assert compared.period_mode == "compared"
    plain = spec_of("top PT codes 2021 and 2022")
    assert plain.period_mode == "compared" and plain.alternatives  # the other reading offered


def test_codes_compared_and_combined() -> None:
    vs = spec_of("97110 vs 97530 for PT")
    assert vs.code_mode == "compared" and vs.all_codes == ("97110", "97530")
    assert intent_name(vs) == "compare"
    both = spec_of("what share of PT is 97110 and 97140 combined")
    assert both.code_mode == "combined" and both.ask == "share"


def test_one_comparison_at_a_time() -> None:
    spec = spec_of("OT vs PT 2021 vs 2022")
    assert spec.cohort_mode == "compared" and spec.period_mode == "combined"
    assert any("One comparison at a time" in n for n in spec.notes)


# --- measures, groupings, shares of a part ---------------------------------------------------


@pytest.mark.parametrize(
    ("question", "measure"),
    [
        ("how many OT visits in 2022", "claims"),
        ("top PT codes by units 2022", "units"),
        ("how many claim lines for PT", "procedures"),
        ("top rehab codes by number of claims 2022", "claims"),
    ],
)
def test_measures(question: str, measure: str) -> None:
    assert spec_of(question).measure == measure


@pytest.mark.parametrize(
    ("question", "group_by", "per_group", "n"),
    [
        ("which state bills the most 97110", "state", None, 1),
        ("top 5 states for 97110", "state", None, 5),
        ("97110 by state", "state", None, None),
        ("payer mix for PT", "payer", None, None),
        ("which specialty bills the most 97530", "cohort", None, 1),
        ("PT procedures by place of service", "place_of_service", None, None),
        ("top OT code in each state", "code", "state", 1),
        ("top 3 codes by payer for PT", "code", "payer", 3),
        ("top chiro code each year", "code", "year", 1),
        ("quarterly PT volume", "quarter", None, None),
        ("monthly trend of 97530 in 2022", "month", None, None),
        ("payer mix by year for OT", "payer", "year", None),
    ],
)
def test_groupings(question, group_by, per_group, n) -> None:
    spec = spec_of(question)
    assert (spec.group_by, spec.per_group, spec.n) == (group_by, per_group, n)


@pytest.mark.parametrize(
    ("question", "subset"),
    [
        ("what fraction of PT procedures are medicare in 2022", ("payers",)),
        ("what share of OT procedures happen in the home in 2021", ("places",)),
        ("what portion of 97110 is billed by PTs", ("cohorts",)),
        ("what percentage of PT procedures carry the KX modifier", ("modifiers",)),
        ("what share of rehab procedures was 97530 in 2023", ()),
        ("97162 share of OT procedures 2022", ()),
    ],
)
def test_the_part_of_a_share(question: str, subset: tuple[str, ...]) -> None:
    spec = spec_of(question)
    assert spec.subset == subset
    assert intent_name(spec) in ("code_share", "total")


def test_movers_direction() -> None:
    assert spec_of("fastest growing rehab codes 2022 vs 2021").direction == "up"
    assert spec_of("which OT codes lost the most share since 2020").direction == "down"
    assert spec_of("biggest movers in PT 2021 vs 2022").direction == "both"


# --- periods without a year, relative periods -------------------------------------------------


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("top SLP codes Q1", ("2023-01-01", "2023-03-31")),
        ("top SLP codes Q4", ("2022-10-01", "2022-12-31")),
        ("top OT codes H2", ("2022-07-01", "2022-12-31")),
        ("top OT codes through June", ("2023-01-01", "2023-06-30")),
        ("top OT codes in December", ("2022-12-01", "2022-12-31")),
        ("top OT codes first half", ("2023-01-01", "2023-06-30")),
        ("top OT codes first 6 months of 2022", ("2022-01-01", "2022-06-30")),
        ("top OT codes last 3 months of 2021", ("2021-10-01", "2021-12-31")),
    ],
)
def test_a_period_without_a_year_takes_the_latest_the_data_covers(question, period) -> None:
    got = facts(question)
    assert got["period"] == period and got["kind"] == "top_codes"
    assert got["n"] is None  # "first 6 months" is a period, not a top 6


def test_relative_periods_stay_relative_and_offer_the_latest_equivalent() -> None:
    later = date(2026, 12, 1)
    spec = spec_of("top OT codes last year", later)
    r = resolve(spec, DEMO)
    assert r.error == "no_data"
    assert "top OT codes 2022" in r.suggestions
    ytd = resolve(spec_of("top OT codes ytd", later), DEMO)
    assert ytd.error == "no_data" and any("2023" in s for s in ytd.suggestions)
    # most of it missing is no data too ("the past 3 years" with 9 months of them held)
    assert resolve(spec_of("PT volume for the past 3 years", later), DEMO).error == "no_data"
    # with today inside the data, relative periods resolve as before
    assert facts("top OT codes last year")["period"] == ("2022-01-01", "2022-12-31")


def test_no_period_means_the_latest_year() -> None:
    spec = spec_of("Top rehab codes")
    assert spec.periods == ()
    r = resolve(spec, DEMO)
    assert (r.period.start, r.period.end) == (date(2023, 1, 1), date(2023, 9, 30))
    assert describe_period(r.period, DEMO) == "2023 through September"
    trend = resolve(spec_of("OT volume by year"), DEMO)
    assert (trend.period.start, trend.period.end) == (DEMO.start, DEMO.end)


# --- what could not be used is said, or refused ------------------------------------------------


@pytest.mark.parametrize(
    ("question", "error"),
    [
        ("top ot codes in Narnia 2022", "unknown_place"),
        ("Top PT codes in Springfield", "unknown_place"),
        ("what share of PT procedures in Ontario was 97110", "unknown_place"),
        ("top pt codes for kids", "unsupported_filter"),
        ("top OT codes for stroke patients", "unsupported_filter"),
        ("top PT codes by county", "unsupported_filter"),
        ("top dentist codes 2022", "unknown_cohort"),
    ],
)
def test_filters_the_data_cannot_apply_are_refused(question: str, error: str) -> None:
    spec = spec_of(question)
    assert spec.error == error and (spec.notes or spec.suggestions)


def _usps_codes() -> list[str]:
    import csv

    with (Path(__file__).parents[1] / "data" / "states.csv").open() as f:
        # every code a question can filter on; XX and ZZ name no place (tested apart)
        return [row["code"] for row in csv.DictReader(f) if row["kind"] != "unknown"]


@pytest.mark.parametrize("code", _usps_codes())
def test_every_usps_code_stands_as_a_state_in_any_case(code: str) -> None:
    for question in (
        f"top ot codes in {code} in 2022",
        f"top ot codes in {code.lower()} 2022",
        f"top ot codes in {code.lower()}",
        f"{code} vs TX pt 2022",
    ):
        spec = spec_of(question)
        assert spec.error is None, question
        assert code in spec.states.include, (question, spec.states, spec.notes)
        assert not any("Not used" in n for n in spec.notes), (question, spec.notes)
    spec = spec_of(f"top ot codes in {code.lower()} 2022")
    if code.lower() in ("in", "or", "me", "so", "us", "hi", "ok", "oh", "pa", "ma", "md", "co"):
        assert any(f"Read '{code.lower()}' as the state" in n for n in spec.notes), spec.notes


@pytest.mark.parametrize(
    "question",
    [
        "pt in 2022",
        "top codes in 2022 or 2023",
        "rank 97110 in ot or pt 2022",
        "how many ot procedures in 2022 or 2021",
        "is 97110 in or out of the rehab range",
        "hi, top ot codes 2022",
        "ok so what are the top pt codes",
    ],
)
def test_two_letter_words_that_are_not_places_stay_words(question: str) -> None:
    assert spec_of(question).states.include == ()


def test_two_states_side_by_side() -> None:
    for question in ("OR vs WA pt 2022", "or vs wa pt 2022", "PT in DE and MD 2022"):
        spec = spec_of(question)
        assert len(spec.states.include) == 2 and spec.error is None, (question, spec.states)


def test_a_city_is_its_state_said_as_such() -> None:
    for question in ("top PT codes in Dallas, TX", "top PT codes in houston"):
        spec = spec_of(question)
        assert spec.states.include == ("TX",) and spec.error is None
        assert any("is a city" in n and "Texas" in n for n in spec.notes)


@pytest.mark.parametrize(
    ("text", "n", "note"),
    [
        ("top 100 ot codes 2022", MAX_TOP_N, f"Lists stop at {MAX_TOP_N} rows."),
        ("top 0 ot codes 2022", None, "A top 0 lists nothing"),
        ("top purple OT codes 2022", None, "Not used: 'purple'"),
    ],
)
def test_notes_say_what_was_changed_or_not_used(text, n, note) -> None:
    spec = spec_of(text)
    assert spec.error is None and spec.n == n
    assert any(x.startswith(note) for x in spec.notes), spec.notes


@pytest.mark.parametrize(
    ("text", "measure"),
    [
        ("how many patients got 97110 in 2022", "patients"),
        ("what did PT codes cost in 2021", "costs"),
        ("top ot codes in 2022 by price", "prices"),
    ],
)
def test_a_measure_the_data_lacks_is_said(text: str, measure: str) -> None:
    spec = spec_of(text)
    assert spec.error is None and spec.measure == "procedures"
    assert any(f"not {measure}" in note for note in spec.notes), spec.notes


@pytest.mark.parametrize(
    ("text", "measure", "average"),
    [
        ("top ot codes in 2022 by revenue", "payments", False),
        ("what did medicare spend on PT codes in 2021", "payments", False),
        ("top PT codes by Medicare payments 2022", "payments", False),
        ("how much was paid for 97110 in 2022", "payments", False),
        ("average allowed amount for 97140", "allowed", True),
        ("which state has the highest charges for OT", "charges", False),
        ("beneficiaries for 97530 in 2022", "beneficiaries", False),
        ("avg submitted charges per procedure for 97110 by state", "charges", True),
    ],
)
def test_money_and_people_are_measures(text: str, measure: str, average: bool) -> None:
    spec = spec_of(text)
    assert spec.error is None, spec
    assert (spec.measure, spec.average) == (measure, average)
    assert not any("these figures are not" in note for note in spec.notes), spec.notes


def test_an_average_of_a_count_is_said_not_made_up() -> None:
    spec = spec_of("average units for 97110 in 2022")
    assert spec.measure == "units" and not spec.average
    assert any("Averages are of amounts" in note for note in spec.notes), spec.notes


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
        "top PT codes excluding medicare 2022",
        "payer mix for PT",
        "which state bills the most 97110 in 2022",
    ],
)
def test_nothing_is_noted_when_every_word_was_used(text: str) -> None:
    assert spec_of(text).notes == ()


def test_the_other_reading_of_a_family_is_offered() -> None:
    spec = spec_of("how many OT evaluations were billed in 2022")
    assert spec.codes[0].codes == ("97165", "97166", "97167")
    assert any("billed by OTs" in a for a in spec.alternatives)


# --- inputs of every kind ------------------------------------------------------------------------


def test_unknown_offers_suggestions_the_parser_understands() -> None:
    spec = spec_of("tell me a joke")
    assert spec.kind == "unknown" and spec.suggestions
    for s in spec.suggestions:
        assert spec_of(s).kind not in ("unknown", "help")


def test_non_string_input_never_raises() -> None:
    for value in (None, 42, b"top ot codes", ["top"], 3.5):
        assert spec_of(value).kind in ("data", "unknown", "help", "lookup")  # type: ignore[arg-type]


def test_year_words_are_not_top_n_or_codes() -> None:
    spec = spec_of("what share of rehab procedures was 97110 in 2022")
    assert (spec.all_codes, spec.n) == (("97110",), None)
    assert spec.periods[0].start == date(2022, 1, 1)


def test_a_year_far_outside_the_data_is_a_period_not_noise() -> None:
    spec = spec_of("share of 97110 in 1850")
    assert spec.periods and spec.periods[0].start.year == 1850


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
def test_function_word_state_codes_need_capitals(text, state) -> None:
    got = facts(text)
    assert got["kind"] == "top_codes" and got["state"] == state


def test_a_quick_one_is_not_a_top_one() -> None:
    assert spec_of("hey quick one - most billed chiro codes 2019").n is None


@pytest.mark.parametrize(
    "text",
    [
        "bottom 5 PT codes 2022",
        "least common PT codes 2022",
        "fewest OT procedures 2021",
        "lowest 3 OT codes by payments 2022",
        "which state has the fewest PT procedures in 2022",
        "rarest rehab codes last year",
    ],
)
def test_the_bottom_of_a_ranking_is_refused_not_answered_with_the_top(text: str) -> None:
    spec = spec_of(text)
    assert spec.error == "unsupported", spec
    assert any("rank from the most only" in note for note in spec.notes), spec.notes


@pytest.mark.parametrize(
    "text",
    [
        "top 5 PT codes with more than 1000 procedures 2022",
        "OT codes with at least 50 visits in 2022",
        "PT codes under 100 procedures in 2021",
        "which codes grew more than 10 percent 2022 vs 2021",
    ],
)
def test_a_threshold_on_a_figure_is_refused_not_dropped(text: str) -> None:
    spec = spec_of(text)
    assert spec.error == "unsupported", spec
    assert any("threshold" in note for note in spec.notes), spec.notes


@pytest.mark.parametrize(
    "text",
    [
        "top 5 PT codes under medicare 2022",
        "at least the top 5 OT codes 2022",
        "which OT code declined the most 2022 vs 2021",
        "most common PT codes over 2022",
    ],
)
def test_words_near_those_refusals_still_answer(text: str) -> None:
    spec = spec_of(text)
    assert spec.error is None, spec


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("top 5 PT codes summer 2022", date(2022, 6, 1), date(2022, 8, 31)),
        ("top 5 OT codes in the spring of 2021", date(2021, 3, 1), date(2021, 5, 31)),
        ("top 5 PT codes autumn 2022", date(2022, 9, 1), date(2022, 11, 30)),
    ],
)
def test_a_season_is_never_spelled_into_another_word(text: str, start: date, end: date) -> None:
    # "summer" was corrected to "summed" (a word of the totals cue) and the season lost
    (period,) = spec_of(text).periods
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("top 5 PT codes POS 11 2021", "11"),
        ("top 5 PT codes at place of service 11 in 2021", "11"),
        ("OT procedures in pos code 22 in 2022", "22"),
    ],
)
def test_a_place_of_service_by_its_code(text: str, code: str) -> None:
    spec = spec_of(text)
    assert spec.error is None, spec
    assert spec.places.include == (code,)
    assert not any("Not used" in note for note in spec.notes), spec.notes


def test_how_much_a_payer_paid_is_payments() -> None:
    spec = spec_of("how much did medicare pay for 97110 in 2022")
    assert (spec.error, spec.measure) == (None, "payments")
    assert spec.payers.include == ("medicare",)


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("2023 ytd top 5 OT codes", 2023),
        ("top 5 OT codes ytd 2023", 2023),
        ("top PT codes 2022 year to date", 2022),
        ("PT procedures YTD 2021", 2021),
    ],
)
def test_a_year_to_date_of_a_named_year_is_one_period(text: str, year: int) -> None:
    # TODAY is 2023-10-15: year to date runs through September, the last whole month;
    # "2023 ytd" was read as two periods, 2023 and this year's YTD
    (period,) = spec_of(text).periods
    assert (period.start, period.end) == (date(year, 1, 1), date(year, 9, 30))


def test_year_to_date_of_two_years_compares_the_same_months() -> None:
    spec = spec_of("PT procedures 2023 ytd vs 2022 ytd")
    assert [(p.start, p.end) for p in spec.periods] == [
        (date(2023, 1, 1), date(2023, 9, 30)),
        (date(2022, 1, 1), date(2022, 9, 30)),
    ]
