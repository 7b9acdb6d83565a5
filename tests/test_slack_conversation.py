"""Slack as a conversation, driven as Slack drives it: the real Bolt app over signed HTTP,
the mock Web API recording what it posts. Follow-ups in threads and DMs, the assistant
pane, refine menus, "did you mean" buttons, and conversations that outlive the app.
Every figure is checked against SQL over `claim_lines` of the demo database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.blockkit import check_message
from tests.slack_mock import BOT_USER_ID, SlackMock
from tests.test_slack_app import (
    CHANNEL,
    USER,
    SlackRig,
    blocks_of,
    buttons,
    header_text,
    menus,
    start_rig,
    stop_rig,
    table_cells,
)
from toprank.bot.controls import ACTION_ALTERNATIVE, ACTION_REFINE
from toprank.bot.listeners.assistant import GREETING, STATUS
from toprank.bot.state import StateStore

DM = "D0ALICE"


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


@pytest.fixture()
def rig(toprank) -> Iterator[SlackRig]:
    rig, server = start_rig(toprank)
    yield rig
    stop_rig(rig, server)


def top_codes(
    con: duckdb.DuckDBPyConnection, cohort: str, year: int, n: int = 10, state: str | None = None
) -> list[str]:
    """The oracle: the top codes of a provider cohort in a year, from the claim lines."""
    rows = con.execute(
        "SELECT hcpcs_code FROM claim_lines WHERE cohort = $cohort "
        "AND year(service_date) = $year AND ($state IS NULL OR state = $state) "
        "GROUP BY hcpcs_code ORDER BY sum(procedures) DESC, hcpcs_code LIMIT $n",
        {"cohort": cohort, "year": year, "n": n, "state": state},
    ).fetchall()
    return [r[0] for r in rows]


def codes_shown(call: Any) -> list[str]:
    labels, rows = table_cells(call)
    if "Code" not in labels:
        return []
    at = labels.index("Code")
    return [row[at] for row in rows]


def mention(rig: SlackRig, text: str, ts: str, thread_ts: str | None = None) -> None:
    event = {
        "type": "app_mention",
        "user": USER,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": CHANNEL,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    rig.event(event)


def dm(rig: SlackRig, text: str, ts: str, thread_ts: str | None = None) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": DM,
        "user": USER,
        "text": text,
        "ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    rig.event(event)


def posts_in(rig: SlackRig, thread_ts: str, count: int) -> list[Any]:
    return rig.mock.wait_api("chat.postMessage", count=count, thread_ts=thread_ts)


# --------------------------------------------------------------------------- threads


def test_a_threaded_mention_continues_the_threads_question(rig, lines) -> None:
    root = "1700100000.000100"
    mention(rig, "top OT codes 2021", root)
    first = posts_in(rig, root, 1)[0]
    assert codes_shown(first) == top_codes(lines, "ot", 2021)
    mention(rig, "and for PT?", "1700100001.000100", thread_ts=root)
    second = posts_in(rig, root, 2)[1]
    check_message(second.body)
    assert codes_shown(second) == top_codes(lines, "pt", 2021)  # PT, the first one's year
    assert "2021" in header_text(second)
    # its buttons re-ask the follow-up as understood, not its words alone
    assert all(b["value"].startswith("@") for b in buttons(second).values())


def test_two_threads_keep_their_own_questions(rig, lines) -> None:
    a, b = "1700100100.000100", "1700100200.000100"
    mention(rig, "top OT codes 2020", a)
    mention(rig, "top PT codes in Texas 2022", b)
    posts_in(rig, a, 1), posts_in(rig, b, 1)
    mention(rig, "what about 2022?", "1700100101.000100", thread_ts=a)
    mention(rig, "and for OT?", "1700100201.000100", thread_ts=b)
    in_a = posts_in(rig, a, 2)[1]
    in_b = posts_in(rig, b, 2)[1]
    assert codes_shown(in_a) == top_codes(lines, "ot", 2022)  # OT (thread a), now 2022
    assert codes_shown(in_b) == top_codes(lines, "ot", 2022, state="TX")  # Texas kept


def test_a_mention_outside_a_thread_starts_afresh(rig, lines) -> None:
    mention(rig, "top OT codes 2019", "1700100300.000100")
    posts_in(rig, "1700100300.000100", 1)
    mention(rig, "and for PT?", "1700100400.000100")  # not in the thread: no context
    reply = posts_in(rig, "1700100400.000100", 1)[0]
    assert "2019" not in header_text(reply)  # not the other thread's year


def test_a_dm_conversation_of_three_turns(rig, lines) -> None:
    dm(rig, "top PT codes 2022", "1700100500.000100")
    dm(rig, "in Florida", "1700100501.000100")
    dm(rig, "now do 2020", "1700100502.000100")
    calls = rig.mock.wait_api("chat.postMessage", count=3, channel=DM)
    assert codes_shown(calls[0]) == top_codes(lines, "pt", 2022)
    assert codes_shown(calls[1]) == top_codes(lines, "pt", 2022, state="FL")
    assert codes_shown(calls[2]) == top_codes(lines, "pt", 2020, state="FL")
    for call in calls:
        check_message(call.body)
        assert call.body.get("thread_ts") is None


# --------------------------------------------------------------------------- the assistant


def test_the_assistant_pane(rig, lines) -> None:
    thread = "1700100600.000100"
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": USER,
            "context": {"channel_id": CHANNEL, "team_id": "T0TEAM", "enterprise_id": None},
            "channel_id": DM,
            "thread_ts": thread,
        },
        "event_ts": "1700100600.000200",
    }
    rig.event(started)
    greeting = rig.mock.wait_api("chat.postMessage", thread_ts=thread)[0]
    assert greeting.body["text"] == GREETING
    prompts = rig.mock.wait_api("assistant.threads.setSuggestedPrompts")[0]
    suggested = prompts.json_field("prompts")
    assert 1 <= len(suggested) <= 4
    assert all({"title", "message"} <= set(p) for p in suggested)
    changed = {**started, "type": "assistant_thread_context_changed"}
    changed["assistant_thread"] = {
        **started["assistant_thread"],
        "context": {"channel_id": "C0OTHER", "team_id": "T0TEAM", "enterprise_id": None},
    }
    rig.event(changed)
    rig.quiet()
    stored = rig.runtime.store.get_value(f"assistant:{DM}:{thread}")
    assert json.loads(stored)["channel_id"] == "C0OTHER"

    dm(rig, "top OT codes 2022", "1700100601.000100", thread_ts=thread)
    dm(rig, "and for PT?", "1700100602.000100", thread_ts=thread)
    posted = rig.mock.wait_api("chat.postMessage", count=3, thread_ts=thread)
    assert codes_shown(posted[1]) == top_codes(lines, "ot", 2022)
    assert codes_shown(posted[2]) == top_codes(lines, "pt", 2022)
    statuses = rig.mock.wait_api("assistant.threads.setStatus", count=2)
    assert all(s.body.get("status") == STATUS for s in statuses)
    titles = rig.mock.wait_api("assistant.threads.setTitle", count=2)
    assert titles[0].body.get("title") == "top OT codes 2022"


# --------------------------------------------------------------------------- refine


def _select(menu: dict[str, Any], label: str) -> dict[str, Any]:
    option = next(o for o in menu["options"] if o["text"]["text"] == label)
    return {"action_id": menu["action_id"], "selected_option": option, "block_id": "refine"}


def test_a_refine_menu_changes_the_year_in_place(rig, lines) -> None:
    root = "1700100700.000100"
    mention(rig, "top OT codes 2022", root)
    answer = posts_in(rig, root, 1)[0]
    period = menus(answer)[f"{ACTION_REFINE}_period"]
    assert period["initial_option"]["text"]["text"] == "2022"
    message = {"ts": "1700100701.000100", "thread_ts": root, "text": answer.body["text"]}
    key, _ = rig.click(_select(period, "2020"), message=message)
    replaced = rig.mock.wait_response(key)[0]
    assert replaced.body.get("replace_original") is True
    check_message(replaced.body)
    assert codes_shown(replaced) == top_codes(lines, "ot", 2020)
    texts = [
        e["text"] for b in blocks_of(replaced) if b["type"] == "context" for e in b["elements"]
    ]
    assert any("Changed: Period 2022 → 2020" in t for t in texts)
    new_period = menus(replaced)[f"{ACTION_REFINE}_period"]
    assert new_period["initial_option"]["text"]["text"] == "2020"
    # the buttons of the refined answer work on it: Show SQL binds 2020
    sql_key, _ = rig.click(buttons(replaced)["toprank_show_sql"], message=message)
    sql = json.dumps(rig.mock.wait_response(sql_key)[0].body)
    assert "2020-01-01" in sql and "2022-01-01" not in sql
    # and a follow-up in the thread continues the refined question
    mention(rig, "and for PT?", "1700100702.000100", thread_ts=root)
    follow = posts_in(rig, root, 2)[1]
    assert codes_shown(follow) == top_codes(lines, "pt", 2020)


def test_a_refine_menu_on_a_slash_answer(rig, lines) -> None:
    _, call = rig.command("pt 2022")
    state = menus(call)[f"{ACTION_REFINE}_state"]
    key, _ = rig.click(_select(state, "Florida"))  # ephemeral: no message in the payload
    replaced = rig.mock.wait_response(key)[0]
    assert codes_shown(replaced) == top_codes(lines, "pt", 2022, state="FL")
    assert "toprank_share" in buttons(replaced)  # still private, still shareable


@pytest.mark.parametrize(
    "value",
    [
        "0123456789abcdef|period|1999",  # a year without data
        "0123456789abcdef|cohort|dentist",
        "0123456789abcdef|drop|x",
        "'; DROP TABLE claim_lines; --",
        "x" * 140,
    ],
)
def test_a_tampered_menu_value_gets_a_clear_message(rig, value: str) -> None:
    _, call = rig.command("ot 2022")
    menu = menus(call)[f"{ACTION_REFINE}_period"]
    real_id = menu["options"][0]["value"].split("|")[0]
    value = value.replace("0123456789abcdef", real_id)
    option = {"text": {"type": "plain_text", "text": "x"}, "value": value}
    key, _ = rig.click({"action_id": menu["action_id"], "selected_option": option})
    reply = rig.mock.wait_response(key)[0]
    text = json.dumps(reply.body)
    assert "not one I offered" in text
    assert reply.body.get("replace_original") is False
    assert "Traceback" not in text


def test_a_menu_of_an_answer_no_longer_kept(rig) -> None:
    option = {
        "text": {"type": "plain_text", "text": "2020"},
        "value": "ffffffffffffffff|period|2020",
    }
    key, _ = rig.click({"action_id": f"{ACTION_REFINE}_period", "selected_option": option})
    assert "too old" in json.dumps(rig.mock.wait_response(key)[0].body)


# --------------------------------------------------------------------------- did you mean


def test_did_you_mean_buttons_ask_the_alternative(rig, toprank) -> None:
    question = next(
        q
        for q in ("top codes for other", "other codes 2022", "top ot and pt codes 2022")
        if toprank.ask(q).alternatives
    )
    root = "1700100800.000100"
    mention(rig, question, root)
    answer = posts_in(rig, root, 1)[0]
    alternatives = {k: v for k, v in buttons(answer).items() if k.startswith(ACTION_ALTERNATIVE)}
    assert alternatives
    button = next(iter(alternatives.values()))
    message = {"ts": "1700100801.000100", "thread_ts": root, "text": answer.body["text"]}
    rig.click(button, message=message)
    asked = posts_in(rig, root, 2)[1]
    expected = toprank.ask(button["value"])
    assert header_text(asked) == expected.title


# --------------------------------------------------------------------------- restarts


def test_a_conversation_survives_a_restart(toprank, lines, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    mock = SlackMock()
    root = "1700100900.000100"
    first, server = start_rig(toprank, store=StateStore(url), mock=mock)
    try:
        mention(first, "top SLP codes 2021", root)
        posts_in(first, root, 1)
    finally:
        first.quiet()
        server.shutdown()
        server.server_close()
        first.executor.shutdown()
    second, server = start_rig(toprank, store=StateStore(url), mock=mock)  # a new app
    try:
        mention(second, "in New York", "1700100901.000100", thread_ts=root)
        follow = posts_in(second, root, 2)[1]
        assert codes_shown(follow) == top_codes(lines, "slp", 2021, state="NY")
    finally:
        stop_rig(second, server)


def test_a_conversation_expires(toprank, lines, tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = StateStore(f"sqlite:///{tmp_path / 's.sqlite'}", context_ttl=3600, clock=lambda: now[0])
    rig, server = start_rig(toprank, store=store)
    try:
        root = "1700101000.000100"
        mention(rig, "top SLP codes 2020", root)
        posts_in(rig, root, 1)
        now[0] += 3601  # an hour and a second later
        mention(rig, "in New York", "1700101001.000100", thread_ts=root)
        follow = posts_in(rig, root, 2)[1]
        assert codes_shown(follow) != top_codes(lines, "slp", 2020, state="NY")
    finally:
        stop_rig(rig, server)
