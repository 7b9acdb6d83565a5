"""The usage and audit log: every question, from every surface, and what became of it.

Each question asked (slash command, mention, DM, assistant pane, refine menu, digest,
CLI) is kept in the state store's usage_log: when, where (surface, workspace, channel),
who (the user id hashed with a secret salt, never the id itself), the question, what
it was understood as (intent and params), the SQL shape and its bound parameters, how
long it took and how it went:

    answered   a data answer (rows)
    no_data    understood, but the data has nothing there (a period outside coverage)
    refused    not understood ("unknown"), or a question it will not answer
    error      something broke (logged with its traceback), or the query timed out

The salt: TOPRANK_LOG_SALT when set (kept out of the store: whoever reads the store
cannot then tie hashes to people by hashing known ids); otherwise one is made the first
time and kept in the store, so replicas sharing it count the same users. Entries are
kept TOPRANK_LOG_DAYS days (default 90; 0 keeps no log).

`usage_report` turns entries and ratings into the figures of `toprank usage`; it is a
pure function, so a test can feed it rows and check every figure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from toprank.bot.answer_model import Answer
from toprank.bot.state import LogEntry, Rating, StateStore

log = logging.getLogger("toprank.usage")

SALT_ENV = "TOPRANK_LOG_SALT"
SALT_SETTING = "log_salt"
SURFACES = ("slash", "mention", "dm", "assistant", "refine", "button", "digest", "cli")
OUTCOMES = ("answered", "no_data", "refused", "error")
TOP_QUESTIONS = 10
# Errors that mean "it broke", not "it would not answer that".
BROKEN_ERRORS = frozenset({"internal", "timeout"})


def outcome_of(answer: Answer) -> str:
    if answer.error in BROKEN_ERRORS:
        return "error"
    if answer.error == "no_data":
        return "no_data"
    if answer.intent == "unknown" or answer.error:
        return "refused"
    return "answered"


def is_rateable(answer: Answer) -> bool:
    """A data answer (a query ran and answered): the answers that get feedback buttons."""
    return bool(answer.shape) and not answer.error


def log_salt(store: StateStore, environ: Mapping[str, str] = os.environ) -> str:
    given = environ.get(SALT_ENV, "").strip()
    if given:
        return given
    return store.setting_once(SALT_SETTING, secrets.token_hex(32))


def hash_user(salt: str, team: str | None, user: str | None) -> str | None:
    if not user:
        return None
    message = f"{team or '-'}:{user}".encode()
    return hmac.new(salt.encode(), message, hashlib.sha256).hexdigest()[:32]


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def entry_for(
    answer: Answer,
    *,
    log_id: str,
    at: float,
    surface: str,
    latency_seconds: float,
    team: str | None = None,
    channel: str | None = None,
    user_hash: str | None = None,
    follows: str | None = None,
) -> LogEntry:
    """The log entry of one answered question (pure)."""
    return LogEntry(
        id=log_id,
        at=at,
        surface=surface,
        team=team,
        channel=channel,
        user_hash=user_hash,
        question=answer.question,
        follows=follows,
        intent=answer.intent,
        params=_json(answer.params),
        template=answer.shape,
        sql_params=_json(answer.sql_params),
        latency_ms=round(latency_seconds * 1000.0, 3),
        outcome=outcome_of(answer),
        error=answer.error,
    )


class UsageLog:
    """Writes log entries to the store; a failed write is logged and the answer goes on."""

    def __init__(self, store: StateStore, salt: str, clock: Any = None) -> None:
        self.store = store
        self.salt = salt
        self.clock = clock or store.clock

    @classmethod
    def from_env(cls, store: StateStore, environ: Mapping[str, str] = os.environ) -> UsageLog:
        return cls(store, log_salt(store, environ))

    def user_hash(self, team: str | None, user: str | None) -> str | None:
        return hash_user(self.salt, team, user)

    def record(
        self,
        answer: Answer,
        *,
        surface: str,
        latency_seconds: float,
        team: str | None = None,
        channel: str | None = None,
        user: str | None = None,
        follows: str | None = None,
    ) -> str | None:
        """Log one answered question; its log id (None when nothing was kept)."""
        try:
            entry = entry_for(
                answer,
                log_id=secrets.token_hex(8),
                at=self.clock(),
                surface=surface,
                latency_seconds=latency_seconds,
                team=team,
                channel=channel,
                user_hash=self.user_hash(team, user),
                follows=follows,
            )
        except Exception:  # never in an answer's way
            log.exception("usage log: entry not built")
            return None
        return entry.id if self.store.log_question(entry) else None


class Stopwatch:
    """Seconds since it was made (time.perf_counter)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


