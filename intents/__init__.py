"""Question text -> Intent. Pure: no I/O, no SQL. The catalog is passed in."""

from intents.model import Coverage, Intent, Period
from intents.parse import parse
from intents.periods import (
    clip_to_coverage,
    describe_period,
    resolve_period,
    resolve_periods,
)

__all__ = [
    "Coverage",
    "Intent",
    "Period",
    "clip_to_coverage",
    "describe_period",
    "parse",
    "resolve_period",
    "resolve_periods",
]
