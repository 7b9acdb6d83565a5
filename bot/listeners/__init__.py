"""Every listener of the Slack app, one module per kind (as in Slack's bolt-python samples).

Listeners are module-level functions that reach the runtime (the core, the answer pool,
the state store...) through Bolt's context (`runtime_of(context)`): the middleware
`register_listeners` installs first puts it there. They are all registered here, in one
table, so a unit test can call any of them with a context, ack, say and client of its
own (tests/test_listeners.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, Assistant

from toprank.bot.controls import ACTION_ALTERNATIVE, ACTION_REFINE
from toprank.bot.feedback import ACTION_FEEDBACK, CALLBACK_FEEDBACK
from toprank.bot.listeners import actions, assistant, commands, events, feedback, home
from toprank.bot.listeners.common import SLASH_COMMAND, Runtime, runtime_middleware
from toprank.bot.render_blocks import ACTION_CHART, ACTION_CSV, ACTION_SHARE, ACTION_SHOW_SQL


@dataclass(frozen=True)
class Listener:
    """One listener: Bolt's registration method (command, event, action, view), what it
    matches and the function."""

    kind: str
    matches: str | re.Pattern[str]
    function: Callable[..., None]


# Registered in this order, after the assistant's middleware (which takes the assistant
# threads' messages before the "message" event listener sees them).
LISTENERS: tuple[Listener, ...] = (
    Listener("command", SLASH_COMMAND, commands.answer_command),
    Listener("event", "app_mention", events.answer_mention),
    Listener("event", "message", events.answer_direct_message),
    Listener("event", "app_home_opened", home.publish_home),
    Listener("action", re.compile(f"^{ACTION_REFINE}_[a-z]+$"), actions.refine_answer),
    Listener("action", re.compile(f"^{ACTION_ALTERNATIVE}_[0-9]+$"), actions.ask_alternative),
    Listener("action", ACTION_SHOW_SQL, actions.show_sql),
    Listener("action", ACTION_CHART, actions.upload_chart),
    Listener("action", ACTION_CSV, actions.upload_csv),
    Listener("action", ACTION_SHARE, actions.share_in_channel),
    Listener("action", ACTION_FEEDBACK, feedback.rate_answer),
    Listener("view", CALLBACK_FEEDBACK, feedback.comment_on_answer),
)


def assistant_for(rt: Runtime) -> Assistant:
    """The assistant pane's middleware: its thread contexts in the state store."""
    pane = Assistant(thread_context_store=assistant.StoreThreadContexts(rt.store))
    pane.thread_started(assistant.start_thread)
    pane.user_message(assistant.answer_in_thread)
    return pane


def register_listeners(app: App, rt: Runtime) -> None:
    app.use(runtime_middleware(rt))  # first: every listener below reads it from the context
    app.use(assistant_for(rt))
    for listener in LISTENERS:
        register: Any = getattr(app, listener.kind)
        register(listener.matches)(listener.function)