# --------------------------------------------------------------------------- the report


class SinceError(ValueError):
    """--since is neither a span ("7d", "24h", "2w") nor a date."""


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w)\s*$", re.IGNORECASE)
_SPAN_SECONDS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_since(text: str, now: float, zone: tzinfo) -> float:
    """'7d', '24h', '2w' before `now`, or an ISO date (its midnight in `zone`), as epoch
    seconds; SinceError with a one-line reason otherwise."""
    raw = (text or "").strip()
    match = _SPAN.match(raw)
    if match:
        amount = float(match.group(1))
        if amount <= 0:
            raise SinceError(f"--since {raw!r}: the span must be more than zero")
        return now - amount * _SPAN_SECONDS[match.group(2).lower()]
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise SinceError(
            f"--since {raw!r} is not a span like 7d, 24h, 2w or a date like 2026-11-01"
        ) from None
    start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    if start > now:
        raise SinceError(f"--since {raw}: that date is in the future")
    return start


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def normalised_question(question: str) -> str:
    """How top questions are counted: case, spacing, end punctuation and the slash
    command's name do not make another question."""
    text = " ".join(question.casefold().split()).rstrip("?.! ")
    return text.removeprefix("/toprank ").strip()


@dataclass(frozen=True)
class DayCount:
    day: str  # ISO date in the report's zone
    questions: int
    users: int


