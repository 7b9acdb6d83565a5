"""`toprank ask` / `toprank chat` as a user runs them: real subprocesses, real DuckDB files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from toprank.intents.model import MAX_QUESTION_CHARS

TOPRANK = [sys.executable, "-m", "toprank.bot.cli"]
REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], db: Path | None, stdin: str | None = None, timeout: int = 300):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SLACK_BOT_TOKEN", None)
    env.pop("SLACK_APP_TOKEN", None)
    if db is not None:
        env["TOPRANK_DB"] = str(db)
    return subprocess.run(
        [*TOPRANK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def test_ask_json_prints_the_contract(demo_db: Path) -> None:
    proc = run(["ask", "top", "OT", "codes", "2022", "--json"], demo_db)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) == {
        "question",
        "intent",
        "params",
        "rows",
        "text",
        "sql",
        "error",
        "alternatives",
        "notes",
        # the answer's parts, added to the first wave's keys
        "title",
        "summary",
        "columns",
        "period",
        "provenance",
        "suggestions",
    }
    assert answer["question"] == "top OT codes 2022"
    assert answer["intent"] == "top_codes" and answer["params"]["cohort"] == "ot"
    assert [r["code"] for r in answer["rows"][:3]] == ["97110", "97140", "97530"]
    assert answer["sql"].lstrip().startswith(("WITH", "SELECT", "--"))
    # The table's typed columns name keys the rows carry, in the order a table shows them.
    columns = [(c["key"], c["kind"]) for c in answer["columns"]]
    assert columns == [
        ("rank", "rank"),
        ("code", "code"),
        ("share_pct", "share"),
        ("procedures", "count"),
        ("description", "text"),
    ]
    # Provenance: the period the loaded sources declare, which holds every claim line,
    # and the number of lines held.
    with duckdb.connect(str(demo_db), read_only=True) as con:
        first, last, lines_held = con.execute(
            "SELECT min(service_date), max(service_date), count(*) FROM claim_lines"
        ).fetchone()
        declared = con.execute("SELECT min(first_date), max(last_date) FROM sources").fetchone()
    provenance = answer["provenance"]
    start, end = provenance["coverage_start"], provenance["coverage_end"]
    assert (start, end) == (declared[0].isoformat(), declared[1].isoformat())
    assert start <= first.isoformat() and last.isoformat() <= end
    assert provenance["claim_lines"] == lines_held and provenance["min_cell"] == 11
    assert answer["title"] == answer["text"].splitlines()[0] and answer["period"] == "2022"


def test_batch_mode_one_json_line_per_input_line_in_order(demo_db: Path) -> None:
    questions = [
        "top rehab codes 2023",
        "",
        "what is 97110",
        "@@@ ### !!!",
        "1; DROP TABLE claim_lines",
        "top OT codes 2050",
        "x" * 600,
        "compare ot and pt 2022",
    ]
    proc = run(["ask", "--json", "-"], demo_db, stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(questions)
    answers = [json.loads(line) for line in lines]
    # echoed as asked, cut at the length limit
    assert [a["question"] for a in answers] == [
        q if len(q) <= MAX_QUESTION_CHARS else q[:MAX_QUESTION_CHARS] + "…" for q in questions
    ]
    assert answers[0]["intent"] == "top_codes" and answers[0]["rows"]
    assert answers[1]["rows"] == [] and answers[3]["rows"] == [] and answers[4]["rows"] == []
    assert answers[5]["error"] == "no_data"
    assert answers[6]["error"] == "too_long"
    assert answers[7]["intent"] == "compare"
    assert "Traceback" not in proc.stderr


def test_batch_mode_handles_undecodable_bytes(demo_db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOPRANK_DB": str(demo_db)}
    proc = subprocess.run(
        [*TOPRANK, "ask", "--json", "-"],
        input=b"top ot 2022\n\xff\xfe garbage\nwhat is 97140\n",
        capture_output=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(answers) == 3 and answers[2]["params"]["code"] == "97140"


def test_text_mode_prints_a_table(demo_db: Path) -> None:
    proc = run(["ask", "top rehab codes 2023"], demo_db)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "2023 through September" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("Rank"))
    assert "Code" in header and "Share" in header and "Procedures" in header
    assert "28.7%" in out and "Source:" in out
    assert "SELECT" not in out  # SQL only with --sql
    with_sql = run(["ask", "--sql", "top rehab codes 2023"], demo_db)
    assert "rollup_national" in with_sql.stdout and "$cohort" in with_sql.stdout


def test_text_mode_error_is_a_message_not_a_traceback(demo_db: Path) -> None:
    proc = run(["ask", "top OT codes 2050"], demo_db)
    assert proc.returncode == 0
    assert "2019-01-01" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_chat_with_piped_stdin(demo_db: Path) -> None:
    proc = run(
        ["chat"],
        demo_db,
        stdin="top OT codes 2022\nwhat is 97530\n\ngibberish zzz\nquit\nnever asked\n",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "2019-01-01 through 2023-09-30" in out  # banner with coverage
    assert "Top 10 occupational therapy codes, 2022" in out
    assert "97530" in out and "bye" in out
    assert "never asked" not in out  # stopped at quit
    assert "Traceback" not in out + proc.stderr


def test_chat_ends_at_end_of_input(demo_db: Path) -> None:
    proc = run(["chat"], demo_db, stdin="help\n")
    assert proc.returncode == 0 and "bye" in proc.stdout


def test_bad_usage_exits_2(demo_db: Path) -> None:
    assert run(["ask"], demo_db).returncode == 2
    assert run(["ask", "top", "-", "ot"], demo_db).returncode == 2
    assert run(["ask", "--bogus", "x"], demo_db).returncode == 2


def test_unreadable_database_is_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_text("this is not a duckdb file")
    proc = run(["ask", "--json", "--db", str(bad), "top ot 2022"], None)
    assert proc.returncode == 2
    assert proc.stdout == "" and "is not a DuckDB database file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # a process or a full build
def test_first_use_builds_the_demo_with_progress_on_stderr_only(tmp_path: Path) -> None:
    # Only the default path is built on first use; the process sees a default moved to
    # tmp_path (an explicit path that does not exist is an error, tests/test_datasafety.py).
    db = tmp_path / "fresh" / "claims.duckdb"
    code = (
        "import sys; from pathlib import Path; import toprank.data.db; "
        "toprank.data.db.DEFAULT_DB = Path(sys.argv[1]); from toprank.bot.cli import main; "
        "sys.exit(main(sys.argv[2:]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TOPRANK_DB", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(db), "ask", "--json", "-"],
        input="top rehab codes 2023\n",
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert db.exists()
    assert "demo" in proc.stderr.lower()
    answers = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout is pure JSON
    assert len(answers) == 1 and answers[0]["rows"][0]["code"] == "97110"


def test_conversation_mode_continues_each_turn_until_a_blank_line(demo_db: Path) -> None:
    import duckdb

    turns = "top PT codes 2020\nand OT?\nin Texas\n\nin Texas\n"
    proc = run(["ask", "--json", "--conversation", "-"], demo_db, stdin=turns)
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == 4  # one per turn; the blank line prints nothing
    first, ot, texas, fresh = answers
    assert first["params"]["cohort"] == "pt"
    assert ot["params"]["cohort"] == "ot" and ot["params"]["start"] == "2020-01-01"
    assert texas["params"]["state"] == "TX" and texas["params"]["cohort"] == "ot"
    with duckdb.connect(str(demo_db), read_only=True) as con:
        want = con.execute(
            "SELECT hcpcs_code, sum(procedures) FROM claim_lines WHERE cohort = 'ot' "
            "AND state = 'TX' AND year(service_date) = 2020 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3"
        ).fetchall()
    assert [(r["code"], r["procedures"]) for r in texas["rows"][:3]] == want
    # after the blank line "in Texas" has nothing to continue: not a ranking of Texas
    assert fresh["intent"] in ("unknown", "help") or fresh["error"]


def test_chat_keeps_the_conversation(demo_db: Path) -> None:
    proc = run(["chat"], demo_db, stdin="top PT codes 2020\nand OT?\nnew\nand OT?\nquit\n")
    assert proc.returncode == 0, proc.stderr
    assert "Top 10 occupational therapy codes, 2020" in proc.stdout
    assert "(new conversation)" in proc.stdout


def test_an_internal_error_is_one_line_on_stderr_and_its_traceback_goes_to_the_error_log(
    demo_db: Path, tmp_path: Path
) -> None:
    """A question that fails inside (here: a rollup column missing from an older file):
    stdout has the answer's apology, stderr one line naming the error log, and the log
    file the traceback."""
    import shutil

    db = tmp_path / "old.duckdb"
    shutil.copyfile(demo_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE rollup_detail DROP COLUMN facility_setting")
    log = tmp_path / "logs" / "errors.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOPRANK_ERROR_LOG": str(log)}
    proc = subprocess.run(
        [*TOPRANK, "ask", "--db", str(db), "top PT codes in facility settings 2022"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0
    assert "older version of toprank" in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert "internal error answering" in lines[0] and str(log) in lines[0]
    written = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in written and "facility_setting" in written


def test_the_command_registry_names_what_each_module_adds() -> None:
    # `toprank ask` builds only its own module's parser: COMMANDS must say, for every
    # command, the module that adds it, and name every command there is.
    import argparse
    import importlib

    from toprank.bot.cli import COMMANDS, build_parser

    def commands_of(parser: argparse.ArgumentParser) -> set[str]:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return set(sub.choices)

    assert commands_of(build_parser()) == set(COMMANDS)
    for module in set(COMMANDS.values()):
        alone = argparse.ArgumentParser()
        importlib.import_module(module).add_parser(alone.add_subparsers())
        assert commands_of(alone) == {c for c, m in COMMANDS.items() if m == module}
    args = build_parser("ask").parse_args(["ask", "top ot codes"])
    assert args.func is not None and args.question == ["top ot codes"]
