"""Every listener of the Slack app, one module per kind (as in Slack's bolt-python samples)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, assistant, commands, events, feedback, home
from bot.listeners.common import Runtime


def register_listeners(app: App, rt: Runtime) -> None:
    assistant.register(app, rt)  # before events: it takes the assistant threads' messages
    commands.register(app, rt)
    events.register(app, rt)
    home.register(app, rt)
    actions.register(app, rt)
    feedback.register(app, rt)