@dataclass(frozen=True)
class UsageReport:
    since: float
    until: float
    zone: str
    questions: int
    distinct_users: int
    by_surface: tuple[tuple[str, int], ...]
    outcomes: tuple[tuple[str, int], ...]
    unknown: int  # not understood at all (a kind of refusal)
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    answered: int
    rated_answers: int  # answers with at least one rating
    up: int
    down: int
    per_day: tuple[DayCount, ...]
    top_questions: tuple[tuple[str, int], ...]

    def share(self, count: int, of: int | None = None) -> float | None:
        whole = self.questions if of is None else of
        return round(100.0 * count / whole, 1) if whole else None

    @property
    def outcome_counts(self) -> dict[str, int]:
        return dict(self.outcomes)

    def to_json(self, tz: tzinfo) -> dict[str, Any]:
        counts = self.outcome_counts
        return {
            "since": datetime.fromtimestamp(self.since, tz).isoformat(timespec="seconds"),
            "until": datetime.fromtimestamp(self.until, tz).isoformat(timespec="seconds"),
            "time_zone": self.zone,
            "questions": self.questions,
            "distinct_users": self.distinct_users,
            "by_surface": dict(self.by_surface),
            "outcomes": counts,
            "rates_pct": {
                "answered": self.share(counts.get("answered", 0)),
                "refused": self.share(counts.get("refused", 0)),
                "unknown": self.share(self.unknown),
                "no_data": self.share(counts.get("no_data", 0)),
                "error": self.share(counts.get("error", 0)),
            },
            "latency_ms": {"p50": _ms(self.latency_p50_ms), "p95": _ms(self.latency_p95_ms)},
            "feedback": {
                "answered": self.answered,
                "rated_answers": self.rated_answers,
                "rated_pct": self.share(self.rated_answers, self.answered),
                "up": self.up,
                "down": self.down,
                "down_pct": self.share(self.down, self.up + self.down),
            },
            "per_day": [
                {"date": d.day, "questions": d.questions, "users": d.users} for d in self.per_day
            ],
            "top_questions": [{"question": q, "count": n} for q, n in self.top_questions],
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _days(since: float, until: float, tz: tzinfo) -> list[date]:
    first = datetime.fromtimestamp(since, tz).date()
    last = datetime.fromtimestamp(max(since, until - 1e-6), tz).date()
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def usage_report(
    entries: Iterable[LogEntry],
    ratings: Iterable[Rating],
    *,
    since: float,
    until: float,
    tz: tzinfo = timezone.utc,
    zone_name: str = "UTC",
) -> UsageReport:
    """The figures of `toprank usage` from the log entries and ratings of a period."""
    chosen = [e for e in entries if since <= e.at < until]
    ids = {e.id for e in chosen}
    latest: dict[tuple[str, str], str] = {}
    for r in sorted(ratings, key=lambda r: r.at):
        if r.log_id in ids:
            latest[(r.log_id, r.user_hash)] = r.rating
    per_day_questions: Counter[date] = Counter()
    per_day_users: dict[date, set[str]] = {}
    for e in chosen:
        day = datetime.fromtimestamp(e.at, tz).date()
        per_day_questions[day] += 1
        if e.user_hash:
            per_day_users.setdefault(day, set()).add(e.user_hash)
    surfaces = Counter(e.surface for e in chosen)
    outcomes = Counter(e.outcome for e in chosen)
    top = Counter(normalised_question(e.question) for e in chosen if e.surface != "digest")
    latencies = [e.latency_ms for e in chosen]
    return UsageReport(
        since=since,
        until=until,
        zone=zone_name,
        questions=len(chosen),
        distinct_users=len({e.user_hash for e in chosen if e.user_hash}),
        by_surface=tuple(sorted(surfaces.items(), key=lambda kv: (-kv[1], kv[0]))),
        outcomes=tuple((o, outcomes.get(o, 0)) for o in OUTCOMES),
        unknown=sum(1 for e in chosen if e.intent == "unknown"),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        answered=outcomes.get("answered", 0),
        rated_answers=len({log_id for log_id, _ in latest}),
        up=sum(1 for v in latest.values() if v == "up"),
        down=sum(1 for v in latest.values() if v == "down"),
        per_day=tuple(
            DayCount(d.isoformat(), per_day_questions.get(d, 0), len(per_day_users.get(d, ())))
            for d in _days(since, until, tz)
        ),
        top_questions=tuple(sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_QUESTIONS]),
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def render_report(report: UsageReport, tz: tzinfo) -> str:
    """The report as a plain-text table for a terminal."""
    since = datetime.fromtimestamp(report.since, tz).strftime("%Y-%m-%d %H:%M")
    until = datetime.fromtimestamp(report.until, tz).strftime("%Y-%m-%d %H:%M")
    counts = report.outcome_counts
    lines = [f"toprank usage, {since} to {until} ({report.zone})", ""]
    if not report.questions:
        lines.append("No questions were logged in this period.")
        return "\n".join(lines)
    surfaces = ", ".join(f"{s} {n:,}" for s, n in report.by_surface)
    latency = (
        f"p50 {report.latency_p50_ms:,.0f} ms, p95 {report.latency_p95_ms:,.0f} ms"
        if report.latency_p50_ms is not None and report.latency_p95_ms is not None
        else "-"
    )
    rated = report.share(report.rated_answers, report.answered)
    rows = [
        ("Questions", f"{report.questions:,}", f"({surfaces})"),
        ("Distinct users", f"{report.distinct_users:,}", ""),
        ("Answered", f"{counts['answered']:,}", _pct(report.share(counts["answered"]))),
        ("Refused", f"{counts['refused']:,}", _pct(report.share(counts["refused"]))),
        ("  not understood", f"{report.unknown:,}", _pct(report.share(report.unknown))),
        ("No data", f"{counts['no_data']:,}", _pct(report.share(counts["no_data"]))),
        ("Errors", f"{counts['error']:,}", _pct(report.share(counts["error"]))),
        ("Latency", latency, ""),
        (
            "Feedback",
            f"{report.rated_answers:,}",
            f"answers rated ({_pct(rated)} of answered): {report.up:,} up, {report.down:,} down"
            + (
                f" ({_pct(report.share(report.down, report.up + report.down))} down)"
                if report.up + report.down
                else ""
            ),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    number = max(len(r[1]) for r in rows if r[0] != "Latency")
    for label, value, note in rows:
        if label == "Latency":
            lines.append(f"{label:<{width}}  {value}")
        else:
            lines.append(f"{label:<{width}}  {value:>{number}}  {note}".rstrip())
    lines += ["", "Questions a day        questions  users"]
    for day in report.per_day:
        lines.append(f"  {day.day}           {day.questions:>9,}  {day.users:>5,}")
    if report.top_questions:
        lines += ["", "Top questions"]
        for question, count in report.top_questions:
            lines.append(f"  {count:>5,}  {question[:90]}")
    return "\n".join(lines)
