"""Question text -> query spec. Pure: no I/O, no SQL. The catalog is passed in."""

from toprank.intents.conversation import Context, follow_up
from toprank.intents.model import Coverage, Period
from toprank.intents.resolve import Resolved, resolve
from toprank.intents.spec import Spec, intent_name
from toprank.intents.understand import understand

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
