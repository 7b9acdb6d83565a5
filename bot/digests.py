"""Scheduled digests: a question answered again on a schedule and posted in a channel.

    /toprank subscribe weekly top rehab codes last month at 08:30
    /toprank subscriptions               this channel's digests, with their numbers
    /toprank unsubscribe 3               remove digest #3 of this channel

Daily digests go out every day, weekly ones on Mondays, monthly ones on the 1st, at
HH:MM (default 09:00) in TOPRANK_TZ (default UTC). The answer is worked out at send
time, on the data loaded then ("last month" is the month before the send).

Once only, across restarts and replicas: the scheduler looks, every `interval` seconds,
for each subscription's latest scheduled time; if that time is after the subscription
was made and nobody has claimed it, it claims "digest:<id>:<time>" in the state store
(an insert that only one app sharing the store can win) and only then posts. A restart
finds the claim and sends nothing twice; a send missed while no app ran goes out late,
once (the latest one only). A post that fails for a passing reason (Slack unreachable,
a server error) gives the claim back so the next look tries again; one Slack refuses
for good (the channel is gone, archived, or the bot was removed) keeps it, logged.

When the data's coverage grows (a new ingest, seen when the app starts on it), each
channel with a digest is told once: "The data now runs to 2024-03-31."

This module's parsing and schedule arithmetic are pure; `DigestScheduler` is the edge.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from toprank.bot.mrkdwn import escape_mrkdwn
from toprank.bot.state import StateStore, Subscription
from toprank.bot.zone import zone_label

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from toprank.bot.listeners.common import Runtime

log = logging.getLogger("toprank.digests")

CADENCES = ("daily", "weekly", "monthly")
DEFAULT_AT_MINUTE = 9 * 60
MAX_PER_CHANNEL = 25
DEFAULT_INTERVAL_SECONDS = 30.0
COVERAGE_SETTING = "coverage_announced"
# Slack errors that will not go away by trying again: the claim is kept (no resend loop).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "access_denied",
        "restricted_action",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "team_access_not_granted",
        "invalid_blocks",
        "msg_too_long",
    }
)

USAGE = (
    "To get an answer here on a schedule: `/toprank subscribe daily|weekly|monthly QUESTION "
    "[at HH:MM]`, e.g. `/toprank subscribe weekly top rehab codes last month at 08:30`. "
    "`/toprank subscriptions` lists this channel's, `/toprank unsubscribe N` removes one."
)


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Subscribe:
    cadence: str
    question: str
    at_minute: int


@dataclass(frozen=True)
class ListSubscriptions:
    pass


@dataclass(frozen=True)
class Unsubscribe:
    number: int


@dataclass(frozen=True)
class CommandError:
    message: str


DigestCommand = Subscribe | ListSubscriptions | Unsubscribe | CommandError

_AT = re.compile(r"\s+at\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def parse_digest_command(text: str) -> DigestCommand | None:
    """The digest command in a slash command's text, or None (it is a question)."""
    words = (text or "").split()
    if not words:
        return None
    first = words[0].casefold()
    if first in ("subscriptions", "digests") and len(words) == 1:
        return ListSubscriptions()
    if first == "unsubscribe":
        number = _NUMBER.match(words[1]) if len(words) == 2 else None
        if number is None:
            return CommandError(
                "Say which digest to remove: `/toprank unsubscribe N`, with N from "
                "`/toprank subscriptions`."
            )
        return Unsubscribe(int(number.group(1)))
    if first != "subscribe":
        return None
    if len(words) < 2 or words[1].casefold() not in CADENCES:
        return CommandError(USAGE)
    cadence = words[1].casefold()
    rest = " ".join(words[2:])
    at_minute = DEFAULT_AT_MINUTE
    match = _AT.search(" " + rest)
    if match:
        parsed = _minute_of_day(match.group(1), match.group(2), match.group(3))
        if parsed is None:
            return CommandError(
                f"'{match.group(0).strip()}' is not a time of day: use 24-hour HH:MM, "
                "e.g. `at 08:30` or `at 17:00`."
            )
        at_minute = parsed
        rest = (" " + rest)[: match.start()].strip()
    if not rest:
        return CommandError("Which question should I answer on schedule? " + USAGE)
    return Subscribe(cadence, rest, at_minute)


def _minute_of_day(hours: str, minutes: str | None, half: str | None) -> int | None:
    h, m = int(hours), int(minutes or 0)
    if half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.casefold() == "pm" else 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return h * 60 + m


# --------------------------------------------------------------------------- schedule


