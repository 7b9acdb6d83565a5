"""The /toprank slash command: ack at once, answer from a lazy listener via respond().

Slack needs the HTTP 200 within 3 seconds; the ack function does nothing else, and the
answer (parse, query, render) runs in a lazy listener on Bolt's worker threads. The
answer is ephemeral (only the caller sees it) with a "Share in channel" button.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.listeners.common import SLASH_COMMAND, Core, answer_message_for, deliver, slash_question


def register(app: App, core: Core) -> None:
    def acknowledge_command(ack: Ack) -> None:
        ack()

    def answer_command(command: dict[str, Any], respond: Respond, logger: logging.Logger) -> None:
        question = slash_question(command.get("text", ""))
        message = answer_message_for(core, question, logger, shareable=True)

        def send(**parts: Any) -> Any:
            return respond(response_type="ephemeral", replace_original=False, **parts)

        deliver(send, message, logger)

    app.command(SLASH_COMMAND)(ack=acknowledge_command, lazy=[answer_command])
