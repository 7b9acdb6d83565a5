"""Slack's assistant pane (the AI-app split view), through bolt-python's Assistant.

A new assistant thread gets a greeting and suggested prompts drawn from what the data
covers. Each message in it is a turn of that thread's conversation (kept in the state
store like any thread's): the thread is titled from the question, the status says
"is looking it up..." while the answer is worked out on the answer pool, and the
answer is posted in the thread. The thread's context (the channel the user is viewing)
is kept in the state store too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import BoltContext, Say, SetStatus, SetSuggestedPrompts, SetTitle
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

from toprank.bot.listeners.common import (
    Asker,
    apologise_on_failure,
    clean_slack_text,
    deliver,
    runtime_of,
)
from toprank.bot.render_blocks import notice_message
from toprank.bot.state import StateStore, conversation_key
from toprank.intents.model import Coverage

GREETING = (
    "Hi! Ask me about procedure codes in the claims data: the top codes of a cohort, a "
    "code's share, trends, comparisons, breakdowns by state or payer. Follow-ups work: "
    '"and for PT?", "what about 2021?", "by payer".'
)
STATUS = "is looking it up..."
MAX_TITLE = 100


class StoreThreadContexts(AssistantThreadContextStore):
    """Assistant thread contexts in the state store (Bolt's default keeps them in message
    metadata, which costs a conversations.replies call per message)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        self.store.put_value(f"assistant:{channel_id}:{thread_ts}", json.dumps(context))

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        raw = self.store.get_value(f"assistant:{channel_id}:{thread_ts}")
        if not raw:
            return None
        try:
            return AssistantThreadContext(json.loads(raw))
        except (ValueError, TypeError):
            return None


def suggested_prompts(coverage: Coverage | None) -> list[dict[str, str]]:
    """Four questions the data can answer, for its latest full year."""
    if coverage is None:
        return [{"title": "What can you answer?", "message": "help"}]
    year = coverage.end.year if coverage.end.month == 12 else coverage.end.year - 1
    year = max(year, coverage.start.year)
    questions = [
        ("Top rehab codes", f"top rehab codes in {year}"),
        ("A code's share", f"what share of OT procedures was 97530 in {year}?"),
        ("OT vs PT", f"compare OT and PT {year}"),
        ("Payer mix", f"payer mix for PT {year}"),
    ]
    return [{"title": title, "message": message} for title, message in questions]


def start_thread(
    say: Say,
    set_suggested_prompts: SetSuggestedPrompts,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)

    def job() -> None:
        with apologise_on_failure(logger, say):
            say(GREETING)
            set_suggested_prompts(prompts=suggested_prompts(rt.core.coverage))

    rt.hand_off(job, say, logger)


def answer_in_thread(
    payload: dict[str, Any],
    say: Say,
    set_status: SetStatus,
    set_title: SetTitle,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    question = clean_slack_text(payload.get("text", "")) or "help"
    thread_ts = payload.get("thread_ts")
    key = conversation_key(context.team_id, payload.get("channel"), thread_ts)
    asker = Asker("assistant", context.team_id, payload.get("channel"), payload.get("user"))
    limited = rt.over_limit(asker)
    if limited:
        rt.notices.submit(lambda: deliver(say, notice_message(limited), logger))
        return

    def job() -> None:
        with apologise_on_failure(logger, say):
            set_title(question[:MAX_TITLE])
            set_status(STATUS)
            deliver(say, rt.converse_message(question, key, logger, asker=asker), logger)

    rt.hand_off(job, say, logger, key=key)
