"""Questions in words: @mentions in channels (answered in the thread) and direct messages.

Events are acknowledged by Bolt before these run; they only hand the answer to the
answer pool. Bot messages (ours included), edits, deletions and every other message
subtype are ignored, so the bot never answers itself.

Conversations: a mention in a thread where toprank answered continues that thread's
last question ("and for PT?"); a mention outside a thread starts one. In a DM every
message continues the conversation until a complete new question starts afresh. Each
thread and DM keeps its own conversation in the state store (bot/state.py).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext, Say
from slack_sdk import WebClient

from toprank.bot.listeners.common import (
    Asker,
    apologise_on_failure,
    clean_slack_text,
    deliver,
    is_ignorable_message,
    runtime_of,
)
from toprank.bot.render_blocks import notice_message
from toprank.bot.state import conversation_key

HELP_QUESTION = "help"


def answer_mention(
    event: dict[str, Any],
    say: Say,
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    if is_ignorable_message(event, context.bot_user_id):
        return
    asker = Asker("mention", context.team_id, event.get("channel"), event.get("user"))
    limited = rt.over_limit(asker)
    if limited:  # told to the asker alone, not to the channel
        rt.notices.submit(
            lambda: deliver(
                lambda **m: client.chat_postEphemeral(
                    channel=str(event.get("channel") or ""),
                    user=str(event.get("user") or ""),
                    thread_ts=event.get("thread_ts"),
                    **m,
                ),
                notice_message(limited),
                logger,
            )
        )
        return
    # Reply in the thread: the mention's own thread, or a new one under the mention.
    in_thread = event.get("thread_ts") is not None
    thread_ts = event.get("thread_ts") or event["ts"]
    key = conversation_key(context.team_id, event.get("channel"), thread_ts)

    def send(**parts: Any) -> Any:
        return say(thread_ts=thread_ts, **parts)

    question = clean_slack_text(event.get("text", "")) or HELP_QUESTION

    def job() -> None:
        with apologise_on_failure(logger, send):
            message = rt.converse_message(question, key, logger, continues=in_thread, asker=asker)
            deliver(send, message, logger)

    rt.hand_off(job, send, logger, key=key)


def answer_direct_message(
    event: dict[str, Any], say: Say, context: BoltContext, logger: logging.Logger
) -> None:
    rt = runtime_of(context)
    # Every message event lands here (so Slack gets its 200 for edits and the like);
    # only a person's new message in a DM with the bot is a question.
    if event.get("channel_type") != "im" or is_ignorable_message(event, context.bot_user_id):
        return
    thread_ts = event.get("thread_ts")  # keep a DM thread a thread
    key = conversation_key(context.team_id, event.get("channel"), thread_ts)

    def send(**parts: Any) -> Any:
        return say(thread_ts=thread_ts, **parts)

    asker = Asker("dm", context.team_id, event.get("channel"), event.get("user"))
    limited = rt.over_limit(asker)
    if limited:
        rt.notices.submit(lambda: deliver(send, notice_message(limited), logger))
        return

    question = clean_slack_text(event.get("text", "")) or HELP_QUESTION

    def job() -> None:
        with apologise_on_failure(logger, send):
            deliver(send, rt.converse_message(question, key, logger, asker=asker), logger)

    rt.hand_off(job, send, logger, key=key)
