"""The answer's buttons: Show SQL, Chart, CSV and Share in channel.

Each button's value is only the question; the listener asks the core again (answers are
deterministic) and works from that fresh Answer, so no SQL or data travels in a button.
Each listener acks first, then hands the work to the answer pool (bot.delivery).

Files go into the answer's thread. An ephemeral answer (the slash command's) has no
message to thread under and is private, so its chart or CSV goes to the user's DM with
the bot instead of the channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chart import draw, figure_png  # imports matplotlib on the first chart only
from bot.chart_kinds import alt_text, chart_spec, no_chart_reason
from bot.export import answer_csv, file_stem
from bot.listeners.common import Runtime, Send, answer_message_for, apologise_on_failure, deliver
from bot.render_blocks import (
    ACTION_CHART,
    ACTION_CSV,
    ACTION_SHARE,
    ACTION_SHOW_SQL,
    answer_title,
    notice_message,
    sql_message,
)

# chat.postMessage errors that mean "the bot is not in that conversation"; the
# interaction's response_url can still post there, on the user's behalf.
CANNOT_POST_ERRORS = frozenset({"not_in_channel", "channel_not_found", "restricted_action"})


def _thread_of(body: dict[str, Any]) -> str | None:
    message = body.get("message") or {}
    return message.get("thread_ts")


def _ephemeral_reply(rt: Runtime, body: dict[str, Any]) -> Send:
    fixed: dict[str, Any] = {"response_type": "ephemeral", "replace_original": False}
    if _thread_of(body):
        fixed["thread_ts"] = _thread_of(body)
    return rt.responder(body.get("response_url"), **fixed)


def upload_target(body: dict[str, Any], client: WebClient) -> tuple[str, str | None, bool]:
    """Where a file for this answer goes: (channel, thread_ts, is_the_users_dm)."""
    message = body.get("message")
    if (body.get("container") or {}).get("is_ephemeral") or not message:
        opened = client.conversations_open(users=body["user"]["id"])
        return opened["channel"]["id"], None, True
    channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    return channel, message.get("thread_ts") or message["ts"], False


def _upload(body: dict[str, Any], client: WebClient, send: Any, what: str, **file: Any) -> None:
    """Upload a file (files_upload_v2) where the answer lives; say so when it went to the DM."""
    channel, thread_ts, to_dm = upload_target(body, client)
    client.files_upload_v2(channel=channel, thread_ts=thread_ts, **file)
    if to_dm:
        send(**notice_message(f"I sent the {what} to our direct messages."))


def register(app: App, rt: Runtime) -> None:
    core = rt.core

    @app.action(ACTION_SHOW_SQL)
    def show_sql(
        ack: Ack, action: dict[str, Any], body: dict[str, Any], logger: logging.Logger
    ) -> None:
        ack()
        send = _ephemeral_reply(rt, body)

        def job() -> None:
            with apologise_on_failure(logger, send):
                deliver(send, sql_message(core.ask(action["value"])), logger)

        rt.hand_off(job, send, logger)

    @app.action(ACTION_CHART)
    def upload_chart(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        logger: logging.Logger,
    ) -> None:
        ack()
        send = _ephemeral_reply(rt, body)

        def job() -> None:
            with apologise_on_failure(logger, send):
                answer = core.ask(action["value"])
                reason = no_chart_reason(answer)  # the data changed since the button
                if reason:
                    send(**notice_message(f"No chart for that answer: {reason}."))
                    return
                spec = chart_spec(answer)
                png = figure_png(draw(spec))
                _upload(
                    body,
                    client,
                    send,
                    "chart",
                    content=png,
                    filename=f"{file_stem(answer)}.png",
                    title=answer_title(answer),
                    alt_txt=alt_text(spec),
                )

        rt.hand_off(job, send, logger)

    @app.action(ACTION_CSV)
    def upload_csv(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        logger: logging.Logger,
    ) -> None:
        ack()
        send = _ephemeral_reply(rt, body)

        def job() -> None:
            with apologise_on_failure(logger, send):
                answer = core.ask(action["value"])
                if not answer.rows:
                    send(**notice_message("That answer has no rows to export."))
                    return
                _upload(
                    body,
                    client,
                    send,
                    "CSV",
                    content=answer_csv(answer),
                    filename=f"{file_stem(answer)}.csv",
                    title=f"{answer_title(answer)} (CSV, {len(answer.rows)} rows)",
                )

        rt.hand_off(job, send, logger)

    @app.action(ACTION_SHARE)
    def share_in_channel(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        logger: logging.Logger,
    ) -> None:
        ack()
        send = _ephemeral_reply(rt, body)
        respond = rt.responder(body.get("response_url"))

        def job() -> None:
            with apologise_on_failure(logger, send):
                user = body["user"]["id"]
                message = answer_message_for(core, action["value"], logger, shared_by=user)
                channel = (body.get("channel") or {}).get("id")
                try:
                    client.chat_postMessage(channel=channel, **message)
                except SlackApiError as error:
                    if error.response.get("error") not in CANNOT_POST_ERRORS:
                        raise
                    logger.info(
                        "cannot post in %s (%s); sharing through response_url",
                        channel,
                        error.response.get("error"),
                    )
                    respond(response_type="in_channel", replace_original=False, **message)
                # The shared copy replaces the private one.
                respond(delete_original=True)

        rt.hand_off(job, send, logger)
