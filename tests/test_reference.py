"""One source of truth: the data files (data/cohorts.yaml, payers.yaml, examples.yaml,
taxonomy.csv, provider_types.csv) and the code that names cohorts, payers, example
questions and the small-cell limit agree, and the claims data holds nothing else.

The oracles are the files themselves (read here with yaml and csv, not through toprank's
loaders) and SQL over `claim_lines`.
"""

from __future__ import annotations

import ast
import csv
import typing
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import TODAY
from toprank.bot import cli_ask, controls, render_blocks
from toprank.bot.chart_kinds import no_chart_reason
from toprank.bot.columns import write
from toprank.bot.knowledge import load_knowledge
from toprank.bot.suppress import DEFAULT_MIN_CELL
from toprank.data import cli as data_cli
from toprank.data import demo
from toprank.data.catalog import cohort_labels
from toprank.data.examples import load_examples
from toprank.data.vocab import load_vocab
from toprank.intents import phrase
from toprank.intents.model import Cohort, Coverage, Payer
from toprank.sql.compile import PROVIDER_COHORTS

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
# The packages whose code might name a cohort, a payer, an example or the limit.
SOURCES = ("bot", "intents", "sql", "data")


def _yaml(name: str) -> dict:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def _csv_column(name: str, column: str) -> set[str]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return {row[column] for row in csv.DictReader(f)}


