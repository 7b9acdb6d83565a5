"""The /toprank slash command: ack at once, answer on the answer pool through the
response_url.

Slack needs the HTTP 200 within 3 seconds; the ack does nothing else, and the answer
(understand, query, render, post) runs on the answer pool (bot.delivery.WorkPool), so a
slow Slack never delays an ack. When the pool is full the ack itself says "busy" (no
Web API call needed). The answer is ephemeral (only the caller sees it) with a "Share
in channel" button.

`subscribe`, `subscriptions` and `unsubscribe N` manage the channel's digests
(bot/digests.py) instead of asking a question. A user over the per-minute limit gets
the limit's message in the ack.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from slack_bolt import Ack, BoltContext

from toprank.bot.digests import (
    MAX_PER_CHANNEL,
    CommandError,
    ListSubscriptions,
    Subscribe,
    Unsubscribe,
    listing_text,
    parse_digest_command,
    schedule_text,
)
from toprank.bot.listeners.common import (
    BUSY_TEXT,
    Asker,
    Runtime,
    apologise_on_failure,
    clean_slack_text,
    deliver,
    runtime_of,
    slash_question,
)
from toprank.bot.mrkdwn import escape_mrkdwn
from toprank.bot.render_blocks import notice_message
from toprank.bot.usage import is_rateable


def answer_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, logger: logging.Logger
) -> None:
    rt = runtime_of(context)
    send = rt.responder(
        command.get("response_url"), response_type="ephemeral", replace_original=False
    )
    asker = Asker(
        "slash", command.get("team_id"), command.get("channel_id"), command.get("user_id")
    )
    digest = parse_digest_command(clean_slack_text(command.get("text", "")))
    if digest is not None:

        def manage() -> None:
            with apologise_on_failure(logger, send):
                send(**notice_message(digest_reply(rt, digest, asker)))

        if rt.hand_off(manage, None, logger):
            ack()
        else:
            ack(response_type="ephemeral", text=BUSY_TEXT)
        return

    limited = rt.over_limit(asker)
    if limited:
        ack(response_type="ephemeral", text=limited)
        return
    question = slash_question(command.get("text", ""))

    def job() -> None:
        message = rt.converse_message(
            question, None, logger, continues=False, shareable=True, asker=asker
        )
        deliver(send, message, logger)

    if rt.hand_off(job, None, logger):
        ack()
    else:
        ack(response_type="ephemeral", text=BUSY_TEXT)


def digest_reply(rt: Runtime, command: Any, asker: Asker) -> str:
    """Carry out a digest command for the asker's channel; what to tell them."""
    team, channel = asker.team or "-", asker.channel
    scheduler = rt.scheduler
    zone = scheduler.zone if scheduler is not None else timezone.utc
    if isinstance(command, CommandError):
        return command.message
    if not channel:
        return "Digests are posted in a channel: run this command in the channel that wants it."
    if isinstance(command, ListSubscriptions):
        now = datetime.fromtimestamp(rt.store.clock(), timezone.utc)
        return listing_text(rt.store.list_subscriptions(team, channel), zone, now)
    if isinstance(command, Unsubscribe):
        if rt.store.remove_subscription(team, channel, command.number):
            return f"Removed digest #{command.number}: it will not be posted here again."
        return (
            f"This channel has no digest #{command.number}. "
            "`/toprank subscriptions` lists the ones it has."
        )
    assert isinstance(command, Subscribe)
    if len(rt.store.list_subscriptions(team, channel)) >= MAX_PER_CHANNEL:
        return (
            f"This channel has {MAX_PER_CHANNEL} digests, the most it can have. "
            "Remove one with `/toprank unsubscribe N` first."
        )
    answer = rt.core.ask(slash_question(command.question))
    if not is_rateable(answer):
        reason = next((s for s in answer.summary if s), answer.headline).split("\n")[0]
        return (
            f"I can't make a digest of “{_escape(command.question)}”: it is not a question "
            f"I can answer from the data ({_escape(reason)}). Try it as `/toprank "
            f"{_escape(command.question)}` first."
        )
    created = rt.store.add_subscription(
        team,
        channel,
        command.question,
        command.cadence,
        command.at_minute,
        rt.usage.user_hash(asker.team, asker.user) if rt.usage else None,
    )
    if created is None:
        return "Sorry, I could not save that digest just now. Please try again in a moment."
    when = schedule_text(command.cadence, command.at_minute, zone)
    return (
        f":calendar: Digest #{created.id}: I'll post the answer to “{_escape(command.question)}” "
        f"in this channel {when}, worked out on the data of that day. "
        f"`/toprank unsubscribe {created.id}` stops it. (In a private channel, invite me "
        "first: `/invite @toprank`.)"
    )


_escape = escape_mrkdwn
