"""Load run: the real Slack app over signed HTTP under bounded load, with the mock Web API
answering at once or slowly. Prints figures for the README; asserts nothing.

    python -m tests.load_slack [--commands 200] [--concurrency 10] [--delays 0,2] [--db PATH]

For each delay it starts the mock Slack (tests/slack_mock.py) with every Web API and
response_url call taking that long, the app as `toprank serve --http` runs it, then sends
slash commands from `--concurrency` threads and measures, per command: the ack (the HTTP
round trip of the signed POST) and the answer (from sending to the answer reaching the
response_url). A command whose ack is not 200 (Bolt's 404 for an ack that came too late)
or whose answer never arrives counts as failed.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.slack_mock import BOT_TOKEN, SIGNING_SECRET, SlackMock, post_signed, slash_command_body

QUESTIONS = (
    "ot 2022",
    "top PT codes excluding medicare 2022",
    "payer mix for PT",
    "trend of 97110 for OT",
    "how many OT visits in 2022",
)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(core, commands: int, concurrency: int, delay: float) -> dict[str, float]:
    from toprank.bot.app import build_app
    from toprank.bot.listeners.common import BUSY_TEXT
    from toprank.bot.serve import EVENTS_PATH, make_http_server

    mock = SlackMock()
    app = build_app(core, token=BOT_TOKEN, signing_secret=SIGNING_SECRET, base_url=mock.base_url)
    server = make_http_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
    mock.delay = delay
    sent: dict[str, float] = {}
    acks: list[float] = []
    statuses: list[int] = []
    busy: list[str] = []

    def command(k: int) -> None:
        key = f"load-{k}"
        body = slash_command_body(QUESTIONS[k % len(QUESTIONS)], mock.response_url(key))
        sent[key] = time.monotonic()
        reply = post_signed(url, body, "application/x-www-form-urlencoded")
        acks.append(reply.seconds)
        statuses.append(reply.status)
        if BUSY_TEXT.encode() in reply.body:
            busy.append(key)
            sent.pop(key, None)

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as senders:
        list(senders.map(command, range(commands)))
    deadline = time.monotonic() + 60 + commands * delay
    while time.monotonic() < deadline:
        if len({c.method for c in mock.calls if c.kind == "response"}) >= len(sent):
            break
        time.sleep(0.05)
    answers = []
    for call in mock.calls:
        if call.kind == "response" and call.method in sent:
            answers.append(call.at - sent.pop(call.method))
    elapsed = time.monotonic() - started
    server.shutdown()
    server.server_close()
    mock.close()
    app.runtime.pool.shutdown()
    return {
        "delay": delay,
        "commands": commands,
        "acked": sum(1 for s in statuses if s == 200),
        "answered": len(answers),
        "busy": len(busy),
        "ack_p50_ms": 1000 * percentile(acks, 50),
        "ack_p95_ms": 1000 * percentile(acks, 95),
        "ack_max_ms": 1000 * max(acks),
        "answer_p50_ms": 1000 * percentile(answers, 50),
        "answer_p95_ms": 1000 * percentile(answers, 95),
        "answer_mean_ms": 1000 * statistics.fmean(answers) if answers else float("nan"),
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--delays", default="0,2", help="seconds the Web API takes, comma list")
    parser.add_argument("--db", default=None, help="DuckDB file (default: the demo)")
    args = parser.parse_args(argv)
    from toprank.bot.pipeline import Toprank

    core = Toprank.open(args.db, warm=True)
    print(f"{args.commands} slash commands, {args.concurrency} at a time")
    print(
        "Web API  acked  answered  busy  ack p50  ack p95  ack max  answer p50  answer p95   total"
    )
    for delay in (float(d) for d in args.delays.split(",")):
        r = run(core, args.commands, args.concurrency, delay)
        print(
            f"{delay:5.1f} s  {r['acked']:5d}  {r['answered']:8d}  {r['busy']:4d}  "
            f"{r['ack_p50_ms']:5.0f} ms "
            f"{r['ack_p95_ms']:5.0f} ms {r['ack_max_ms']:5.0f} ms  {r['answer_p50_ms']:7.0f} ms "
            f"{r['answer_p95_ms']:7.0f} ms  {r['seconds']:5.1f} s"
        )
    core.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
