"""bot.answer (pure builder) and bot.knowledge, on small hand-made frames."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from bot.answer import (
    DEFAULT_MIN_CELL,
    build,
    contract_params,
    internal_error_answer,
    nearby_codes,
    ordinal,
)
from bot.knowledge import OT_VS_PT_TOPICS, load_knowledge, ot_vs_pt_text, parse_knowledge
from bot.render_text import render_text
from intents.model import Coverage, Intent, Period
from sql.plan import plan

COVERAGE = Coverage(
    start=date(2019, 1, 1),
    end=date(2023, 9, 30),
    sources=("fixture",),
    claim_lines=1234,
    procedures=5678,
)
P2022 = Period(date(2022, 1, 1), date(2022, 12, 31), "2022")
P2023_ASKED = Period(date(2023, 1, 1), date(2023, 12, 31), "2023")
P2023 = Period(date(2023, 1, 1), date(2023, 9, 30), "2023")
CONTRACT_KEYS = {"question", "intent", "params", "rows", "text", "sql", "error"}
PARAM_KEYS = {"cohort", "cohorts", "start", "end", "n", "code", "state", "payer"}


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


def ranked_frame(counts: dict[str, int], **extra) -> pd.DataFrame:
    """What top_codes.sql returns: ranked by procedures, shares of the whole cohort."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    frame = pd.DataFrame(
        {
            "rank": range(1, len(ordered) + 1),
            "code": [c for c, _ in ordered],
            "procedures": [n for _, n in ordered],
            "share_pct": [100.0 * n / total for _, n in ordered],
            "cohort_procedures": total,
        }
    )
    for key, value in extra.items():
        frame[key] = value
    return frame


def run_build(intent, period, frame, catalog, knowledge, **kw):
    periods = kw.pop("periods", ())
    query = plan(intent, period, periods=periods) if frame is not None else None
    return build(
        intent,
        period,
        frame,
        periods=periods,
        catalog=catalog,
        coverage=COVERAGE,
        query=query,
        knowledge=knowledge,
        period_label=kw.pop("period_label", period.label if period else None),
        **kw,
    )


def test_top_codes_rows_follow_the_contract(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 600, "97140": 300, "97530": 100})
    intent = Intent("top_codes", text="top ot 2022", cohort="ot", period=P2022, n=2)
    answer = run_build(intent, P2022, frame.head(2), catalog, knowledge)
    out = answer.to_json()
    assert set(out) == CONTRACT_KEYS and set(out["params"]) == PARAM_KEYS
    assert out["params"]["start"] == "2022-01-01" and out["params"]["end"] == "2022-12-31"
    assert out["params"]["n"] == 2 and out["params"]["cohort"] == "ot"
    assert [r["code"] for r in out["rows"]] == ["97110", "97140"]
    first = out["rows"][0]
    assert first == {
        "rank": 1,
        "code": "97110",
        "description": catalog.describe("97110"),
        "share_pct": 60.0,  # of all 1,000 procedures, not of the top 2
        "procedures": 600,
    }
    assert answer.title == "Top 2 occupational therapy codes, 2022"
    assert answer.text.startswith(answer.title)
    assert "60.0%" in answer.text and "1,000" in answer.text
    assert out["sql"] and "rollup_national" in out["sql"]
    assert answer.sql_params["cohort"] == "ot" and answer.sql_params["start"] == "2022-01-01"
    json.dumps(out)  # plain JSON all the way down


def test_share_is_rounded_to_two_decimals(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 1, "97140": 2})
    frame["procedures"] = [200, 100]
    frame["share_pct"] = [66.666666, 33.333333]
    answer = run_build(Intent("top_codes", cohort="pt"), P2022, frame, catalog, knowledge)
    assert [r["share_pct"] for r in answer.rows] == [66.67, 33.33]
    assert "66.7%" in answer.text


def test_small_cells_are_suppressed(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 500, "97140": 10, "97530": 11})
    intent = Intent("top_codes", cohort="ot")
    answer = run_build(intent, P2022, frame, catalog, knowledge)
    rows = {r["code"]: r for r in answer.rows}
    assert rows["97140"]["procedures"] == "<11" and rows["97140"]["share_pct"] is None
    assert rows["97140"]["suppressed"] is True
    assert rows["97530"]["procedures"] == 11 and rows["97530"]["share_pct"] is not None
    assert rows["97140"]["rank"] == 3  # rank kept: order is not a count
    assert "<11" in answer.text
    # A threshold of 0 turns the rule off; another threshold moves it.
    off = run_build(intent, P2022, frame, catalog, knowledge, min_cell=0)
    assert {r["code"]: r["procedures"] for r in off.rows}["97140"] == 10
    strict = run_build(intent, P2022, frame, catalog, knowledge, min_cell=20)
    assert {r["code"]: r["procedures"] for r in strict.rows}["97530"] == "<20"
    assert DEFAULT_MIN_CELL == 11


