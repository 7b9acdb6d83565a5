"""Operations through Slack, driven as Slack drives them: the real Bolt app over signed
HTTP, the mock Web API recording what it posts, a real state store (an SQLite file, or
PostgreSQL for two app instances sharing one).

Feedback up and down (with the form), the usage log of every surface, subscribe / list
/ unsubscribe, a digest fired by a test clock (and not again after a restart), two
apps sharing PostgreSQL sending a due digest once, the coverage notice, Slack's 429
with Retry-After, and the per-user limit. Figures are checked against SQL over
`claim_lines`, stored rows against SQL over the store's tables.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from slack_sdk.models.views import View

from tests.blockkit import check_message
from tests.pg import fresh_database, pg_server  # noqa: F401  (the session fixture)
from tests.slack_mock import (
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    SlackMock,
    TrackingExecutor,
    block_actions_body,
    event_body,
    post_signed,
    slash_command_body,
    view_submission_body,
)
from tests.test_slack_app import (
    CHANNEL,
    FORM,
    JSON,
    USER,
    SlackRig,
    blocks_of,
    stop_rig,
    table_cells,
)
from toprank.bot.app import OpsSettings, build_app
from toprank.bot.digests import COVERAGE_SETTING
from toprank.bot.feedback import ACTION_FEEDBACK, CALLBACK_FEEDBACK, COMMENT_ACTION, COMMENT_BLOCK
from toprank.bot.serve import EVENTS_PATH, make_http_server
from toprank.bot.state import StateStore

MONDAY_0800 = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    """The test clock: the store's, so the digest scheduler and the log run on it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def toprank(demo_db):
    from tests.conftest import TODAY
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.fixture(scope="module")
def lines(demo_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


def top_codes(con: duckdb.DuckDBPyConnection, cohort: str, year: int, n: int = 10) -> list[str]:
    rows = con.execute(
        "SELECT hcpcs_code FROM claim_lines WHERE cohort = $cohort "
        "AND year(service_date) = $year "
        "GROUP BY hcpcs_code ORDER BY sum(procedures) DESC, hcpcs_code LIMIT $n",
        {"cohort": cohort, "year": year, "n": n},
    ).fetchall()
    return [r[0] for r in rows]


def codes_shown(call: Any) -> list[str]:
    labels, rows = table_cells(call)
    return [row[labels.index("Code")] for row in rows] if "Code" in labels else []


def start(
    core: Any, store: StateStore, mock: SlackMock | None = None, **ops: Any
) -> tuple[SlackRig, Any]:
    mock = mock or SlackMock()
    executor = TrackingExecutor()
    app = build_app(
        core,
        token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        base_url=mock.base_url,
        listener_executor=executor,
        store=store,
        ops=OpsSettings(**ops),
    )
    server = make_http_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
    return SlackRig(mock, executor, url, app.runtime), server


@pytest.fixture()
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


@pytest.fixture()
def clock() -> Clock:
    return Clock(MONDAY_0800)


@pytest.fixture()
def rig(toprank, state_url: str, clock: Clock) -> Iterator[SlackRig]:
    rig, server = start(toprank, StateStore(state_url, clock=clock))
    yield rig
    rig.runtime.scheduler.stop()
    stop_rig(rig, server)


def rows(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The independent read: plain SQL over the store's tables."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def feedback_buttons(call: Any) -> dict[str, Any] | None:
    for block in blocks_of(call):
        if block["type"] == "context_actions":
            for element in block["elements"]:
                if element["type"] == "feedback_buttons":
                    return element
    return None


def click_feedback(
    rig: SlackRig, element: dict[str, Any], which: str, *, message: dict | None = None
) -> str:
    key = rig.key("fb")
    button = element["positive_button" if which == "up" else "negative_button"]
    action = {
        "type": "feedback_buttons",
        "action_id": element["action_id"],
        "value": button["value"],
    }
    body = block_actions_body(
        action, rig.mock.response_url(key), message=message, ephemeral=message is None
    )
    assert rig.post(body, FORM).status == 200
    return key


def mention(rig: SlackRig, text: str, ts: str, user: str = USER) -> None:
    rig.event(
        {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts,
            "channel": CHANNEL,
        }
    )


# --------------------------------------------------------------------------- feedback


def test_thumbs_up_is_stored_with_the_answers_log_entry(rig, state_url, lines) -> None:
    _, answer = rig.command("ot 2022")
    check_message(answer.body)
    assert codes_shown(answer) == top_codes(lines, "ot", 2022)
    element = feedback_buttons(answer)
    assert element is not None and element["action_id"] == ACTION_FEEDBACK
    log_id = element["positive_button"]["value"].split("|")[1]
    (entry,) = rows(state_url, "SELECT * FROM usage_log WHERE id = :id", id=log_id)
    assert entry["surface"] == "slash" and entry["outcome"] == "answered"
    assert entry["question"] == "/toprank ot 2022" and entry["channel"] == CHANNEL
    assert json.loads(entry["params"])["cohort"] == "ot"
    assert json.loads(entry["sql_params"])  # the bound parameters of the SQL that ran
    assert entry["template"] and entry["latency_ms"] > 0
    assert entry["user_hash"] and USER not in entry["user_hash"]  # never the id itself

    key = click_feedback(rig, element, "up")
    thanks = rig.mock.wait_response(key)[0]
    assert thanks.body["response_type"] == "ephemeral"
    assert "Thanks" in thanks.body["text"]
    rig.quiet()
    (rating,) = rows(state_url, "SELECT * FROM feedback WHERE log_id = :id", id=log_id)
    assert rating["rating"] == "up" and rating["user_hash"] == entry["user_hash"]
    assert rig.mock.api_calls("views.open") == []  # no form for a thumbs up


def test_thumbs_down_opens_the_form_and_keeps_the_comment(rig, state_url) -> None:
    ts = "1700200000.000100"
    mention(rig, "top PT codes 2021", ts)
    answer = rig.mock.wait_api("chat.postMessage", thread_ts=ts)[0]
    element = feedback_buttons(answer)
    assert element is not None
    message = {"ts": "1700200001.000100", "thread_ts": ts, "text": answer.body["text"]}
    click_feedback(rig, element, "down", message=message)
    opened = rig.mock.wait_api("views.open")[0]
    assert opened.body["trigger_id"] == "1337.43.abcd"  # the click's own trigger
    view = opened.json_field("view")
    View(**view).validate_json()  # a valid modal by slack_sdk's model
    log_id = element["negative_button"]["value"].split("|")[1]
    assert view["callback_id"] == CALLBACK_FEEDBACK and view["private_metadata"] == log_id
    assert "top PT codes 2021" in json.dumps(view)  # it shows what was asked

    comment = "I meant Florida only, and 97110 looks too high"
    values = {COMMENT_BLOCK: {COMMENT_ACTION: {"type": "plain_text_input", "value": comment}}}
    reply = rig.post(view_submission_body(view, values), FORM)
    assert reply.status == 200 and reply.body in (b"", b"{}")  # the form closes
    rig.quiet()
    (rating,) = rows(state_url, "SELECT * FROM feedback WHERE log_id = :id", id=log_id)
    assert rating["rating"] == "down" and rating["comment"] == comment
    (entry,) = rows(state_url, "SELECT surface FROM usage_log WHERE id = :id", id=log_id)
    assert entry["surface"] == "mention"


def test_a_skipped_form_still_counts_the_thumbs_down(rig, state_url) -> None:
    _, answer = rig.command("rehab 2023")
    element = feedback_buttons(answer)
    click_feedback(rig, element, "down")
    rig.mock.wait_api("views.open")
    rig.quiet()
    log_id = element["negative_button"]["value"].split("|")[1]
    (rating,) = rows(state_url, "SELECT * FROM feedback WHERE log_id = :id", id=log_id)
    assert rating["rating"] == "down" and rating["comment"] is None


def test_answers_that_are_not_data_have_no_thumbs(rig) -> None:
    for text in ("what's the weather in paris", "help", "ot 2015"):
        _, call = rig.command(text)
        assert feedback_buttons(call) is None, text


def test_a_forged_feedback_value_changes_nothing(rig, state_url) -> None:
    before = rows(state_url, "SELECT count(*) AS n FROM feedback")[0]["n"]
    for value in (
        "up|'; DROP TABLE feedback; --",
        "sideways|0123456789abcdef",
        "up|ffffffffffffffff",
    ):
        key = rig.key("forged")
        action = {"type": "feedback_buttons", "action_id": ACTION_FEEDBACK, "value": value}
        body = block_actions_body(action, rig.mock.response_url(key))
        assert rig.post(body, FORM).status == 200
    rig.quiet()
    assert rows(state_url, "SELECT count(*) AS n FROM feedback")[0]["n"] == before
    gone = rig.mock.find(lambda c: c.kind == "response")
    assert all("Traceback" not in json.dumps(c.body) for c in gone)


# --------------------------------------------------------------------------- the usage log


def test_every_surface_is_logged(rig, state_url, toprank) -> None:
    rig.command("pt 2022")
    mention(rig, "top OT codes 2020", "1700200100.000100")
    rig.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0ALICE",
            "user": USER,
            "text": "what's the weather",
            "ts": "1700200101.000100",
        }
    )
    rig.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0ALICE",
            "user": USER,
            "text": "top SLP codes 2021",
            "ts": "1700200102.000100",
            "thread_ts": "1700200099.000100",  # a DM thread: the assistant pane's
        }
    )
    rig.mock.wait_api("chat.postMessage", count=3)
    rig.quiet()
    logged = rows(state_url, "SELECT surface, question, outcome, intent FROM usage_log")
    by_question = {r["question"]: r for r in logged}
    assert by_question["/toprank pt 2022"]["surface"] == "slash"
    assert by_question["top OT codes 2020"]["surface"] == "mention"
    weather = by_question["what's the weather"]
    assert weather["surface"] == "dm" and weather["outcome"] == "refused"
    assert weather["intent"] == "unknown"
    assert by_question["top SLP codes 2021"]["surface"] == "assistant"
    assert len(logged) == 4


