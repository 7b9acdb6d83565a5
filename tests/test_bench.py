"""bot/bench/answers.py (`toprank bench`) at a tiny scale: the table is printed with every intent and SQL
template, and toprank, bare DuckDB and pandas agree on the top 10. No timings are
asserted (speed is what the benchmark reports, not what a test checks)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from toprank.bot.bench import answers as bench
from toprank.sql.plan import template_names

# Every intent of the answer contract (DESIGN.md); the dev questions reach them all.
INTENTS = (
    "top_codes",
    "code_share",
    "compare",
    "trend",
    "total",
    "breakdown",
    "movers",
    "code_lookup",
    "code_range",
    "ot_vs_pt",
    "coverage",
    "help",
    "unknown",
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict, Path]:
    workdir = tmp_path_factory.mktemp("bench")
    report = workdir / "bench.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = bench.main(
            [
                "--scales",
                "50k",
                "--repeat",
                "1",
                "--workdir",
                str(workdir),
                "--json",
                str(report),
                "--quiet",
            ]
        )
    return status, out.getvalue(), json.loads(report.read_text()), workdir


def table_rows(text: str, first_column: str) -> dict[str, list[str]]:
    """Rows of the printed table whose header starts with `first_column`, by name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_column + " "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


def test_the_table_has_every_intent_and_template(bench_run) -> None:
    status, text, report, _ = bench_run
    assert status == 0, text
    assert "== 50k claim lines (50,000)" in text
    intents = table_rows(text, "intent")
    assert set(INTENTS) <= set(intents)
    questions = len(bench.load_questions())
    assert intents["all"][:2] == [str(questions), str(questions)]  # questions, answers
    shapes = table_rows(text, "shape")
    assert set(template_names()) <= set(shapes)
    families = {name.split(":")[0] for name in shapes}
    assert {"ranked", "total", "breakdown", "time", "movers"} <= families
    tables = {name.split(":")[1] for name in shapes if ":" in name}
    assert tables == {"rollup_national", "rollup_month", "rollup_detail", "rollup_claims"}
    assert "parse only: p50" in text
    # The figures printed are the ones saved.
    scale = report["scales"][0]
    assert scale["lines"] == 50_000
    assert scale["build"]["rows"]["claim_lines"] == 50_000
    assert scale["answers"]["all"]["n"] == questions
    assert sum(v["n"] for v in scale["answers"]["intents"].values()) == questions
    assert not scale["answers"]["internal_errors"]


def test_toprank_duckdb_and_pandas_agree_on_the_top_10(bench_run) -> None:
    status, text, report, _ = bench_run
    assert "MISMATCH" not in text
    agree = next(line for line in text.splitlines() if line.startswith("top 10 agree"))
    assert "toprank = DuckDB = pandas" in agree
    scale = report["scales"][0]
    toprank = scale["answers"]["compare"]["rows"]
    assert len(toprank) == 10
    assert [r["code"] for r in toprank] == [r["code"] for r in scale["duckdb"]["rows"]]
    assert [r["code"] for r in toprank] == [r["code"] for r in scale["pandas"]["rows"]]
    assert scale["pandas"]["lines"] == 50_000
    for name in ("toprank full answer", "DuckDB GROUP BY", "pandas groupby", "pandas load"):
        assert name in text


def test_the_databases_are_removed_without_keep(bench_run) -> None:
    _, _, _, workdir = bench_run
    assert not list(workdir.glob("*.duckdb"))


def test_a_different_top_10_is_reported() -> None:
    rows = [
        {"code": "97110", "procedures": 50, "share_pct": 50.0},
        {"code": "97140", "procedures": 30, "share_pct": 30.0},
    ]
    assert bench.same_top(rows, [dict(r) for r in rows]) is None
    swapped = [rows[1], rows[0]]
    assert "codes" in bench.same_top(rows, swapped)
    fewer = [dict(rows[0], procedures=49), rows[1]]
    assert "97110: 50 != 49" in bench.same_top(rows, fewer)
    shifted = [dict(rows[0], share_pct=50.1), rows[1]]
    assert "share" in bench.same_top(rows, shifted)
    # A small cell toprank suppressed is compared by code only.
    suppressed = [dict(rows[0], procedures="<11", share_pct=None), rows[1]]
    assert bench.same_top(suppressed, rows) is None


@pytest.mark.parametrize(
    ("text", "lines"),
    [("1M", 1_000_000), ("10m", 10_000_000), ("50k", 50_000), ("2500000", 2_500_000)],
)
def test_scales_parse(text: str, lines: int) -> None:
    assert bench.parse_scale(text) == lines
    assert bench.parse_scale(bench.scale_label(lines)) == lines


@pytest.mark.parametrize("text", ["", "ten", "0", "-1M", "1.5k5"])
def test_bad_scales_are_refused(text: str) -> None:
    with pytest.raises(Exception, match="scale"):
        bench.parse_scale(text)


def test_toprank_bench_is_a_subcommand() -> None:
    from toprank.bot.cli import build_parser

    args = build_parser().parse_args(["bench", "--scales", "1M,100M", "--repeat", "3"])
    assert args.scales == [1_000_000, 100_000_000] and args.repeat == 3
    assert args.func is bench.run_bench