def test_empty_frame_is_no_data_with_the_covered_range(catalog, knowledge) -> None:
    intent = Intent("top_codes", cohort="slp", state="WY")
    answer = run_build(intent, P2022, ranked_frame({}), catalog, knowledge)
    assert answer.error == "no_data" and answer.rows == ()
    assert "2019-01-01" in answer.text and "2023-09-30" in answer.text
    assert "Wyoming" in answer.text


def test_clipped_period_is_said(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 50, "97530": 40})
    intent = Intent("top_codes", cohort="rehab", period=P2023_ASKED)
    answer = run_build(
        intent, P2023, frame, catalog, knowledge, period_label="2023 through September"
    )
    assert answer.params["end"] == "2023-09-30"
    assert answer.title.endswith("2023 through September")
    assert answer.period_label == "2023 through September"
    assert any("2023-09-30" in note for note in answer.notes)


def test_code_share_reports_the_asked_code_with_its_rank(catalog, knowledge) -> None:
    full = ranked_frame({"97110": 500, "97140": 300, "97530": 150, "97116": 50})
    frame = full[(full["rank"] <= 2) | (full["code"] == "97116")].copy()
    frame["is_asked"] = frame["code"] == "97116"
    intent = Intent("code_share", cohort="rehab", code="97116", n=2)
    answer = run_build(intent, P2022, frame, catalog, knowledge)
    asked = [r for r in answer.rows if r["asked"]]
    assert len(asked) == 1 and asked[0]["code"] == "97116"
    assert asked[0]["rank"] == 4 and asked[0]["share_pct"] == 5.0
    assert answer.params["code"] == "97116"
    assert answer.text.startswith("97116") and "4th" in answer.text and "5.0%" in answer.text


def test_code_share_of_a_code_never_billed(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 500, "97140": 300})
    frame["is_asked"] = False
    answer = run_build(
        Intent("code_share", cohort="pt", code="97165"), P2022, frame, catalog, knowledge
    )
    asked = next(r for r in answer.rows if r["asked"])
    assert asked["rank"] is None and asked["procedures"] == 0 and asked["share_pct"] == 0.0
    assert "not billed" in answer.text


def test_compare_rows_carry_their_group(catalog, knowledge) -> None:
    ot = ranked_frame({"97110": 34, "97140": 22}, cohort="ot")
    pt = ranked_frame({"97110": 30, "97530": 20}, cohort="pt")
    frame = pd.concat([ot, pt], ignore_index=True)
    intent = Intent("compare", cohorts=("ot", "pt"), compare_by="cohort", n=2)
    answer = run_build(intent, P2022, frame, catalog, knowledge)
    assert answer.params["cohorts"] == ["ot", "pt"] and answer.params["cohort"] is None
    assert [(r["cohort"], r["code"]) for r in answer.rows] == [
        ("ot", "97110"),
        ("ot", "97140"),
        ("pt", "97110"),
        ("pt", "97530"),
    ]
    assert "OT vs PT" in answer.title
    table = render_text(answer)
    assert "Cohort" in table and "97530" in table


def test_compare_by_period_reports_the_whole_span(catalog, knowledge) -> None:
    a = ranked_frame({"97110": 10_000}, period="2022")
    b = ranked_frame({"97530": 9_000}, period="2023 through September")
    frame = pd.concat([a, b], ignore_index=True)
    periods = (P2022, Period(P2023.start, P2023.end, "2023 through September"))
    intent = Intent("compare", cohort="ot", compare_by="period")
    answer = run_build(intent, None, frame, catalog, knowledge, periods=periods)
    assert answer.params["start"] == "2022-01-01" and answer.params["end"] == "2023-09-30"
    assert [r["period"] for r in answer.rows] == ["2022", "2023 through September"]


