"""Block Kit rendering (pure): every intent's real answer, and the limits at their edges.

Real answers come from the real core on the demo database; the edge cases (hundreds of
rows, huge texts, hostile text) are Answers built here, since the renderer must survive
what no real question produces today.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.blockkit import check_message
from tests.conftest import TODAY
from toprank.bot.answer_model import Answer, Provenance
from toprank.bot.chart import PNG_SIGNATURE, chart_png
from toprank.bot.chart_kinds import has_chart
from toprank.bot.export import answer_csv, file_stem
from toprank.bot.render_blocks import (
    ACTION_CHART,
    ACTION_CSV,
    ACTION_SHARE,
    ACTION_SHOW_SQL,
    EXAMPLE_QUESTIONS,
    EXAMPLE_SLASH_COMMANDS,
    MAX_BUTTON_VALUE,
    MAX_HOME_BLOCKS,
    MAX_MESSAGE_BLOCKS,
    MAX_TABLE_LINE,
    answer_message,
    failure_message,
    home_view,
    sql_message,
    summary_text,
)

QUESTIONS = {
    "top_codes": "/toprank ot 2022",
    "code_share": "what share of OT procedures was 97530 in 2022?",
    "compare": "/toprank compare ot pt 2022",
    "trend": "/toprank trend 97112 rehab",
    "code_lookup": "what is 97140?",
    "code_range": "what codes are in the rehab range?",
    "ot_vs_pt": "how do OT and PT differ?",
    "coverage": "what data do you have?",
    "help": "/toprank help",
    "unknown": "what's the weather in paris tomorrow",
}


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.fixture(scope="module")
def answers(toprank) -> dict[str, Answer]:
    return {kind: toprank.ask(question) for kind, question in QUESTIONS.items()}


def validate(message: dict[str, Any], max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[dict]:
    """Every block parses with slack_sdk's models, validates, and stays within limits."""
    return check_message(message, max_blocks)


def code_lines(blocks: list[dict]) -> list[list[str]]:
    """The rows of the table block (cell texts), without its header row."""
    for b in blocks:
        if b["type"] == "table":
            return [[cell["text"] for cell in row] for row in b["rows"][1:]]
    return []