def test_a_refined_answer_is_logged_as_refine(rig, state_url) -> None:
    _, answer = rig.command("ot 2022")
    menu = next(
        e
        for b in blocks_of(answer)
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "static_select" and e["action_id"].endswith("_period")
    )
    option = next(o for o in menu["options"] if o["text"]["text"] == "2020")
    key = rig.key("refine")
    body = block_actions_body(
        {"action_id": menu["action_id"], "selected_option": option}, rig.mock.response_url(key)
    )
    rig.post(body, FORM)
    replaced = rig.mock.wait_response(key)[0]
    rig.quiet()
    element = feedback_buttons(replaced)
    assert element is not None  # the refined answer can be rated on its own
    log_id = element["positive_button"]["value"].split("|")[1]
    (entry,) = rows(state_url, "SELECT * FROM usage_log WHERE id = :id", id=log_id)
    assert entry["surface"] == "refine"
    assert json.loads(entry["params"])["start"] == "2020-01-01"


# --------------------------------------------------------------------------- digests


def reply_text(call: Any) -> str:
    return call.body.get("text") or ""


def test_subscribe_list_and_unsubscribe(rig, state_url) -> None:
    _, made = rig.command("subscribe weekly top OT codes 2022 at 08:30")
    assert "Digest #" in reply_text(made) and "every Monday at 08:30 UTC" in reply_text(made)
    (saved,) = rows(state_url, "SELECT * FROM subscriptions")
    assert (saved["channel"], saved["team"], saved["cadence"], saved["at_minute"]) == (
        CHANNEL,
        TEAM_ID,
        "weekly",
        8 * 60 + 30,
    )
    assert saved["question"] == "top OT codes 2022"
    number = saved["id"]
    assert f"#{number}" in reply_text(made)
    _, listed = rig.command("subscriptions")
    check_message(listed.body)
    assert f"#{number}" in reply_text(listed) and "top OT codes 2022" in reply_text(listed)
    assert "next Mon 2026-11-30 08:30" in reply_text(listed)  # the test clock: 08:00 Monday
    _, removed = rig.command(f"unsubscribe {number}")
    assert f"Removed digest #{number}" in reply_text(removed)
    assert rows(state_url, "SELECT * FROM subscriptions") == []
    _, again = rig.command(f"unsubscribe {number}")
    assert "no digest" in reply_text(again)
    _, empty = rig.command("subscriptions")
    assert "no digests" in reply_text(empty)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("subscribe weekly", "Which question"),
        ("subscribe hourly top ot codes", "subscribe daily|weekly|monthly"),
        ("subscribe daily top ot codes 2022 at 25:00", "not a time of day"),
        ("subscribe daily what's the weather in paris", "can't make a digest"),
        ("unsubscribe three", "Say which digest"),
    ],
)
def test_a_bad_digest_command_is_explained_and_changes_nothing(
    rig, state_url, text: str, says: str
) -> None:
    _, reply = rig.command(text)
    check_message(reply.body)
    assert says in reply_text(reply)
    assert rows(state_url, "SELECT * FROM subscriptions") == []