def test_trend_rows_carry_year_share_and_rank(catalog, knowledge) -> None:
    frame = pd.DataFrame(
        {
            "year": [2021, 2022, 2023],
            "procedures": [300, 330, 200],
            "cohort_procedures": [1000, 1000, 800],
            "share_pct": [30.0, 33.0, 25.0],
            "rank": [1, 1, 2],
            "months": [12, 12, 9],
        }
    )
    span = Period(date(2021, 1, 1), date(2023, 9, 30), "2021 through September 2023")
    intent = Intent("trend", cohort="ot", code="97110")
    answer = run_build(intent, span, frame, catalog, knowledge)
    assert [r["year"] for r in answer.rows] == [2021, 2022, 2023]
    assert [r["share_pct"] for r in answer.rows] == [30.0, 33.0, 25.0]
    assert answer.rows[-1]["months"] == 9 and answer.rows[-1]["period"] != "2023"
    assert "down" in answer.text and "-5.0 points" in answer.text
    volume = run_build(Intent("trend", cohort="ot"), span, frame, catalog, knowledge)
    assert volume.rows[0]["share_pct"] is None and volume.rows[0]["procedures"] == 300


def test_ot_vs_pt_has_knowledge_text_and_data_rows(catalog, knowledge) -> None:
    frame = pd.DataFrame(
        {
            "code": ["97165", "97535"],
            "lead_procedures": [500, 1400],
            "other_procedures": [0, 1900],
            "lead_share_pct": [2.2, 6.1],
            "other_share_pct": [0.0, 1.9],
            "ratio": [None, 3.21],
        }
    )
    answer = run_build(Intent("ot_vs_pt"), P2022, frame, catalog, knowledge)
    assert answer.error is None and answer.params["cohorts"] == ["ot", "pt"]
    assert "fine motor" in answer.text and "gross motor" in answer.text
    assert [r["code"] for r in answer.rows] == ["97165", "97535"]
    assert answer.rows[0]["ratio"] is None and answer.rows[1]["ratio"] == 3.21
    assert answer.rows[1]["ot_share_pct"] == 6.1 and answer.rows[1]["pt_share_pct"] == 1.9
    assert "only OT" in answer.text
    mental = run_build(Intent("ot_vs_pt", topic="mental_health"), P2022, frame, catalog, knowledge)
    assert "coping" in mental.text and "habits" in mental.text


def test_every_topic_has_its_own_text(knowledge) -> None:
    texts = {topic: ot_vs_pt_text(knowledge, topic) for topic in OT_VS_PT_TOPICS}
    assert len(set(texts.values())) == len(OT_VS_PT_TOPICS)
    assert "pencil" in texts["difference"] and "range of motion" in texts["pt_focus"]
    assert all(code in texts["codes"] for code in ("97110", "97530", "97140"))
    assert ot_vs_pt_text(knowledge, None) == texts["difference"]


def test_knowledge_names_a_missing_section() -> None:
    with pytest.raises(KeyError):
        parse_knowledge({"code_range": {}})


def test_code_lookup_rows_and_context(catalog, knowledge) -> None:
    frame = pd.DataFrame(
        {
            "cohort": ["rehab", "ot"],
            "rank": [2, 3],
            "code": ["97530", "97530"],
            "procedures": [22_000, 4_000],
            "share_pct": [19.8, 17.0],
            "cohort_procedures": [111_000, 23_000],
        }
    )
    answer = run_build(Intent("code_lookup", code="97530"), P2023, frame, catalog, knowledge)
    row = answer.rows[0]
    assert row["code"] == "97530" and row["description"] == catalog.describe("97530")
    assert {"long_description", "category", "timed"} <= set(row)
    assert [c["cohort"] for c in row["context"]] == ["rehab", "ot"]
    assert "2nd in rehab" in answer.text and "real life" in answer.text


def test_unknown_code_gives_nearby_codes_and_no_rows(catalog, knowledge) -> None:
    answer = run_build(Intent("code_lookup", code="97113x"), None, None, catalog, knowledge)
    assert answer.error == "unknown_code" and answer.rows == ()
    assert answer.suggestions and all(s in catalog.codes for s in answer.suggestions)
    assert nearby_codes("97111", catalog)[0] in {"97110", "97112"}
    assert nearby_codes("abc", catalog) == ()


@pytest.mark.parametrize(
    "error",
    ["no_data", "unknown_code", "unknown_cohort", "too_long", "unsafe", "bad_period", "ambiguous"],
)
def test_intent_errors_give_a_message_and_empty_rows(error, catalog, knowledge) -> None:
    intent = Intent("top_codes", cohort="ot", code="99999", error=error)  # type: ignore[arg-type]
    answer = run_build(intent, P2022, ranked_frame({"97110": 100}), catalog, knowledge)
    assert answer.error == error and answer.rows == () and answer.text
    assert "Traceback" not in answer.text
    assert answer.to_json()["rows"] == []


