"""The column registry (bot/columns.py): one way to write each kind of value, one
plain-text table, and every surface printing a figure the same way."""

from __future__ import annotations

import pytest

from tests.conftest import TODAY
from toprank.bot.columns import (
    COLUMNS,
    FLAGS,
    KINDS,
    MISSING,
    column,
    table_columns,
    text_table,
    write,
)
from toprank.bot.render_blocks import answer_message, table_lines
from toprank.bot.render_text import render_text

# Questions of every answer family: ranked, total, breakdown, time, movers, OT vs PT,
# lookups, the code range and coverage.
QUESTIONS = (
    "top rehab codes in 2023",
    "what share of OT procedures was 97530 in 2022?",
    "compare OT and PT 2022",
    "trend of 97112 in rehab",
    "PT procedures by state 2022",
    "OT procedures by payer 2022",
    "rehab procedures by quarter 2022",
    "how many OT procedures in 2022",
    "share of medicare in PT 2022",
    "which codes rose the most in OT from 2021 to 2022",
    "top 10 pmr codes 2020 by units",
    "top 10 ot codes 2022 by visits",
    "top code in each state for PT 2022",
    "how do OT and PT differ?",
    "what is 97530 and 97110",
    "what codes are in the 97010-97799 range?",
    "what are the therapeutic procedures codes",
    "what data do you have?",
)


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


def test_each_kind_writes_its_values_one_way() -> None:
    assert write("procedures", 94964) == "94,964"
    assert write("procedures", "<11") == "<11"
    assert write("procedures", None) == MISSING
    assert write("share_pct", 47.6123) == "47.6%"
    assert write("ratio", 1.5) == "1.5x"
    assert write("change_pts", 0.25) == "+0.25" and write("change_pts", -1.5) == "-1.50"
    assert write("payments", 1234.5) == "$1,234.50" and write("charges", -3) == "-$3.00"
    assert write("year", 2022) == "2022" and write("rank", 3) == "3"
    assert write("cohort", "ot") == "OT" and write("cohort", "pmr") == "PM&R"
    assert write("description", "  two   spaces ") == "two spaces"


def test_a_key_outside_the_registry_gets_a_kind_from_its_name() -> None:
    assert column("payments_before").kind == "money"
    assert column("payments_before").label == "Payments before"
    assert column("slp_share_pct").kind == "share" and column("slp_share_pct").label == "SLP share"
    assert column("something_new").kind == "text"


def test_the_text_table_aligns_clips_marks_and_groups() -> None:
    rows = [
        {"cohort": "ot", "rank": 1, "code": "97110", "procedures": 7938, "asked": True},
        {"cohort": "ot", "rank": 2, "code": "97140", "procedures": "<11"},
        {"cohort": "pt", "rank": 1, "code": "97110", "procedures": None},
    ]
    rows = [{**r, "description": "Therapeutic exercises and more"} for r in rows]
    lines = text_table(
        rows, table_columns(rows), max_line=40, mark="▶", grouped=True, min_description=5
    )
    assert lines == [
        "Cohort  Rank  Code   Procedures  Descri…",
        "OT        ▶1  97110       7,938  Therap…",
        "OT         2  97140         <11  Therap…",
        "",
        "PT         1  97110           —  Therap…",
    ]
    # Too little room for a useful description: the column goes.
    narrow = text_table(rows, table_columns(rows), max_line=36, min_description=10)
    assert narrow[0] == "Cohort  Rank  Code   Procedures"


def test_every_key_an_answer_row_carries_is_a_registered_column(toprank) -> None:
    """A new measure or group key is one entry in bot.columns.COLUMNS, never a guess."""
    for question in QUESTIONS:
        answer = toprank.ask(question)
        assert answer.error is None and answer.rows, question
        keys = {k for row in answer.rows for k in row}
        assert keys - set(COLUMNS) - FLAGS - {"context"} == set(), question
        assert {c.kind for c in answer.table.columns} <= set(KINDS)


def test_a_ratio_prints_the_same_on_every_surface(toprank) -> None:
    answer = toprank.ask("how do OT and PT differ?")
    ratios = [r["ratio"] for r in answer.rows if isinstance(r.get("ratio"), float)]
    assert ratios
    text = render_text(answer)
    message = answer_message(answer)
    cells = [
        cell["text"]
        for block in message["blocks"]
        if block["type"] == "table"
        for row in block["rows"]
        for cell in row
    ]
    monospace = "\n".join(table_lines(answer))
    for ratio in ratios:
        said = f"{ratio:.1f}x"  # the documented form: one decimal and an "x"
        assert said in answer.text and said in text and said in cells and said in monospace


def test_a_share_prints_the_same_on_every_surface(toprank) -> None:
    answer = toprank.ask("top rehab codes in 2023")
    text = render_text(answer)
    message = answer_message(answer)
    for row in answer.rows[:5]:
        said = f"{row['share_pct']:.1f}%"
        count = f"{row['procedures']:,}"
        assert said in text and said in message["text"] and said in answer.text
        assert count in text and count in message["text"]
