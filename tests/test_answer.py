"""bot.answer: the Answer of every shape, run end to end on a small real database
(tests/test_compile.fixture_lines), checked against the lines themselves: the contract's
rows and params, the text, notes and errors, and small-cell suppression that arithmetic
cannot undo."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.test_compile import STATES, fixture_lines, oracle
from tests.test_suppress import reader_options
from toprank.bot.answer import internal_error_answer, ordinal
from toprank.bot.answer_model import Answer
from toprank.bot.chart_kinds import chart_spec
from toprank.bot.export import answer_csv
from toprank.bot.knowledge import OT_VS_PT_TOPICS, load_knowledge, ot_vs_pt_text, parse_knowledge
from toprank.bot.pipeline import Toprank
from toprank.bot.render_blocks import answer_message
from toprank.bot.render_text import render_text
from toprank.data.catalog import load_catalog
from toprank.data.db import create_schema, rebuild_rollups
from toprank.intents.model import MAX_QUESTION_CHARS
from toprank.intents.resolve import resolve
from toprank.sql.engine import DuckDBEngine

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


def test_a_sparse_trend_labels_periods_by_the_coverage_not_by_its_rows(bot, lines) -> None:
    # months without rows in a thin slice are months with no such claims, not missing data
    d = pd.to_datetime(lines.service_date)
    thin = lines[(lines.cohort == "pmr") & (lines.state == "FL") & (lines.payer == "medicare")]
    months = {(t.year, t.month) for t in pd.to_datetime(thin.service_date)}
    assert len(months) < 24 and min(months)[1] > 1 and max(months)[1] < 12  # really sparse
    assert (d.min().month, d.max().month) == (1, 12)  # while the data covers each year
    answer = ask(bot, "physiatry volume by year in FL for medicare")
    assert [r["period"] for r in answer.rows] == ["2021", "2022"]
    assert not any("partly covered" in n for n in answer.notes)


def test_a_city_with_its_state_is_said_as_a_state_filter(bot) -> None:
    answer = ask(bot, "top PT codes in Dallas, TX 2022")
    assert answer.params["state"] == "TX"
    assert any("Dallas" in n and "Texas" in n for n in answer.notes)
    assert not any("no state" in n.lower() for n in answer.notes)


@pytest.mark.parametrize("size", [MAX_QUESTION_CHARS + 1, 100_000, 5_000_000])
def test_a_long_question_is_not_echoed_whole(bot, size: int) -> None:
    question = "top ot codes 2022 " + "x" * size
    answer = bot.ask(question)
    assert answer.error == "too_long"
    assert len(answer.question) <= MAX_QUESTION_CHARS + 1
    assert len(json.dumps(answer.to_json())) < 20 * MAX_QUESTION_CHARS


def test_internal_error_answer_is_friendly() -> None:
    answer = internal_error_answer("top ot codes", "data")
    assert answer.error == "internal" and answer.rows == ()
    assert "Traceback" not in answer.text


# --------------------------------------------------------------------------- suppression


NOT_COUNTS = {"rank", "cohort_rank", "year", "month", "quarter", "part"}
COUNT_WORDS = r"(?:procedures|units|claims|visits)"
# where a count stands in prose and tables: "(2,314)", "27 of 155", "of all 3,766",
# "12 procedures", and a right-aligned table cell before the description
COUNT_PATTERNS = (
    re.compile(r"\((\d[\d,]*)\)"),
    re.compile(r"\b(\d[\d,]*) of (\d[\d,]*)\b"),
    re.compile(r"of all (\d[\d,]*)"),
    re.compile(rf"\b(\d[\d,]*) {COUNT_WORDS}\b"),
    re.compile(r"(?m)%\s+(\d[\d,]*)\s\s"),
)


def _counts_in_rows(rows: list[dict[str, str | int | float | None]]) -> list[int]:
    out = []
    for row in rows:
        for key, value in row.items():
            if key in NOT_COUNTS or key.endswith("_pct") or isinstance(value, bool):
                continue
            is_count = isinstance(value, int) or (isinstance(value, str) and value.isdigit())
            if is_count and key not in ("code", "place_of_service"):
                out.append(int(value))
    return out


def _counts_in_prose(text: str) -> list[int]:
    out = []
    for pattern in COUNT_PATTERNS:
        for match in pattern.finditer(text):
            out.extend(int(g.replace(",", "")) for g in match.groups() if g)
    return out


def surfaces(answer: Answer) -> dict[str, list[int]]:
    """Every count each surface shows: the JSON rows, the CSV, the text, the Slack
    message, the chart's printed figures."""
    payload = answer.to_json()
    csv_rows = list(csv.DictReader(io.StringIO(answer_csv(answer))))
    message = answer_message(answer)
    prose = [
        block["text"]["text"] if "text" in block and isinstance(block["text"], dict) else ""
        for block in message["blocks"]
    ] + [
        element.get("text", "") if isinstance(element.get("text"), str) else ""
        for block in message["blocks"]
        for element in block.get("elements", [])
    ]
    out = {
        "json": _counts_in_rows(payload["rows"]),
        "csv": _counts_in_rows(csv_rows),  # type: ignore[arg-type]
        "json text": _counts_in_prose("\n".join([payload["text"], *payload.get("notes", [])])),
        "text": _counts_in_prose(render_text(answer)),
        "slack": _counts_in_prose("\n".join([message["text"], *prose])),
    }
    try:
        figures = chart_spec(answer).figures()
        out["chart"] = [int(f.replace(",", "")) for f in figures if f.replace(",", "").isdigit()]
    except ValueError:
        out["chart"] = []
    return out


