"""New data while the bot runs: the pause users see, and the extra disk the switch needs.

    .venv/bin/python -m tests.bench_switch                       # 1M demo lines, 1M new lines
    .venv/bin/python -m tests.bench_switch --demo-lines 10M --new-lines 5M

A real bot process (`toprank ask --json -`, the engine every surface uses) answers a
stream of questions, one after the other, while a real `toprank data ingest` process
loads a claims file into the same database. Every answer to "top ot codes 2022" is
checked against SQL over `claim_lines` of the file before and of the file after
(independent oracles); every other answer must be an answer (no error). Printed: how
many questions, answer latency before, during and around the commit (p50/p99/max), how
long after the commit the first answer came from the new data, and the disk the
database's directory used at its peak (sampled every 20 ms) against before.

tests/test_datasafety.py runs the same scenario at a small scale and asserts on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
TOPRANK = [sys.executable, "-m", "toprank.bot.cli"]
CHECKED_QUESTION = "top ot codes 2022"
QUESTIONS = (
    CHECKED_QUESTION,
    "top rehab codes 2022",
    "compare ot and pt 2022",
    "monthly ot volume 2022",
    "top pt codes in texas for medicare 2022",
    "what share of ot was 97530 in 2022",
)
TOP = 3  # rows of the checked answer compared with the oracle


def new_claims_file(path: Path, lines: int) -> Path:
    """Claim lines of 2022: OT in California, whose ranking differs from the demo's
    (97763 first), and PT in Texas (one line in four), so every question has data."""
    con = duckdb.connect()
    try:
        con.execute(
            "COPY (SELECT 'N' || i AS claim_id, 1 AS line_number, "
            "CAST(DATE '2022-01-01' + CAST(i % 365 AS INTEGER) AS VARCHAR) AS service_date, "
            "CASE WHEN i % 10 < 5 THEN '97763' WHEN i % 10 < 8 THEN '97535' ELSE '97110' END "
            "AS hcpcs_code, 'GO' AS modifiers, 1 AS units, '1234567893' AS rendering_npi, "
            "CASE WHEN i % 4 = 3 THEN '225100000X' ELSE '225X00000X' END AS rendering_taxonomy, "
            "'11' AS place_of_service, 'medicare' AS payer_type, "
            "CASE WHEN i % 4 = 3 THEN 'TX' ELSE 'CA' END AS state FROM range($n) t(i)) "
            f"TO '{path}' (HEADER)",
            {"n": lines},
        )
    finally:
        con.close()
    return path


def oracle_top(db: Path) -> list[tuple[str, int]]:
    """The top OT codes of 2022 by procedures, straight from the claim lines."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            (str(code), int(n))
            for code, n in con.execute(
                "SELECT hcpcs_code, sum(procedures) AS n FROM claim_lines WHERE cohort = 'ot' "
                "AND year(service_date) = 2022 GROUP BY 1 ORDER BY n DESC, 1 LIMIT $k",
                {"k": TOP},
            ).fetchall()
        ]
    finally:
        con.close()


