"""The App Home tab: what the bot answers, example questions and the data coverage."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from toprank.bot.listeners.common import apologise_on_failure, runtime_of
from toprank.bot.render_blocks import home_view


def publish_home(
    event: dict[str, Any], client: WebClient, context: BoltContext, logger: logging.Logger
) -> None:
    rt = runtime_of(context)
    if event.get("tab", "home") != "home":
        return  # the Messages tab needs nothing from us

    def job() -> None:
        with apologise_on_failure(logger, None):
            client.views_publish(
                user_id=event["user"], view=home_view(rt.core.coverage, rt.core.min_cell)
            )

    rt.hand_off(job, None, logger)