SLICES = st.tuples(
    st.sampled_from(["OT", "PT", "SLP", "chiro", "physiatry", "other specialties", "rehab"]),
    st.sampled_from(["", *(f"in {s}" for s in STATES)]),
    st.sampled_from(["", "for medicare", "for medicaid", "excluding commercial"]),
    st.sampled_from(["2021", "2022", "Q1 2022", "June 2021"]),
    st.sampled_from(
        [
            "top 20 {c} codes {s} {p} {y}",
            "top 3 {c} codes {s} {p} {y}",
            "{c} procedures by payer {s} {y}",
            "{c} volume by month {s} {p} {y}",
            "how many {c} procedures {s} {p} {y}",
            "{c} procedures by state {p} {y}",
            "how many {c} procedures were 97110 {s} {p} {y}",
            "97140 {c} procedures by month {s} {p} {y}",
        ]
    ),
)


def _reader_can_pin(values: list[Any], shown: list[Any], total: int, complete: bool) -> bool:
    """Brute force: does some hidden small cell, or the rest of the group, have only one
    value that fits what is shown (a ranking's order included)?"""
    if 0 < total - sum(v for v in shown if isinstance(v, int)) < 11:
        return True
    size = 1
    for v in shown:
        size *= 10 if v == "<11" else 1 if isinstance(v, int) else total
    if size > 200_000:
        return False  # too many ways to try here (tests/test_suppress.py covers the rule)
    options, rests = reader_options(shown, total, complete, ordered=True)
    hidden = [v for v in shown if not isinstance(v, int)]
    return any(len(o) == 1 for o, v in zip(options, hidden, strict=True) if v == "<11") or (
        len(rests) == 1 and 0 < min(rests) < 11
    )


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@pytest.mark.slow  # a process or a full build
@given(SLICES)
def test_no_suppressed_cell_can_be_worked_out(bot, lines, slice_) -> None:
    cohort, state, payer, period, template = slice_
    question = " ".join(template.format(c=cohort, s=state, p=payer, y=period).split())
    answer = ask(bot, question)
    assert bot.min_cell == 11
    # no count of 1-10 on any surface
    for surface, counts in surfaces(answer).items():
        assert not [v for v in counts if 0 < v < 11], (question, surface, counts)
    # the cells of the answer, from the lines themselves
    if answer.error or answer.shape is None:
        return
    spec = bot.understand(question)
    cells = oracle(lines, resolve(spec, bot.engine.coverage()))
    family = answer.shape.split(":")[0]
    measure = spec.measure
    if family in ("ranked", "breakdown"):
        key = "code" if family == "ranked" else spec.group_by
        truth = {str(group): value for _, group, value, _ in cells}
        total = cells[0][3]
        rows = sorted(answer.rows, key=lambda r: r["rank"])
        shown = [r[measure] for r in rows]
        values = [truth[str(r[key])] for r in rows]
        for raw, seen in zip(values, shown, strict=True):
            assert seen in (raw, "<11", None), question  # what is shown is true
        if total >= 11:
            complete = len(rows) == len(truth)
            assert not _reader_can_pin(values, shown, total, complete), (question, shown, total)
    elif family in ("total", "time") and (spec.codes or spec.exclude_codes):
        for row, (_, _, value, total) in zip(answer.rows, cells, strict=True):
            seen = row[measure]
            assert seen in (value, "<11", None), question
            if isinstance(seen, int) and total >= 11:
                assert not 0 < total - seen < 11, (question, seen, total)  # the rest of the scope


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
    from toprank.bot.answer import nearby_codes

    assert nearby_codes("97111", catalog) == ("97110", "97112", "97113")
    assert nearby_codes("G0284", catalog)[0] == "G0283"
    assert all(c.startswith("G") for c in nearby_codes("G0284", catalog))
    assert nearby_codes("A1234", catalog) == ()  # no A-codes in the dictionary: no guess


