"""Chart rendering time per chart kind (what a Chart button press costs after the answer).

    python -m tests.bench_chart [--db PATH] [--repeat 20] [--json PATH]

For each kind, a few questions of that shape from the development sets are answered
once; then each chart is built and drawn `--repeat` times after a warm-up, and the
script prints per kind: p50 and p95 of the whole render (spec + Figure + PNG), the
part spent choosing and building the spec (pure Python), the CPU time of a render (less
sensitive than wall time to other work on the machine), and the PNG's size. It also
prints, from a fresh process, what the first chart costs (importing matplotlib) and
that nothing imports matplotlib before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from toprank.bot.chart import draw, figure_png
from toprank.bot.chart_kinds import KIND_NOUN, chart_kind, chart_spec

# Questions of each shape, as staff ask them (tests/data/questions_v2*.jsonl).
QUESTIONS = {
    "bars": [
        "top 10 rehab codes 2023",
        "what share of OT procedures was 97530 in 2022",
        "top OT codes in Vermont 2022",
        "which states bill the most 97110 in 2021?",
        "medicare PT procedures, 2019 versus 2023",
    ],
    "grouped_bars": [
        "OT vs PT 2022",
        "top PT codes 2021 vs 2022",
        "TX vs FL top PT codes 2021",
        "top 3 rehab codes per quarter in 2022",
        "how do OT and PT differ",
    ],
    "lines": [
        "trend of 97530 for OT",
        "97110 trend: OTs vs PTs",
        "monthly chiro volume 2022",
        "quarterly OT volume 2022",
    ],
    "state_map": [
        "PT procedures by state 2022",
        "SLP procedures by state in 2022 for medicaid",
        "top PT code per state 2021",
    ],
    "stacked_bar": [
        "payer mix for PT",
        "SLP payer mix by year, 2020 through 2021",
        "OT procedures by place of service 2022",
        "97110 volume by specialty 2021",
    ],
    "diverging_bars": [
        "fastest growing rehab codes 2022 vs 2021",
        "which OT codes lost the most share, 2019 vs 2022?",
    ],
}

COLD_SCRIPT = """
import sys, time
from toprank.bot.pipeline import Toprank
import toprank.bot.app, toprank.bot.listeners.actions, toprank.bot.chart
loaded = "matplotlib" in sys.modules
with Toprank.open({db!r}, build_if_missing=False) as t:
    answer = t.ask("trend of 97530 for OT")
    start = time.perf_counter()
    toprank.bot.chart.chart_png(answer)
    first = time.perf_counter() - start
    start = time.perf_counter()
    toprank.bot.chart.chart_png(answer)
    second = time.perf_counter() - start
print(loaded, first, second)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="DuckDB file (default: $TOPRANK_DB or data/)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    from toprank.bot.pipeline import Toprank

    results = {}
    with Toprank.open(args.db) as toprank:
        db = str(toprank.engine.path)
        for kind, questions in QUESTIONS.items():
            answers = [toprank.ask(q) for q in questions]
            for q, a in zip(questions, answers, strict=True):
                if chart_kind(a) != kind:
                    print(f"{q!r}: {chart_kind(a)}, not {kind}", file=sys.stderr)
                    return 1
            total: list[float] = []
            cpu: list[float] = []
            build: list[float] = []
            sizes: list[int] = []
            for a in answers:  # warm-up
                figure_png(draw(chart_spec(a)))
            for _ in range(args.repeat):
                for a in answers:
                    c0, t0 = time.thread_time(), time.perf_counter()
                    spec = chart_spec(a)
                    t1 = time.perf_counter()
                    png = figure_png(draw(spec))
                    t2 = time.perf_counter()
                    build.append(t1 - t0)
                    total.append(t2 - t0)
                    cpu.append(time.thread_time() - c0)
                    sizes.append(len(png))
            results[kind] = {
                "charts": len(answers),
                "renders": len(total),
                "p50_ms": 1000 * statistics.median(total),
                "p95_ms": 1000 * percentile(total, 0.95),
                "cpu_p95_ms": 1000 * percentile(cpu, 0.95),
                "spec_p95_ms": 1000 * percentile(build, 0.95),
                "png_kb": statistics.median(sizes) / 1024,
            }

    cold = subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT.format(db=db)], capture_output=True, text=True
    )
    loaded, first, second = cold.stdout.split() if cold.returncode == 0 else ("?", "nan", "nan")

    print(f"Chart render time, {args.repeat} renders of each chart after a warm-up (ms):\n")
    print("| kind | charts | p50 | p95 | CPU p95 | of which spec (p95) | PNG |")
    print("|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        print(
            f"| {KIND_NOUN[kind]} (`{kind}`) | {r['charts']} | {r['p50_ms']:.0f} | "
            f"{r['p95_ms']:.0f} | {r['cpu_p95_ms']:.0f} | {r['spec_p95_ms']:.2f} | "
            f"{r['png_kb']:.0f} KB |"
        )
    worst = max(results.values(), key=lambda r: r["p95_ms"])
    every = [r["p95_ms"] for r in results.values()]
    print(
        f"\nworst p95 {worst['p95_ms']:.0f} ms; p95 over kinds {min(every):.0f}-{max(every):.0f} ms"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"fresh process: matplotlib loaded before the first chart: {loaded}; first chart "
        f"{1000 * float(first):.0f} ms (imports matplotlib), the next {1000 * float(second):.0f} ms"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"kinds": results, "first_ms": 1000 * float(first)}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
