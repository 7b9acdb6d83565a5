"""Feedback on answers: thumbs up / down under every data answer, a short "what was
wrong?" form after a thumbs down, and the disliked questions as development cases.

The buttons are Slack's `feedback_buttons` element in a `context_actions` block; each
button's value names the answer's usage-log entry ("up|<log id>", "down|<log id>"), so
a rating is stored with the log entry of exactly that answer. A thumbs down opens a
modal (views.open with the click's trigger_id) whose private_metadata is the log id;
its submission adds the comment to the rating.

`disliked_cases` turns the disliked entries into lines of the development-set format
(../shared/eval/README.md): {"q": ...} or, for a follow-up, {"turns": [...]}, with an
empty "expect" for the developer to fill in, what the question was understood as, and
the comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from toprank.bot.mrkdwn import escape_mrkdwn

if TYPE_CHECKING:  # rendering a message never needs the store's libraries
    from toprank.bot.state import LogEntry, Rating

ACTION_FEEDBACK = "toprank_feedback"
CALLBACK_FEEDBACK = "toprank_feedback_form"
COMMENT_BLOCK = "what_was_wrong"
COMMENT_ACTION = "comment"
MAX_COMMENT = 2000
RATINGS = ("up", "down")
_LOG_ID = re.compile(r"^[0-9a-f]{16}$")

THANKS_UP = "Thanks for the feedback: glad it helped."
THANKS_DOWN = "Thanks for telling us. It goes to the team that looks after toprank."


class FeedbackValueError(ValueError):
    """A feedback value or form that toprank did not make."""


def feedback_block(log_id: str) -> dict[str, Any]:
    """The thumbs up / down under an answer (a context_actions block)."""
    return {
        "type": "context_actions",
        "block_id": f"feedback_{log_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": ACTION_FEEDBACK,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "👍"},
                    "accessibility_label": "This answer was right and useful",
                    "value": f"up|{log_id}",
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "👎"},
                    "accessibility_label": "This answer was wrong or not useful",
                    "value": f"down|{log_id}",
                },
            }
        ],
    }


def parse_feedback_value(value: Any) -> tuple[str, str]:
    """(rating, log id) from a feedback button's value."""
    rating, _, log_id = str(value or "").partition("|")
    if rating not in RATINGS or not _LOG_ID.match(log_id):
        raise FeedbackValueError(f"not a feedback value: {str(value)[:40]!r}")
    return rating, log_id


def feedback_modal(log_id: str, question: str | None = None) -> dict[str, Any]:
    """The optional "what was wrong?" form opened by a thumbs down."""
    asked = f"\n>{_quote(question)}" if question else ""
    return {
        "type": "modal",
        "callback_id": CALLBACK_FEEDBACK,
        "private_metadata": log_id,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Thanks for the thumbs down. A line on what was wrong helps us "
                    f"fix it (optional).{asked}",
                },
            },
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "What was wrong?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_ACTION,
                    "multiline": True,
                    "max_length": MAX_COMMENT,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. I meant 2023, not 2022; the PT share looks too high",
                    },
                },
            },
        ],
    }


def _quote(question: str) -> str:
    return escape_mrkdwn(" ".join(question.split())[:300])


def comment_from_view(view: dict[str, Any]) -> tuple[str, str | None]:
    """(log id, comment or None) from the form's view_submission."""
    log_id = str(view.get("private_metadata") or "")
    if view.get("callback_id") != CALLBACK_FEEDBACK or not _LOG_ID.match(log_id):
        raise FeedbackValueError("not toprank's feedback form")
    values = ((view.get("state") or {}).get("values") or {}).get(COMMENT_BLOCK) or {}
    raw = (values.get(COMMENT_ACTION) or {}).get("value")
    comment = " ".join(str(raw).split()) if raw else ""
    return log_id, comment[:MAX_COMMENT] or None


def disliked_cases(entries: Iterable[LogEntry], ratings: Iterable[Rating]) -> list[dict[str, Any]]:
    """One development case per disliked answer (a user's latest rating is a thumbs
    down), oldest first."""
    latest: dict[tuple[str, str], Rating] = {}
    for rating in sorted(ratings, key=lambda r: r.at):
        latest[(rating.log_id, rating.user_hash)] = rating
    downs: dict[str, list[Rating]] = {}
    for rating in latest.values():
        if rating.rating == "down":
            downs.setdefault(rating.log_id, []).append(rating)
    cases = []
    for entry in sorted(entries, key=lambda e: (e.at, e.id)):
        if entry.id not in downs:
            continue
        comments = [r.comment for r in sorted(downs[entry.id], key=lambda r: r.at) if r.comment]
        case: dict[str, Any] = (
            {"turns": [entry.follows, entry.question]} if entry.follows else {"q": entry.question}
        )
        case["expect"] = {}
        case["understood"] = {
            "intent": entry.intent,
            "params": json.loads(entry.params or "{}"),
            "template": entry.template,
            "outcome": entry.outcome,
            "error": entry.error,
        }
        case["comment"] = "\n".join(comments)
        case["downs"] = len(downs[entry.id])
        case["asked"] = datetime.fromtimestamp(entry.at, timezone.utc).isoformat(timespec="seconds")
        case["surface"] = entry.surface
        case["log_id"] = entry.id
        cases.append(case)
    return cases
