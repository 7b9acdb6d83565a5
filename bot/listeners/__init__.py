"""Every listener of the Slack app, one module per kind (as in Slack's bolt-python samples)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, commands, events, home
from bot.listeners.common import Core


def register_listeners(app: App, core: Core) -> None:
    commands.register(app, core)
    events.register(app, core)
    home.register(app, core)
    actions.register(app, core)