def test_a_digest_fired_by_a_test_clock(toprank, lines, state_url, clock) -> None:
    mock = SlackMock()
    first, server = start(toprank, StateStore(state_url, clock=clock), mock)
    try:
        first.command("subscribe weekly top OT codes 2022 at 09:00")
        first.quiet()
        scheduler = first.runtime.scheduler
        clock.now = MONDAY_0800 + 59 * 60  # 08:59: not yet
        assert scheduler.tick() == 0
        clock.now = MONDAY_0800 + 60 * 60 + 5  # 09:00:05
        assert scheduler.tick() == 1
        assert scheduler.tick() == 0  # claimed: not again
        first.quiet()
        (digest,) = mock.api_calls("chat.postMessage")
        assert digest.body["channel"] == CHANNEL
        check_message(digest.body)
        assert codes_shown(digest) == top_codes(lines, "ot", 2022)  # worked out at send time
        lead = blocks_of(digest)[0]["elements"][0]["text"]
        assert "Weekly digest #" in lead and "every Monday at 09:00 UTC" in lead
        assert feedback_buttons(digest) is not None
        logged = rows(state_url, "SELECT surface FROM usage_log WHERE surface = 'digest'")
        assert len(logged) == 1
    finally:
        stop_rig(first, server)

    # a restart: a new app on the same store sends nothing twice, then next week's
    mock = SlackMock()
    second, server = start(toprank, StateStore(state_url, clock=clock), mock, digest_interval=0.05)
    try:
        assert second.runtime.scheduler.tick() == 0
        clock.now += 7 * 86400  # the next Monday, 09:00:05
        second.runtime.scheduler.start()  # the thread `toprank serve` starts
        mock.wait_api("chat.postMessage", channel=CHANNEL)
        second.runtime.scheduler.stop()
        second.quiet()
        assert len(mock.api_calls("chat.postMessage")) == 1
    finally:
        second.runtime.scheduler.stop()
        stop_rig(second, server)


