"""The state store's operations tables, the same tests on SQLite and on a real PostgreSQL
(tests/pg.py starts a throwaway cluster): the schema migrated from version 1, the usage
log and its retention, feedback, subscriptions, once-only claims between replicas, and
failed writes that never raise. Every check reads the tables back with plain SQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pg import free_port, fresh_database, pg_server  # noqa: F401  (the session fixture)
from toprank.bot import state
from toprank.bot.state import LogEntry, StateError, StateStore, log_days_from_env

DAY = 86400.0
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        yield fresh_database(request.getfixturevalue("pg_server"))


def entry(log_id: str, at: float, **fields) -> LogEntry:
    values = {
        "id": log_id,
        "at": at,
        "surface": "slash",
        "team": "T1",
        "channel": "C1",
        "user_hash": "u1",
        "question": "top ot codes 2022",
        "follows": None,
        "intent": "top_codes",
        "params": json.dumps({"cohort": "ot"}),
        "template": "ranked:rollup_month",
        "sql_params": json.dumps({"cohort": "ot"}),
        "latency_ms": 12.5,
        "outcome": "answered",
        "error": None,
    }
    values.update(fields)
    return LogEntry(**values)


def count(url: str, sql: str, **params) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- schema


def test_a_version_1_store_is_migrated_and_keeps_its_conversations(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a store as the previous release left it
        state.meta.create(conn)
        state.MIGRATIONS[0](conn)
        conn.execute(sa.insert(state.meta).values(name="schema_version", value="1"))
        conn.execute(
            sa.insert(state.values).values(key="assistant:D1:1.0", value="{}", updated_at=T0)
        )
    engine.dispose()
    store = StateStore(url, clock=Clock())
    try:
        tables = set(sa.inspect(store.engine).get_table_names())
        assert {"usage_log", "feedback", "subscriptions", "claims", "kv"} <= tables
        assert store.get_value("assistant:D1:1.0") == "{}"
    finally:
        store.close()
    assert count(url, "SELECT count(*) FROM toprank_meta WHERE name = 'schema_version'") == 1
    assert count(url, "SELECT CAST(value AS INTEGER) FROM toprank_meta") == len(state.MIGRATIONS)


def test_replicas_opening_a_new_store_together_all_succeed(url: str) -> None:
    errors: list[BaseException] = []
    stores: list[StateStore] = []

    def open_one() -> None:
        try:
            stores.append(StateStore(url))
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for store in stores:
        store.close()
    assert errors == [] and len(stores) == 4
    assert count(url, "SELECT count(*) FROM toprank_meta WHERE name = 'schema_version'") == 1


def test_a_store_newer_than_this_toprank_is_refused_in_one_line(url: str) -> None:
    StateStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(state.meta).values(value="99"))
    engine.dispose()
    with pytest.raises(StateError, match="newer than this toprank"):
        StateStore(url)


# --------------------------------------------------------------------------- the log


def test_log_entries_round_trip_and_retention_is_enforced(url: str) -> None:
    clock = Clock()
    store = StateStore(url, clock=clock)
    store.log_seconds = 7 * DAY
    try:
        for k, age_days in enumerate((0.5, 3, 6.9, 7.1, 30)):
            assert store.log_question(entry(f"{k:016x}", T0 - age_days * DAY))
        store.rate(f"{3:016x}", "u2", "down", "old and wrong")
        store.rate(f"{0:016x}", "u2", "up")
        assert [e.id for e in store.log_entries(T0 - 100 * DAY)] == [
            f"{k:016x}" for k in (4, 3, 2, 1, 0)
        ]
        got = store.log_entry(f"{0:016x}")
        assert got == entry(f"{0:016x}", T0 - 0.5 * DAY)
        store.purge()
    finally:
        store.close()
    cutoff = T0 - 7 * DAY
    assert count(url, "SELECT count(*) FROM usage_log") == 3
    assert count(url, "SELECT count(*) FROM usage_log WHERE at < :c", c=cutoff) == 0
    # the old entry's feedback went with it; the kept one's stays
    assert count(url, "SELECT count(*) FROM feedback") == 1
    assert count(url, "SELECT count(*) FROM feedback WHERE log_id = :i", i=f"{0:016x}") == 1


def test_zero_log_days_keeps_no_log(url: str) -> None:
    store = StateStore(url, clock=Clock())
    store.log_seconds = 0
    try:
        assert not store.log_question(entry("a" * 16, T0))
    finally:
        store.close()
    assert count(url, "SELECT count(*) FROM usage_log") == 0


@pytest.mark.parametrize(("raw", "days"), [("", 90.0), ("30", 30.0), ("0", 0.0), (" 1.5 ", 1.5)])
def test_log_days_setting(raw: str, days: float) -> None:
    assert log_days_from_env({"TOPRANK_LOG_DAYS": raw}) == days


@pytest.mark.parametrize("raw", ["-1", "week", "inf", "nan"])
def test_a_bad_log_days_setting_is_refused(raw: str) -> None:
    with pytest.raises(StateError, match="TOPRANK_LOG_DAYS"):
        log_days_from_env({"TOPRANK_LOG_DAYS": raw})


def test_ratings_keep_each_users_latest_click_and_its_comment(url: str) -> None:
    clock = Clock()
    store = StateStore(url, clock=clock)
    try:
        store.log_question(entry("b" * 16, T0))
        assert store.rate("b" * 16, "alice", "up")
        clock.now += 1
        assert store.rate("b" * 16, "alice", "down")
        clock.now += 1
        assert store.rate("b" * 16, "alice", "down", "wrong year")
        assert store.rate("b" * 16, "bob", "up")
        assert not store.rate("c" * 16, "alice", "up")  # no such log entry
        ratings = {r.user_hash: r for r in store.ratings(T0 - 1)}
    finally:
        store.close()
    assert count(url, "SELECT count(*) FROM feedback") == 2
    assert ratings["alice"].rating == "down" and ratings["alice"].comment == "wrong year"
    assert ratings["bob"].rating == "up" and ratings["bob"].comment is None


def test_a_failed_write_is_logged_not_raised(url: str, caplog) -> None:
    store = StateStore(url, clock=Clock())
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE usage_log"))
        assert store.log_question(entry("d" * 16, T0)) is False
        assert store.log_entries(0) == []
        with pytest.raises(StateError):
            store.log_entries(0, strict=True)  # a report says so instead
    finally:
        store.close()
    assert "write failed" in caplog.text


# --------------------------------------------------------------------------- digests


def test_subscriptions_belong_to_their_channel(url: str) -> None:
    store = StateStore(url, clock=Clock())
    try:
        first = store.add_subscription("T1", "C1", "top ot codes 2022", "weekly", 540, "u1")
        second = store.add_subscription("T1", "C1", "pt 2021", "daily", 0, "u1")
        other = store.add_subscription("T1", "C2", "rehab 2023", "monthly", 1439, None)
        assert first and second and other
        assert [s.id for s in store.list_subscriptions("T1", "C1")] == [first.id, second.id]
        assert not store.remove_subscription("T1", "C1", other.id)  # not this channel's
        assert store.remove_subscription("T1", "C1", first.id)
        assert not store.remove_subscription("T1", "C1", first.id)
        assert [s.id for s in store.list_subscriptions()] == [second.id, other.id]
        assert store.remove_subscription("T1", "C2", other.id)  # the newest goes
        newer = store.add_subscription("T1", "C2", "rehab 2022", "daily", 60, None)
        assert newer is not None and newer.id > other.id  # its number is not reused
    finally:
        store.close()
    assert count(url, "SELECT count(*) FROM subscriptions") == 2
    assert count(url, "SELECT at_minute FROM subscriptions WHERE channel = 'C2'") == 60


def test_a_claim_is_won_once_among_replicas(url: str) -> None:
    replicas = [StateStore(url, clock=Clock()) for _ in range(2)]
    wins: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def race(store: StateStore) -> None:
        start.wait()
        won = store.claim("digest:1:2026-11-30T09:00:00+00:00")
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=race, args=(replicas[k % 2],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert sorted(wins) == [False] * 7 + [True]
        replicas[0].release("digest:1:2026-11-30T09:00:00+00:00")
        assert replicas[1].claim("digest:1:2026-11-30T09:00:00+00:00")  # given back
    finally:
        for store in replicas:
            store.close()
    assert count(url, "SELECT count(*) FROM claims") == 1


def test_the_first_salt_written_is_every_replicas_salt(url: str) -> None:
    a, b = StateStore(url), StateStore(url)
    try:
        assert a.setting_once("log_salt", "first") == "first"
        assert b.setting_once("log_salt", "second") == "first"
    finally:
        a.close()
        b.close()


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_an_unreachable_server_costs_one_try_not_one_per_answer(request) -> None:
    url = fresh_database(request.getfixturevalue("pg_server"))
    store = StateStore(url, clock=Clock())
    attempts = []
    closed = sa.engine.make_url(url).set(port=free_port())  # nothing listens there
    store.engine.dispose()
    store.engine = sa.create_engine(closed, connect_args={"connect_timeout": 2})
    sa.event.listen(store.engine, "do_connect", lambda *args: attempts.append(1))
    try:
        assert store.log_question(entry("e" * 16, T0)) is False
        assert store.load_context("T:C:1") is None
        assert store.claim("digest:1:x") is False  # no claim, so no digest is sent
        assert store.first("event:Ev1") is True  # answering beats not answering
        assert len(attempts) == 1
    finally:
        store.close()
