"""The state store's settings that are read before the store is opened, without
SQLAlchemy: `toprank ask` with the usage log off never imports it."""

from __future__ import annotations

import os
from collections.abc import Mapping

LOG_DAYS_ENV = "TOPRANK_LOG_DAYS"
DEFAULT_LOG_DAYS = 90.0


class StateError(RuntimeError):
    """The store cannot be opened (a bad URL, an unreadable file, a newer schema)."""


def log_days_from_env(environ: Mapping[str, str] = os.environ) -> float:
    """TOPRANK_LOG_DAYS: how long the usage log and feedback are kept (0 keeps none)."""
    raw = environ.get(LOG_DAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_LOG_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise StateError(f"{LOG_DAYS_ENV}={raw!r} is not a number of days") from None
    if not days >= 0 or days == float("inf"):
        raise StateError(f"{LOG_DAYS_ENV}={raw!r} must be 0 or a positive number of days")
    return days