def dir_bytes(directory: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(OSError):  # removed between the listing and the stat
                total += os.stat(os.path.join(root, name)).st_size
    return total


@dataclass
class Asked:
    sent: float  # monotonic seconds
    latency: float
    question: str
    error: str | None
    top: list[tuple[str, int]] | None  # the checked question's first rows


@dataclass
class SwitchRun:
    asked: list[Asked] = field(default_factory=list)
    ingest_started: float = 0.0
    ingest_ended: float = 0.0
    committed: float | None = None  # when the path first named the new file
    ingest_code: int | None = None
    ingest_out: str = ""
    before_bytes: int = 0
    peak_bytes: int = 0
    after_bytes: int = 0
    old_top: list[tuple[str, int]] = field(default_factory=list)
    new_top: list[tuple[str, int]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def first_new(self) -> Asked | None:
        return next((a for a in self.asked if a.top == self.new_top), None)

    def checked(self) -> list[Asked]:
        return [a for a in self.asked if a.question == CHECKED_QUESTION]

    def wrong(self) -> list[Asked]:
        """Checked answers that match neither file, or the old file after the new one."""
        first = self.first_new()
        return [
            a
            for a in self.checked()
            if a.top not in (self.old_top, self.new_top)
            or (first is not None and a.sent > first.sent and a.top == self.old_top)
        ]


def scenario(
    db: Path, new_file: Path, *, after_seconds: float = 3.0, timeout: float = 600.0
) -> SwitchRun:
    """The bot answers while the ingest runs; returns every answer and the timings."""
    run = SwitchRun(old_top=oracle_top(db))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TOPRANK_DB", None)
    bot = subprocess.Popen(
        [*TOPRANK, "ask", "--json", "--db", str(db), "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        cwd=REPO,
        env=env,
    )
    assert bot.stdin is not None and bot.stdout is not None
    stop = threading.Event()
    identity = os.stat(db).st_ino
    run.before_bytes = dir_bytes(db.parent)
    run.peak_bytes = run.before_bytes

    def sample() -> None:
        while not stop.is_set():
            run.peak_bytes = max(run.peak_bytes, dir_bytes(db.parent))
            if run.committed is None:
                try:
                    if os.stat(db).st_ino != identity:
                        run.committed = time.monotonic()
                except OSError:
                    pass
            time.sleep(0.02)

    def ingest() -> None:
        run.ingest_started = time.monotonic()
        done = subprocess.run(
            [*TOPRANK, "data", "ingest", "claims", str(new_file), "--db", str(db), "--no-progress"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
        )
        run.ingest_ended = time.monotonic()
        run.ingest_code = done.returncode
        run.ingest_out = done.stdout + done.stderr

    def ask(question: str) -> Asked:
        sent = time.monotonic()
        bot.stdin.write(question + "\n")
        bot.stdin.flush()
        line = bot.stdout.readline()
        latency = time.monotonic() - sent
        if not line:
            raise RuntimeError(f"the bot process ended: {bot.stderr.read()[-2000:]}")
        answer = json.loads(line)
        top = None
        if question == CHECKED_QUESTION and not answer["error"]:
            top = [(str(r["code"]), int(r["procedures"])) for r in answer["rows"][:TOP]]
        return Asked(sent, latency, question, answer["error"], top)

    sampler = threading.Thread(target=sample, daemon=True)
    loader = threading.Thread(target=ingest, daemon=True)
    try:
        for question in QUESTIONS:  # the bot is up and warm before the load starts
            ask(question)
        sampler.start()
        started = time.monotonic()
        index = 0
        while time.monotonic() - started < 1.0:  # a second of answers before the load
            run.asked.append(ask(QUESTIONS[index % len(QUESTIONS)]))
            index += 1
        loader.start()
        while time.monotonic() - started < timeout:
            run.asked.append(ask(QUESTIONS[index % len(QUESTIONS)]))
            index += 1
            if not loader.is_alive() and run.ingest_code is not None:
                if run.ingest_code != 0:
                    break
                if not run.new_top:
                    run.new_top = oracle_top(db)
                first = run.first_new()
                if first is not None and time.monotonic() - first.sent >= after_seconds:
                    break
    finally:
        stop.set()
        bot.stdin.close()
        bot.wait(timeout=60)
        loader.join(timeout=timeout)
        if sampler.is_alive():
            sampler.join()
    run.after_bytes = dir_bytes(db.parent)
    run.leftovers = sorted(
        p.name for p in db.parent.iterdir() if p.name.startswith(".") or ".tmp" in p.name
    )
    return run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def window(run: SwitchRun, start: float, end: float) -> list[float]:
    return [a.latency for a in run.asked if start <= a.sent < end]


def summary(run: SwitchRun) -> dict[str, object]:
    commit = run.committed or run.ingest_ended
    first = run.first_new()
    parts = {
        "before the ingest": window(run, 0, run.ingest_started),
        "during the ingest": window(run, run.ingest_started, commit),
        "the switch (commit to +3 s)": window(run, commit, commit + 3.0),
        "after": window(run, commit + 3.0, float("inf")),
    }
    return {
        "questions": len(run.asked),
        "errors": sum(1 for a in run.asked if a.error),
        "error_codes": sorted({str(a.error) for a in run.asked if a.error}),
        "checked": len(run.checked()),
        "wrong": len(run.wrong()),
        "ingest_seconds": run.ingest_ended - run.ingest_started,
        "new_data_after_commit_s": None if first is None else first.sent - commit,
        "latency_ms": {
            name: {
                "n": len(values),
                "p50": 1000 * percentile(values, 0.5),
                "p99": 1000 * percentile(values, 0.99),
                "max": 1000 * max(values, default=float("nan")),
            }
            for name, values in parts.items()
        },
        "disk_before": run.before_bytes,
        "disk_peak": run.peak_bytes,
        "disk_after": run.after_bytes,
    }


def main(argv: list[str] | None = None) -> int:
    from toprank.data.cli import parse_lines
    from toprank.data.demo import build_demo, human_bytes

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-lines", type=parse_lines, default=1_000_000)
    parser.add_argument("--new-lines", type=parse_lines, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temp dir)")
    parser.add_argument(
        "--from", dest="source", type=Path, default=None, help="start from a copy of this database"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        db = work / "db" / "claims.duckdb"
        if args.source is not None:
            db.parent.mkdir(parents=True)
            shutil.copyfile(args.source, db)
        else:
            print(f"building the demo database ({args.demo_lines:,} lines) ...", file=sys.stderr)
            build_demo(db, args.demo_lines, progress=False)
        new_file = new_claims_file(work / "new.csv", args.new_lines)
        print("bot answering while the ingest runs ...", file=sys.stderr)
        run = scenario(db, new_file)
        figures = summary(run)
    print(
        f"new data while answering: {'a copy of ' + str(args.source) if args.source else 'demo'} "
        f"{args.demo_lines:,} lines, ingest of "
        f"{args.new_lines:,} lines in {figures['ingest_seconds']:.1f} s (exit {run.ingest_code})"
    )
    after = figures["new_data_after_commit_s"]
    print(
        f"questions answered: {figures['questions']:,}, errors {figures['errors']} "
        f"{figures['error_codes']}; {figures['checked']} checked against the lines, "
        f"{figures['wrong']} wrong; "
        "first answer from the new data "
        + ("never" if after is None else f"{after:.2f} s after the commit")
    )
    print("| while | answers | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, lat in figures["latency_ms"].items():  # type: ignore[union-attr]
        print(
            f"| {name} | {lat['n']} | {lat['p50']:.0f} ms | {lat['p99']:.0f} ms | {lat['max']:.0f} ms |"
        )
    print(
        f"disk of the database's directory: {human_bytes(run.before_bytes)} before, "
        f"{human_bytes(run.peak_bytes)} at the peak "
        f"(+{human_bytes(run.peak_bytes - run.before_bytes)}), {human_bytes(run.after_bytes)} after"
    )
    ok = run.ingest_code == 0 and not figures["errors"] and not figures["wrong"]
    return 0 if ok and after is not None else 1


if __name__ == "__main__":
    sys.exit(main())