@pytest.mark.parametrize(
    "question",
    [
        "PT procedures 2022 vs 2021",
        "PT procedures 2021 vs 2022",
        "how many PT procedures in 2022 compared to 2021",
    ],
)
def test_a_change_between_two_years_runs_from_the_earlier_to_the_later(
    bot, lines, question
) -> None:
    """Whatever order the question names the years in, the change is the later year's
    figure minus the earlier's, as a share of the earlier (the oracle: the lines)."""
    answer = ask(bot, question)
    pt = lines.query("cohort == 'pt'")
    earlier, later = (int(year(pt, y).procedures.sum()) for y in (2021, 2022))
    assert earlier != later
    expected = f"Change from 2021 to 2022: {later - earlier:+,} ({100 * (later - earlier) / earlier:+.1f}%)."
    assert expected in answer.summary, answer.summary


def test_two_cohorts_are_a_difference_not_a_change(bot, lines) -> None:
    answer = ask(bot, "OT vs PT procedures 2022")
    by = year(lines, 2022).groupby("cohort").procedures.sum()
    ot, pt = int(by["ot"]), int(by["pt"])
    expected = f"Difference, PT minus OT: {pt - ot:+,} ({100 * (pt - ot) / ot:+.1f}% of OT)."
    assert expected in answer.summary, answer.summary
    assert not any(line.startswith("Change") for line in answer.summary)


def test_a_change_between_periods_of_different_length_says_so(bot, lines) -> None:
    answer = ask(bot, "PT procedures Q1 2022 vs 2021")
    pt = lines.query("cohort == 'pt'")
    d = pd.to_datetime(pt.service_date)
    q1 = int(pt[(d.dt.year == 2022) & (d.dt.month <= 3)].procedures.sum())
    whole = int(year(pt, 2021).procedures.sum())
    assert f"Q1 2022: {q1} PT procedures." in answer.summary  # none there: 0, not left out
    (line,) = [s for s in answer.summary if s.startswith("Change")]
    assert line.startswith(
        f"Change from 2021 to Q1 2022: {q1 - whole:+,} ({100 * (q1 - whole) / whole:+.1f}%)"
    ), line
    assert "different length (12 months and 3 months): not a like-for-like change" in line
