"""Benchmark: how fast toprank answers at 1M, 10M and 100M claim lines, and against
what an analyst would otherwise run.

    python -m toprank.bot.bench.answers [--scales 1M,10M] [--repeat 20] [--workdir DIR] [--keep] [--json PATH]
    toprank bench ...          (the same options)
    toprank bench --engine URL [--repeat N]   answer latency by shape on a warehouse (or a
                               DuckDB file) whose rollups are built: nothing is built

For each scale it builds the calibrated demo database (data.demo.build_demo) and prints:
build time (and the rollups' share of it), size on disk and the build's peak memory;
per intent the p50 / p95 / max latency of a full answer (Toprank.ask: understand +
resolve + compile + run + answer) over the dev questions (bot/bench/questions.jsonl)
plus questions of every other shape (bot/bench/bench_questions.txt: exclusions,
unions, totals, breakdowns, months and quarters, movers, visits and units...), repeated
--repeat times after one untimed warm-up pass; the first question's cold latency after
open; understanding-only latency; the same per SQL shape and rollup. Then the question
"top 10 rehab codes 2023" answered three ways (toprank, a bare DuckDB GROUP BY over
claim_lines, pandas groupby over the same rows loaded into a DataFrame), with the ratios
to toprank's time and a check that all three give the same top 10 (MISMATCH otherwise,
and the exit status is 1).

Every measured phase runs in its own Python process (`python -m toprank.bot.bench.answers _worker ...`),
so the build's peak RSS is the build's own, and pandas' memory does not count against the
bot. Peak RSS is the process's high-water mark (VmHWM on Linux), cross-checked by psutil
sampling from this process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

# Shipped with the package (not under tests/), so `toprank bench` runs from any install.
BENCH_DIR = Path(__file__).resolve().parent
DEV_QUESTIONS = BENCH_DIR / "questions.jsonl"
EXTRA_QUESTIONS = BENCH_DIR / "bench_questions.txt"
# The demo data ends 2023-09-30; pinning "today" as the tests do keeps every period the
# same from run to run.
BENCH_TODAY = date(2023, 10, 15)
DEFAULT_SCALES = "1M,10M"
DEFAULT_REPEAT = 20
# The top_codes shape answered three ways.
COMPARE_QUESTION = "top 10 rehab codes 2023"
COMPARE_N = 10
# At least this many timed answers of COMPARE_QUESTION, whatever --repeat says.
COMPARE_MIN_RUNS = 20
# Timed runs of each baseline after its first (cold) run.
BASELINE_RUNS = 3
# Targets from issue 5 (2-core machine).
P95_TARGET_MS = {10_000_000: 20.0, 100_000_000: 50.0}
PARSE_TARGET_MS = 1.0
BUILD_TARGET_S = {100_000_000: 600.0}
BUILD_TARGET_BYTES = {100_000_000: 8 * 1024**3}
# A bare-DuckDB analyst's query for the rehab top N: the code range test is the same
# one data/rollups.sql uses to materialise the 'rehab' cohort.
RAW_DUCKDB_SQL = """
SELECT hcpcs_code AS code,
       SUM(procedures) AS procedures,
       100.0 * SUM(procedures) / SUM(SUM(procedures)) OVER () AS share_pct
FROM claim_lines
WHERE service_date BETWEEN $start AND $end
  AND length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
  AND regexp_full_match(hcpcs_code, '[0-9]{5}')
GROUP BY hcpcs_code
ORDER BY procedures DESC, code
LIMIT $n
"""
# Bytes per claim line in the pandas frame: datetime64 date, int16 category code, int64
# procedures. The load needs the frame plus an Arrow batch at a time.
PANDAS_BYTES_PER_LINE = 8 + 2 + 8
PANDAS_BATCH_LINES = 1_000_000
WORKER_TAG = "BENCH-RESULT "


# ---------------------------------------------------------------- small helpers


def parse_scale(text: str) -> int:
    """'1M' -> 1_000_000, '50k' -> 50_000, '2500000' -> 2_500_000."""
    raw = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}.get(raw[-1:], 1)
    number = raw[:-1] if factor != 1 else raw
    try:
        value = float(number) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a scale: {text!r} (try 1M, 10M, 50k)") from None
    if value <= 0 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a scale: {text!r}")
    return int(value)


def parse_scales(text: str) -> list[int]:
    scales = [parse_scale(part) for part in text.split(",") if part.strip()]
    if not scales:
        raise argparse.ArgumentTypeError("no scales given")
    return scales


def scale_label(lines: int) -> str:
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if lines >= size and lines % size == 0:
            return f"{lines // size}{suffix}"
    return f"{lines:,}"


def human_bytes(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default), without needing numpy."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * pct / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "max_ms": max(ms) if ms else math.nan,
    }


def peak_rss_bytes() -> int:
    """This process's peak resident set size. VmHWM on Linux (a per-address-space
    high-water mark, so a worker does not inherit its parent's peak the way ru_maxrss
    can); elsewhere ru_maxrss, or psutil's current RSS as a last resort."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except ImportError:
        import psutil

        return psutil.Process().memory_info().rss


