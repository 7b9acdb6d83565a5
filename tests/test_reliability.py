"""Reliability, driven as Slack drives the app: the real Bolt app over signed HTTP against
the local mock Web API (tests/slack_mock.py).

- Slack's retries of an event (same event_id, X-Slack-Retry-Num) and replayed signed
  requests are answered once.
- Acks never wait on the answers: with the Web API answering in 2 s, every one of 30
  slash commands sent 10 at a time is acknowledged (200, not Bolt's 404 for an ack that
  came too late) and answered; a full answer pool says "busy" in the ack.
- Oversized bodies are refused from their Content-Length, unread; malformed ones get a
  4xx and one log line, never a 500 or a traceback.
- A query past its deadline is interrupted and said plainly.

No assertion is about elapsed time: outcomes only (statuses, counts, texts).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import TODAY
from tests.slack_mock import (
    BOT_TOKEN,
    SIGNING_SECRET,
    WAIT_SECONDS,
    SlackMock,
    TrackingExecutor,
    event_callback,
    form_body,
    post_signed,
    sign,
    slash_command_body,
)
from toprank.bot.app import build_app
from toprank.bot.delivery import MemoryDeduper, WorkPool, delivery_key
from toprank.bot.listeners.common import BUSY_TEXT
from toprank.bot.serve import EVENTS_PATH, MAX_BODY_BYTES, make_http_server
from toprank.sql.engine import DuckDBEngine, QueryTimeout

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TRACE_WORDS = ("Traceback", 'File "')


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


class Rig:
    def __init__(self, core: Any, *, pool: WorkPool | None = None) -> None:
        self.mock = SlackMock()
        self.executor = TrackingExecutor()
        self.app = build_app(
            core,
            token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            base_url=self.mock.base_url,
            listener_executor=self.executor,
            pool=pool,
        )
        self.server = make_http_server(self.app, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def quiet(self) -> int:
        self.executor.wait_idle()
        assert self.app.runtime.pool.wait_idle(WAIT_SECONDS * 4)
        assert self.app.runtime.notices.wait_idle(WAIT_SECONDS)
        return len([c for c in self.mock.calls if c.method != "auth.test"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.mock.close()


@pytest.fixture()
def rig(toprank):
    rig = Rig(toprank)
    yield rig
    rig.close()


def mention(text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@UTOPRANK> {text}",
        "ts": ts,
        "channel": "C0GENERAL",
        "event_ts": ts,
    }


def posts(rig: Rig) -> list[Any]:
    return rig.mock.api_calls("chat.postMessage")


# --------------------------------------------------------------------------- once only


def test_an_event_retried_by_slack_is_answered_once(rig: Rig) -> None:
    body = json.dumps(event_callback(mention("top OT codes 2022", "1700000001.000100"))).encode()
    first = post_signed(rig.url, body, JSON)
    retries = [
        post_signed(
            rig.url,
            body,
            JSON,
            headers={"X-Slack-Retry-Num": str(k), "X-Slack-Retry-Reason": "http_timeout"},
        )
        for k in (1, 2, 3)
    ]
    assert first.status == 200 and all(r.status == 200 for r in retries)
    rig.mock.wait_api("chat.postMessage")
    rig.quiet()
    assert len(posts(rig)) == 1


def test_fifty_events_each_retried_once_get_fifty_answers(rig: Rig) -> None:
    bodies = [
        json.dumps(event_callback(mention("what is 97110", f"1700001{k:03d}.000100"))).encode()
        for k in range(50)
    ]

    def deliver(body: bytes) -> tuple[int, int]:
        first = post_signed(rig.url, body, JSON)
        again = post_signed(rig.url, body, JSON, headers={"X-Slack-Retry-Num": "1"})
        return first.status, again.status

    with ThreadPoolExecutor(10) as senders:
        statuses = list(senders.map(deliver, bodies))
    assert all(s == (200, 200) for s in statuses)
    rig.mock.wait_api("chat.postMessage", count=50)
    rig.quiet()
    assert len(posts(rig)) == 50
    assert len({c.body.get("thread_ts") for c in posts(rig)}) == 50  # one per question


def test_a_replayed_slash_command_is_answered_once(rig: Rig) -> None:
    body = slash_command_body("ot 2022", rig.mock.response_url("replay"))
    assert post_signed(rig.url, body, FORM).status == 200
    assert post_signed(rig.url, body, FORM).status == 200  # the same signed body again
    rig.mock.wait_response("replay")
    rig.quiet()
    assert len(rig.mock.responses("replay")) == 1


def test_delivery_keys_and_the_deduper() -> None:
    assert delivery_key({"event_id": "Ev1"}, "{}") == "event:Ev1"
    assert delivery_key({}, "a=1") == delivery_key({}, b"a=1") != delivery_key({}, "a=2")
    clock = [0.0]
    seen = MemoryDeduper(ttl=10, max_keys=3, clock=lambda: clock[0])
    assert seen.first("a") and not seen.first("a")
    clock[0] = 11
    assert seen.first("a")  # forgotten after the ttl
    for key in "bcd":
        assert seen.first(key)
    assert seen.first("a")  # the oldest was pushed out past max_keys


# --------------------------------------------------------------------------- acks


def test_acks_never_wait_on_a_slow_slack(rig: Rig) -> None:
    rig.mock.delay = 2.0  # every Web API and response_url call takes 2 s
    keys = [f"slow-{k}" for k in range(30)]

    def command(key: str) -> int:
        body = slash_command_body("top PT codes 2021", rig.mock.response_url(key))
        return post_signed(rig.url, body, FORM).status

    with ThreadPoolExecutor(10) as senders:  # 10 at a time, as the issue measured
        statuses = list(senders.map(command, keys))
    assert statuses == [200] * 30  # every one acknowledged (a late ack is Bolt's 404)
    for key in keys:
        rig.mock.wait_response(key)
    rig.quiet()
    answered = [rig.mock.responses(key)[0].body for key in keys]
    assert all("physical therapy" in json.dumps(body) for body in answered)


class _Held:
    """A core whose answers wait until released (a pool kept busy on purpose)."""

    def __init__(self, core: Any) -> None:
        self.core, self.release = core, threading.Event()

    def ask(self, text: str):
        return self.converse(text)[0]

    def converse(self, text: str, context=None):
        self.release.wait(WAIT_SECONDS)
        return self.core.converse(text, context)

    def answer_spec(self, spec, *, question=None):
        return self.core.answer_spec(spec, question=question)

    @property
    def coverage(self):
        return self.core.coverage


def test_a_full_answer_pool_says_busy_at_once(toprank) -> None:
    held = _Held(toprank)
    rig = Rig(held, pool=WorkPool(workers=1, queue=1))
    try:
        replies = [
            post_signed(
                rig.url, slash_command_body("ot 2022", rig.mock.response_url(f"b{k}")), FORM
            )
            for k in range(4)
        ]
        assert [r.status for r in replies] == [200] * 4
        busy = [r for r in replies if BUSY_TEXT.encode() in r.body]
        assert len(busy) == 2  # one running, one queued, the rest told to come back
        held.release.set()
        rig.quiet()
        answered = [k for k in range(4) if rig.mock.responses(f"b{k}")]
        assert len(answered) == 2
    finally:
        held.release.set()
        rig.close()


# --------------------------------------------------------------------------- bodies


def _raw_post(port: int, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_SECONDS)
    connection.putrequest("POST", EVENTS_PATH)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    if body:
        connection.send(body)
    response = connection.getresponse()
    status, data = response.status, response.read()
    connection.close()
    return status, data


def test_an_oversized_body_is_refused_from_its_length_unread(rig: Rig) -> None:
    # Only the headers are sent: were the server reading the 100 MB, this would hang
    # until the bounded wait failed.
    status, data = _raw_post(rig.port, {"Content-Type": JSON, "Content-Length": "104857600"})
    assert status == 413 and b"refused" in data
    status, _ = _raw_post(
        rig.port, {"Content-Type": JSON, "Content-Length": str(MAX_BODY_BYTES + 1)}
    )
    assert status == 413
    assert rig.quiet() == 0  # nothing reached the app


@pytest.mark.parametrize(
    ("body", "content_type", "timestamp", "status"),
    [
        (b'{"type": "event_callback", "event": ', JSON, None, 400),  # malformed JSON
        (b"[1, 2, 3]", JSON, None, 400),  # JSON, not an object
        (form_body({"payload": "{not json"}), FORM, None, 400),
        (form_body({"payload": "[]"}), FORM, None, 400),
        (b'{"type": "event_callback"}', JSON, "yesterday", 400),  # the timestamp header
        (b'{"type": "event_callback"}', JSON, 1, 401),  # a stale timestamp
    ],
)
def test_malformed_requests_get_a_4xx_and_no_traceback(
    rig: Rig, caplog, body: bytes, content_type: str, timestamp: Any, status: int
) -> None:
    with caplog.at_level(logging.DEBUG):
        reply = post_signed(rig.url, body, content_type, timestamp=timestamp)
    assert reply.status == status
    assert not any(word in caplog.text for word in TRACE_WORDS)
    assert rig.quiet() == 0


def test_a_request_without_a_length_or_with_a_short_body(rig: Rig) -> None:
    status, _ = _raw_post(rig.port, {"Content-Type": JSON, "Transfer-Encoding": "chunked"})
    assert status == 411
    body = b'{"type": "event_callback"}'
    ts = "1700000000"
    status, _ = _raw_post(
        rig.port,
        {
            "Content-Type": JSON,
            "Content-Length": "500",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(body, int(ts)),
        },
        body,
    )
    assert status in (400, 408)  # the body ended (or stalled) before its length


# --------------------------------------------------------------------------- deadlines


def test_a_query_past_its_deadline_is_interrupted(demo_db) -> None:
    engine = DuckDBEngine(demo_db, timeout=0.2)
    try:
        cursor = engine._connection().cursor()
        with pytest.raises(QueryTimeout):
            engine._fetch(cursor, "SELECT count(*) FROM range(100000000000)", {})
        # the connection answers the next question
        cursor = engine._connection().cursor()
        assert engine._fetch(cursor, "SELECT 1 AS x", {}) == [{"x": 1}]
    finally:
        engine.close()


def test_a_timeout_is_said_plainly(toprank, monkeypatch, caplog) -> None:
    def slow(query):
        raise QueryTimeout("the query ran past 10 s")

    monkeypatch.setattr(toprank.engine, "records", slow)
    with caplog.at_level(logging.ERROR, logger="toprank"):
        answer = toprank.ask("top OT codes 2022")
    assert answer.error == "timeout" and answer.rows == ()
    assert "took longer than" in answer.text and "Traceback" not in answer.text
    assert answer.intent == "top_codes"


def test_query_timeout_setting_is_checked() -> None:
    from toprank.sql.engine import query_timeout_from_env

    assert query_timeout_from_env({}) == 10.0
    assert query_timeout_from_env({"TOPRANK_QUERY_TIMEOUT": "2.5"}) == 2.5
    for bad in ("-5", "0", "soon", "99999"):
        with pytest.raises(ValueError, match="TOPRANK_QUERY_TIMEOUT"):
            query_timeout_from_env({"TOPRANK_QUERY_TIMEOUT": bad})
