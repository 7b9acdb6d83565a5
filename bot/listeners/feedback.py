"""Thumbs up / down under an answer, and the "what was wrong?" form after a thumbs down.

A click is stored with the log entry its value names (bot/feedback.py), as the
clicker's rating (their latest click counts). A thumbs down opens the form at once
(views.open needs the click's trigger_id, which Slack honours for 3 seconds), so that
call is made in the listener right after the ack; storing the rating and the thanks go
to the answer pool like any other work. The form's submission adds the comment.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from toprank.bot.feedback import (
    THANKS_UP,
    FeedbackValueError,
    comment_from_view,
    feedback_modal,
    parse_feedback_value,
)
from toprank.bot.listeners.common import Runtime, apologise_on_failure, runtime_of
from toprank.bot.render_blocks import notice_message

GONE = (
    "That answer is no longer in the log (it is kept for a limited time), so I could not record it."
)


def _user_hash(rt: Runtime, body: dict[str, Any]) -> str | None:
    if rt.usage is None:
        return None
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return rt.usage.user_hash(team, user.get("id"))


def rate_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    send = rt.responder(body.get("response_url"), response_type="ephemeral", replace_original=False)
    try:
        rating, log_id = parse_feedback_value(action.get("value"))
    except FeedbackValueError as error:
        logger.info("refused a feedback value: %s", error)
        return
    user_hash = _user_hash(rt, body)
    if rating == "down":
        entry = rt.store.log_entry(log_id)
        try:
            client.views_open(
                trigger_id=body["trigger_id"],
                view=feedback_modal(log_id, entry.question if entry else None),
            )
        except Exception:  # the rating still counts without the form
            logger.exception("could not open the feedback form")

    def job() -> None:
        with apologise_on_failure(logger, send):
            if user_hash is None:
                return
            if not rt.store.rate(log_id, user_hash, rating):
                send(**notice_message(GONE))
            elif rating == "up":
                send(**notice_message(THANKS_UP))

    rt.hand_off(job, send, logger)


def comment_on_answer(
    ack: Ack,
    view: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()  # closes the form
    try:
        log_id, comment = comment_from_view(view)
    except FeedbackValueError as error:
        logger.info("refused a feedback form: %s", error)
        return
    user_hash = _user_hash(rt, body)

    def job() -> None:
        with apologise_on_failure(logger, None):
            if user_hash is not None:
                rt.store.rate(log_id, user_hash, "down", comment)

    rt.hand_off(job, None, logger)