def load_questions(dev: Path = DEV_QUESTIONS, extra: Path | None = EXTRA_QUESTIONS) -> list[str]:
    """The dev questions (JSON lines with "q"), then the extra ones (plain lines)."""
    questions = [
        json.loads(line)["q"]
        for line in dev.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if extra is not None and extra.exists():
        questions += [
            line.strip()
            for line in extra.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    return questions


def same_top(expected: Sequence[dict[str, Any]], got: Sequence[dict[str, Any]]) -> str | None:
    """None when two top-N lists agree (codes in order, procedures, shares to 0.01
    point); else what differs. A row toprank suppressed (procedures "<11") is compared
    by code only."""
    if [r["code"] for r in expected] != [r["code"] for r in got]:
        return f"codes {[r['code'] for r in expected]} != {[r['code'] for r in got]}"
    for a, b in zip(expected, got, strict=True):
        if not isinstance(a["procedures"], int) or not isinstance(b["procedures"], int):
            continue
        if a["procedures"] != b["procedures"]:
            return f"{a['code']}: {a['procedures']} != {b['procedures']} procedures"
        shares = (a["share_pct"], b["share_pct"])
        if None not in shares and abs(shares[0] - shares[1]) > 0.006:
            return f"{a['code']}: share {a['share_pct']} != {b['share_pct']}"
    return None


# ---------------------------------------------------------------- worker phases
# Each runs in its own process and returns a JSON-ready dict.


def phase_build(job: dict[str, Any]) -> dict[str, Any]:
    """Build the demo database; time the whole build and the rollups inside it."""
    import duckdb

    from toprank.data import db, demo

    rollup_seconds: list[float] = []
    rebuild = db.rebuild_rollups

    def timed_rebuild(con: duckdb.DuckDBPyConnection) -> None:
        started = time.perf_counter()
        rebuild(con)
        rollup_seconds.append(time.perf_counter() - started)

    db.rebuild_rollups = timed_rebuild  # a stopwatch around the real thing
    try:
        stats = demo.build_demo(job["db"], lines=job["lines"], progress=job["progress"])
    finally:
        db.rebuild_rollups = rebuild
    con = duckdb.connect(job["db"], read_only=True)
    try:
        tables = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            for name in ("claim_lines", "rollup_month", "rollup_national")
        }
    finally:
        con.close()
    return {
        "seconds": stats.seconds,
        "rollup_seconds": sum(rollup_seconds),
        "bytes": stats.bytes,
        "rows": tables,
        "peak_rss": peak_rss_bytes(),
    }


def _ranked(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"code": r["code"], "procedures": r["procedures"], "share_pct": r["share_pct"]}
        for r in rows
    ]


