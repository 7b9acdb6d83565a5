"""The answer's controls: Show SQL, Chart, CSV and Share in channel buttons, the refine
menus (cohort, period, state, payer, top N) and "did you mean" buttons.

A button's value is the question, or "@<answer id>" for an answer kept in the state
store (a follow-up, a refined answer); the listener answers it again (answers are
deterministic) and works from that fresh Answer, so no SQL or data travels in a button.
A refine menu's value names the kept answer, the part and the choice (bot/controls.py);
the answer is re-run with that one change and replaces the message in place. Each
listener acks first, then hands the work to the answer pool (bot.delivery).

Files go into the answer's thread. An ephemeral answer (the slash command's) has no
message to thread under and is private, so its chart or CSV goes to the user's DM with
the bot instead of the channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from toprank.bot.chart import draw, figure_png  # imports matplotlib on the first chart only
from toprank.bot.chart_kinds import alt_text, chart_spec, no_chart_reason
from toprank.bot.controls import (
    ControlValueError,
    changed_text,
    choices_for,
    menus_for,
    parse_control_value,
)
from toprank.bot.export import answer_csv, file_stem
from toprank.bot.listeners.common import (
    GONE_TEXT,
    Asker,
    Runtime,
    Send,
    apologise_on_failure,
    deliver,
    runtime_of,
)
from toprank.bot.render_blocks import (
    answer_title,
    notice_message,
    sql_message,
)
from toprank.bot.state import conversation_key
from toprank.bot.usage import Stopwatch
from toprank.intents.conversation import Context
from toprank.intents.phrase import question_for
from toprank.intents.refine import RefineError, refine

# chat.postMessage errors that mean "the bot is not in that conversation"; the
# interaction's response_url can still post there, on the user's behalf.
CANNOT_POST_ERRORS = frozenset({"not_in_channel", "channel_not_found", "restricted_action"})
TAMPERED_TEXT = "That choice is not one I offered. Please ask the question again."


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


def _is_ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral")) or not body.get("message")


def _thread_key(body: dict[str, Any]) -> str | None:
    """The conversation of the thread an answer sits in (None for an ephemeral answer)."""
    message = body.get("message")
    if _is_ephemeral(body) or not message:
        return None
    channel = (body.get("channel") or {}).get("id")
    team = (body.get("team") or {}).get("id")
    return conversation_key(team, channel, message.get("thread_ts") or message.get("ts"))


def _asker(surface: str, body: dict[str, Any]) -> Asker:
    """Who clicked, for the usage log."""
    return Asker(
        surface,
        (body.get("team") or {}).get("id"),
        (body.get("channel") or {}).get("id"),
        (body.get("user") or {}).get("id"),
    )


def refine_answer(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    core = rt.core
    ack()
    send = _ephemeral_reply(rt, body)
    replace = rt.responder(body.get("response_url"), replace_original=True)

    def job() -> None:
        with apologise_on_failure(logger, send):
            try:
                value = (action.get("selected_option") or {}).get("value")
                answer_id, part, choice = parse_control_value(value)
                stored = rt.store.load_answer(answer_id)
                if stored is None:
                    send(**notice_message(GONE_TEXT))
                    return
                choices = choices_for(core.coverage, rt.catalog)
                spec = refine(stored.spec, part, choice, choices)
            except (ControlValueError, RefineError) as exc:
                logger.info("refused a control value: %s", exc)
                send(**notice_message(TAMPERED_TEXT))
                return
            before = core.answer_spec(stored.spec, question=stored.question)
            watch = Stopwatch()
            answer = core.answer_spec(spec, question=question_for(spec))
            log_id = rt.log(answer, _asker("refine", body), watch.seconds())
            old = menus_for("0" * 16, before, core.coverage, rt.catalog)
            changed = changed_text(part, (old.current if old else {}).get(part), choice, old)
            key = _thread_key(body)
            if key and answer.shape and not answer.error:
                codes = tuple(str(r["code"]) for r in answer.rows if r.get("code"))
                rt.store.save_context(key, Context(spec, tuple(dict.fromkeys(codes))))
            message = rt.render(
                answer,
                spec,
                shareable=_is_ephemeral(body),
                changed=changed,
                by_id=True,
                log_id=log_id,
            )
            deliver(replace, message, logger)

    rt.hand_off(job, send, logger)


def ask_alternative(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    ephemeral = _is_ephemeral(body)
    key = _thread_key(body)
    message_of = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id")
    thread_ts = message_of.get("thread_ts") or message_of.get("ts")
    notice = _ephemeral_reply(rt, body)

    def send(**message: Any) -> Any:
        if ephemeral or not channel:
            return notice(**message)
        return client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)

    def job() -> None:
        with apologise_on_failure(logger, send):
            question = str(action.get("value") or "")
            message = rt.converse_message(
                question,
                key,
                logger,
                continues=False,
                shareable=ephemeral,
                asker=_asker("button", body),
            )
            deliver(send, message, logger)

    rt.hand_off(job, send, logger)


def show_sql(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    send = _ephemeral_reply(rt, body)

    def job() -> None:
        with apologise_on_failure(logger, send):
            deliver(send, sql_message(rt.answer_for_value(action["value"])), logger)

    rt.hand_off(job, send, logger)


def upload_chart(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    send = _ephemeral_reply(rt, body)

    def job() -> None:
        with apologise_on_failure(logger, send):
            answer = rt.answer_for_value(action["value"])
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


def upload_csv(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    send = _ephemeral_reply(rt, body)

    def job() -> None:
        with apologise_on_failure(logger, send):
            answer = rt.answer_for_value(action["value"])
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


def share_in_channel(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    logger: logging.Logger,
) -> None:
    rt = runtime_of(context)
    ack()
    send = _ephemeral_reply(rt, body)
    respond = rt.responder(body.get("response_url"))

    def job() -> None:
        with apologise_on_failure(logger, send):
            user = body["user"]["id"]
            answer = rt.answer_for_value(action["value"])
            message = rt.render(answer, None, shared_by=user, button_value=action["value"])
            channel = str((body.get("channel") or {}).get("id") or "")
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