def test_a_digest_missed_while_down_goes_out_once_late(toprank, state_url, clock) -> None:
    mock = SlackMock()
    rig, server = start(toprank, StateStore(state_url, clock=clock), mock)
    try:
        rig.command("subscribe daily top PT codes 2021 at 09:00")
        clock.now = MONDAY_0800 + 3 * 86400 + 3600  # Thursday 09:00: three were due
        assert rig.runtime.scheduler.tick() == 1  # the latest only
        assert rig.runtime.scheduler.tick() == 0
    finally:
        stop_rig(rig, server)


def test_a_digest_that_slack_refuses_for_a_passing_reason_is_tried_again(
    toprank, state_url, clock
) -> None:
    mock = SlackMock()
    rig, server = start(toprank, StateStore(state_url, clock=clock), mock)
    try:
        rig.command("subscribe daily top PT codes 2021 at 09:00")
        clock.now = MONDAY_0800 + 3600
        mock.failures["chat.postMessage"] = "internal_error"
        assert rig.runtime.scheduler.tick() == 0
        mock.failures["chat.postMessage"] = "channel_not_found"
        assert rig.runtime.scheduler.tick() == 0  # tried again; refused for good
        mock.failures.clear()
        assert rig.runtime.scheduler.tick() == 0  # the claim is kept: no resend loop
        assert len(mock.api_calls("chat.postMessage")) == 2
    finally:
        stop_rig(rig, server)