def phase_answers(job: dict[str, Any]) -> dict[str, Any]:
    """Open the bot, time the first (cold) question, warm up once over all questions,
    then time every question `repeat` times: full answers, then parse only."""
    from toprank.bot.pipeline import Toprank

    questions: list[str] = job["questions"]
    repeat: int = job["repeat"]
    started = time.perf_counter()
    bot = Toprank.open(job["db"], today=BENCH_TODAY, build_if_missing=False)
    open_seconds = time.perf_counter() - started
    try:
        started = time.perf_counter()
        bot.ask(questions[0])
        cold_seconds = time.perf_counter() - started
        for question in questions:  # warm-up pass, not timed
            bot.ask(question)
        by_intent: dict[str, list[float]] = defaultdict(list)
        by_template: dict[str, list[float]] = defaultdict(list)
        internal: set[str] = set()
        for _ in range(repeat):
            for question in questions:
                started = time.perf_counter()
                answer = bot.ask(question)
                seconds = time.perf_counter() - started
                by_intent[answer.intent].append(seconds)
                by_template[answer.shape or "(no SQL)"].append(seconds)
                if answer.error == "internal":
                    internal.add(question)
        parse_by_question: dict[str, list[float]] = defaultdict(list)
        for _ in range(repeat):
            for question in questions:
                started = time.perf_counter()
                bot.understand(question)
                parse_by_question[question].append(time.perf_counter() - started)
        compare_seconds = []
        answer = bot.ask(COMPARE_QUESTION)
        for _ in range(max(repeat, COMPARE_MIN_RUNS)):
            started = time.perf_counter()
            answer = bot.ask(COMPARE_QUESTION)
            compare_seconds.append(time.perf_counter() - started)
    finally:
        bot.close()
    all_seconds = [s for values in by_intent.values() for s in values]
    parse_seconds = [s for values in parse_by_question.values() for s in values]
    slowest = max(parse_by_question, key=lambda q: percentile(parse_by_question[q], 50))
    return {
        "questions": len(questions),
        "repeat": repeat,
        "open_ms": open_seconds * 1000,
        "cold_first_ms": cold_seconds * 1000,
        "first_question": questions[0],
        "intents": {
            k: {**summary_ms(v), "questions": len(v) // repeat} for k, v in by_intent.items()
        },
        "templates": {k: summary_ms(v) for k, v in by_template.items()},
        "all": summary_ms(all_seconds),
        "parse": summary_ms(parse_seconds),
        "parse_slowest": {"question": slowest, **summary_ms(parse_by_question[slowest])},
        "internal_errors": sorted(internal),
        "compare": {
            "question": COMPARE_QUESTION,
            "intent": answer.intent,
            "error": answer.error,
            "params": answer.params,
            "rows": _ranked(answer.rows),
            **summary_ms(compare_seconds),
        },
        "peak_rss": peak_rss_bytes(),
    }


def phase_warm_open(job: dict[str, Any]) -> dict[str, Any]:
    """A fresh process opening with warm=True (what a long-running bot should do):
    the open pays the one-time costs, so the first question runs at warm speed."""
    from toprank.bot.pipeline import Toprank

    started = time.perf_counter()
    bot = Toprank.open(job["db"], today=BENCH_TODAY, build_if_missing=False, warm=True)
    open_seconds = time.perf_counter() - started
    try:
        started = time.perf_counter()
        bot.ask(job["question"])
        first_seconds = time.perf_counter() - started
    finally:
        bot.close()
    return {"open_ms": open_seconds * 1000, "first_ms": first_seconds * 1000}


def phase_duckdb(job: dict[str, Any]) -> dict[str, Any]:
    """The same top N by a bare DuckDB GROUP BY over claim_lines (default settings)."""
    import duckdb

    params = {"start": date.fromisoformat(job["start"]), "end": date.fromisoformat(job["end"])}
    params["n"] = job["n"]
    con = duckdb.connect(job["db"], read_only=True)
    try:
        started = time.perf_counter()
        rows = con.execute(RAW_DUCKDB_SQL, params).fetchall()
        first = time.perf_counter() - started
        runs = []
        for _ in range(BASELINE_RUNS):
            started = time.perf_counter()
            rows = con.execute(RAW_DUCKDB_SQL, params).fetchall()
            runs.append(time.perf_counter() - started)
    finally:
        con.close()
    return {
        "first_ms": first * 1000,
        **summary_ms(runs),
        "rows": [
            {"code": c, "procedures": int(p), "share_pct": round(float(s), 2)} for c, p, s in rows
        ],
        "peak_rss": peak_rss_bytes(),
    }


def phase_pandas(job: dict[str, Any]) -> dict[str, Any]:
    """The same top N by pandas: load service_date, hcpcs_code (categorical) and
    procedures of every claim line into a DataFrame (timed apart), then filter +
    groupby + sort."""
    import duckdb
    import numpy as np
    import pandas as pd
    import psutil
    import pyarrow as pa
    import pyarrow.compute as pc

    from toprank.data.catalog import in_rehab_range

    con = duckdb.connect(job["db"], read_only=True)
    try:
        lines = con.execute("SELECT count(*) FROM claim_lines").fetchall()[0][0]
        need = lines * PANDAS_BYTES_PER_LINE
        available = psutil.virtual_memory().available
        # The frame, one Arrow batch and headroom for the filter's temporaries.
        if need * 2 + 512 * 1024**2 > available:
            return {
                "skipped": f"memory: the frame needs about {human_bytes(need * 2)}, "
                f"{human_bytes(available)} available",
                "peak_rss": peak_rss_bytes(),
            }
        started = time.perf_counter()
        dates = np.empty(lines, dtype="datetime64[s]")
        code_index = np.empty(lines, dtype=np.int16)
        procedures = np.empty(lines, dtype=np.int64)
        categories: list[str] = []
        known: set[str] = set()
        reader = con.sql(
            "SELECT service_date, hcpcs_code, procedures FROM claim_lines"
        ).to_arrow_reader(PANDAS_BATCH_LINES)
        at = 0
        for batch in reader:
            size = batch.num_rows
            codes = batch.column(1)
            for code in pc.unique(codes).to_pylist():
                if code not in known:
                    known.add(code)
                    categories.append(code)
            value_set = pa.array(categories, type=pa.string())
            code_index[at : at + size] = pc.index_in(codes, value_set=value_set).to_numpy()
            dates[at : at + size] = batch.column(0).to_numpy(zero_copy_only=False)
            procedures[at : at + size] = batch.column(2).to_numpy(zero_copy_only=False)
            at += size
        frame = pd.DataFrame(
            {
                "service_date": dates,
                "hcpcs_code": pd.Categorical.from_codes(code_index, categories=categories),
                "procedures": procedures,
            },
            copy=False,
        )
        load_seconds = time.perf_counter() - started
    finally:
        con.close()
    if at != lines:
        raise RuntimeError(f"loaded {at:,} of {lines:,} claim lines")
    start, end = pd.Timestamp(job["start"]), pd.Timestamp(job["end"])
    rehab_codes = [c for c in categories if in_rehab_range(c)]
    n = job["n"]

    def top_n() -> list[dict[str, Any]]:
        mask = (
            (frame["service_date"] >= start)
            & (frame["service_date"] <= end)
            & frame["hcpcs_code"].isin(rehab_codes)
        )
        by_code = frame.loc[mask].groupby("hcpcs_code", observed=True)["procedures"].sum()
        total = int(by_code.sum())
        ranked = by_code.rename_axis("code").reset_index()
        ranked["code"] = ranked["code"].astype(str)
        ranked = ranked.sort_values(["procedures", "code"], ascending=[False, True]).head(n)
        return [
            {"code": c, "procedures": int(p), "share_pct": round(100.0 * p / total, 2)}
            for c, p in zip(ranked["code"], ranked["procedures"], strict=True)
        ]

    started = time.perf_counter()
    rows = top_n()
    first = time.perf_counter() - started
    runs = []
    for _ in range(BASELINE_RUNS):
        started = time.perf_counter()
        rows = top_n()
        runs.append(time.perf_counter() - started)
    return {
        "lines": lines,
        "load_s": load_seconds,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "first_ms": first * 1000,
        **summary_ms(runs),
        "rows": rows,
        "peak_rss": peak_rss_bytes(),
    }


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "build": phase_build,
    "answers": phase_answers,
    "warm_open": phase_warm_open,
    "duckdb": phase_duckdb,
    "pandas": phase_pandas,
}


