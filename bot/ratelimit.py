"""A per-user limit on questions a minute (TOPRANK_RATE_PER_MINUTE, default 20; 0 is none).

A sliding window: a question is allowed when the user asked fewer than the limit in the
last 60 seconds. A refused question is not counted, and the user is told when the next
one will be answered. The limit is per app instance (kept in memory): behind a load
balancer with N replicas a user may get up to N times the limit, which is enough for
its purpose (one person's script or runaway loop cannot crowd out everyone else).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

RATE_ENV = "TOPRANK_RATE_PER_MINUTE"
DEFAULT_PER_MINUTE = 20
WINDOW_SECONDS = 60.0
MAX_TRACKED_USERS = 100_000


class RateSettingError(ValueError):
    """TOPRANK_RATE_PER_MINUTE is not a whole number of questions."""


def rate_from_env(environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(RATE_ENV, "").strip()
    if not raw:
        return DEFAULT_PER_MINUTE
    try:
        value = int(raw)
    except ValueError:
        raise RateSettingError(
            f"{RATE_ENV}={raw!r} is not a whole number of questions a minute (0 for no limit)"
        ) from None
    if value < 0:
        raise RateSettingError(f"{RATE_ENV}={raw!r} must be 0 (no limit) or more")
    return value


class RateLimiter:
    """`wait_for(key)`: 0.0 when the question may go ahead (and counts it), else the
    seconds until it may."""

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self._asked: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: str) -> float:
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            asked = self._asked.get(key)
            if asked is None:
                if len(self._asked) >= MAX_TRACKED_USERS:
                    self._forget_idle(now)
                asked = self._asked[key] = deque()
            while asked and asked[0] <= now - self.window:
                asked.popleft()
            if len(asked) >= self.per_minute:
                return max(0.0, asked[0] + self.window - now)
            asked.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [
            k for k, asked in self._asked.items() if not asked or asked[-1] <= now - self.window
        ]:
            del self._asked[key]


def limit_text(per_minute: int, wait_seconds: float) -> str:
    seconds = max(1, math.ceil(wait_seconds))
    unit = "second" if seconds == 1 else "seconds"
    return (
        f":hourglass_flowing_sand: You've asked {per_minute} questions in the last minute, "
        f"my limit per person. Please ask again in {seconds} {unit}."
    )
