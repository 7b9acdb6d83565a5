"""The /toprank slash command: ack at once, answer on the answer pool through the
response_url.

Slack needs the HTTP 200 within 3 seconds; the ack does nothing else, and the answer
(understand, query, render, post) runs on the answer pool (bot.delivery.WorkPool), so a
slow Slack never delays an ack. When the pool is full the ack itself says "busy" (no
Web API call needed). The answer is ephemeral (only the caller sees it) with a "Share
in channel" button.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.listeners.common import BUSY_TEXT, SLASH_COMMAND, Runtime, deliver, slash_question


def register(app: App, rt: Runtime) -> None:
    @app.command(SLASH_COMMAND)
    def answer_command(ack: Ack, command: dict[str, Any], logger: logging.Logger) -> None:
        question = slash_question(command.get("text", ""))
        send = rt.responder(
            command.get("response_url"), response_type="ephemeral", replace_original=False
        )

        def job() -> None:
            message = rt.converse_message(question, None, logger, continues=False, shareable=True)
            deliver(send, message, logger)

        if rt.hand_off(job, None, logger):
            ack()
        else:
            ack(response_type="ephemeral", text=BUSY_TEXT)