def worker_main(phase: str, job_json: str) -> int:
    result = PHASES[phase](json.loads(job_json))
    print(WORKER_TAG + json.dumps(result, default=str), flush=True)
    return 0


def run_worker(phase: str, job: dict[str, Any], poll_seconds: float = 0.05) -> dict[str, Any]:
    """Run one phase in a fresh Python process; its result plus the peak RSS psutil
    saw while sampling it (the worker's own high-water mark is usually higher)."""
    import psutil

    # The worker is this module of the installed package: the same in a checkout and
    # from a wheel.
    command = [sys.executable, "-m", "toprank.bot.bench.answers", "_worker", phase, json.dumps(job)]
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out)
        sampled = 0
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):  # it may exit between poll and sample
                sampled = max(sampled, watched.memory_info().rss)
            time.sleep(poll_seconds)
        out.seek(0)
        stdout = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {phase!r} failed (exit {proc.returncode})")
    tagged = [line for line in stdout.splitlines() if line.startswith(WORKER_TAG)]
    if not tagged:
        raise RuntimeError(f"bench worker {phase!r} printed no result")
    result = json.loads(tagged[-1][len(WORKER_TAG) :])
    result["peak_rss"] = max(int(result.get("peak_rss") or 0), sampled)
    return result


# ---------------------------------------------------------------- one scale