@pytest.fixture()
def pg_state_url(request) -> str:
    """A new database on the session's PostgreSQL server (tests/pg.py)."""
    return fresh_database(request.getfixturevalue("pg_server"))


def test_two_apps_sharing_postgresql_send_a_due_digest_once(toprank, lines, pg_state_url, clock):
    url = pg_state_url
    mock = SlackMock()  # one Slack, two app instances behind a load balancer
    a, server_a = start(toprank, StateStore(url, clock=clock), mock)
    b, server_b = start(toprank, StateStore(url, clock=clock), mock)
    try:
        a.command("subscribe daily top OT codes 2022 at 09:00")
        _, listed = b.command("subscriptions")  # the other instance sees it
        assert "top OT codes 2022" in reply_text(listed)
        clock.now = MONDAY_0800 + 3600
        barrier = threading.Barrier(2)
        sent: list[int] = []

        def tick(rig: SlackRig) -> None:
            barrier.wait()
            sent.append(rig.runtime.scheduler.tick())

        threads = [threading.Thread(target=tick, args=(r,)) for r in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(sent) == [0, 1]
        a.quiet(), b.quiet()
        digests = mock.api_calls("chat.postMessage")
        assert len(digests) == 1
        assert codes_shown(digests[0]) == top_codes(lines, "ot", 2022)
        assert len(rows(url, "SELECT * FROM claims WHERE key LIKE 'digest:%'")) == 1
        # Slack's retry of an event reaching the other replica is acked, not answered again
        ts = "1700200500.000100"
        event = {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER_ID}> top PT codes 2022",
            "ts": ts,
            "channel": CHANNEL,
        }
        body = event_body(event)
        assert post_signed(a.url, body, JSON).status == 200
        retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        assert post_signed(b.url, body, JSON, headers=retry).status == 200
        mock.wait_api("chat.postMessage", thread_ts=ts)
        a.quiet(), b.quiet()
        assert len(mock.api_calls("chat.postMessage")) == 2  # the digest and one answer
    finally:
        stop_rig(a, server_a)
        server_b.shutdown()
        server_b.server_close()
        b.executor.shutdown()


def test_a_given_salt_hashes_the_user_ids_and_is_not_stored(toprank, state_url) -> None:
    rig, server = start(toprank, StateStore(state_url), log_salt="a-secret-salt")
    try:
        rig.command("ot 2022")
        rig.quiet()
    finally:
        stop_rig(rig, server)
    (entry,) = rows(state_url, "SELECT user_hash FROM usage_log")
    expected = hmac.new(b"a-secret-salt", f"{TEAM_ID}:{USER}".encode(), hashlib.sha256)
    assert entry["user_hash"] == expected.hexdigest()[:32]
    assert rows(state_url, "SELECT * FROM toprank_meta WHERE name = 'log_salt'") == []


def test_without_a_salt_one_is_made_once_and_kept(toprank, state_url) -> None:
    for _ in range(2):  # two starts of the app on one store
        rig, server = start(toprank, StateStore(state_url))
        try:
            rig.command("ot 2022")
            rig.quiet()
        finally:
            stop_rig(rig, server)
    (salt,) = rows(state_url, "SELECT value FROM toprank_meta WHERE name = 'log_salt'")
    assert len(salt["value"]) == 64
    hashes = {r["user_hash"] for r in rows(state_url, "SELECT user_hash FROM usage_log")}
    expected = hmac.new(salt["value"].encode(), f"{TEAM_ID}:{USER}".encode(), hashlib.sha256)
    assert hashes == {expected.hexdigest()[:32]}  # the same person, across restarts


