"""Text on its way into Slack: the one place Slack's markup is neutralised. Pure.

mrkdwn (sections, context) treats "&", "<" and ">" as control characters, so user and
core text is escaped there: an echoed "<!channel>" must not notify a channel. A table
block's raw_text cells are not mrkdwn ("<11" shows as typed); only the start of Slack's
own markup ("<!", "<@", "<#") is bent there so that nothing in a cell can ping anyone.
"""

from __future__ import annotations

import re

# "<!channel>", "<@U123>", "<#C123>": Slack's markup, never let through in plain text
_SLACK_MARKUP = re.compile(r"<(?=[!@#])")


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so user text shows as typed and pings nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defuse_markup(text: str) -> str:
    """Plain text (a raw_text cell) that cannot open a mention: "<11" stays "<11"."""
    return _SLACK_MARKUP.sub("‹", text)
