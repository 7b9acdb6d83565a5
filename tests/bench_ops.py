"""What operations cost, on SQLite and on PostgreSQL: prints figures, asserts nothing.

    .venv/bin/python -m tests.bench_ops                 # both backends (starts a
                                                        # throwaway PostgreSQL, tests/pg.py)
    .venv/bin/python -m tests.bench_ops --entries 100000 --writes 2000

- a usage-log write (one question's entry), one thread and 8 threads at once;
- a digest claim (the insert that only one replica wins);
- `toprank usage`'s report over a log of --entries questions (read + figures);
- a question answered with and without its log entry, on the demo database (--db).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

from toprank.bot.state import LogEntry, StateStore
from toprank.bot.usage import percentile, usage_report


def entry(at: float, k: int) -> LogEntry:
    return LogEntry(
        id=secrets.token_hex(8),
        at=at,
        surface=("slash", "mention", "dm", "assistant")[k % 4],
        team="T0TEAM",
        channel="C0GENERAL",
        user_hash=f"{k % 150:032x}",
        question=f"top ot codes {2019 + k % 5}",
        follows=None,
        intent="top_codes",
        params=json.dumps({"cohort": "ot", "start": "2022-01-01", "end": "2022-12-31"}),
        template="ranked:rollup_month",
        sql_params=json.dumps({"cohort": "ot", "start": "2022-01-01", "end": "2022-12-31"}),
        latency_ms=20.0 + k % 300,
        outcome="answered" if k % 10 else "refused",
        error=None,
    )


def ms(values: list[float]) -> str:
    return (
        f"p50 {1000 * percentile(values, 50):6.2f} ms  p95 {1000 * percentile(values, 95):6.2f} ms"
    )


def bench_backend(name: str, url: str, writes: int, entries: int) -> None:
    store = StateStore(url)
    now = time.time()
    single = []
    for k in range(writes):
        started = time.perf_counter()
        store.log_question(entry(now, k))
        single.append(time.perf_counter() - started)
    print(f"{name:10s} log write, 1 thread    {ms(single)}")

    per_thread = writes // 8
    done: list[float] = []
    lock = threading.Lock()

    def writer(offset: int) -> None:
        mine = []
        for k in range(per_thread):
            started = time.perf_counter()
            store.log_question(entry(now, offset + k))
            mine.append(time.perf_counter() - started)
        with lock:
            done.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(t * per_thread,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    print(f"{name:10s} log write, 8 threads   {ms(done)}  ({len(done) / seconds:,.0f} writes/s)")

    claims = []
    for k in range(min(writes, 1000)):
        started = time.perf_counter()
        store.claim(f"bench:{k}:{now}")
        claims.append(time.perf_counter() - started)
    print(f"{name:10s} digest claim          {ms(claims)}")

    # a log of `entries` questions over 30 days, then the report over all of it
    missing = entries - writes - len(done)
    with store.engine.begin() as conn:
        from toprank.bot.state import usage_log

        batch = []
        for k in range(max(0, missing)):
            batch.append(entry(now - (k % 30) * 86400 - k % 86400, k).__dict__)
            if len(batch) == 5000:
                conn.execute(usage_log.insert(), batch)
                batch = []
        if batch:
            conn.execute(usage_log.insert(), batch)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        report = usage_report(
            store.log_entries(now - 31 * 86400),
            store.ratings(now - 31 * 86400),
            since=now - 31 * 86400,
            until=now + 1,
        )
        runs.append(time.perf_counter() - started)
    print(
        f"{name:10s} usage report, {report.questions:,} questions: "
        f"{statistics.median(runs):.2f} s (median of 3)"
    )
    store.close()


def bench_answers(db: str | None, questions: int) -> None:
    from toprank.bot.listeners.common import Asker, Runtime
    from toprank.bot.pipeline import Toprank
    from toprank.bot.usage import UsageLog

    core = Toprank.open(db, warm=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(f"sqlite:///{Path(tmp) / 'state.sqlite'}")
        logged = Runtime(core, store=store, usage=UsageLog(store, "bench-salt"))
        bare = Runtime(core, store=store)
        log = __import__("logging").getLogger("bench")
        texts = ["top ot codes 2022", "compare ot and pt 2021", "what share of rehab was 97530"]
        ways = (
            ("without log", bare, None),
            ("with log", logged, Asker("slash", "T0", "C0", "U0")),
        )
        times: dict[str, list[float]] = {name: [] for name, _, _ in ways}
        for _name, runtime, asker in ways:
            runtime.converse_message(texts[0], None, log, asker=asker)  # warm
        for k in range(questions):  # interleaved, so a busy moment costs both alike
            for name, runtime, asker in ways:
                started = time.perf_counter()
                runtime.converse_message(texts[k % 3], None, log, asker=asker)
                times[name].append(time.perf_counter() - started)
        for name, _, _ in ways:
            print(f"answer + render, {name:11s}  {ms(times[name])}")
        store.close()
    core.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--db", default=None, help="DuckDB file (default: the demo)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bench_backend(
            "SQLite", f"sqlite:///{Path(tmp) / 'state.sqlite'}", args.writes, args.entries
        )
    if not args.no_postgres:
        from tests.pg import Cluster, fresh_database

        cluster = Cluster(fsync=True)  # durable commits, as a real server
        try:
            bench_backend("PostgreSQL", fresh_database(cluster.start()), args.writes, args.entries)
        finally:
            cluster.stop()
    bench_answers(args.db, args.questions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