def test_the_first_coverage_seen_is_recorded_not_announced(toprank, state_url, clock) -> None:
    store = StateStore(state_url, clock=clock)
    mock = SlackMock()
    rig, server = start(toprank, store, mock)
    try:
        rig.command("subscribe monthly top rehab codes 2023")
        rig.runtime.scheduler.tick()
        rig.quiet()
        assert mock.api_calls("chat.postMessage") == []
        assert store.setting(COVERAGE_SETTING) == toprank.coverage.end.isoformat()
    finally:
        stop_rig(rig, server)


def test_channels_with_digests_are_told_once_when_the_data_runs_further(
    toprank, state_url, clock
) -> None:
    store = StateStore(state_url, clock=clock)
    store.put_setting(COVERAGE_SETTING, "2023-06-30")  # what the last run announced
    mock = SlackMock()
    rig, server = start(toprank, store, mock)
    try:
        rig.command("subscribe monthly top rehab codes 2023")
        rig.runtime.scheduler.tick()
        rig.runtime.scheduler.tick()
        rig.quiet()
        told = mock.find(
            lambda c: c.method == "chat.postMessage" and "now runs to" in (c.body.get("text") or "")
        )
        assert len(told) == 1 and told[0].body["channel"] == CHANNEL
        assert toprank.coverage.end.isoformat() in told[0].body["text"]
        assert store.setting(COVERAGE_SETTING) == toprank.coverage.end.isoformat()
    finally:
        stop_rig(rig, server)


# --------------------------------------------------------------------------- rate limits


def test_a_429_with_retry_after_is_answered_after_the_wait(rig) -> None:
    rig.mock.rate_limit_once["chat.postMessage"] = 1
    ts = "1700200300.000100"
    mention(rig, "top OT codes 2021", ts)
    posted = rig.mock.wait_api("chat.postMessage", thread_ts=ts)[0]
    (refused,) = rig.mock.find(lambda c: c.kind == "429")
    assert refused.method == "chat.postMessage" and refused.body.get("thread_ts") == ts
    assert posted.at - refused.at >= 1.0  # Retry-After: 1 was honoured
    print(f"\n429 then answered {posted.at - refused.at:.2f} s later (Retry-After: 1)")

    rig.mock.rate_limit_once["response"] = 1  # a response_url post too
    _, answer = rig.command("pt 2021")
    refused_reply = rig.mock.find(lambda c: c.kind == "429" and c.method == "response")
    assert len(refused_reply) == 1 and answer.at - refused_reply[0].at >= 1.0
    assert "97110" in json.dumps(answer.body)


def test_the_per_user_limit(toprank, state_url, clock) -> None:
    rig, server = start(toprank, StateStore(state_url, clock=clock), rate_per_minute=3)
    minute = Clock(1000.0)
    rig.runtime.limiter.clock = minute
    try:
        replies = []
        for k in range(4):
            key = f"limited-{k}"
            body = slash_command_body("ot 2022", rig.mock.response_url(key))
            replies.append((key, post_signed(rig.url, body, FORM)))
        assert [r.body for _, r in replies[:3]] == [b""] * 3  # acked, answered later
        assert b"limit per person" in replies[3][1].body and b"60 seconds" in replies[3][1].body
        for key, _ in replies[:3]:
            rig.mock.wait_response(key)
        rig.quiet()
        assert rig.mock.responses("limited-3") == []  # not answered, not counted
        # another user is not held back by Alice
        body = slash_command_body("ot 2022", rig.mock.response_url("bob"), user="U0BOB")
        assert post_signed(rig.url, body, FORM).body == b""
        rig.mock.wait_response("bob")
        # a mention over the limit is told to Alice alone
        mention(rig, "top PT codes 2022", "1700200400.000100")
        told = rig.mock.wait_api("chat.postEphemeral", user=USER)[0]
        assert "limit per person" in told.body["text"]
        rig.quiet()
        assert rig.mock.api_calls("chat.postMessage") == []
        # a minute later she is answered again
        minute.now += 60.5
        body = slash_command_body("ot 2022", rig.mock.response_url("later"))
        assert post_signed(rig.url, body, FORM).body == b""
        rig.mock.wait_response("later")
    finally:
        stop_rig(rig, server)