def action_ids(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


# --------------------------------------------------------------------------- every intent


def test_every_intent_was_exercised(answers: dict[str, Answer]) -> None:
    assert {kind: a.intent for kind, a in answers.items()} == {k: k for k in QUESTIONS}


@pytest.mark.parametrize("kind", list(QUESTIONS))
def test_each_intent_renders_within_limits(answers: dict[str, Answer], kind: str) -> None:
    answer = answers[kind]
    for shareable in (False, True):
        blocks = validate(answer_message(answer, shareable=shareable))
        ids = action_ids(blocks)
        assert (ACTION_SHARE in ids) == (shareable and bool(ids))
    if answer.sql:
        validate(sql_message(answer))


@pytest.mark.parametrize("kind", ["top_codes", "code_share", "compare", "trend", "ot_vs_pt"])
def test_data_answers_show_every_row_once_in_the_table(answers, kind: str) -> None:
    answer = answers[kind]
    blocks = validate(answer_message(answer, shareable=True))
    lines = code_lines(blocks)
    assert len(lines) == len(answer.rows)
    for line, row in zip(lines, answer.rows, strict=True):
        if row.get("code") and kind != "trend":
            assert row["code"] in line
        if isinstance(row.get("share_pct"), float) and kind != "ot_vs_pt":
            assert f"{row['share_pct']:.1f}%" in line
    # The sentences above the table do not repeat the rows.
    summary = summary_text(answer)
    for row in answer.rows:
        if row.get("rank") and row.get("code"):
            assert f"{row['rank']}. {row['code']}" not in summary
    assert set(action_ids(blocks)) == {ACTION_SHOW_SQL, ACTION_CHART, ACTION_CSV, ACTION_SHARE}


def test_top_codes_header_resolution_and_source(answers: dict[str, Answer], catalog) -> None:
    answer = answers["top_codes"]
    names = {key: info.name for key, info in catalog.cohorts.items()}
    blocks = validate(answer_message(answer, cohort_names=names))
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == answer.title
    contexts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any("*Cohort:* Occupational therapy" in c and "*Period:* 2022" in c for c in contexts)
    assert any(answer.provenance.sources[0] in c and "claim lines" in c for c in contexts)
    first = code_lines(blocks)[0]
    assert first[:2] == ["1", "97110"]


def test_code_share_marks_the_asked_code(answers: dict[str, Answer]) -> None:
    lines = code_lines(answer_message(answers["code_share"])["blocks"])
    marked = [row for row in lines if row[0].startswith("▶")]
    assert len(marked) == 1 and "97530" in marked[0]


@pytest.mark.parametrize("kind", ["ot_vs_pt", "code_range", "code_lookup", "coverage"])
def test_knowledge_answers_render_their_text(answers: dict[str, Answer], kind: str) -> None:
    answer = answers[kind]
    blocks = validate(answer_message(answer))
    sections = " ".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    # Every sentence of the knowledge text that is not a row restatement is shown.
    for line in summary_text(answer).split("\n"):
        words = line.strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert words[:60] in sections


def test_ot_vs_pt_says_how_the_professions_differ(answers: dict[str, Answer]) -> None:
    blocks = answer_message(answers["ot_vs_pt"])["blocks"]
    text = " ".join(b["text"]["text"] for b in blocks if b["type"] == "section").lower()
    assert "fine motor" in text and "gross motor" in text
    assert code_lines(blocks)  # with the data rows


def test_help_lists_slash_forms_and_examples(answers: dict[str, Answer]) -> None:
    blocks = validate(answer_message(answers["help"]))
    text = json.dumps(blocks)
    for form in ("/toprank ot 2022", "/toprank rehab 2023 15", "/toprank trend 97112 rehab"):
        assert form in text
    assert action_ids(blocks) == []


def test_unknown_gets_suggestions_and_no_buttons(answers: dict[str, Answer]) -> None:
    answer = answers["unknown"]
    blocks = validate(answer_message(answer, shareable=True))
    text = json.dumps(blocks)
    assert answer.suggestions and all(s[:20] in text for s in answer.suggestions)
    assert action_ids(blocks) == []


def test_error_answers_explain_and_suggest(toprank) -> None:
    for question in ("ot 2015", "x" * 600, "what is 99999", "top ot codes q5 2022"):
        answer = toprank.ask(question)
        assert answer.error or answer.intent == "unknown", question
        message = answer_message(answer, shareable=True)
        blocks = validate(message)
        assert action_ids(blocks) == []
        assert "Try" in json.dumps(blocks)


def test_sql_message_shows_the_template_and_bound_values(answers: dict[str, Answer]) -> None:
    answer = answers["top_codes"]
    blocks = validate(sql_message(answer))
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "$cohort" in text and "$start" in text
    assert "$cohort = 'ot'" in text
    assert "$start = '2022-01-01'" in text or "$start = DATE '2022-01-01'" in text


def test_answers_without_sql_say_so(answers: dict[str, Answer]) -> None:
    message = sql_message(answers["help"])
    assert "did not run a query" in message["text"]


# --------------------------------------------------------------------------- limits


def big_answer(rows: int, description: str = "Therapeutic exercises") -> Answer:
    return Answer(
        question="/toprank rehab 2022",
        intent="top_codes",
        params={"cohort": "rehab", "start": "2022-01-01", "end": "2022-12-31", "n": rows},
        rows=tuple(
            {
                "rank": i,
                "code": f"{97000 + i:05d}",
                "description": description,
                "share_pct": round(100 / rows, 2),
                "procedures": 1_000_000 - i,
            }
            for i in range(1, rows + 1)
        ),
        text="Top codes\nShares are of all procedures in the period.",
        sql="SELECT 1",
        title="Top codes",
        period_label="2022",
        provenance=Provenance(("demo",), "2019-01-01", "2023-09-30", 10, 20),
    )


def test_fifty_rows_fit_in_one_message() -> None:
    answer = big_answer(50, description="A fairly long description of a procedure code")
    blocks = validate(answer_message(answer, shareable=True))
    lines = code_lines(blocks)
    assert len(lines) == 50
    assert "rows; *CSV* has them all" not in json.dumps(blocks)


def test_hundreds_of_rows_are_cut_with_a_pointer_to_the_csv() -> None:
    answer = big_answer(400)
    blocks = validate(answer_message(answer, shareable=True))
    shown = len(code_lines(blocks))
    assert 0 < shown < 400
    more = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert shown == 99  # a table block holds 100 rows, its header included
    assert any(f"Showing {shown:,} of 400 rows" in m and "CSV" in m for m in more)
    assert action_ids(blocks)[-1] == ACTION_SHARE  # buttons survive the cut
    # The CSV still has every row.
    assert len(list(csv.DictReader(io.StringIO(answer_csv(answer))))) == 400


def test_escaping_cannot_push_a_table_over_the_section_limit() -> None:
    answer = big_answer(50, description="&" * 60)  # each "&" is sent as "&amp;"
    blocks = validate(answer_message(answer))
    assert len(code_lines(blocks)) == 50


def test_huge_text_title_and_descriptions_are_clipped() -> None:
    long_text = "\n".join(f"Sentence {i} " + "word " * 60 for i in range(200))
    answer = dataclasses.replace(
        big_answer(20, description="d" * 500),
        intent="ot_vs_pt",
        title="T" * 400,
        text="Title\n" + long_text + "\n" + "x" * 7000,
    )
    blocks = validate(answer_message(answer))
    assert blocks[0]["text"]["text"].endswith("…")
    assert all(len(cell) <= 200 for row in code_lines(blocks) for cell in row)
    assert code_lines(blocks)  # the table is still there after the long text
    # the fallback text's monospace table keeps its lines short
    fallback = answer_message(answer)["text"].split("```")[1].strip("\n").split("\n")
    assert fallback and all(len(line) <= MAX_TABLE_LINE for line in fallback)


def test_oversized_question_gets_no_buttons() -> None:
    answer = dataclasses.replace(big_answer(3), question="q" * (MAX_BUTTON_VALUE + 1))
    assert action_ids(answer_message(answer, shareable=True)["blocks"]) == []


def test_user_text_cannot_ping_or_break_out() -> None:
    answer = dataclasses.replace(
        big_answer(2, description="evil ``` <!channel> & co"),
        question="<!channel> <@U123> top codes ```",
    )
    message = answer_message(answer)
    for block in message["blocks"]:
        for element in block.get("elements", []):
            element.pop("value", None)  # button values are data, never displayed
    text = json.dumps(message)
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt;" in text and "&amp; co" in text
    assert message["text"].count("```") == 2  # the fallback's table cannot be broken out of


def test_small_cells_show_as_under_eleven_without_share() -> None:
    answer = dataclasses.replace(
        big_answer(2),
        rows=(
            {"rank": 1, "code": "97110", "description": "X", "share_pct": 99.9, "procedures": 999},
            {
                "rank": 2,
                "code": "97799",
                "description": "Y",
                "share_pct": None,
                "procedures": "<11",
            },
        ),
    )
    lines = code_lines(answer_message(answer)["blocks"])
    assert "<11" in lines[1] and "—" in lines[1]  # plain text cells: shown as is


def test_home_view_within_limits(toprank) -> None:
    view = home_view(toprank.coverage)
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_HOME_BLOCKS
    for raw in view["blocks"]:
        Block.parse(raw).validate_json()
    assert toprank.coverage.end.isoformat() in json.dumps(view)
    assert "No data is loaded" in json.dumps(home_view(None))


def test_failure_message_is_friendly_and_valid() -> None:
    message = failure_message()
    validate(message)
    assert "went wrong" in message["text"]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("kind", ["top_codes", "compare", "trend", "ot_vs_pt", "code_share"])
def test_charts_are_png(answers: dict[str, Answer], kind: str) -> None:
    png = chart_png(answers[kind])
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000


def test_nothing_to_chart_is_a_value_error(answers: dict[str, Answer]) -> None:
    with pytest.raises(ValueError):
        chart_png(answers["help"])


def test_csv_matches_the_rows(answers: dict[str, Answer]) -> None:
    answer = answers["compare"]
    records = list(csv.DictReader(io.StringIO(answer_csv(answer))))
    assert len(records) == len(answer.rows)
    assert [r["code"] for r in records] == [row["code"] for row in answer.rows]
    assert [r["cohort"] for r in records] == [row["cohort"] for row in answer.rows]
    assert file_stem(answer) == "toprank-compare-ot-pt-2022"


@pytest.mark.parametrize("question", [*EXAMPLE_QUESTIONS, *EXAMPLE_SLASH_COMMANDS])
def test_every_advertised_example_is_answered(toprank, question: str) -> None:
    """The examples on the App Home tab and in the usage text really work."""
    answer = toprank.ask(question)
    assert answer.error is None and answer.intent != "unknown", (question, answer.text)


def _dev_questions() -> list[str]:
    from pathlib import Path

    out = []
    for name in ("questions_v2.jsonl", "questions_v2_heldout.jsonl"):
        for line in (Path(__file__).parent / "data" / name).read_text().splitlines():
            item = json.loads(line)
            out.extend([item["q"]] if "q" in item else item["turns"][:1])
    return out


def test_every_shape_of_the_dev_sets_renders_within_block_kit_limits(toprank) -> None:
    """Every question of the v2 development sets: blocks that Slack accepts, a chart
    where there are numbers, a CSV with every row."""
    from toprank.bot.controls import menus_for

    shapes = set()
    for question in _dev_questions():
        answer = toprank.ask(question)
        shapes.add(answer.intent)
        validate(answer_message(answer, shareable=True))
        # with the refine menus and an answer id on the buttons, as Slack gets it
        menus = menus_for("0123456789abcdef", answer, toprank.coverage, toprank.catalog)
        validate(
            answer_message(answer, shareable=True, menus=menus, button_value="@0123456789abcdef")
        )
        rows = list(csv.DictReader(io.StringIO(answer_csv(answer))))
        assert len(rows) == len(answer.rows)
        if has_chart(answer):
            assert chart_png(answer).startswith(PNG_SIGNATURE)
    assert {"top_codes", "code_share", "compare", "trend", "total", "breakdown", "movers"} <= shapes