def test_code_range_lists_subgroups_or_one_subgroup(catalog, knowledge) -> None:
    whole = run_build(Intent("code_range"), None, None, catalog, knowledge)
    assert "97010" in whole.text and "97799" in whole.text
    keys = [r["subgroup"] for r in whole.rows]
    assert "therapeutic_procedures" in keys and "evaluations" in keys
    therapeutic = next(r for r in whole.rows if r["subgroup"] == "therapeutic_procedures")
    assert therapeutic["codes"] == sum(
        1 for c in catalog.codes.values() if c.category == "therapeutic_procedures"
    )
    one = run_build(Intent("code_range", subgroup="evaluations"), None, None, catalog, knowledge)
    assert {r["code"] for r in one.rows} >= {"97161", "97165"}
    assert all(r["subgroup"] == "evaluations" for r in one.rows)


def test_help_and_unknown_have_no_rows(catalog, knowledge) -> None:
    for kind in ("help", "unknown"):
        answer = run_build(Intent(kind), None, None, catalog, knowledge)  # type: ignore[arg-type]
        assert answer.rows == () and answer.error is None and answer.suggestions
    assert "/toprank" in run_build(Intent("help"), None, None, catalog, knowledge).text


def test_internal_error_answer_is_friendly() -> None:
    answer = internal_error_answer("top ot 2022", "top_codes")
    assert answer.error == "internal" and answer.rows == () and answer.intent == "top_codes"
    assert "Traceback" not in answer.text and set(answer.params) == PARAM_KEYS


def test_contract_params_for_a_plain_intent() -> None:
    params = contract_params(Intent("top_codes", cohort="pt", state="FL", payer="medicare"), P2022)
    assert params["state"] == "FL" and params["payer"] == "medicare" and params["cohort"] == "pt"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
    ],
)
def test_ordinal(n: int, text: str) -> None:
    assert ordinal(n) == text


def test_render_text_table_and_sql(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 600, "97140": 300, "97530": 100})
    answer = run_build(Intent("top_codes", cohort="ot"), P2022, frame, catalog, knowledge)
    text = render_text(answer)
    lines = text.splitlines()
    assert lines[0] == answer.title
    header = next(line for line in lines if line.startswith("Rank"))
    assert "Code" in header and "Share" in header and "Procedures" in header
    assert any("60.0%" in line and "97110" in line for line in lines)
    assert "Source: fixture" in text and "SELECT" not in text
    with_sql = render_text(answer, show_sql=True)
    assert "SELECT" in with_sql and "cohort='ot'" in with_sql


def test_a_code_neither_known_nor_billed_is_unknown_code(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 500, "97140": 300})
    frame["is_asked"] = False
    share = run_build(
        Intent("code_share", cohort="ot", code="99999"), P2022, frame, catalog, knowledge
    )
    assert share.error == "unknown_code" and share.rows == () and share.suggestions
    years = pd.DataFrame(
        {
            "year": [2022],
            "procedures": [0],
            "cohort_procedures": [800],
            "share_pct": [0.0],
            "rank": [None],
            "months": [12],
        }
    )
    trend = run_build(Intent("trend", cohort="ot", code="99999"), P2022, years, catalog, knowledge)
    assert trend.error == "unknown_code" and trend.rows == ()


def test_compare_by_period_says_when_periods_were_left_out(catalog, knowledge) -> None:
    frame = ranked_frame({"97110": 10_000}, period="2022")
    p2050 = Period(date(2050, 1, 1), date(2050, 12, 31), "2050")
    intent = Intent("compare", cohort="ot", compare_by="period", periods=(P2022, p2050))
    answer = run_build(intent, None, frame, catalog, knowledge, periods=(P2022,))
    assert any("left out" in note for note in answer.notes)
    assert [r["period"] for r in answer.rows] == ["2022"]


def test_did_you_mean_offers_codes_of_the_same_shape(catalog) -> None:
    from bot.answer import nearby_codes

    assert nearby_codes("97111", catalog) == ("97110", "97112", "97113")
    assert nearby_codes("G0284", catalog)[0] == "G0283"
    assert all(c.startswith("G") for c in nearby_codes("G0284", catalog))
    assert nearby_codes("A1234", catalog) == ()  # no A-codes in the dictionary: no guess
