"""Each Slack listener on its own: called with Bolt's arguments (ack, say, respond, a Web
API client) replaced by recorders, and a context holding a real runtime (the pipeline on
a small real DuckDB file, an in-memory state store). What the listener acked, said and
posted is checked against SQL over that file's claim lines. The signed-HTTP end-to-end
tests (test_slack_app.py and the others) run the same listeners through Bolt for real.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from slack_bolt import BoltContext

from tests.conftest import TODAY
from tests.test_sql import make_fixture_db
from toprank.bot import listeners
from toprank.bot.feedback import ACTION_FEEDBACK
from toprank.bot.listeners import actions, assistant, commands, events, feedback, home
from toprank.bot.listeners.common import RUNTIME_KEY, Runtime, runtime_of
from toprank.bot.pipeline import Toprank
from toprank.bot.ratelimit import RateLimiter
from toprank.bot.state import StateStore

WAIT = 30.0  # seconds: a generous bound that only proves the pool does not hang
LOG = logging.getLogger("test.listeners")
TOP_OT_2022 = "top 3 ot codes 2022"


class Recorder:
    """Stands in for ack, say, respond, set_status...: records every call."""

    def __init__(self, returns: Any = None) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.returns = returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.returns

    @property
    def kwargs(self) -> list[dict[str, Any]]:
        return [kw for _, kw in self.calls]


class FakeClient:
    """Slack's Web API client, each method a recorder (the only thing mocked)."""

    def __init__(self) -> None:
        self.chat_postMessage = Recorder({"ok": True, "ts": "2.0"})
        self.chat_postEphemeral = Recorder({"ok": True})
        self.views_publish = Recorder({"ok": True})
        self.views_open = Recorder({"ok": True})
        self.files_upload_v2 = Recorder({"ok": True})
        self.conversations_open = Recorder({"ok": True, "channel": {"id": "D1"}})


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Toprank]:
    path = make_fixture_db(tmp_path_factory.mktemp("listeners") / "claims.duckdb")
    with Toprank.open(path, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.fixture()
def rt(core: Toprank) -> Iterator[Runtime]:
    runtime = Runtime(core, store=StateStore())
    yield runtime
    runtime.pool.shutdown()
    runtime.notices.shutdown()


@pytest.fixture()
def responses(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the listeners post to a response_url (Bolt's respond), in order."""
    sent: list[dict[str, Any]] = []

    def responder(url: str | None, **fixed: Any):
        def send(**message: Any) -> None:
            sent.append({"url": url, **fixed, **message})

        return send

    monkeypatch.setattr(rt, "responder", responder)
    return sent


def context_for(rt: Runtime) -> BoltContext:
    return BoltContext({RUNTIME_KEY: rt, "team_id": "T1", "bot_user_id": "UBOT"})


def settle(rt: Runtime) -> None:
    assert rt.pool.wait_idle(WAIT) and rt.notices.wait_idle(WAIT)


def top_ot_2022(core: Toprank, n: int = 3) -> list[str]:
    """The oracle: the cohort's codes by procedures in 2022, from the claim lines."""
    con = duckdb.connect(str(core.engine.path), read_only=True)
    try:
        rows = con.execute(
            "SELECT hcpcs_code FROM claim_lines WHERE cohort = 'ot' AND year(service_date) = 2022 "
            "GROUP BY hcpcs_code ORDER BY sum(procedures) DESC LIMIT ?",
            [n],
        ).fetchall()
    finally:
        con.close()
    return [code for (code,) in rows]


def in_order(text: str, codes: list[str]) -> bool:
    positions = [text.find(code) for code in codes]
    return -1 not in positions and positions == sorted(positions)


# --------------------------------------------------------------------- the table


def test_every_listener_function_is_registered_once() -> None:
    registered = [entry.function for entry in listeners.LISTENERS]
    assert len(registered) == len(set(registered))
    found = {
        function
        for module in (actions, commands, events, feedback, home)
        for name, function in vars(module).items()
        if inspect.isfunction(function)
        and function.__module__ == module.__name__
        and not name.startswith("_")
        and "context" in inspect.signature(function).parameters
    }
    assert found == set(registered)


def test_a_listener_without_the_runtime_in_its_context_says_why() -> None:
    with pytest.raises(LookupError, match="runtime"):
        runtime_of(BoltContext({}))


# --------------------------------------------------------------------- /toprank


def test_the_slash_command_acks_at_once_then_answers_through_the_response_url(
    rt: Runtime, core: Toprank, responses: list[dict[str, Any]]
) -> None:
    ack = Recorder()
    command = {"text": TOP_OT_2022, "response_url": "http://127.0.0.1:9/r", "user_id": "U1"}
    commands.answer_command(ack, command, context_for(rt), LOG)
    assert ack.calls == [((), {})]  # acked with nothing: the answer follows
    settle(rt)
    (answer,) = responses
    assert answer["response_type"] == "ephemeral" and answer["url"] == command["response_url"]
    assert in_order(answer["text"], top_ot_2022(core))


def test_a_user_over_the_limit_is_told_in_the_ack_and_nothing_is_answered(
    rt: Runtime, responses: list[dict[str, Any]]
) -> None:
    rt.limiter = RateLimiter(1)
    command = {"text": TOP_OT_2022, "response_url": "http://127.0.0.1:9/r", "user_id": "U1"}
    commands.answer_command(Recorder(), command, context_for(rt), LOG)
    settle(rt)
    ack = Recorder()
    commands.answer_command(ack, command, context_for(rt), LOG)
    settle(rt)
    ((_, said),) = ack.calls
    assert said["response_type"] == "ephemeral" and "minute" in said["text"]
    assert len(responses) == 1  # the first question's answer only


# --------------------------------------------------------------------- events


def test_a_mention_is_answered_in_its_thread(rt: Runtime, core: Toprank) -> None:
    say = Recorder()
    event = {"text": f"<@UBOT> {TOP_OT_2022}", "channel": "C1", "user": "U1", "ts": "1.0"}
    events.answer_mention(event, say, FakeClient(), context_for(rt), LOG)
    settle(rt)
    (message,) = say.kwargs
    assert message["thread_ts"] == "1.0"
    assert in_order(message["text"], top_ot_2022(core))


def test_the_bots_own_message_is_not_answered(rt: Runtime) -> None:
    say = Recorder()
    event = {"text": "<@UBOT> top ot codes", "channel": "C1", "user": "UBOT", "ts": "1.0"}
    events.answer_mention({**event, "bot_id": "B1"}, say, FakeClient(), context_for(rt), LOG)
    events.answer_direct_message(
        {**event, "channel_type": "im", "bot_id": "B1"}, say, context_for(rt), LOG
    )
    settle(rt)
    assert say.calls == []


def test_a_direct_message_is_answered_and_a_channel_message_is_not(
    rt: Runtime, core: Toprank
) -> None:
    say = Recorder()
    event = {"text": TOP_OT_2022, "channel": "D1", "user": "U1", "ts": "1.0"}
    events.answer_direct_message({**event, "channel_type": "channel"}, say, context_for(rt), LOG)
    settle(rt)
    assert say.calls == []
    events.answer_direct_message({**event, "channel_type": "im"}, say, context_for(rt), LOG)
    settle(rt)
    (message,) = say.kwargs
    assert message["thread_ts"] is None  # a DM answers in the DM, not a new thread
    assert in_order(message["text"], top_ot_2022(core))


def test_the_home_tab_is_published_and_the_messages_tab_left_alone(
    rt: Runtime, core: Toprank
) -> None:
    client = FakeClient()
    home.publish_home({"user": "U1", "tab": "messages"}, client, context_for(rt), LOG)
    settle(rt)
    assert client.views_publish.calls == []
    home.publish_home({"user": "U1", "tab": "home"}, client, context_for(rt), LOG)
    settle(rt)
    (published,) = client.views_publish.kwargs
    assert published["user_id"] == "U1" and published["view"]["type"] == "home"
    # the coverage it shows is the file's own first and last service dates
    assert core.coverage.end.isoformat()[:4] in json.dumps(published["view"])


# --------------------------------------------------------------------- buttons


def _click(value: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    action = {"value": value}
    body = {
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "response_url": "http://127.0.0.1:9/r",
        "message": {"ts": "5.0"},
        **extra,
    }
    return action, body


def test_show_sql_replies_privately_with_the_query(
    rt: Runtime, responses: list[dict[str, Any]]
) -> None:
    ack = Recorder()
    action, body = _click(TOP_OT_2022)
    actions.show_sql(ack, action, body, context_for(rt), LOG)
    settle(rt)
    assert ack.calls == [((), {})]
    (reply,) = responses
    assert reply["response_type"] == "ephemeral" and "SELECT" in json.dumps(reply)


def test_csv_is_uploaded_to_the_answers_thread_with_a_row_per_code(
    rt: Runtime, core: Toprank
) -> None:
    client = FakeClient()
    action, body = _click(TOP_OT_2022)
    actions.upload_csv(Recorder(), action, body, client, context_for(rt), LOG)
    settle(rt)
    (upload,) = client.files_upload_v2.kwargs
    assert upload["channel"] == "C1" and upload["thread_ts"] == "5.0"
    lines = upload["content"].strip().splitlines()
    codes = top_ot_2022(core)
    assert len(lines) == 1 + len(codes)  # a header, then one row per code
    assert [line.split(",")[1] for line in lines[1:]] == codes


def test_a_chart_of_an_ephemeral_answer_goes_to_the_users_dm(
    rt: Runtime, responses: list[dict[str, Any]]
) -> None:
    client = FakeClient()
    action, body = _click(TOP_OT_2022, container={"is_ephemeral": True})
    body.pop("message")
    actions.upload_chart(Recorder(), action, body, client, context_for(rt), LOG)
    settle(rt)
    (upload,) = client.files_upload_v2.kwargs
    assert upload["channel"] == "D1" and upload["content"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "direct messages" in json.dumps(responses[-1])


def test_share_posts_in_the_channel_and_deletes_the_private_copy(
    rt: Runtime, core: Toprank, responses: list[dict[str, Any]]
) -> None:
    client = FakeClient()
    action, body = _click(TOP_OT_2022)
    actions.share_in_channel(Recorder(), action, body, client, context_for(rt), LOG)
    settle(rt)
    (posted,) = client.chat_postMessage.kwargs
    assert posted["channel"] == "C1" and in_order(posted["text"], top_ot_2022(core))
    assert responses[-1].get("delete_original") is True


def test_a_did_you_mean_button_asks_that_question_in_the_thread(rt: Runtime, core: Toprank) -> None:
    client = FakeClient()
    action, body = _click(TOP_OT_2022)
    actions.ask_alternative(Recorder(), action, body, client, context_for(rt), LOG)
    settle(rt)
    (posted,) = client.chat_postMessage.kwargs
    assert posted["channel"] == "C1" and posted["thread_ts"] == "5.0"
    assert in_order(posted["text"], top_ot_2022(core))


def test_a_tampered_refine_value_is_refused_and_nothing_is_replaced(
    rt: Runtime, responses: list[dict[str, Any]]
) -> None:
    ack = Recorder()
    action, body = _click("")
    action["selected_option"] = {"value": "not-a-control-value"}
    actions.refine_answer(ack, action, body, context_for(rt), LOG)
    settle(rt)
    assert ack.calls == [((), {})]
    (reply,) = responses
    assert reply["replace_original"] is False and "not one I offered" in json.dumps(reply)


# --------------------------------------------------------------------- feedback


def test_a_feedback_value_that_is_not_ours_is_acked_and_ignored(
    rt: Runtime, responses: list[dict[str, Any]]
) -> None:
    ack, client = Recorder(), FakeClient()
    action, body = _click("down:../../etc", trigger_id="1.2")
    action["action_id"] = ACTION_FEEDBACK
    feedback.rate_answer(ack, action, body, client, context_for(rt), LOG)
    settle(rt)
    assert ack.calls == [((), {})]
    assert client.views_open.calls == [] and responses == []


def test_a_feedback_form_that_is_not_ours_is_closed_and_stores_nothing(rt: Runtime) -> None:
    ack = Recorder()
    feedback.comment_on_answer(ack, {"private_metadata": "x"}, {}, context_for(rt), LOG)
    settle(rt)
    assert ack.calls == [((), {})]


# --------------------------------------------------------------------- assistant pane


def test_a_new_assistant_thread_gets_a_greeting_and_prompts_for_the_data(
    rt: Runtime, core: Toprank
) -> None:
    say, prompts = Recorder(), Recorder()
    assistant.start_thread(say, prompts, context_for(rt), LOG)
    settle(rt)
    assert say.calls == [((assistant.GREETING,), {})]
    (shown,) = prompts.kwargs
    assert shown["prompts"] == assistant.suggested_prompts(core.coverage)


def test_an_assistant_message_is_titled_then_answered(rt: Runtime, core: Toprank) -> None:
    say, status, title = Recorder(), Recorder(), Recorder()
    payload = {"text": TOP_OT_2022, "channel": "D1", "user": "U1", "thread_ts": "7.0"}
    assistant.answer_in_thread(payload, say, status, title, context_for(rt), LOG)
    settle(rt)
    assert title.calls == [((TOP_OT_2022,), {})]
    assert status.calls == [((assistant.STATUS,), {})]
    ((_, message),) = say.calls
    assert in_order(message["text"], top_ot_2022(core))
