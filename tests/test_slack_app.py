"""The real Slack app over real HTTP: signed requests in, Web API calls out to a local mock.

The app is bot.app.build_app on the real Toprank core over the demo DuckDB file, served
by bot.serve.make_http_server (what `toprank serve --http` runs). Only Slack's Web API
is mocked (tests/slack_mock.py). No assertion here is about elapsed time: the ack test
proves the ack does not wait for the answer by holding the answer back.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.blockkit import check_message
from tests.conftest import TODAY
from tests.slack_mock import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    WAIT_SECONDS,
    Call,
    Reply,
    SlackMock,
    TrackingExecutor,
    block_actions_body,
    event_body,
    iter_blocks,
    post_signed,
    sign,
    slash_command_body,
)
from toprank.bot.answer_model import Answer
from toprank.bot.app import build_app
from toprank.bot.render_blocks import (
    ACTION_CHART,
    ACTION_CSV,
    ACTION_SHARE,
    ACTION_SHOW_SQL,
    MAX_HOME_BLOCKS,
    MAX_MESSAGE_BLOCKS,
)
from toprank.bot.serve import EVENTS_PATH, make_http_server

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
CHANNEL = "C0GENERAL"
DM_CHANNEL = "D0ALICE"
USER = "U0ALICE"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRACE_WORDS = ("Traceback", 'File "', "Error:", "Exception")


# --------------------------------------------------------------------------- the rig


@dataclass
class SlackRig:
    """A running app (on `core`) and the mock Slack it talks to."""

    mock: SlackMock
    executor: TrackingExecutor
    url: str
    runtime: Any = None  # the app's bot.listeners.common.Runtime (its answer pools)
    _keys = iter(range(1, 1_000_000))

    def key(self, prefix: str) -> str:
        return f"{prefix}-{next(self._keys)}"

    def post(self, body: bytes, content_type: str) -> Reply:
        return post_signed(self.url, body, content_type)

    def command(self, text: str) -> tuple[Reply, Call]:
        key = self.key("cmd")
        reply = self.post(slash_command_body(text, self.mock.response_url(key)), FORM)
        assert reply.status == 200
        return reply, self.mock.wait_response(key)[0]

    def event(self, event: dict[str, Any]) -> Reply:
        reply = self.post(event_body(event), JSON)
        assert reply.status == 200
        return reply

    def click(
        self, button: dict[str, Any], *, message: dict[str, Any] | None = None, channel=CHANNEL
    ) -> tuple[str, Reply]:
        key = self.key("act")
        body = block_actions_body(
            button,
            self.mock.response_url(key),
            channel=channel,
            message=message,
            ephemeral=message is None,
        )
        reply = self.post(body, FORM)
        assert reply.status == 200
        return key, reply

    def quiet(self) -> int:
        """Wait until the app has finished all work; the number of calls so far."""
        self.executor.wait_idle()
        if self.runtime is not None:
            assert self.runtime.pool.wait_idle(WAIT_SECONDS)
            assert self.runtime.notices.wait_idle(WAIT_SECONDS)
        return len(self.mock.calls)


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


def start_rig(core: Any, store: Any = None, mock: SlackMock | None = None) -> tuple[SlackRig, Any]:
    mock = mock or SlackMock()
    executor = TrackingExecutor()
    app = build_app(
        core,
        token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        base_url=mock.base_url,
        listener_executor=executor,
        store=store,
    )
    server = make_http_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
    return SlackRig(mock, executor, url, app.runtime), server


def stop_rig(rig: SlackRig, server: Any) -> None:
    rig.executor.wait_idle()
    server.shutdown()
    server.server_close()
    rig.executor.shutdown()
    rig.mock.close()


@pytest.fixture(scope="module")
def rig(toprank) -> Iterator[SlackRig]:
    rig, server = start_rig(toprank)
    yield rig
    stop_rig(rig, server)


# --------------------------------------------------------------------------- helpers


def blocks_of(call: Call) -> list[dict[str, Any]]:
    return list(iter_blocks(call.body.get("blocks")))


def assert_valid_message(call: Call, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> None:
    """Parsed with slack_sdk's block models, valid, and within Block Kit's limits."""
    check_message(call.body, max_blocks)
    assert_no_trace(call)


def assert_no_trace(call: Call) -> None:
    text = json.dumps(call.body)
    for word in TRACE_WORDS:
        assert word not in text, f"{word!r} leaked into {call.method}"


def all_text(call: Call) -> str:
    parts = [call.body.get("text") or ""]
    for block in blocks_of(call):
        parts.append(json.dumps(block, ensure_ascii=False))
    return "\n".join(parts)


def header_text(call: Call) -> str:
    return next(b["text"]["text"] for b in blocks_of(call) if b["type"] == "header")


def context_texts(call: Call) -> list[str]:
    return [e["text"] for b in blocks_of(call) if b["type"] == "context" for e in b["elements"]]


def buttons(call: Call) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e
        for b in blocks_of(call)
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    }


def menus(call: Call) -> dict[str, dict[str, Any]]:
    """The refine select menus of a posted answer, by action id."""
    return {
        e["action_id"]: e
        for b in blocks_of(call)
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "static_select"
    }


def table_cells(call: Call) -> tuple[list[str], list[list[str]]]:
    """(column labels, rows of cell texts) of the table block of a posted answer."""
    for block in blocks_of(call):
        if block["type"] == "table":
            rows = [[cell["text"] for cell in row] for row in block["rows"]]
            return rows[0], rows[1:]
    return [], []


def table_rows(call: Call) -> list[tuple[int, str, float]]:
    """(rank, code, share) from the table block of a posted answer."""
    labels, rows = table_cells(call)
    if not {"Rank", "Code", "Share"} <= set(labels):
        return []
    at = {label: labels.index(label) for label in ("Rank", "Code", "Share")}
    return [
        (int(row[at["Rank"]].lstrip("▶")), row[at["Code"]], float(row[at["Share"]].rstrip("%")))
        for row in rows
        if row[at["Share"]].endswith("%")
    ]


# --------------------------------------------------------------------------- requests


def test_url_verification_is_answered(rig: SlackRig) -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aB", "type": "url_verification"})
    reply = rig.post(body.encode(), JSON)
    assert reply.status == 200
    assert json.loads(reply.body)["challenge"] == "3eZbrw1aB"


def test_bad_signature_and_stale_timestamp_are_rejected(rig: SlackRig) -> None:
    before = rig.quiet()
    body = slash_command_body("ot 2022", rig.mock.response_url("rejected"))
    now = int(time.time())
    wrong_secret = post_signed(rig.url, body, FORM, secret="not-the-secret")
    tampered = post_signed(rig.url, body + b"&x=1", FORM, timestamp=now, signature=sign(body, now))
    stale_ts = now - 6 * 60  # Slack's rule: older than 5 minutes is a replay
    stale = post_signed(rig.url, body, FORM, timestamp=stale_ts)
    unsigned = post_signed(rig.url, body, FORM, signature="v0=")
    event = event_body({"type": "app_mention", "user": USER, "text": "hi", "ts": "1.2"})
    bad_event = post_signed(rig.url, event, JSON, secret="not-the-secret")
    assert [r.status for r in (wrong_secret, tampered, stale, unsigned, bad_event)] == [401] * 5
    assert rig.quiet() == before  # nothing reached Slack for rejected requests
    assert rig.mock.responses("rejected") == []


def test_ack_returns_before_the_answer_is_ready(toprank) -> None:
    """The HTTP 200 comes back while the core is still held; the answer follows."""

    class HeldCore:
        def __init__(self) -> None:
            self.release = threading.Event()

        def ask(self, text: str) -> Answer:
            return self.converse(text)[0]

        def converse(self, text: str, context=None):
            assert self.release.wait(WAIT_SECONDS), "the test never released the answer"
            return toprank.converse(text, context)

        def answer_spec(self, spec, *, question=None) -> Answer:
            return toprank.answer_spec(spec, question=question)

        @property
        def coverage(self):
            return toprank.coverage

    core = HeldCore()
    held_rig, server = start_rig(core)
    try:
        key = "held-command"
        reply = held_rig.post(slash_command_body("ot 2022", held_rig.mock.response_url(key)), FORM)
        assert reply.status == 200 and reply.body == b""
        assert not core.release.is_set()
        assert held_rig.mock.responses(key) == []  # acked, and no answer yet
        mention = {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER_ID}> top pt codes 2022",
            "ts": "1700000500.000100",
            "channel": CHANNEL,
        }
        event_reply = held_rig.event(mention)
        assert held_rig.mock.api_calls("chat.postMessage") == []
        print(
            f"\nack latency while the answer is held: slash command {reply.seconds * 1000:.1f} ms,"
            f" app_mention {event_reply.seconds * 1000:.1f} ms"
        )
        core.release.set()
        answer = held_rig.mock.wait_response(key)[0]
        assert [code for _, code, _ in table_rows(answer)][:3] == ["97110", "97140", "97530"]
        posted = held_rig.mock.wait_api("chat.postMessage", thread_ts="1700000500.000100")[0]
        assert [code for _, code, _ in table_rows(posted)][:3] == ["97110", "97140", "97530"]
    finally:
        core.release.set()
        stop_rig(held_rig, server)


# --------------------------------------------------------------------------- /toprank


@pytest.fixture(scope="module")
def ot_2022(rig: SlackRig) -> Call:
    return rig.command("ot 2022")[1]


def test_slash_command_answers_ephemerally_with_the_published_ranking(
    ot_2022: Call, toprank
) -> None:
    assert ot_2022.body["response_type"] == "ephemeral"
    assert ot_2022.body.get("replace_original") is False
    assert_valid_message(ot_2022)
    rows = table_rows(ot_2022)
    assert [code for _, code, _ in rows[:3]] == ["97110", "97140", "97530"]
    assert [rank for rank, _, _ in rows[:3]] == [1, 2, 3]
    # The published OT 2022 shares are whole percents: 34, 22, 17.
    for (_, _, share), published in zip(rows[:3], (34, 22, 17), strict=True):
        assert round(share) == published
    title = header_text(ot_2022).lower()
    assert "2022" in title and "occupational therapy" in title
    source = toprank.coverage.sources[0]
    assert any(source in text for text in context_texts(ot_2022))
    assert any("Occupational therapy" in t and "2022" in t for t in context_texts(ot_2022))
    assert "97110" in ot_2022.body["text"]  # the notification fallback names the top code
    assert set(buttons(ot_2022)) == {ACTION_SHOW_SQL, ACTION_CHART, ACTION_CSV, ACTION_SHARE}


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
def test_slash_command_without_arguments_shows_usage(rig: SlackRig, text: str) -> None:
    _, call = rig.command(text)
    assert_valid_message(call)
    body = all_text(call)
    for example in ("/toprank ot 2022", "/toprank compare ot pt 2022", "/toprank help"):
        assert example in body
    assert call.body["response_type"] == "ephemeral"


def test_bad_question_gets_a_friendly_answer_with_suggestions(rig: SlackRig) -> None:
    _, call = rig.command("what's the weather in paris tomorrow")
    assert_valid_message(call)
    body = all_text(call)
    assert "Try" in body
    suggestions = [
        line
        for b in blocks_of(call)
        if b["type"] == "section"
        for line in b["text"]["text"].split("\n")
        if line.startswith("•")
    ]
    assert len(suggestions) >= 2
    assert buttons(call) == {}  # nothing to chart, export or share


def test_question_outside_the_data_says_what_is_covered(rig: SlackRig, toprank) -> None:
    _, call = rig.command("ot 2015")
    assert_valid_message(call)
    body = all_text(call)
    assert toprank.coverage.start.isoformat() in body or "2019" in body
    assert table_rows(call) == []


# --------------------------------------------------------------------------- buttons


def test_show_sql_returns_the_exact_sql_and_parameters(rig: SlackRig, ot_2022: Call, toprank):
    key, _ = rig.click(buttons(ot_2022)[ACTION_SHOW_SQL])
    call = rig.mock.wait_response(key)[0]
    assert call.body["response_type"] == "ephemeral"
    assert call.body.get("replace_original") is False
    assert_valid_message(call)
    answer = toprank.ask("/toprank ot 2022")
    code = "\n".join(
        b["text"]["text"].strip("`\n") for b in blocks_of(call) if b["type"] == "section"
    )
    for line in answer.sql.strip().split("\n"):
        assert line.replace("<", "&lt;").replace(">", "&gt;") in code
    assert "$cohort = 'ot'" in code
    assert "2022-01-01" in code and "2022-12-31" in code


def test_chart_uploads_a_png_to_the_users_dm_for_a_private_answer(
    rig: SlackRig, ot_2022: Call
) -> None:
    before = len(rig.mock.calls)
    key, _ = rig.click(buttons(ot_2022)[ACTION_CHART])
    notice = rig.mock.wait_response(key)[0]
    assert "direct message" in notice.body["text"]
    rig.quiet()
    new = rig.mock.calls[before:]
    methods = [c.method for c in new if c.kind == "api"]
    assert methods[:3] == [
        "conversations.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    upload = next(c for c in new if c.kind == "upload")
    assert upload.raw.startswith(PNG_SIGNATURE)
    complete = next(c for c in new if c.method == "files.completeUploadExternal")
    assert complete.body["channel_id"] == "D0" + USER
    files = complete.json_field("files")
    assert files[0]["id"] == upload.method


def test_csv_holds_the_full_result(rig: SlackRig, ot_2022: Call, toprank) -> None:
    before = len(rig.mock.calls)
    key, _ = rig.click(buttons(ot_2022)[ACTION_CSV])
    rig.mock.wait_response(key)
    rig.quiet()
    upload = next(c for c in rig.mock.calls[before:] if c.kind == "upload")
    records = list(csv.DictReader(io.StringIO(upload.raw.decode("utf-8"))))
    answer = toprank.ask("/toprank ot 2022")
    assert [r["code"] for r in records] == [row["code"] for row in answer.rows]
    assert [float(r["share_pct"]) for r in records] == [row["share_pct"] for row in answer.rows]
    assert [int(r["procedures"]) for r in records] == [row["procedures"] for row in answer.rows]
    lookup = next(c for c in rig.mock.calls[before:] if c.method == "files.getUploadURLExternal")
    assert lookup.body["filename"].endswith(".csv")
    assert int(lookup.body["length"]) == len(upload.raw)


def test_share_posts_to_the_channel_and_removes_the_private_copy(
    rig: SlackRig, ot_2022: Call
) -> None:
    before = len(rig.mock.calls)
    key, _ = rig.click(buttons(ot_2022)[ACTION_SHARE])
    deleted = rig.mock.wait_response(key)[0]
    assert deleted.body["delete_original"] is True
    posted = next(c for c in rig.mock.calls[before:] if c.method == "chat.postMessage")
    assert posted.body["channel"] == CHANNEL
    assert_valid_message(posted)
    assert any(f"<@{USER}>" in t for t in context_texts(posted))
    assert [code for _, code, _ in table_rows(posted)] == [
        code for _, code, _ in table_rows(ot_2022)
    ]
    assert ACTION_SHARE not in buttons(posted)  # already in the channel
    assert {ACTION_SHOW_SQL, ACTION_CHART, ACTION_CSV} <= set(buttons(posted))


def test_share_where_the_bot_cannot_post_goes_through_response_url(
    rig: SlackRig, ot_2022: Call
) -> None:
    rig.mock.failures["chat.postMessage"] = "not_in_channel"
    try:
        key, _ = rig.click(buttons(ot_2022)[ACTION_SHARE])
        shared, deleted = rig.mock.wait_response(key, count=2)
    finally:
        rig.mock.failures.clear()
    assert shared.body["response_type"] == "in_channel"
    assert_valid_message(shared)
    assert deleted.body["delete_original"] is True


# --------------------------------------------------------------------------- mentions and DMs


def test_mention_is_answered_in_its_thread(rig: SlackRig) -> None:
    ts = "1700000600.000100"
    rig.event(
        {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER_ID}> top rehab codes in 2023?",
            "ts": ts,
            "channel": CHANNEL,
            "event_ts": ts,
        }
    )
    call = rig.mock.wait_api("chat.postMessage", thread_ts=ts)[0]
    assert call.body["channel"] == CHANNEL
    assert_valid_message(call)
    assert [code for _, code, _ in table_rows(call)][:3] == ["97110", "97530", "97140"]
    assert "2023" in header_text(call)
    assert any("September" in t for t in context_texts(call))  # the period actually covered
    assert ACTION_SHARE not in buttons(call)


def test_mention_inside_a_thread_answers_in_that_thread(rig: SlackRig) -> None:
    rig.event(
        {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER_ID}> what is 97530",
            "ts": "1700000700.000200",
            "thread_ts": "1700000650.000100",
            "channel": CHANNEL,
        }
    )
    call = rig.mock.wait_api("chat.postMessage", thread_ts="1700000650.000100")[0]
    assert_valid_message(call)
    assert "97530" in header_text(call)


def test_chart_from_a_thread_answer_goes_into_that_thread(rig: SlackRig) -> None:
    ts = "1700000800.000100"
    rig.event(
        {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{BOT_USER_ID}> trend of 97112 in rehab",
            "ts": ts,
            "channel": CHANNEL,
        }
    )
    answer = rig.mock.wait_api("chat.postMessage", thread_ts=ts)[0]
    assert_valid_message(answer)
    message = {"ts": "1700000801.000100", "thread_ts": ts, **{"text": answer.body["text"]}}
    before = len(rig.mock.calls)
    rig.click(buttons(answer)[ACTION_CHART], message=message)
    complete = rig.mock.wait_api("files.completeUploadExternal", thread_ts=ts)[0]
    assert complete.body["channel_id"] == CHANNEL
    rig.quiet()
    upload = next(c for c in rig.mock.calls[before:] if c.kind == "upload")
    assert upload.raw.startswith(PNG_SIGNATURE)
    assert not any(c.method == "conversations.open" for c in rig.mock.calls[before:])
    # alt text that says what the picture shows: a line, the years, the partial one
    lookup = next(c for c in rig.mock.calls[before:] if c.method == "files.getUploadURLExternal")
    alt = lookup.body["alt_txt"]
    assert alt.startswith("Line chart: ") and "97112" in alt
    assert "2019" in alt and "(to Sep)" in alt


def test_a_single_total_offers_no_chart(rig: SlackRig) -> None:
    _, call = rig.command("how many OT procedures in 2022")
    assert_valid_message(call)
    assert ACTION_CHART not in buttons(call)
    assert ACTION_CSV in buttons(call)


def test_direct_message_is_answered_in_the_dm(rig: SlackRig) -> None:
    rig.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": DM_CHANNEL,
            "user": USER,
            "text": "what share of OT procedures was 97530 in 2022?",
            "ts": "1700000900.000100",
        }
    )
    call = rig.mock.wait_api("chat.postMessage", channel=DM_CHANNEL)[0]
    assert call.body.get("thread_ts") is None
    assert_valid_message(call)
    _, rows = table_cells(call)
    marked = [row for row in rows if row[0].startswith("▶")]
    assert marked and "97530" in marked[0]  # the asked code's row is marked in the table


def test_bad_question_in_a_dm_gets_suggestions(rig: SlackRig) -> None:
    rig.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D0BOB",
            "user": "U0BOB",
            "text": "DROP TABLE claim_lines; --",
            "ts": "1700000950.000100",
        }
    )
    call = rig.mock.wait_api("chat.postMessage", channel="D0BOB")[0]
    assert_valid_message(call)
    assert table_rows(call) == []
    assert buttons(call) == {}


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "bot_message", "bot_id": "B0OTHER", "text": "top ot codes 2022"},
        {"bot_id": BOT_ID, "user": BOT_USER_ID, "text": "top ot codes 2022"},
        {"user": USER, "bot_id": "B0OTHER", "text": "top ot codes 2022"},
        {
            "subtype": "message_changed",
            "message": {"user": USER, "text": "top ot codes 2022", "ts": "1.1"},
        },
        {"subtype": "message_deleted", "deleted_ts": "1.1"},
        {"subtype": "channel_join", "user": USER, "text": "joined"},
        {"user": USER, "text": "top ot codes 2022", "channel_type": "channel"},
    ],
    ids=["bot", "self", "bot-user", "edit", "delete", "join", "channel-message"],
)
def test_bot_messages_edits_and_other_subtypes_are_ignored(rig: SlackRig, event: dict) -> None:
    before = rig.quiet()
    full = {
        "type": "message",
        "channel_type": "im",
        "channel": DM_CHANNEL,
        "ts": "1700001000.000100",
        **event,
    }
    rig.event(full)
    assert rig.quiet() == before


# --------------------------------------------------------------------------- App Home


def test_app_home_lists_capabilities_examples_and_coverage(rig: SlackRig, toprank) -> None:
    rig.event({"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "home"})
    call = rig.mock.wait_api("views.publish", user_id=USER)[0]
    view = call.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    assert 0 < len(view["blocks"]) <= MAX_HOME_BLOCKS
    for raw in view["blocks"]:
        Block.parse(raw).validate_json()
    text = json.dumps(view)
    coverage = toprank.coverage
    assert coverage.start.isoformat() in text and coverage.end.isoformat() in text
    assert "/toprank ot 2022" in text
    assert "Compare" in text and "Trend" in text


def test_messages_tab_opened_publishes_nothing(rig: SlackRig) -> None:
    before = rig.quiet()
    rig.event({"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "messages"})
    assert rig.quiet() == before


# --------------------------------------------------------------------------- failures


def test_internal_failure_becomes_a_friendly_message(toprank) -> None:
    class BrokenCore:
        def ask(self, text: str) -> Answer:
            raise RuntimeError("database exploded at /secret/path.duckdb")

        def converse(self, text: str, context=None):
            raise RuntimeError("database exploded at /secret/path.duckdb")

        def answer_spec(self, spec, *, question=None) -> Answer:
            raise RuntimeError("database exploded at /secret/path.duckdb")

        @property
        def coverage(self):
            raise RuntimeError("coverage exploded")

    broken, server = start_rig(BrokenCore())
    try:
        _, call = broken.command("ot 2022")
        mention_ts = "1700001100.000100"
        broken.event(
            {
                "type": "app_mention",
                "user": USER,
                "text": f"<@{BOT_USER_ID}> ot 2022",
                "ts": mention_ts,
                "channel": CHANNEL,
            }
        )
        posted = broken.mock.wait_api("chat.postMessage", thread_ts=mention_ts)[0]
        key, _ = broken.click(
            {"action_id": ACTION_SHOW_SQL, "value": "/toprank ot 2022"}, message=None
        )
        sql_reply = broken.mock.wait_response(key)[0]
        broken.event({"type": "app_home_opened", "user": USER, "tab": "home"})
        broken.quiet()
        for failure in (call, posted, sql_reply):
            assert_valid_message(failure)
            assert "went wrong" in failure.body["text"]
            assert "exploded" not in json.dumps(failure.body)
            assert "secret" not in json.dumps(failure.body)
        for recorded in broken.mock.calls:
            assert "exploded" not in json.dumps(recorded.body)
    finally:
        stop_rig(broken, server)
