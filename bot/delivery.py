"""Slack deliveries answered once, and answer work that never holds up an ack.

Slack retries an event when it thinks the ack came late (X-Slack-Retry-Num 1, 2, 3, the
same event_id), and a signed request can be replayed within the signing window. Each
delivery gets a key (the event_id; for commands and button clicks a hash of the signed
body, which holds the unique trigger_id) and a `Deduper` says whether it is the first
time the key is seen. A repeat is acknowledged at once and dropped.

`Deduper` is an interface: `MemoryDeduper` serves one process; several replicas behind a
load balancer need one shared store (the state store of the operations issue), which
plugs in by implementing `first`.

`WorkPool` runs the answers on its own bounded threads with a bounded queue, apart from
Bolt's listener threads, which then only ever ack and hand off: a slow Slack Web API can
fill the pool, never the acks. When the queue is full the user gets a quick "busy". An
answer is milliseconds of CPU and then a wait on Slack, so the pool has more threads
than cores: 16 answer at once while Slack takes its time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger("toprank.slack")

# Slack retries for about an hour at most (3 retries with back-off); a replayed signed
# request is refused by Bolt after 5 minutes anyway.
DEDUPE_SECONDS = 3600.0
DEDUPE_MAX_KEYS = 200_000


class Deduper(Protocol):
    def first(self, key: str) -> bool:
        """True the first time `key` is seen (and remembers it); False for a repeat."""
        ...


class MemoryDeduper:
    """Keys seen in this process, forgotten after `ttl` seconds or past `max_keys`."""

    def __init__(
        self,
        ttl: float = DEDUPE_SECONDS,
        max_keys: int = DEDUPE_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._max, self._clock = ttl, max_keys, clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self._ttl and len(self._seen) < self._max:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def delivery_key(body: Mapping[str, Any], raw: str | bytes) -> str | None:
    """What makes a delivery the same delivery: an event's id, else the signed body
    (a command's or a click's unique trigger_id is in it). None: nothing to key on."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"event:{event_id}"
    data = raw.encode() if isinstance(raw, str) else raw
    if not data:
        return None
    return "body:" + hashlib.sha256(data).hexdigest()


class WorkPool:
    """A bounded pool for answer work: `submit` returns False at once when `queue` jobs
    are already waiting, so the caller can say "busy" instead of making the user wait."""

    def __init__(self, workers: int = 16, queue: int = 256, name: str = "toprank-answer") -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, job: Callable[[], Any]) -> bool:
        if not self._slots.acquire(blocking=False):
            return False
        with self._idle:
            self._pending += 1

        def run() -> None:
            try:
                job()
            except Exception:  # a job's own failure is its to report; never lose a slot
                log.exception("answer work failed")
            finally:
                self._slots.release()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        self._executor.submit(run)
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running (for tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
