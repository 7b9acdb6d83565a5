"""bot.answer: the Answer of every shape, run end to end on a small real database
(tests/test_compile.fixture_lines), checked against the lines themselves: the contract's
rows and params, the text, notes and errors, and small-cell suppression that arithmetic
cannot undo."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer import internal_error_answer, ordinal
from bot.answer_model import Answer
from bot.knowledge import OT_VS_PT_TOPICS, load_knowledge, ot_vs_pt_text, parse_knowledge
from bot.pipeline import Toprank
from bot.render_text import render_text
from data.catalog import load_catalog
from data.db import create_schema, rebuild_rollups
from sql.engine import DuckDBEngine
from tests.test_compile import STATES, fixture_lines

TODAY = date(2023, 3, 1)


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return fixture_lines()


@pytest.fixture(scope="module")
def bot(lines: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("answer") / "fixture.duckdb"
    con = duckdb.connect(str(path))
    create_schema(con)
    frame = lines.assign(source_id=1)  # noqa: F841 (read by DuckDB below)
    con.execute(
        "INSERT INTO claim_lines (claim_id, line_number, service_date, hcpcs_code, modifiers, "
        "units, cohort, place_of_service, payer, state, procedures, source_id) "
        "SELECT claim_id, line_number, service_date, hcpcs_code, modifiers, units, cohort, "
        "place_of_service, payer, state, procedures, source_id FROM frame"
    )
    con.execute(
        "INSERT INTO sources VALUES (1, 'fixture', 'demo', NULL, 1, 1, 0, "
        "DATE '2021-01-01', DATE '2022-12-31', TIMESTAMP '2024-01-01 00:00:00')"
    )
    rebuild_rollups(con)
    con.close()
    engine = DuckDBEngine(path)
    toprank = Toprank(
        engine,
        catalog=load_catalog(),
        knowledge=load_knowledge(),
        coverage=engine.coverage(),
        today=TODAY,
    )
    yield toprank
    toprank.close()


def year(lines: pd.DataFrame, y: int) -> pd.DataFrame:
    d = pd.to_datetime(lines.service_date)
    return lines[d.dt.year == y]


def ask(bot: Toprank, question: str) -> Answer:
    answer = bot.ask(question)
    assert answer.error != "internal", answer.text
    return answer


# --------------------------------------------------------------------------- the contract


def test_a_ranking_follows_the_contract(bot, lines) -> None:
    answer = ask(bot, "top 3 PT codes 2022")
    pt = year(lines, 2022).query("cohort == 'pt'")
    counts = pt.groupby("hcpcs_code").procedures.sum().sort_values(ascending=False)
    total = int(pt.procedures.sum())
    assert answer.intent == "top_codes" and answer.error is None
    assert [r["code"] for r in answer.rows] == list(counts.index[:3])
    for rank, row in enumerate(answer.rows, start=1):
        assert row["rank"] == rank
        assert row["procedures"] == counts[row["code"]]
        assert row["share_pct"] == pytest.approx(100 * counts[row["code"]] / total, abs=0.005)
    p = answer.params
    assert (p["cohort"], p["n"], p["start"], p["end"]) == ("pt", 3, "2022-01-01", "2022-12-31")
    assert p["measure"] == "procedures" and p["group_by"] == "code"
    assert p["periods"] == [{"start": "2022-01-01", "end": "2022-12-31", "label": "2022"}]
    assert f"{total:,}" in answer.text
    assert set(answer.to_json()) >= {
        "question",
        "intent",
        "params",
        "rows",
        "text",
        "sql",
        "error",
        "alternatives",
    }
    json.dumps(answer.to_json())


@pytest.mark.parametrize(
    ("question", "keys"),
    [
        ("PT procedures by state 2022", {"state", "name", "rank", "share_pct", "procedures"}),
        ("payer mix for OT 2022", {"payer", "procedures", "share_pct"}),
        ("PT volume by quarter 2022", {"year", "quarter", "period", "procedures"}),
        ("monthly PT volume 2022", {"year", "month", "period", "procedures"}),
        ("PT procedures by place of service 2022", {"place_of_service", "procedures"}),
        ("which specialty bills the most 97110 in 2022", {"cohort", "procedures"}),
        ("compare OT and PT 2022", {"cohort", "code", "rank", "procedures"}),
        ("PT 2021 vs 2022", {"period", "year", "code", "procedures"}),
        ("how many PT visits in 2022", {"claims"}),
        ("top PT codes by units 2022", {"code", "units"}),
        ("top PT code in each state 2022", {"state", "code", "rank"}),
    ],
)
def test_rows_carry_their_group_keys_and_measure(bot, question: str, keys: set[str]) -> None:
    answer = ask(bot, question)
    assert answer.error is None and answer.rows, answer.text
    for row in answer.rows:
        assert keys <= set(row), (question, row)
    if "quarter" in keys:
        assert re.fullmatch(r"\d{4}-Q[1-4]", answer.rows[0]["quarter"])
    if "month" in keys:
        assert re.fullmatch(r"\d{4}-\d{2}", answer.rows[0]["month"])


def test_a_total_is_said_as_users_read_it(bot, lines) -> None:
    answer = ask(bot, "how many OT procedures in 2022")
    want = int(year(lines, 2022).query("cohort == 'ot'").procedures.sum())
    assert answer.intent == "total" and answer.rows[0]["procedures"] == want
    assert f"{want:,}" in answer.text


def test_a_share_of_part_of_the_scope(bot, lines) -> None:
    answer = ask(bot, "what share of PT procedures were medicare in 2022")
    pt = year(lines, 2022).query("cohort == 'pt'")
    part = int(pt.query("payer == 'medicare'").procedures.sum())
    share = 100 * part / int(pt.procedures.sum())
    assert answer.rows[0]["procedures"] == part
    assert answer.rows[0]["share_pct"] == pytest.approx(share, abs=0.005)
    assert f"{share:.1f}%" in answer.text
    assert answer.params["include"]["payers"] == ["medicare"]


def test_exclusions_are_applied_and_said(bot, lines) -> None:
    answer = ask(bot, "top PT codes excluding medicare 2022")
    pt = year(lines, 2022).query("cohort == 'pt' and payer != 'medicare'")
    counts = pt.groupby("hcpcs_code").procedures.sum().sort_values(ascending=False)
    assert answer.rows[0]["code"] == counts.index[0]
    assert answer.rows[0]["procedures"] == counts.iloc[0]
    assert answer.params["exclude"]["payers"] == ["medicare"]
    assert answer.params["payer"] is None  # never the opposite filter
    assert "excluding Medicare" in answer.title


def test_alternatives_are_offered_and_in_the_json(bot) -> None:
    answer = ask(bot, "top PT codes 2021 and 2022")
    assert answer.alternatives and answer.to_json()["alternatives"] == list(answer.alternatives)
    assert any("combined" in a for a in answer.alternatives)


# --------------------------------------------------------------------------- errors, notes


@pytest.mark.parametrize(
    ("question", "error"),
    [
        ("top OT codes 2050", "no_data"),
        ("top OT codes in Narnia", "unknown_place"),
        ("top OT codes for kids", "unsupported_filter"),
        ("how many PT visits for 97110 and 97140 combined in 2022", "unsupported"),
        ("what share of OT was 99999 in 2022", "unknown_code"),
        ("top OT codes excluding the big ones", "ambiguous"),
        ("top OT codes Q5 2022", "bad_period"),
    ],
)
def test_errors_give_a_message_and_no_rows(bot, question: str, error: str) -> None:
    answer = ask(bot, question)
    assert answer.error == error and answer.rows == ()
    assert answer.text and "Traceback" not in answer.text
    assert answer.to_json()["rows"] == []


def test_a_relative_period_with_no_data_offers_the_latest_equivalent(bot) -> None:
    late = Toprank(
        bot.engine,
        catalog=bot.catalog,
        knowledge=bot.knowledge,
        coverage=bot.coverage,
        today=date(2026, 6, 1),
    )
    answer = late.ask("top OT codes last year")
    assert answer.error == "no_data"
    assert "top OT codes 2022" in answer.suggestions


def test_clipped_periods_are_said(bot) -> None:
    answer = ask(bot, "top OT codes 2022 through 2024")
    assert answer.params["end"] == "2022-12-31"
    assert any("The data ends 2022-12-31" in n for n in answer.notes)


def test_internal_error_answer_is_friendly() -> None:
    answer = internal_error_answer("top ot codes", "data")
    assert answer.error == "internal" and answer.rows == ()
    assert "Traceback" not in answer.text


# --------------------------------------------------------------------------- suppression


def _ints(answer: Answer) -> list[int]:
    out = []
    for row in answer.rows:
        for key, value in row.items():
            if key in ("rank", "cohort_rank", "year") or not isinstance(value, int):
                continue
            if isinstance(value, bool):
                continue
            out.append(value)
    return out


SLICES = st.tuples(
    st.sampled_from(["OT", "PT", "SLP", "chiro", "physiatry", "other specialties", "rehab"]),
    st.sampled_from(["", *(f"in {s}" for s in STATES)]),
    st.sampled_from(["", "for medicare", "for medicaid", "excluding commercial"]),
    st.sampled_from(["2021", "2022", "Q1 2022", "June 2021"]),
    st.sampled_from(
        [
            "top 20 {c} codes {s} {p} {y}",
            "{c} procedures by payer {s} {y}",
            "{c} volume by month {s} {p} {y}",
            "how many {c} procedures {s} {p} {y}",
            "{c} procedures by state {p} {y}",
        ]
    ),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(SLICES)
def test_no_suppressed_cell_can_be_worked_out(bot, slice_) -> None:
    cohort, state, payer, period, template = slice_
    question = template.format(c=cohort, s=state, p=payer, y=period)
    answer = ask(bot, question)
    min_cell = bot.min_cell
    # no count of 1-10 in any field of the JSON, nor in the text
    assert not any(0 < v < min_cell for v in _ints(answer)), question
    payload = json.dumps(answer.to_json())
    assert not re.search(r'"(procedures|units|claims|value|total)": ([1-9]|10)\b', payload)
    # where every member of a group is listed and its total stated, one hidden cell
    # alone would be the total minus the rest
    stated = re.search(r"Shares are of all ([\d,]+)", answer.text)
    if stated and answer.rows and answer.params.get("compare_by") is None:
        total = int(stated.group(1).replace(",", ""))
        shown = [r.get("procedures") for r in answer.rows]
        hidden = [v for v in shown if not isinstance(v, int)]
        known = sum(v for v in shown if isinstance(v, int))
        rest = total - known
        if len(hidden) == 1:
            assert not 0 < rest < min_cell, (question, rest)
        if len(hidden) >= 2:
            assert rest not in (len(hidden), (min_cell - 1) * len(hidden)), question


def test_complementary_suppression_hides_the_next_smallest_cell(bot) -> None:
    # In a complete list with its total stated, a single hidden cell would be derivable.
    for question in (
        "top 50 physiatry codes in NY for medicare June 2021",
        "top 50 slp codes in FL for medicaid Q1 2022",
    ):
        answer = ask(bot, question)
        values = [r.get("procedures") for r in answer.rows]
        if any(isinstance(v, str) for v in values):
            assert (
                any(v is None for v in values)
                or sum(1 for v in values if not isinstance(v, int)) >= 2
            )


# --------------------------------------------------------------------------- text


def test_render_text_table_and_sql(bot) -> None:
    answer = ask(bot, "top 3 PT codes 2022")
    text = render_text(answer)
    lines = text.splitlines()
    assert lines[0] == answer.title
    header = next(line for line in lines if line.startswith("Rank"))
    assert "Code" in header and "Share" in header and "Procedures" in header
    assert "Source: fixture" in text and "SELECT" not in text
    with_sql = render_text(answer, show_sql=True)
    assert "SELECT" in with_sql and "cohort=" in with_sql


def test_every_topic_has_its_own_text(knowledge) -> None:
    texts = {topic: ot_vs_pt_text(knowledge, topic) for topic in OT_VS_PT_TOPICS}
    assert len(set(texts.values())) == len(OT_VS_PT_TOPICS)
    assert "pencil" in texts["difference"] and "range of motion" in texts["pt_focus"]
    assert all(code in texts["codes"] for code in ("97110", "97530", "97140"))
    assert ot_vs_pt_text(knowledge, None) == texts["difference"]


def test_knowledge_names_a_missing_section() -> None:
    with pytest.raises(KeyError):
        parse_knowledge({"code_range": {}})


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


def test_did_you_mean_offers_codes_of_the_same_shape(catalog) -> None:
    from bot.answer import nearby_codes

    assert nearby_codes("97111", catalog) == ("97110", "97112", "97113")
    assert nearby_codes("G0284", catalog)[0] == "G0283"
    assert all(c.startswith("G") for c in nearby_codes("G0284", catalog))
    assert nearby_codes("A1234", catalog) == ()  # no A-codes in the dictionary: no guess
