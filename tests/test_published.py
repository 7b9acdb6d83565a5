"""The published tables, reproduced END TO END: `toprank ask --json -` on the demo DB.

Expected values come from tests/data/published_rankings.csv (a copy of the published
figures), never from this file; the questions go through the real console entry point
in one batch process, exactly as the scorer sends them.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PUBLISHED = DATA / "published_rankings.csv"
QUESTIONS = REPO / "bot" / "bench" / "questions.jsonl"
MIN_DEV_SET_ACCURACY = 95.0


def ask_batch(db: Path, questions: list[str]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOPRANK_DB": str(db)}
    proc = subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "ask", "--json", "-"],
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == len(questions), proc.stderr[-2000:]
    return [json.loads(line) for line in lines]


def published() -> dict[str, list[dict[str, str]]]:
    lists: dict[str, list[dict[str, str]]] = defaultdict(list)
    with PUBLISHED.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lists[row["list"]].append(row)
    return dict(lists)


def rounded(share: float, precision: str) -> float:
    """The demo share rounded the way the article printed it."""
    return round(share) if precision == "integer percent" else round(share, 1)


@pytest.fixture(scope="module")
def answers(demo_db: Path) -> dict[str, dict]:
    questions = {
        "rehab_2023": "top 15 rehab codes 2023",
        "ot_2022": "top 10 OT codes 2022",
        "pt_2022": "top PT codes 2022",
    }
    got = ask_batch(demo_db, list(questions.values()))
    return dict(zip(questions, got, strict=True))


def test_rehab_2023_top_15_order_and_one_decimal_shares(answers) -> None:
    table = published()["rehab_2023"]
    answer = answers["rehab_2023"]
    assert answer["params"]["start"] == table[0]["period_start"]
    assert answer["params"]["end"] == table[0]["period_end"]
    rows = answer["rows"]
    assert [r["code"] for r in rows] == [p["code"] for p in table]
    assert [r["rank"] for r in rows] == [int(p["rank"]) for p in table]
    for row, pub in zip(rows, table, strict=True):
        assert rounded(row["share_pct"], pub["precision"]) == float(pub["share_pct"]), pub["code"]


def test_ot_2022_top_3_and_integer_shares(answers) -> None:
    table = published()["ot_2022"]
    rows = {r["code"]: r for r in answers["ot_2022"]["rows"]}
    ranked = [p for p in table if p["rank"]]
    assert [r["code"] for r in answers["ot_2022"]["rows"][: len(ranked)]] == [
        p["code"] for p in ranked
    ]
    for pub in table:  # includes 97161/97162, ranked but not numbered in the article
        assert pub["code"] in rows, pub["code"]
        assert rounded(rows[pub["code"]]["share_pct"], pub["precision"]) == float(pub["share_pct"])


def test_pt_2022_top_3(answers) -> None:
    codes = [r["code"] for r in answers["pt_2022"]["rows"][:3]]
    # The article: both PT and OT lists had 97110, 97140, 97530 in that order in 2022.
    ot_top = [p["code"] for p in published()["ot_2022"] if p["rank"]]
    assert codes == ot_top


# ---------------------------------------------------------------- the development set


def check(exp: dict, got: dict) -> list[str]:
    """The scorer's per-question check (../shared/eval/score.py), restated."""
    why = []
    intent, params, rows = got.get("intent"), got.get("params") or {}, got.get("rows") or []
    if "intent" in exp and intent != exp["intent"]:
        why.append(f"intent {intent!r} != {exp['intent']!r}")
    if "intent_any" in exp and intent not in exp["intent_any"]:
        why.append(f"intent {intent!r} not in {exp['intent_any']}")
    for key in ("cohort", "start", "end", "n", "code", "state", "payer"):
        if key in exp and str(params.get(key)).lower() != str(exp[key]).lower():
            why.append(f"{key} {params.get(key)!r} != {exp[key]!r}")
    if "cohorts" in exp and sorted(params.get("cohorts") or []) != sorted(exp["cohorts"]):
        why.append(f"cohorts {params.get('cohorts')!r} != {exp['cohorts']!r}")
    if "top" in exp and [str(r.get("code")) for r in rows][: len(exp["top"])] != exp["top"]:
        why.append("top codes differ")
    for code, (pct, tol) in (exp.get("share") or {}).items():
        row = next((r for r in rows if str(r.get("code")) == code), None)
        if row is None or row.get("share_pct") is None or abs(row["share_pct"] - pct) > tol:
            why.append(f"share of {code}")
    for code, rank in (exp.get("rank") or {}).items():
        row = next((r for r in rows if str(r.get("code")) == code), None)
        if row is None or row.get("rank") != rank:
            why.append(f"rank of {code}")
    if exp.get("no_rows") and rows:
        why.append("rows where none expected")
    if exp.get("error") and not got.get("error"):
        why.append("no error reported")
    if exp.get("error_or_unknown") and not (got.get("error") or intent in ("unknown", "help")):
        why.append("neither error nor unknown")
    if "max_rows" in exp and len(rows) > exp["max_rows"]:
        why.append("too many rows")
    return why


def test_dev_question_set_scores_at_least_95_percent(demo_db: Path) -> None:
    items = [
        json.loads(line)
        for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    got = ask_batch(demo_db, [item["q"] for item in items])
    misses = {
        item["q"]: why
        for item, g in zip(items, got, strict=True)
        if (why := check(item["expect"], g))
    }
    accuracy = 100.0 * (len(items) - len(misses)) / len(items)
    assert accuracy >= MIN_DEV_SET_ACCURACY, misses