def _string_constants(skip_docstrings: bool = True) -> list[tuple[str, str]]:
    """(file, text) of every string literal in the packages' code, docstrings left out."""
    out = []
    for package in SOURCES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = set()
            if skip_docstrings:
                for node in ast.walk(tree):
                    body = getattr(node, "body", None)
                    if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                        docstrings.add(id(body[0].value))
            out.extend(
                (str(path.relative_to(REPO)), node.value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            )
    return out


# --------------------------------------------------------------------------- cohorts


def test_cohort_keys_agree_with_cohorts_yaml(catalog) -> None:
    cohorts = _yaml("cohorts.yaml")
    keys = list(cohorts)
    providers = {k for k, v in cohorts.items() if v["kind"] == "provider"}
    assert list(catalog.cohorts) == keys
    assert set(typing.get_args(Cohort)) == set(keys)
    assert set(PROVIDER_COHORTS) == providers == set(catalog.provider_cohorts)
    assert set(demo.COHORTS) == providers  # the demo generates every provider cohort
    assert set(data_cli.COHORT_ORDER) == set(keys)
    # The specialty maps send providers only to provider cohorts.
    assert _csv_column("taxonomy.csv", "cohort") <= providers
    assert _csv_column("provider_types.csv", "cohort") <= providers
    # Every cohort has its phrasing, its short label and a place in the menus.
    assert set(load_knowledge().cohort_phrases) == set(keys)
    assert {k: write("cohort", k) for k in keys} == {k: v["label"] for k, v in cohorts.items()}
    assert dict(cohort_labels()) == {k: v["label"] for k, v in cohorts.items()}
    assert controls.choices_for(None, catalog).cohorts == tuple(keys)
    # The words a spec is phrased back with are the file's own synonyms.
    assert set(phrase._COHORT_WORDS) == set(keys)
    for key, word in phrase._COHORT_WORDS.items():
        assert word.lower() in [s.lower() for s in cohorts[key]["synonyms"]] + [key], key


def test_payer_keys_agree_with_payers_yaml(catalog) -> None:
    payers = _yaml("payers.yaml")
    keys = list(payers)
    assert list(catalog.payer_names) == keys
    assert set(typing.get_args(Payer)) == set(keys)
    assert tuple(demo.PAYERS) == tuple(keys)
    assert set(controls.choices_for(None, catalog).payers) == set(keys)
    assert set(phrase._PAYER_WORDS) == set(keys)
    for key, word in phrase._PAYER_WORDS.items():
        assert word in [s.lower() for s in payers[key]["synonyms"]], key


def test_the_claims_data_holds_only_known_cohorts_and_payers(demo_db: Path) -> None:
    cohorts = _yaml("cohorts.yaml")
    providers = {k for k, v in cohorts.items() if v["kind"] == "provider"}
    with duckdb.connect(str(demo_db), read_only=True) as con:
        held_cohorts = {c for (c,) in con.sql("SELECT DISTINCT cohort FROM claim_lines").fetchall()}
        held_payers = {p for (p,) in con.sql("SELECT DISTINCT payer FROM claim_lines").fetchall()}
    assert held_cohorts == providers  # the demo has every provider cohort, and no other
    assert held_payers == set(_yaml("payers.yaml"))


# --------------------------------------------------------------------------- examples


def test_every_surface_shows_the_examples_of_examples_yaml() -> None:
    raw = _yaml("examples.yaml")
    questions, slash = tuple(raw["questions"]), tuple(raw["slash_commands"])
    assert load_examples().questions == questions
    assert questions == render_blocks.EXAMPLE_QUESTIONS
    assert slash == render_blocks.EXAMPLE_SLASH_COMMANDS
    assert load_knowledge().help_examples == questions
    assert load_vocab().examples == questions  # the parser's suggestions
    assert questions[: len(cli_ask.BANNER_EXAMPLES)] == cli_ask.BANNER_EXAMPLES
    assert all(s.startswith("/toprank") for s in slash)
    # No module keeps a copy of its own.
    copies = [(f, s) for f, s in _string_constants() if s in questions or s in slash]
    assert copies == []


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.mark.parametrize("question", load_examples().questions + load_examples().slash_commands)
def test_every_example_is_answered(toprank, question: str) -> None:
    answer = toprank.ask(question)
    assert answer.error is None and answer.intent != "unknown", (question, answer.text)


# --------------------------------------------------------------------------- small cells


def test_no_module_writes_the_small_cell_limit_itself() -> None:
    """The limit is bot.suppress.DEFAULT_MIN_CELL or TOPRANK_MIN_CELL; every text that
    says it takes the number from the answer (provenance.min_cell) or the core."""
    limit = str(DEFAULT_MIN_CELL)
    said = [
        (f, s)
        for f, s in _string_constants()
        if f"<{limit}" in s or f"&lt;{limit}" in s or f"under {limit}" in s
    ]
    assert said == []


COVERAGE = Coverage(
    start=TODAY.replace(year=2019, month=1, day=1),
    end=TODAY.replace(year=2023, month=9, day=30),
    sources=("demo",),
    claim_lines=10,
    procedures=10,
)


def _home_text(min_cell: int) -> str:
    view = render_blocks.home_view(COVERAGE, min_cell)
    return " ".join(
        e.get("text", "") for b in view["blocks"] if b["type"] == "context" for e in b["elements"]
    )


def test_the_app_home_says_the_limit_in_force() -> None:
    assert "Counts under 11 are shown as &lt;11." in _home_text(11)
    assert "Counts under 25 are shown as &lt;25." in _home_text(25)
    assert "11" not in _home_text(25)
    assert "suppression is off" in _home_text(0)


def test_the_app_home_names_every_cohort_by_its_label() -> None:
    view = render_blocks.home_view(COVERAGE)
    intro = view["blocks"][1]["text"]["text"]
    for key, info in _yaml("cohorts.yaml").items():
        assert info["label"].replace("&", "&amp;") in intro, key


def test_answers_carry_the_limit_they_were_built_under(toprank, monkeypatch) -> None:
    monkeypatch.setattr(toprank, "min_cell", 200_000)  # as TOPRANK_MIN_CELL=200000 does
    answer = toprank.ask("top 3 chiro codes in Vermont 2022")
    assert answer.provenance.min_cell == 200_000
    assert answer.to_json()["provenance"]["min_cell"] == 200_000
    hidden = [r for r in answer.rows if r.get("procedures") == "<200000"]
    assert hidden and len(hidden) == len(answer.rows)
    assert any("<200000" in note for note in answer.notes)
    assert no_chart_reason(answer) == "every figure in the answer is hidden (counts under 200000)"
