"""The pure parts of operations: digest commands and schedules (across daylight saving),
--since spans, the usage report's figures, the per-user limit, development cases from
feedback, and settings refused in one line. Oracles: the calendar (zoneinfo), numpy's
percentiles, counts worked out here from the rows fed in."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from toprank.bot.app import OpsSettings, ops_settings_from_env
from toprank.bot.digests import (
    CommandError,
    ListSubscriptions,
    Subscribe,
    Unsubscribe,
    last_due,
    next_due,
    parse_digest_command,
)
from toprank.bot.feedback import (
    FeedbackValueError,
    comment_from_view,
    disliked_cases,
    feedback_modal,
    parse_feedback_value,
)
from toprank.bot.ratelimit import RateLimiter, limit_text
from toprank.bot.state import LogEntry, Rating
from toprank.bot.usage import SinceError, hash_user, parse_since, percentile, usage_report

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe weekly top rehab codes 2023", Subscribe("weekly", "top rehab codes 2023", 540)),
        ("Subscribe DAILY ot 2022 at 7:05", Subscribe("daily", "ot 2022", 7 * 60 + 5)),
        ("subscribe monthly pt in texas at 5pm", Subscribe("monthly", "pt in texas", 17 * 60)),
        ("subscribe monthly pt at home at 00:00", Subscribe("monthly", "pt at home", 0)),
        ("subscriptions", ListSubscriptions()),
        ("unsubscribe 12", Unsubscribe(12)),
        ("unsubscribe #3", Unsubscribe(3)),
        ("ot 2022", None),
        ("subscriptions for ot", None),  # a question, not the listing
        ("", None),
    ],
)
def test_digest_commands_are_read(text: str, expected) -> None:
    assert parse_digest_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "subscribe",
        "subscribe yearly ot 2022",
        "subscribe weekly",
        "subscribe weekly at 09:00",
        "subscribe daily ot 2022 at 24:00",
        "subscribe daily ot 2022 at 9:75",
        "subscribe daily ot 2022 at 13pm",
        "unsubscribe",
        "unsubscribe 1 2",
        "unsubscribe x",
    ],
)
def test_bad_digest_commands_get_a_message(text: str) -> None:
    result = parse_digest_command(text)
    assert isinstance(result, CommandError) and result.message


# --------------------------------------------------------------------------- schedules


def at(zone, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


@pytest.mark.parametrize(
    ("cadence", "now", "last", "following"),
    [
        # Monday 2026-11-30, 08:59 and 09:00 UTC
        ("daily", at(UTC, 2026, 11, 30, 8, 59), at(UTC, 2026, 11, 29, 9), at(UTC, 2026, 11, 30, 9)),
        ("daily", at(UTC, 2026, 11, 30, 9), at(UTC, 2026, 11, 30, 9), at(UTC, 2026, 12, 1, 9)),
        ("weekly", at(UTC, 2026, 12, 3, 12), at(UTC, 2026, 11, 30, 9), at(UTC, 2026, 12, 7, 9)),
        ("weekly", at(UTC, 2026, 11, 30, 8), at(UTC, 2026, 11, 23, 9), at(UTC, 2026, 11, 30, 9)),
        ("monthly", at(UTC, 2026, 12, 1, 8), at(UTC, 2026, 11, 1, 9), at(UTC, 2026, 12, 1, 9)),
        ("monthly", at(UTC, 2027, 1, 15), at(UTC, 2027, 1, 1, 9), at(UTC, 2027, 2, 1, 9)),
        ("monthly", at(UTC, 2026, 12, 31, 23), at(UTC, 2026, 12, 1, 9), at(UTC, 2027, 1, 1, 9)),
    ],
)
def test_schedules_in_utc(cadence: str, now, last, following) -> None:
    assert last_due(cadence, 9 * 60, UTC, now) == last
    assert next_due(cadence, 9 * 60, UTC, now) == following


def test_a_schedule_keeps_its_local_time_across_daylight_saving() -> None:
    # New York leaves daylight saving on 2026-11-01: 09:00 local is 13:00 UTC, then 14:00.
    before = last_due("daily", 9 * 60, NY, at(UTC, 2026, 10, 31, 15))
    after = last_due("daily", 9 * 60, NY, at(UTC, 2026, 11, 2, 15))
    assert before == at(UTC, 2026, 10, 31, 13)
    assert after == at(UTC, 2026, 11, 2, 14)
    assert before.astimezone(NY).hour == after.astimezone(NY).hour == 9
    # every day of a year has exactly one daily send, at 09:00 local
    now = at(NY, 2026, 1, 1, 12)
    for _ in range(365):
        due = last_due("daily", 9 * 60, NY, now)
        assert due.astimezone(NY).date() == now.date() and due.astimezone(NY).hour == 9
        now += timedelta(days=1)


def test_next_due_is_always_after_now_and_last_due_never_after() -> None:
    now = at(UTC, 2026, 1, 1)
    for k in range(24 * 40):
        moment = now + timedelta(minutes=37 * k)
        for cadence in ("daily", "weekly", "monthly"):
            assert last_due(cadence, 510, NY, moment) <= moment < next_due(cadence, 510, NY, moment)


# --------------------------------------------------------------------------- --since


def test_since_spans_and_dates() -> None:
    now = at(UTC, 2026, 12, 1, 12).timestamp()
    assert parse_since("7d", now, UTC) == now - 7 * 86400
    assert parse_since("24h", now, UTC) == now - 86400
    assert parse_since("2w", now, UTC) == now - 14 * 86400
    assert parse_since("2026-11-01", now, NY) == at(NY, 2026, 11, 1).timestamp()


@pytest.mark.parametrize("text", ["", "7", "7 days", "0d", "-3d", "2026-13-01", "2027-01-01"])
def test_bad_since_is_one_clear_line(text: str) -> None:
    now = at(UTC, 2026, 12, 1, 12).timestamp()
    with pytest.raises(SinceError) as error:
        parse_since(text, now, UTC)
    assert "\n" not in str(error.value) and "--since" in str(error.value)


# --------------------------------------------------------------------------- the report


def entry(k: int, at_: float, **fields) -> LogEntry:
    values = {
        "id": f"{k:016x}",
        "at": at_,
        "surface": "slash",
        "team": "T",
        "channel": "C",
        "user_hash": f"user{k % 3}",
        "question": "top ot codes 2022",
        "follows": None,
        "intent": "top_codes",
        "params": "{}",
        "template": "ranked:rollup_month",
        "sql_params": "{}",
        "latency_ms": float(10 + 7 * k),
        "outcome": "answered",
        "error": None,
    }
    values.update(fields)
    return LogEntry(**values)


def test_percentile_is_numpys_linear_percentile() -> None:
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 100, 1001):
        values = list(rng.exponential(80.0, size))
        for pct in (50, 95, 99):
            assert percentile(values, pct) == pytest.approx(np.percentile(values, pct))
    assert percentile([], 50) is None


def test_the_usage_figures() -> None:
    day = 86400.0
    since = at(UTC, 2026, 11, 24).timestamp()
    until = since + 7 * day
    entries = [
        entry(0, since + 10),
        entry(1, since + 20, question="Top OT codes 2022?"),  # the same question
        entry(2, since + day + 5, outcome="refused", intent="unknown", question="weather"),
        entry(3, since + day + 6, outcome="no_data", error="no_data", surface="mention"),
        entry(4, since + 3 * day, outcome="error", error="internal", surface="dm"),
        entry(5, since + 3 * day + 1, user_hash=None, surface="digest"),
        entry(6, since - 1),  # before the period
    ]
    ratings = [
        Rating(f"{0:016x}", "a", "up", None, since + 30),
        Rating(f"{0:016x}", "b", "up", None, since + 31),
        Rating(f"{0:016x}", "b", "down", "x", since + 32),  # b changed their mind
        Rating(f"{1:016x}", "a", "down", None, since + 33),
        Rating(f"{6:016x}", "a", "down", None, since + 34),  # its entry is outside
    ]
    report = usage_report(entries, ratings, since=since, until=until)
    assert report.questions == 6
    assert report.distinct_users == 3  # user0, user1, user2 (entry 5 has no user)
    assert dict(report.by_surface) == {"slash": 3, "mention": 1, "dm": 1, "digest": 1}
    assert report.outcome_counts == {"answered": 3, "no_data": 1, "refused": 1, "error": 1}
    assert report.unknown == 1
    assert report.answered == 3
    assert (report.rated_answers, report.up, report.down) == (2, 1, 2)
    assert [d.questions for d in report.per_day] == [2, 2, 0, 2, 0, 0, 0]
    assert [d.users for d in report.per_day] == [2, 2, 0, 1, 0, 0, 0]
    # entries 0, 1, 3 and 4 ask it (1 in other case and with a "?"); the digest is not asked
    assert report.top_questions[0] == ("top ot codes 2022", 4)
    latencies = [e.latency_ms for e in entries[:6]]
    assert report.latency_p50_ms == pytest.approx(np.percentile(latencies, 50))
    assert report.latency_p95_ms == pytest.approx(np.percentile(latencies, 95))
    as_json = report.to_json(UTC)
    assert as_json["rates_pct"]["refused"] == round(100 / 6, 1)
    assert as_json["feedback"]["down_pct"] == round(100 * 2 / 3, 1)
    json.dumps(as_json)


def test_user_ids_are_hashed_with_the_salt() -> None:
    one = hash_user("salt-a", "T1", "U1")
    assert one == hash_user("salt-a", "T1", "U1") and one and "U1" not in one
    assert one != hash_user("salt-b", "T1", "U1")  # another salt, another hash
    assert one != hash_user("salt-a", "T2", "U1")
    assert hash_user("salt-a", "T1", None) is None


# --------------------------------------------------------------------------- the limit


def test_the_per_user_limit_is_a_sliding_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.wait_for("alice") for _ in range(3)] == [0.0] * 3
    assert limiter.wait_for("alice") == pytest.approx(60.0)
    assert limiter.wait_for("bob") == 0.0
    now[0] = 30.0
    assert limiter.wait_for("alice") == pytest.approx(30.0)  # refusals are not counted
    now[0] = 60.0
    assert limiter.wait_for("alice") == 0.0  # the first question left the window
    assert RateLimiter(0).wait_for("anyone") == 0.0  # 0: no limit
    assert "30 seconds" in limit_text(3, 29.2) and "1 second." in limit_text(3, 0.2)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"TOPRANK_RATE_PER_MINUTE": "lots"}, "TOPRANK_RATE_PER_MINUTE"),
        ({"TOPRANK_RATE_PER_MINUTE": "-1"}, "TOPRANK_RATE_PER_MINUTE"),
        ({"TOPRANK_TZ": "Mars/Olympus"}, "TOPRANK_TZ"),
    ],
)
def test_bad_settings_are_refused_in_one_line(environ: dict, says: str) -> None:
    result = ops_settings_from_env(environ)
    assert isinstance(result, str) and says in result and "\n" not in result


def test_settings_from_the_environment() -> None:
    settings = ops_settings_from_env(
        {"TOPRANK_RATE_PER_MINUTE": "5", "TOPRANK_TZ": "Europe/Paris", "TOPRANK_LOG_SALT": "s"}
    )
    assert isinstance(settings, OpsSettings)
    assert settings.rate_per_minute == 5 and str(settings.zone) == "Europe/Paris"
    assert settings.log_salt == "s"
    default = ops_settings_from_env({})
    assert isinstance(default, OpsSettings) and default.rate_per_minute == 20
    assert default.log_salt is None


# --------------------------------------------------------------------------- feedback


def test_feedback_values_and_forms() -> None:
    assert parse_feedback_value("down|0123456789abcdef") == ("down", "0123456789abcdef")
    for forged in ("", "up", "up|x", "up|0123456789ABCDEF", "meh|0123456789abcdef", None):
        with pytest.raises(FeedbackValueError):
            parse_feedback_value(forged)
    view = feedback_modal("0123456789abcdef", "top <b>ot</b>")
    assert "&lt;b&gt;" in json.dumps(view)
    view["state"] = {"values": {"what_was_wrong": {"comment": {"value": "  wrong\n year "}}}}
    assert comment_from_view(view) == ("0123456789abcdef", "wrong year")
    view["state"] = {"values": {"what_was_wrong": {"comment": {"value": None}}}}
    assert comment_from_view(view) == ("0123456789abcdef", None)
    with pytest.raises(FeedbackValueError):
        comment_from_view({**view, "private_metadata": "../../etc"})


def test_disliked_answers_become_development_cases() -> None:
    entries = [
        entry(1, 100.0, params=json.dumps({"cohort": "ot", "start": "2022-01-01"})),
        entry(2, 200.0, question="and for PT?", follows="top OT codes 2022"),
        entry(3, 300.0),
    ]
    ratings = [
        Rating(f"{1:016x}", "a", "down", "wrong year", 110.0),
        Rating(f"{1:016x}", "b", "down", None, 111.0),
        Rating(f"{2:016x}", "a", "down", "no PT", 210.0),
        Rating(f"{3:016x}", "a", "down", None, 310.0),
        Rating(f"{3:016x}", "a", "up", None, 311.0),  # changed their mind: liked
    ]
    cases = disliked_cases(entries, ratings)
    assert [c.get("q") or c.get("turns") for c in cases] == [
        "top ot codes 2022",
        ["top OT codes 2022", "and for PT?"],
    ]
    assert cases[0]["expect"] == {} and cases[0]["downs"] == 2
    assert cases[0]["comment"] == "wrong year"
    assert cases[0]["understood"]["params"] == {"cohort": "ot", "start": "2022-01-01"}
    assert cases[1]["comment"] == "no PT"
