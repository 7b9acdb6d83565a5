"""`toprank usage` and `toprank feedback export` on a populated store, run as a user runs
them (real processes), and the CLI's own questions in the usage log.

The store is populated by real `toprank ask` runs (every CLI question is logged) and by
ratings stored as the Slack app stores them. The oracles: the questions fed in (how
many, which ones cannot be understood, which are outside the data), SQL over the
store's usage_log, numpy's percentiles, and the development-set scorer
(../shared/eval/score.py) reading the exported file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from toprank.bot.state import StateStore

TOPRANK = [sys.executable, "-m", "toprank.bot.cli"]
REPO = Path(__file__).resolve().parent.parent
SCORER = REPO.parent / "shared" / "eval" / "score.py"

UNDERSTOOD = [
    "top OT codes 2022",
    "top PT codes in Texas 2021",
    "what share of rehab was 97530 in 2022",
    "compare OT and PT 2021",
    "top OT codes 2022",  # asked twice
]
NOT_UNDERSTOOD = ["what's the weather in paris", "sing me a song"]
OUTSIDE = ["top OT codes 2015"]
QUESTIONS = UNDERSTOOD + NOT_UNDERSTOOD + OUTSIDE


def run(args: list[str], env: dict[str, str], stdin: str | None = None):
    return subprocess.run(
        [*TOPRANK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
    )


def select(url: str, sql: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def populated(demo_db: Path, tmp_path_factory) -> tuple[dict[str, str], str]:
    """A store holding the CLI's questions and some ratings; (environment, URL)."""
    path = tmp_path_factory.mktemp("ops-cli") / "state.sqlite"
    env = {"TOPRANK_DB": str(demo_db), "TOPRANK_STATE": str(path), "TOPRANK_TZ": "UTC"}
    proc = run(["ask", "--json", "-"], env, stdin="\n".join(QUESTIONS) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(QUESTIONS)
    proc = run(
        ["ask", "--json", "--conversation", "-"], env, stdin="top SLP codes 2021\nand for PT?\n"
    )
    assert proc.returncode == 0, proc.stderr
    url = f"sqlite:///{path}"
    store = StateStore(url)
    try:
        ids = {r["question"]: r["id"] for r in select(url, "SELECT id, question FROM usage_log")}
        store.rate(ids["top PT codes in Texas 2021"], "alice", "down", "I asked for Texas Medicaid")
        store.rate(ids["and for PT?"], "alice", "down", "wrong cohort")
        store.rate(ids["compare OT and PT 2021"], "bob", "up")
        store.rate(ids["what share of rehab was 97530 in 2022"], "bob", "down")
        store.rate(ids["what share of rehab was 97530 in 2022"], "bob", "up")  # changed mind
    finally:
        store.close()
    return env, url


def test_the_cli_logs_every_question(populated) -> None:
    _, url = populated
    logged = select(url, "SELECT * FROM usage_log ORDER BY at")
    assert [r["question"] for r in logged] == [*QUESTIONS, "top SLP codes 2021", "and for PT?"]
    assert {r["surface"] for r in logged} == {"cli"}
    assert all(r["user_hash"] and r["latency_ms"] > 0 for r in logged)
    follow_up = logged[-1]
    assert follow_up["follows"] and "SLP" in follow_up["follows"].upper()


def test_usage_json_against_the_store(populated) -> None:
    env, url = populated
    proc = run(["usage", "--since", "1d", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    total = len(QUESTIONS) + 2
    assert report["questions"] == total
    assert report["distinct_users"] == 1  # one OS user ran them
    assert report["by_surface"] == {"cli": total}
    assert report["outcomes"]["refused"] == len(NOT_UNDERSTOOD)
    assert report["outcomes"]["no_data"] == len(OUTSIDE)
    assert report["outcomes"]["answered"] == total - len(NOT_UNDERSTOOD) - len(OUTSIDE)
    assert report["rates_pct"]["unknown"] == round(100 * len(NOT_UNDERSTOOD) / total, 1)
    latencies = [r["latency_ms"] for r in select(url, "SELECT latency_ms FROM usage_log")]
    assert report["latency_ms"]["p50"] == pytest.approx(np.percentile(latencies, 50), abs=0.06)
    assert report["latency_ms"]["p95"] == pytest.approx(np.percentile(latencies, 95), abs=0.06)
    assert report["feedback"] == {
        "answered": total - 3,
        "rated_answers": 4,
        "rated_pct": round(100 * 4 / (total - 3), 1),
        "up": 2,
        "down": 2,
        "down_pct": 50.0,
    }
    assert report["top_questions"][0] == {"question": "top ot codes 2022", "count": 2}
    assert sum(d["questions"] for d in report["per_day"]) == total


def test_usage_table(populated) -> None:
    env, _ = populated
    proc = run(["usage", "--since", "7d"], env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    total = len(QUESTIONS) + 2
    first = next(line for line in text.splitlines() if line.startswith("Questions "))
    assert first.split()[1] == str(total)
    for label in ("Distinct users", "Refused", "not understood", "Latency", "p95", "Feedback"):
        assert label in text
    assert "top ot codes 2022" in text
    assert len([line for line in text.splitlines() if line.startswith("  20")]) in (7, 8)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["usage", "--since", "a while"], "--since"),
        (["usage", "--since", "0d"], "more than zero"),
        (["feedback", "export", "--since", "yesterday"], "--since"),
        (["feedback", "export", "--out", "/no/such/dir/x.jsonl"], "no directory"),
    ],
)
def test_bad_arguments_are_one_line(populated, args: list[str], says: str) -> None:
    env, _ = populated
    proc = run(args, env)
    assert proc.returncode == 2
    assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_no_store_is_said_and_none_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite"
    for args in (["usage"], ["feedback", "export"]):
        proc = run(args, {"TOPRANK_STATE": str(missing)})
        assert proc.returncode == 2 and "no state store" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not missing.exists()


def test_feedback_export_writes_the_disliked_questions(populated, tmp_path: Path) -> None:
    env, url = populated
    out = tmp_path / "disliked.jsonl"
    proc = run(["feedback", "export", "--since", "30d", "--out", str(out)], env)
    assert proc.returncode == 0, proc.stderr
    assert "2 disliked" in proc.stderr and proc.stdout == ""
    cases = [json.loads(line) for line in out.read_text().splitlines()]
    assert [c.get("q") or c.get("turns") for c in cases] == [
        "top PT codes in Texas 2021",
        [cases[1]["turns"][0], "and for PT?"],
    ]
    assert "SLP" in cases[1]["turns"][0].upper()  # the turn it followed, as understood
    assert cases[0]["comment"] == "I asked for Texas Medicaid"
    assert cases[0]["expect"] == {}
    stored = select(
        url, "SELECT params FROM usage_log WHERE question = 'top PT codes in Texas 2021'"
    )
    assert cases[0]["understood"]["params"] == json.loads(stored[0]["params"])
    assert cases[0]["understood"]["params"]["state"] == "TX"
    # to stdout when no file is named: the same lines
    again = run(["feedback", "export", "--since", "30d"], env)
    assert again.stdout == out.read_text()


@pytest.mark.skipif(
    not SCORER.is_file(), reason="the development-set scorer is not beside the repo"
)
def test_the_export_is_read_by_the_development_set_scorer(
    populated, tmp_path: Path, demo_db
) -> None:
    env, _ = populated
    out = tmp_path / "cases.jsonl"
    assert run(["feedback", "export", "--out", str(out)], env).returncode == 0
    toprank = f"{sys.executable} -m toprank.bot.cli ask --json -"
    proc = subprocess.run(
        [sys.executable, str(SCORER), str(out), "--cmd", toprank, "--db", str(demo_db)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **env, "TOPRANK_LOG_DAYS": "0"},
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy: 2/2" in proc.stdout  # both read and run (their expect is to fill in)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TOPRANK_TZ", "Mars/Olympus"),
        ("TOPRANK_RATE_PER_MINUTE", "lots"),
        ("TOPRANK_LOG_DAYS", "-2"),
    ],
)
def test_serve_refuses_a_bad_operations_setting_in_one_line(
    demo_db: Path, tmp_path: Path, setting: str, value: str
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/",  # never reached
        "TOPRANK_DB": str(demo_db),
        "TOPRANK_STATE": str(tmp_path / "state.sqlite"),
        setting: value,
    }
    proc = run(["serve"], env)
    assert proc.returncode == 2
    assert setting in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_a_store_that_cannot_be_opened_costs_a_warning_not_the_answer(demo_db: Path) -> None:
    env = {"TOPRANK_DB": str(demo_db), "TOPRANK_STATE": "/proc/no-such-dir/state.sqlite"}
    proc = run(["ask", "top OT codes 2022", "--json"], env)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["rows"][0]["code"] == "97110"
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("toprank: not logging questions")
    assert "Traceback" not in proc.stderr


def test_zero_log_days_makes_no_store(demo_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    env = {"TOPRANK_DB": str(demo_db), "TOPRANK_STATE": str(path), "TOPRANK_LOG_DAYS": "0"}
    proc = run(["ask", "top OT codes 2022"], env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert not path.exists()