def _local(day: date, at_minute: int, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(at_minute // 60, at_minute % 60), tzinfo=zone)


def _first_of_previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def last_due(cadence: str, at_minute: int, zone: tzinfo, now: datetime) -> datetime:
    """The latest scheduled time at or before `now` (in UTC)."""
    today = now.astimezone(zone).date()
    if cadence == "daily":
        candidate = _local(today, at_minute, zone)
        if candidate > now:
            candidate = _local(today - timedelta(days=1), at_minute, zone)
    elif cadence == "weekly":
        monday = today - timedelta(days=today.weekday())
        candidate = _local(monday, at_minute, zone)
        if candidate > now:
            candidate = _local(monday - timedelta(days=7), at_minute, zone)
    elif cadence == "monthly":
        candidate = _local(today.replace(day=1), at_minute, zone)
        if candidate > now:
            candidate = _local(_first_of_previous_month(today), at_minute, zone)
    else:
        raise ValueError(f"no such cadence: {cadence}")
    return candidate.astimezone(timezone.utc)


def next_due(cadence: str, at_minute: int, zone: tzinfo, now: datetime) -> datetime:
    """The first scheduled time after `now` (in UTC)."""
    local = last_due(cadence, at_minute, zone, now).astimezone(zone).date()
    if cadence == "daily":
        day = local + timedelta(days=1)
    elif cadence == "weekly":
        day = local + timedelta(days=7)
    else:
        day = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
    return _local(day, at_minute, zone).astimezone(timezone.utc)


def schedule_text(cadence: str, at_minute: int, zone: tzinfo) -> str:
    at = f"{at_minute // 60:02d}:{at_minute % 60:02d} {zone_label(zone)}"
    return {
        "daily": f"every day at {at}",
        "weekly": f"every Monday at {at}",
        "monthly": f"on the 1st of each month at {at}",
    }[cadence]


def claim_key(subscription: Subscription, due: datetime) -> str:
    return f"digest:{subscription.id}:{due.astimezone(timezone.utc).isoformat()}"


# --------------------------------------------------------------------------- messages


def listing_text(subscriptions: list[Subscription], zone: tzinfo, now: datetime) -> str:
    if not subscriptions:
        return "This channel has no digests. " + USAGE
    lines = ["*Digests in this channel*"]
    for s in subscriptions:
        upcoming = next_due(s.cadence, s.at_minute, zone, now).astimezone(zone)
        lines.append(
            f"*#{s.id}*  {s.cadence}, {schedule_text(s.cadence, s.at_minute, zone)}: "
            f"“{_escape(s.question)}” (next {upcoming:%a %Y-%m-%d %H:%M})"
        )
    lines.append("Remove one with `/toprank unsubscribe N`.")
    return "\n".join(lines)


_escape = escape_mrkdwn


# --------------------------------------------------------------------------- the scheduler


class DigestScheduler:
    """Looks for due digests every `interval` seconds on its own thread (`start`), or
    once per `tick()` (tests drive it with the store's clock)."""

    def __init__(
        self,
        runtime: Runtime,
        client: WebClient,
        zone: tzinfo,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.zone = zone
        self.interval = interval
        self.store: StateStore = runtime.store
        self.clock = clock or self.store.clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()

    # --- the loop -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="toprank-digests", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look now instead of at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bad tick never ends the schedule
                log.exception("digest scheduler: a look for due digests failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    # --- one look -----------------------------------------------------------------

    def tick(self) -> int:
        """Send what is due and not yet claimed; the number of digests sent."""
        with self._tick_lock:
            now = datetime.fromtimestamp(self.clock(), timezone.utc)
            try:
                subscriptions = self.store.list_subscriptions()
            except Exception:
                log.exception("digest scheduler: the subscriptions cannot be read")
                return 0
            self._announce_coverage(subscriptions)
            sent = 0
            for subscription in subscriptions:
                due = last_due(subscription.cadence, subscription.at_minute, self.zone, now)
                if due.timestamp() < subscription.created_at:
                    continue  # its first time has not come yet
                key = claim_key(subscription, due)
                if not self.store.claim(key):
                    continue  # sent already, by this app or another
                if self._send(subscription, due, key):
                    sent += 1
            return sent

    def _send(self, subscription: Subscription, due: datetime, key: str) -> bool:
        from slack_sdk.errors import SlackApiError

        try:
            message = self.runtime.digest_message(subscription, due, self.zone)
            self.client.chat_postMessage(channel=subscription.channel, **message)
            log.info("digest #%s sent to %s for %s", subscription.id, subscription.channel, due)
            return True
        except SlackApiError as error:
            reason = error.response.get("error") if error.response is not None else None
            if reason in PERMANENT_ERRORS:
                log.warning(
                    "digest #%s not sent to %s: Slack says %s (not retried)",
                    subscription.id,
                    subscription.channel,
                    reason,
                )
                return False
            log.warning("digest #%s not sent (%s): will try again", subscription.id, reason)
        except (OSError, urllib.error.URLError) as error:
            log.warning("digest #%s not sent (%s): will try again", subscription.id, error)
        except Exception:
            log.exception("digest #%s failed: will try again", subscription.id)
        self.store.release(key)
        return False

    def _announce_coverage(self, subscriptions: list[Subscription]) -> None:
        """Tell each channel with a digest, once, that the data now runs further."""
        try:
            coverage = self.runtime.core.coverage
        except Exception:
            return
        if coverage is None:
            return
        end = coverage.end.isoformat()
        known = self.store.setting(COVERAGE_SETTING)
        if known is not None and end <= known:
            return
        if known is not None:
            channels = dict.fromkeys((s.team, s.channel) for s in subscriptions)
            for team, channel in channels:
                if not self.store.claim(f"coverage:{team}:{channel}:{end}"):
                    continue
                try:
                    self.client.chat_postMessage(channel=channel, **coverage_message(end))
                except Exception:
                    log.warning("could not tell %s the data now runs to %s", channel, end)
        self.store.put_setting(COVERAGE_SETTING, end)


def coverage_message(end: str) -> dict[str, Any]:
    text = f":information_source: The data now runs to {end}. Digests from now on include it."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