def measure_scale(
    lines: int,
    workdir: Path,
    questions: list[str],
    repeat: int,
    *,
    reuse: bool = False,
    progress: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    label = scale_label(lines)
    path = workdir / f"bench-{label}.duckdb"
    result: dict[str, Any] = {"lines": lines, "label": label, "db": str(path)}
    if reuse and path.exists():
        say(f"[{label}] reusing {path} (build not timed)")
        result["build"] = None
    else:
        say(f"[{label}] building the demo database ({lines:,} claim lines) ...")
        result["build"] = run_worker(
            "build", {"db": str(path), "lines": lines, "progress": progress}
        )
    result["disk_bytes"] = path.stat().st_size
    say(f"[{label}] answering {len(questions)} questions x {repeat} ...")
    answers = run_worker("answers", {"db": str(path), "questions": questions, "repeat": repeat})
    result["answers"] = answers
    result["warm_open"] = run_worker("warm_open", {"db": str(path), "question": questions[0]})
    compare = answers["compare"]
    job = {
        "db": str(path),
        "start": compare["params"]["start"],
        "end": compare["params"]["end"],
        "n": COMPARE_N,
    }
    say(f"[{label}] bare DuckDB GROUP BY over claim_lines ...")
    result["duckdb"] = run_worker("duckdb", job)
    say(f"[{label}] pandas groupby over claim_lines ...")
    result["pandas"] = run_worker("pandas", job)
    problems = []
    if compare["intent"] != "top_codes" or compare["error"]:
        problems.append(f"toprank answered {compare['intent']} / {compare['error']}")
    for name in ("duckdb", "pandas"):
        other = result[name]
        if other.get("skipped"):
            continue
        differs = same_top(compare["rows"], other["rows"])
        if differs:
            problems.append(f"toprank vs {name}: {differs}")
    result["agreement"] = problems
    return result


# ---------------------------------------------------------------- printing


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _duration(value_ms: float) -> str:
    """A time with its unit: "127 ms", "13.3 s" (_ms adds " s" alone past ten seconds)."""
    text = _ms(value_ms)
    return text if text.endswith(" s") or text == "-" else f"{text} ms"


def _ratio(baseline_ms: float | None, toprank_ms: float) -> str:
    if baseline_ms is None or not toprank_ms:
        return "-"
    ratio = baseline_ms / toprank_ms
    return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


INTENT_ORDER = (
    "top_codes",
    "code_share",
    "compare",
    "trend",
    "total",
    "breakdown",
    "movers",
    "code_lookup",
    "ot_vs_pt",
    "coverage",
    "code_range",
    "help",
    "unknown",
)


def format_scale(result: dict[str, Any]) -> list[str]:
    label, lines = result["label"], result["lines"]
    out = [f"== {label} claim lines ({lines:,}) " + "=" * 40]
    build = result["build"]
    if build:
        out.append(
            f"database: built in {build['seconds']:.1f} s (rollups {build['rollup_seconds']:.1f} s),"
            f" {human_bytes(result['disk_bytes'])} on disk, build peak RSS"
            f" {human_bytes(build['peak_rss'])}"
        )
        rows = build["rows"]
        out.append(
            f"rows: claim_lines {rows['claim_lines']:,}, rollup_month {rows['rollup_month']:,},"
            f" rollup_national {rows['rollup_national']:,}"
        )
    else:
        out.append(f"database: reused, {human_bytes(result['disk_bytes'])} on disk")
    a = result["answers"]
    w = result["warm_open"]
    out.append(
        f"open {a['open_ms']:.0f} ms, then the first question cold {a['cold_first_ms']:.1f} ms"
        f" ({a['first_question']!r}); open(warm=True) {w['open_ms']:.0f} ms, then"
        f" {w['first_ms']:.1f} ms"
    )
    out.append(f"answering process peak RSS {human_bytes(a['peak_rss'])}")
    out.append("")
    out.append(
        f"Full answer latency (understand + compile + run + answer), {a['questions']} questions"
        f" x {a['repeat']} after a warm-up pass:"
    )
    intents = a["intents"]
    names = [i for i in INTENT_ORDER if i in intents] + sorted(set(intents) - set(INTENT_ORDER))
    rows_ = [
        [
            name,
            str(intents[name]["questions"]),
            str(intents[name]["n"]),
            _ms(intents[name]["p50_ms"]),
            _ms(intents[name]["p95_ms"]),
            _ms(intents[name]["max_ms"]),
        ]
        for name in names
    ]
    every = a["all"]
    rows_.append(
        [
            "all",
            str(a["questions"]),
            str(every["n"]),
            _ms(every["p50_ms"]),
            _ms(every["p95_ms"]),
            _ms(every["max_ms"]),
        ]
    )
    out += _table(["intent", "questions", "answers", "p50 ms", "p95 ms", "max ms"], rows_)
    p = a["parse"]
    out.append(
        f"parse only: p50 {_ms(p['p50_ms'])} ms, p95 {_ms(p['p95_ms'])} ms,"
        f" max {_ms(p['max_ms'])} ms per question ({p['n']} parses); slowest question"
        f" {a['parse_slowest']['question']!r} p50 {_ms(a['parse_slowest']['p50_ms'])} ms"
    )
    if a["internal_errors"]:
        out.append(f"INTERNAL ERRORS on: {a['internal_errors']}")
    out.append("")
    out.append("By SQL shape (shape:rollup read, or the template):")
    templates = a["templates"]
    out += _table(
        ["shape", "answers", "p50 ms", "p95 ms", "max ms"],
        [
            [name, str(t["n"]), _ms(t["p50_ms"]), _ms(t["p95_ms"]), _ms(t["max_ms"])]
            for name, t in sorted(templates.items())
        ],
    )
    out.append("")
    c = a["compare"]
    params = c["params"]
    out.append(
        f"top_codes three ways: {c['question']!r} ({params['cohort']},"
        f" {params['start']} to {params['end']}, top {COMPARE_N}, share of the cohort)"
    )
    toprank_ms = c["p50_ms"]
    table = [["toprank full answer (p50)", _ms(toprank_ms), "1x"]]
    d = result["duckdb"]
    table.append(
        [
            "DuckDB GROUP BY on claim_lines, first run",
            _ms(d["first_ms"]),
            _ratio(d["first_ms"], toprank_ms),
        ]
    )
    table.append(
        [
            f"DuckDB GROUP BY on claim_lines (p50 of {d['n']})",
            _ms(d["p50_ms"]),
            _ratio(d["p50_ms"], toprank_ms),
        ]
    )
    pd_ = result["pandas"]
    if pd_.get("skipped"):
        table.append(["pandas", f"skipped ({pd_['skipped']})", "-"])
    else:
        table.append(
            [
                f"pandas groupby, frame in memory (p50 of {pd_['n']})",
                _ms(pd_["p50_ms"]),
                _ratio(pd_["p50_ms"], toprank_ms),
            ]
        )
        load_ms = pd_["load_s"] * 1000
        table.append(["pandas load of claim_lines (3 columns)", _ms(load_ms), "-"])
        table.append(
            [
                "pandas load + groupby",
                _ms(load_ms + pd_["p50_ms"]),
                _ratio(load_ms + pd_["p50_ms"], toprank_ms),
            ]
        )
    out += _table(["method", "ms", "vs toprank"], table)
    pandas_note = (
        f"pandas frame {human_bytes(pd_['frame_bytes'])}, peak RSS {human_bytes(pd_['peak_rss'])}"
        if not pd_.get("skipped")
        else "pandas skipped"
    )
    out.append(f"bare DuckDB peak RSS {human_bytes(d['peak_rss'])}; {pandas_note}")
    if result["agreement"]:
        for problem in result["agreement"]:
            out.append(f"MISMATCH: {problem}")
    else:
        agreeing = "toprank = DuckDB" + (" = pandas" if not pd_.get("skipped") else "")
        codes = " ".join(r["code"] for r in c["rows"])
        out.append(f"top {COMPARE_N} agree ({agreeing}): {codes}")
    out += format_targets(result)
    out.append("")
    return out


def format_targets(result: dict[str, Any]) -> list[str]:
    lines, a, build = result["lines"], result["answers"], result["build"]
    out = []
    worst = max(a["intents"].items(), key=lambda kv: kv[1]["p95_ms"])
    if lines in P95_TARGET_MS:
        target = P95_TARGET_MS[lines]
        met = "met" if worst[1]["p95_ms"] <= target else "MISSED"
        out.append(
            f"target p95 <= {target:.0f} ms for every intent: {met}"
            f" (worst {worst[0]} {_ms(worst[1]['p95_ms'])} ms)"
        )
    parse_p95 = a["parse"]["p95_ms"]
    met = "met" if parse_p95 <= PARSE_TARGET_MS else "MISSED"
    out.append(f"target parse <= {PARSE_TARGET_MS:.0f} ms: {met} (p95 {_ms(parse_p95)} ms)")
    if build and lines in BUILD_TARGET_S:
        ok = (
            build["seconds"] <= BUILD_TARGET_S[lines]
            and build["peak_rss"] <= BUILD_TARGET_BYTES[lines]
        )
        out.append(
            f"target build < {BUILD_TARGET_S[lines] / 60:.0f} min and"
            f" < {human_bytes(BUILD_TARGET_BYTES[lines])}: {'met' if ok else 'MISSED'}"
            f" ({build['seconds']:.0f} s, {human_bytes(build['peak_rss'])})"
        )
    return out


def format_summary(results: Sequence[dict[str, Any]]) -> list[str]:
    """One row per scale: the figures the README quotes."""
    rows = []
    for r in results:
        a, build = r["answers"], r["build"]
        worst = max(a["intents"].items(), key=lambda kv: kv[1]["p95_ms"])
        toprank_ms = a["compare"]["p50_ms"]
        pandas = r["pandas"]
        rows.append(
            [
                r["label"],
                f"{build['seconds']:.1f} s" if build else "reused",
                human_bytes(r["disk_bytes"]),
                human_bytes(build["peak_rss"]) if build else "-",
                _ms(a["all"]["p50_ms"]),
                f"{_ms(worst[1]['p95_ms'])} ({worst[0]})",
                _ms(a["parse"]["p95_ms"]),
                human_bytes(a["peak_rss"]),
                _ms(toprank_ms),
                f"{_ms(r['duckdb']['p50_ms'])} ({_ratio(r['duckdb']['p50_ms'], toprank_ms)})",
                "skipped"
                if pandas.get("skipped")
                else f"{_ms(pandas['p50_ms'])} ({_ratio(pandas['p50_ms'], toprank_ms)})",
                "-" if pandas.get("skipped") else _duration(pandas["load_s"] * 1000),
            ]
        )
    headers = [
        "scale",
        "build",
        "on disk",
        "build RSS",
        "answer p50 ms",
        "worst p95 ms",
        "parse p95 ms",
        "bot RSS",
        "top10 ms",
        "DuckDB raw ms",
        "pandas ms",
        "pandas load",
    ]
    return ["== summary " + "=" * 60, *_table(headers, rows)]


def machine_info() -> dict[str, Any]:
    import duckdb
    import pandas as pd
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------- entry points


def engine_latency(url: str, questions: Sequence[str], repeat: int) -> dict[str, Any]:
    """Full answers (Toprank.ask) on the engine `url` names, over rollups already built
    there (`toprank data build`, or a DuckDB file): per SQL shape p50 / p95 / max after
    one untimed pass. Nothing is built or changed."""
    from toprank.bot.pipeline import Toprank
    from toprank.sql.engines import duckdb_path, is_warehouse

    started = time.perf_counter()
    bot = Toprank.open(
        None if is_warehouse(url) else duckdb_path(url),
        today=BENCH_TODAY,
        build_if_missing=False,
        engine_url_override=url,
    )
    open_seconds = time.perf_counter() - started
    try:
        for question in questions:  # warm-up pass, not timed
            bot.ask(question)
        by_shape: dict[str, list[float]] = defaultdict(list)
        errors: set[str] = set()
        for _ in range(repeat):
            for question in questions:
                started = time.perf_counter()
                answer = bot.ask(question)
                by_shape[answer.shape or "(no SQL)"].append(time.perf_counter() - started)
                if answer.error in ("internal", "timeout"):
                    errors.add(question)
        engine = bot.engine.dialect
    finally:
        bot.close()
    every = [s for values in by_shape.values() for s in values]
    return {
        "engine": engine,
        "open_ms": open_seconds * 1000,
        "questions": len(questions),
        "repeat": repeat,
        "shapes": {k: summary_ms(v) for k, v in sorted(by_shape.items())},
        "all": summary_ms(every),
        "errors": sorted(errors),
    }


def format_engine(url: str, result: dict[str, Any]) -> list[str]:
    from toprank.sql.engines import redact

    lines = [
        f"answer latency on {result['engine']} ({redact(url)}): {result['questions']} "
        f"questions x {result['repeat']}, opened in {result['open_ms']:.0f} ms",
    ]
    rows = [
        [shape, str(v["n"]), _ms(v["p50_ms"]), _ms(v["p95_ms"]), _ms(v["max_ms"])]
        for shape, v in [*result["shapes"].items(), ("every shape", result["all"])]
    ]
    lines += _table(["shape", "answers", "p50 ms", "p95 ms", "max ms"], rows)
    if result["errors"]:
        lines.append(f"ERRORS ({len(result['errors'])}): " + "; ".join(result["errors"][:5]))
    return lines


def run_engine_bench(args: argparse.Namespace) -> int:
    from toprank.bot.pipeline import DatabaseProblem
    from toprank.sql.engines import EngineUnavailable, EngineURLError

    try:
        result = engine_latency(args.engine, load_questions(), args.repeat)
    except (DatabaseProblem, EngineUnavailable, EngineURLError) as error:
        print(f"toprank bench: {error}", file=sys.stderr)
        return 2
    print("\n".join(format_engine(args.engine, result)), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 1 if result["errors"] else 0


def run_bench(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    if args.engine:
        return run_engine_bench(args)
    scales: list[int] = args.scales
    questions = load_questions()
    if COMPARE_QUESTION not in questions:
        questions.append(COMPARE_QUESTION)
    machine = machine_info()
    print(
        f"toprank bench: {machine['cpus']} CPUs, {human_bytes(machine['memory_bytes'])} RAM,"
        f" Python {machine['python']}, DuckDB {machine['duckdb']}, pandas {machine['pandas']}",
        flush=True,
    )
    owned = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="toprank-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    progress = sys.stderr.isatty() and not args.quiet

    def say(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    results = []
    try:
        for lines in scales:
            result = measure_scale(
                lines, workdir, questions, args.repeat, reuse=args.reuse, progress=progress, say=say
            )
            results.append(result)
            print("\n".join(format_scale(result)), flush=True)
            if not args.keep:
                Path(result["db"]).unlink(missing_ok=True)
    finally:
        if not args.keep:
            if owned:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                for lines in scales:
                    (workdir / f"bench-{scale_label(lines)}.duckdb").unlink(missing_ok=True)
    print("\n".join(format_summary(results)))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine, "scales": results}, indent=2, default=str) + "\n",
            encoding="utf-8",
        )
    mismatched = any(r["agreement"] for r in results)
    internal = any(r["answers"]["internal_errors"] for r in results)
    return 1 if mismatched or internal else 0


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--scales",
        type=parse_scales,
        default=parse_scales(DEFAULT_SCALES),
        help=f"comma-separated claim-line counts (default {DEFAULT_SCALES}; 100M is opt-in:"
        " about 2 minutes, 1.5 GB on disk and 3 GB of memory for the pandas step)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help=f"times the question batch is answered after the warm-up (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--workdir", help="where the databases are built (default: a temporary directory)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases (and the temporary directory)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use a database already in --workdir instead of building it (build not timed)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--engine",
        metavar="URL",
        help="instead: answer latency by shape on this engine (postgresql://..., sc://..., or "
        "a DuckDB file) over the rollups already built there; nothing is built",
    )
    parser.set_defaults(func=run_bench)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """`toprank bench` (bot/cli.py)."""
    configure(
        subparsers.add_parser(
            "bench",
            help="benchmark build, answer latency and memory at 1M/10M/100M claim lines",
            description=__doc__.split("\n\n")[0],
        )
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return worker_main(argv[1], argv[2])
    parser = configure(
        argparse.ArgumentParser(
            prog="python -m toprank.bot.bench.answers",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
