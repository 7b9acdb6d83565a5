"""Question text -> query spec. Pure: no I/O, no SQL. The catalog is passed in."""

from intents.conversation import Context, follow_up
from intents.model import Coverage, Period
from intents.resolve import Resolved, resolve
from intents.spec import Spec, intent_name
from intents.understand import understand

__all__ = [
    "Context",
    "Coverage",
    "Period",
    "Resolved",
    "Spec",
    "follow_up",
    "intent_name",
    "resolve",
    "understand",
]
