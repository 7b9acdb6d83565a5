"""bot.pipeline end to end on the demo database: text in, Answer out, for each intent.

Figures are checked against the raw claim lines with an independent query, so a
wrong filter, period or denominator anywhere in the chain shows up here.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TODAY
from toprank.bot.pipeline import Toprank, min_cell_from_env
from toprank.data.db import ConfigError
from toprank.sql.engine import DatabaseMissing, validated
from toprank.sql.plan import template_names


@pytest.fixture(scope="module")
def bot(demo_db: Path):
    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.fixture(scope="module")
def raw(demo_db: Path):
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


def raw_shares(raw, where: str, params: list) -> dict[str, float]:
    """Share (%) of each code among claim lines matching `where`, straight from claim_lines."""
    rows = raw.execute(
        f"SELECT hcpcs_code, 100.0 * SUM(procedures) / SUM(SUM(procedures)) OVER () "
        f"FROM claim_lines WHERE {where} GROUP BY hcpcs_code",
        params,
    ).fetchall()
    return {code: share for code, share in rows}


def test_top_codes_match_the_claim_lines(bot: Toprank, raw) -> None:
    answer = bot.ask("top 5 OT codes 2022")
    assert answer.intent == "top_codes" and answer.error is None
    assert answer.params["cohort"] == "ot" and answer.params["n"] == 5
    assert (answer.params["start"], answer.params["end"]) == ("2022-01-01", "2022-12-31")
    expected = raw_shares(
        raw, "cohort = 'ot' AND service_date BETWEEN '2022-01-01' AND '2022-12-31'", []
    )
    ranked = sorted(expected, key=lambda c: (-expected[c], c))[:5]
    assert [r["code"] for r in answer.rows] == ranked
    assert [r["rank"] for r in answer.rows] == [1, 2, 3, 4, 5]
    for row in answer.rows:
        assert row["share_pct"] == pytest.approx(expected[row["code"]], abs=0.005)
    assert answer.title == "Top 5 occupational therapy codes, 2022"
    assert answer.sql and "rollup_national" in answer.sql


def test_top_codes_among_a_set_rank_the_set_with_shares_of_the_cohort(bot: Toprank, raw) -> None:
    answer = bot.ask("top 3 evaluation codes for OT in 2022")
    evaluations = sorted(c.code for c in bot.catalog.codes.values() if c.category == "evaluations")
    assert answer.error is None and answer.params["cohort"] == "ot"
    assert answer.sql and "list_contains" in answer.sql
    shares = raw_shares(
        raw, "cohort = 'ot' AND service_date BETWEEN '2022-01-01' AND '2022-12-31'", []
    )
    cohort_order = sorted(shares, key=lambda c: (-shares[c], c))
    expected = [c for c in cohort_order if c in evaluations][:3]
    assert [r["code"] for r in answer.rows] == expected
    assert [r["rank"] for r in answer.rows] == [1, 2, 3]
    for row in answer.rows:
        assert row["share_pct"] == pytest.approx(shares[row["code"]], abs=0.005)
        assert row["cohort_rank"] == cohort_order.index(row["code"]) + 1
    assert "Ranks are within this set of" in answer.text
    together = sum(shares.get(c, 0.0) for c in evaluations)
    assert f"were {together:.1f}% of OT procedures" in answer.text


def test_an_unknown_place_is_refused_not_silently_dropped(bot: Toprank) -> None:
    answer = bot.ask("top OT codes in Narnia 2022")
    assert answer.error == "unknown_place" and answer.rows == ()
    assert "'Narnia' is not a US state I know" in answer.text


def test_the_all_cohort_reads_as_plain_procedures(bot: Toprank) -> None:
    answer = bot.ask("top codes in Q2 2023")
    assert answer.params["cohort"] == "all"
    assert "all all" not in answer.text and "Shares are of all " in answer.text


def test_state_and_payer_filters_match_the_claim_lines(bot: Toprank, raw) -> None:
    answer = bot.ask("top PT codes in Florida for medicare 2021")
    assert answer.params["state"] == "FL" and answer.params["payer"] == "medicare"
    expected = raw_shares(
        raw,
        "cohort = 'pt' AND state = 'FL' AND payer = 'medicare' "
        "AND service_date BETWEEN '2021-01-01' AND '2021-12-31'",
        [],
    )
    top = answer.rows[0]
    assert top["share_pct"] == pytest.approx(expected[top["code"]], abs=0.005)
    assert "Florida" in answer.title and "Medicare" in answer.title


def test_period_is_clipped_and_said(bot: Toprank) -> None:
    answer = bot.ask("top rehab codes 2023")
    assert answer.params["end"] == "2023-09-30"
    assert answer.period_label == "2023 through September"
    assert "2023 through September" in answer.title


def test_code_share(bot: Toprank, raw) -> None:
    answer = bot.ask("what share of rehab procedures was 97530 in 2023")
    assert answer.intent == "code_share" and answer.params["code"] == "97530"
    asked = next(r for r in answer.rows if r["code"] == "97530")
    expected = raw_shares(
        raw,
        "hcpcs_code BETWEEN '97010' AND '97799' AND service_date BETWEEN '2023-01-01' AND '2023-09-30'",
        [],
    )
    assert asked["share_pct"] == pytest.approx(expected["97530"], abs=0.005)
    assert asked["rank"] == 2
    assert answer.text.startswith("97530")


def test_compare_cohorts(bot: Toprank) -> None:
    answer = bot.ask("compare OT and PT top codes 2021")
    assert answer.intent == "compare" and sorted(answer.params["cohorts"]) == ["ot", "pt"]
    groups = {r["cohort"] for r in answer.rows}
    assert groups == {"ot", "pt"}
    for cohort in groups:
        ranks = [r["rank"] for r in answer.rows if r["cohort"] == cohort]
        assert ranks == list(range(1, len(ranks) + 1))


def test_trend_by_year(bot: Toprank) -> None:
    answer = bot.ask("trend of 97110 for OT")
    assert answer.intent == "trend" and answer.params["code"] == "97110"
    assert [r["year"] for r in answer.rows] == [2019, 2020, 2021, 2022, 2023]
    assert all(0 < r["share_pct"] < 100 for r in answer.rows)
    assert answer.rows[-1]["period"] == "2023 (Jan-Sep)"  # the data ends in September


def test_code_lookup(bot: Toprank) -> None:
    answer = bot.ask("what is 97530")
    assert answer.intent == "code_lookup" and answer.rows[0]["code"] == "97530"
    assert answer.rows[0]["context"]  # where it ranks, from the data
    assert "97530" in answer.text


def test_unknown_code(bot: Toprank) -> None:
    answer = bot.ask("what is 99999")
    assert answer.error == "unknown_code" and answer.rows == ()


def test_code_range(bot: Toprank) -> None:
    answer = bot.ask("which CPT codes are rehab codes")
    assert answer.intent == "code_range" and answer.rows
    assert "97010" in answer.text and "97799" in answer.text


def test_ot_vs_pt_knowledge_and_data(bot: Toprank) -> None:
    answer = bot.ask("what's the difference between OT and PT")
    assert answer.intent == "ot_vs_pt" and answer.error is None
    assert "fine motor" in answer.text
    assert answer.rows and all(
        r["ratio"] is None or r["ot_share_pct"] > r["pt_share_pct"] for r in answer.rows
    )
    # OT evaluations are billed by occupational therapists only.
    assert {"97165", "97166"} & {r["code"] for r in answer.rows}
    # Ordered by the gap in points, so self-care training (about 6% of OT against 2% of
    # PT) leads; the big shared codes (97110, 97140) are not "over-represented".
    gaps = [r["ot_share_pct"] - r["pt_share_pct"] for r in answer.rows]
    assert gaps == sorted(gaps, reverse=True)
    assert answer.rows[0]["code"] == "97535"
    assert not {"97110", "97140"} & {r["code"] for r in answer.rows}


def test_coverage(bot: Toprank) -> None:
    answer = bot.ask("what years does the data cover")
    assert answer.intent == "coverage"
    assert "2019-01-01" in answer.text and "2023-09-30" in answer.text
    assert answer.rows and answer.rows[0]["rows_loaded"] == bot.coverage.claim_lines


def test_help_and_unknown(bot: Toprank) -> None:
    assert bot.ask("/toprank help").intent == "help"
    joke = bot.ask("tell me a joke")
    assert joke.intent in ("unknown", "help") and joke.rows == ()


def test_no_data_says_the_covered_range(bot: Toprank) -> None:
    answer = bot.ask("top OT codes 2050")
    assert answer.error == "no_data" and answer.rows == ()
    assert "2019-01-01" in answer.text and "2023-09-30" in answer.text


def test_too_long(bot: Toprank) -> None:
    answer = bot.ask("top ot codes " * 60)
    assert answer.error == "too_long" and answer.rows == ()
    assert bot.ask("x" * 100_000).error == "too_long"


@pytest.mark.parametrize(
    "text",
    [
        "1; DROP TABLE claim_lines",
        "'; DELETE FROM sources; --",
        "top ot codes 2022'; DROP TABLE rollup_month; --",
        "SELECT * FROM read_csv('/etc/passwd')",
        "",
        "   ",
        "\x00\x01\x02",
        "🙂🙂🙂",
    ],
)
def test_hostile_or_empty_input_changes_nothing(bot: Toprank, raw, text: str) -> None:
    before = raw.execute("SELECT count(*), sum(procedures) FROM claim_lines").fetchone()
    answer = bot.ask(text)
    json.dumps(answer.to_json())
    assert answer.error != "internal"
    assert "Traceback" not in answer.text
    assert raw.execute("SELECT count(*), sum(procedures) FROM claim_lines").fetchone() == before
    if "DROP" in text or "DELETE" in text or "read_csv" in text:
        assert answer.sql is None or text not in answer.sql


def test_internal_errors_become_a_friendly_answer(bot: Toprank, monkeypatch, caplog) -> None:
    def broken(query):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.engine, "records", broken)
    with caplog.at_level(logging.ERROR, logger="toprank"):
        answer = bot.ask("top OT codes 2022")
    assert answer.error == "internal" and answer.rows == ()
    assert answer.intent == "top_codes"
    assert "disk on fire" not in answer.text and "Traceback" not in answer.text
    assert "disk on fire" in caplog.text  # the traceback went to the log


def test_warm_open_checks_the_sql_before_the_first_question(demo_db: Path) -> None:
    validated.cache_clear()
    with Toprank.open(demo_db, today=TODAY, build_if_missing=False, warm=True) as warm:
        checked = validated.cache_info().currsize
        assert checked >= len(template_names())
        answer = warm.ask("top OT codes 2022")
    assert answer.error is None and answer.rows
    assert validated.cache_info().currsize == checked  # nothing new to check


def test_concurrent_questions_share_one_pipeline(bot: Toprank) -> None:
    questions = ["top OT codes 2022", "top PT codes 2021", "what is 97110", "top rehab codes 2023"]
    expected = {q: bot.ask(q).to_json() for q in questions}
    results: list[tuple[str, dict]] = []

    def worker(q: str) -> None:
        results.append((q, bot.ask(q).to_json()))

    threads = [threading.Thread(target=worker, args=(q,)) for q in questions * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(threads)
    for q, got in results:
        assert got == expected[q]


def test_min_cell_from_env() -> None:
    assert min_cell_from_env({}) == 11
    assert min_cell_from_env({"TOPRANK_MIN_CELL": "0"}) == 0
    assert min_cell_from_env({"TOPRANK_MIN_CELL": "25"}) == 25
    # A typo must never switch suppression off or change it silently: refused.
    for bad in ("lots", "-5", "-1", "1.5", "11 cells"):
        with pytest.raises(ConfigError, match="TOPRANK_MIN_CELL"):
            min_cell_from_env({"TOPRANK_MIN_CELL": bad})


def test_small_cells_in_a_thin_slice(bot: Toprank) -> None:
    answer = bot.ask("top 50 PT codes in Wyoming for medicaid 2022")
    assert answer.params["state"] == "WY" and answer.params["payer"] == "medicaid"
    small = [r for r in answer.rows if r.get("suppressed")]
    assert small  # a thin slice: most codes fall under the threshold
    for row in small:
        assert row["procedures"] == "<11" and row["share_pct"] is None


def test_open_refuses_a_missing_database_when_told_not_to_build(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissing):
        Toprank.open(tmp_path / "missing.duckdb", build_if_missing=False)
    assert not (tmp_path / "missing.duckdb").exists()
