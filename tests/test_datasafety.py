"""Data safety (issue 17): new data while the bot runs, one writer at a time, nothing
destructive by surprise, true messages, settings that cannot mislead, clean exits.

Real DuckDB files, real `toprank` processes; oracles are SQL over `claim_lines`, the
input files' own line counts and the bytes of the database file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests import bench_switch
from tests.conftest import TODAY
from toprank.bot.pipeline import Toprank
from toprank.data import writer
from toprank.data.demo import build_demo
from toprank.sql.engine import DuckDBEngine
from toprank.sql.query import Query

REPO = Path(__file__).resolve().parent.parent
TOPRANK = [sys.executable, "-m", "toprank.bot.cli"]
HEADER = (
    "claim_id,line_number,service_date,hcpcs_code,modifiers,units,rendering_npi,"
    "rendering_taxonomy,place_of_service,payer_type,state"
)


def toprank(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("TOPRANK_DB", "TOPRANK_MIN_CELL", "TOPRANK_QUERY_TIMEOUT", "SLACK_APP_TOKEN"):
        full.pop(name, None)
    full.update(env or {})
    return subprocess.run(
        [*TOPRANK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        cwd=REPO,
    )


def one_line(text: str) -> str:
    """stderr must be exactly one line, with no traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def claims_file(path: Path, lines: int, bad_every: int = 0) -> Path:
    """Claim lines of 2022 (OT, California); with bad_every, every n-th has a bad state."""
    bad = f"CASE WHEN i % {bad_every} = 0 THEN 'QQ' ELSE 'CA' END" if bad_every else "'CA'"
    con = duckdb.connect()
    try:
        con.execute(
            "COPY (SELECT 'C' || i AS claim_id, 1 AS line_number, "
            "CAST(DATE '2022-01-01' + CAST(i % 365 AS INTEGER) AS VARCHAR) AS service_date, "
            "'97530' AS hcpcs_code, 'GO' AS modifiers, 1 AS units, '1234567893' AS rendering_npi, "
            "'225X00000X' AS rendering_taxonomy, '11' AS place_of_service, "
            f"'medicare' AS payer_type, {bad} AS state FROM range($n) t(i)) TO '{path}' (HEADER)",
            {"n": lines},
        )
    finally:
        con.close()
    return path


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "claims.duckdb"
    build_demo(path, lines=50_000, progress=False)
    return path


def copy_db(source: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "claims.duckdb"
    shutil.copyfile(source, target)
    return target


# ------------------------------------------------------------ 1. new data while serving


def test_an_ingest_while_a_bot_process_answers_a_stream_of_questions(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    new_file = bench_switch.new_claims_file(tmp_path / "new.csv", 200_000)
    run = bench_switch.scenario(db, new_file, after_seconds=1.0, timeout=300)
    assert run.ingest_code == 0, run.ingest_out  # never refused for the bot holding the file
    assert "read 200,000 / loaded 200,000 / rejected 0" in run.ingest_out
    # The new file holds exactly the file's lines (the demo rows went, as the note says).
    assert count(db, "SELECT count(*) FROM claim_lines") == 200_000
    # Every question was answered, and every checked answer is the old file's or the new
    # file's, by SQL over its claim lines; never the old one again once the new one showed.
    assert run.asked and all(a.error is None for a in run.asked)
    assert run.old_top != run.new_top
    assert run.wrong() == []
    first = run.first_new()
    assert first is not None, "the new data never showed"
    committed = run.committed or run.ingest_ended
    assert first.sent - committed < 10  # within seconds, without a restart
    assert any(a.top == run.old_top for a in run.checked())  # answered during the ingest too
    assert not (db.parent / ".claims.duckdb.writing").exists()


def test_a_question_in_flight_finishes_on_the_old_file_and_the_next_reads_the_new(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    total = Query(
        template="t", sql="SELECT sum(procedures) AS n FROM rollup_national WHERE cohort = 'all'"
    )
    with Toprank.open(db, today=TODAY, build_if_missing=False) as bot:
        assert bot.coverage.claim_lines == 50_000
        engine: DuckDBEngine = bot.engine
        with engine.pinned():
            build_demo(db, lines=60_000, progress=False)  # a writer renames a new file in
            assert engine.wait_for_switch()
            # Pinned: this question still reads the file it started on, to the end.
            assert engine.records(total) == [{"n": 50_000}]
            assert bot.coverage.claim_lines == 50_000
        assert engine.records(total) == [{"n": 60_000}]
        assert bot.coverage.claim_lines == 60_000
        answer = bot.ask("how many procedures in 2022")
        expected = count(
            db, "SELECT sum(procedures) FROM claim_lines WHERE year(service_date) = 2022"
        )
        assert answer.error is None and f"{expected:,} procedures" in answer.text


def test_a_new_file_that_is_not_a_toprank_database_is_refused_and_the_old_kept(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    with Toprank.open(db, today=TODAY, build_if_missing=False) as bot:
        before = bot.ask("top ot codes 2022")
        junk = tmp_path / "db" / "junk"
        junk.write_bytes(b"not a database" * 100)
        os.replace(junk, db)  # what no toprank writer does; the bot must survive it
        assert not bot.engine.wait_for_switch(timeout=3)
        after = bot.ask("top ot codes 2022")
        assert after.error is None and after.rows == before.rows


# ----------------------------------------------------- 2. one writer, nothing destroyed


def test_demo_force_cannot_destroy_real_sources(small_demo: Path, tmp_path: Path) -> None:
    db = tmp_path / "claims.duckdb"
    real = claims_file(tmp_path / "real.csv", 1_000)
    assert toprank("data", "ingest", "claims", str(real), "--db", str(db)).returncode == 0
    before = sha256(db)
    refused = toprank("data", "demo", "--force", "--lines", "2000", "--db", str(db))
    assert refused.returncode == 1
    message = one_line(
        refused.stderr.replace("building the demo database", "", 1).split("\n", 1)[1]
    )
    assert "real.csv" in message and "1,000 claim lines" in message
    assert "--replace-real-data" in message and "nothing was changed" in message
    assert sha256(db) == before
    assert count(db, "SELECT count(*) FROM claim_lines WHERE source_id = 1") == 1_000
    replaced = toprank(
        "data", "demo", "--force", "--replace-real-data", "--lines", "2000", "--db", str(db)
    )
    assert replaced.returncode == 0, replaced.stderr
    assert count(db, "SELECT count(*) FROM sources WHERE kind <> 'demo'") == 0
    assert count(db, "SELECT count(*) FROM claim_lines") == 2_000


def test_every_writer_is_refused_while_another_holds_the_lock(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    before = sha256(db)
    real = claims_file(tmp_path / "real.csv", 10)
    with writer.WriterLock(db, "toprank data ingest claims other.csv"):
        for args in (
            ("data", "demo", "--force", "--lines", "2000", "--db", str(db)),
            ("data", "ingest", "claims", str(real), "--db", str(db)),
        ):
            done = toprank(*args)
            assert done.returncode == 1, done
            text = done.stderr
            assert "another toprank command is writing" in text and "Traceback" not in text
            assert f"pid {os.getpid()}" in text and "ingest claims other.csv" in text
        # Readers are never refused: the bot answers while a writer works.
        asked = toprank("ask", "--json", "--db", str(db), "top ot codes 2022")
        assert asked.returncode == 0 and '"error": null' in asked.stdout
        # The writer's working files are not called leftovers while it works.
        writer.work_dir(db).mkdir()
        info = toprank("data", "info", "--no-verify", "--db", str(db))
        assert f"a write is in progress: pid {os.getpid()}" in info.stdout
        assert "left by an interrupted write" not in info.stdout
        writer.work_dir(db).rmdir()
    assert sha256(db) == before


def test_demo_force_during_an_ingest_is_refused_and_the_ingest_loads_everything(
    small_demo: Path, tmp_path: Path
) -> None:
    """The issue's data loss: `demo --force` during an ingest renamed a new file over
    the database and the ingest's rows went into the unlinked old one."""
    db = copy_db(small_demo, tmp_path / "db")
    big = claims_file(tmp_path / "big.csv", 1_000_000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ingest = subprocess.Popen(
        [*TOPRANK, "data", "ingest", "claims", str(big), "--db", str(db), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    lock = writer.lock_path(db)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.02)
    demo = toprank("data", "demo", "--force", "--lines", "2000", "--db", str(db))
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err
    assert demo.returncode == 1 and f"pid {ingest.pid}" in demo.stderr, demo.stderr
    assert "read 1,000,000 / loaded 1,000,000" in out
    assert count(db, "SELECT count(*) FROM claim_lines") == 1_000_000


def test_a_rejects_file_that_cannot_be_moved_is_said_with_the_data_loaded(
    tmp_path: Path,
) -> None:
    db = tmp_path / "claims.duckdb"
    src = claims_file(tmp_path / "some.csv", 100, bad_every=10)  # 10 bad, 90 good
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "rejects.csv"  # a path under a file: cannot be created
    done = toprank("data", "ingest", "claims", str(src), "--db", str(db), "--rejects", str(target))
    assert done.returncode == 0, done.stderr
    assert "nothing was loaded" not in done.stdout + done.stderr
    fallback = tmp_path / "claims.rejects.1.csv"
    assert (
        f"loaded 90 rows; could not move the rejects file to {target}: {blocker} is not a "
        "directory; "
        f"it is at {fallback}"
    ) in done.stdout
    assert count(db, "SELECT count(*) FROM claim_lines") == 90
    assert len(fallback.read_text().splitlines()) == 1 + 10  # header and the 10 bad rows
    assert (
        not list(tmp_path.glob("*.partial")) and not (tmp_path / ".claims.duckdb.writing").exists()
    )
    # --rejects naming a directory puts the file in it under its usual name.
    other = claims_file(tmp_path / "other.csv", 20, bad_every=5)
    (tmp_path / "out").mkdir()
    into = toprank(
        "data", "ingest", "claims", str(other), "--db", str(db), "--rejects", str(tmp_path / "out")
    )
    assert into.returncode == 0, into.stderr
    assert f"rejected rows written to {tmp_path / 'out' / 'claims.rejects.2.csv'}" in into.stdout
    assert len((tmp_path / "out" / "claims.rejects.2.csv").read_text().splitlines()) == 1 + 4


# ------------------------------------------------------------ 5. settings and files


SERVE_ENV = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret"}


@pytest.mark.parametrize("how", ["--db", "TOPRANK_DB"])
def test_an_explicit_database_path_that_does_not_exist_is_an_error(
    tmp_path: Path, how: str
) -> None:
    missing = tmp_path / "typo" / "claims.duckdb"
    for command in (
        ["ask", "top ot 2022"],
        ["chat"],
        ["data", "info"],
        ["serve", "--http", "--port", "0"],
    ):
        args = [*command, "--db", str(missing)] if how == "--db" else command
        env = {**SERVE_ENV, **({"TOPRANK_DB": str(missing)} if how == "TOPRANK_DB" else {})}
        done = toprank(*args, env=env, stdin="")
        assert done.returncode in (1, 2), (command, done)
        line = one_line(done.stderr)
        assert f"no database at {missing}" in line and done.stdout == ""
        if command[0] != "data":
            assert f"(set by {how})" in line
    assert not missing.parent.exists()  # nothing was built, nothing created


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("TOPRANK_MIN_CELL", "-5", "is not a whole number of 0 or more"),
        ("TOPRANK_MIN_CELL", "eleven", "is not a whole number of 0 or more"),
        ("TOPRANK_QUERY_TIMEOUT", "abc", "is not a number of seconds"),
        ("TOPRANK_QUERY_TIMEOUT", "-1", "must be between 0 and 3600"),
    ],
)
def test_invalid_numeric_settings_are_refused_at_start(
    small_demo: Path, name: str, value: str, says: str
) -> None:
    for command in (["ask", "top ot 2022"], ["chat"], ["serve", "--http", "--port", "0"]):
        done = toprank(*command, "--db", str(small_demo), env={**SERVE_ENV, name: value})
        assert done.returncode == 2 and done.stdout == "", done
        assert f"{name}='{value}' {says}" in one_line(done.stderr)


def damaged_copy(source: Path, target: Path, *, answer_tables: bool) -> Path:
    """A copy with 4 KiB of random bytes in one block, chosen so that the file still
    opens and DuckDB's own full scan finds a bad checksum (in a table the answers read
    besides the claim lines when `answer_tables`)."""
    size = source.stat().st_size
    rng = random.Random(17)
    for _ in range(200):
        shutil.copyfile(source, target)
        offset = rng.randrange(size // 3, size - 8192) // 4096 * 4096 + 512
        with target.open("r+b") as f:
            f.seek(offset)
            f.write(rng.randbytes(4096))
        bad = _first_bad_table(target)
        if bad is not None and (bad != "claim_lines") == answer_tables:
            return target
    raise AssertionError("no offset gave a damaged block")


def _first_bad_table(path: Path) -> str | None:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # damage in the header or catalog: not the case wanted
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            try:
                con.execute(f"SELECT * FROM {table}").fetchall()
            except duckdb.Error as exc:
                if "checksum" in str(exc).lower() or "corrupt" in str(exc).lower():
                    return str(table)
                raise
        return None
    finally:
        con.close()


def test_damaged_databases_are_reported_in_one_line(small_demo: Path, tmp_path: Path) -> None:
    damaged = damaged_copy(small_demo, tmp_path / "damaged.duckdb", answer_tables=True)
    info = toprank("data", "info", "--db", str(damaged))
    assert info.returncode == 1
    assert "is damaged" in one_line(info.stderr) and "checksum" in info.stderr
    # The report says so too, unless the damage is in what the report itself reads.
    assert "checksums: FAILED" in info.stdout or info.stdout == ""
    serve = toprank("serve", "--http", "--port", "0", "--db", str(damaged), env=SERVE_ENV)
    assert serve.returncode == 2 and "is damaged" in one_line(serve.stderr)
    # `ask` opens without reading every block; a question that meets the damage gets a
    # plain answer, and stderr a log line, never a traceback.
    questions = "\n".join(bench_switch.QUESTIONS + ("top 50 codes by state",)) + "\n"
    asked = toprank("ask", "--json", "--db", str(damaged), "-", stdin=questions)
    assert asked.returncode == 0 and "Traceback" not in asked.stderr
    assert len(asked.stdout.splitlines()) == len(bench_switch.QUESTIONS) + 1
    # The same for damage in the claim lines: found by `data info`.
    lines_damaged = damaged_copy(small_demo, tmp_path / "lines.duckdb", answer_tables=False)
    info = toprank("data", "info", "--db", str(lines_damaged))
    assert info.returncode == 1 and "claim_lines" in one_line(info.stderr)
    healthy = toprank("data", "info", "--db", str(small_demo))
    assert healthy.returncode == 0 and "checksums: every block of 6 tables" in healthy.stdout


def test_files_that_are_not_toprank_databases_are_reported_in_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.duckdb"
    text.write_text("hello\n")
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    cases = {text: "is not a DuckDB database file", other: "is a DuckDB database but not a toprank"}
    for path, says in cases.items():
        for command in (
            ["data", "info"],
            ["ask", "top ot 2022"],
            ["chat"],
            ["serve", "--http", "--port", "0"],
        ):
            done = toprank(*command, "--db", str(path), env=SERVE_ENV, stdin="")
            assert done.returncode in (1, 2), (command, done)
            assert says in one_line(done.stderr), (command, done.stderr)


def test_a_database_locked_by_another_program_is_reported_in_one_line(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(120)", str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        for command in (
            ["data", "info"],
            ["ask", "top ot 2022"],
            ["serve", "--http", "--port", "0"],
        ):
            done = toprank(*command, "--db", str(db), env=SERVE_ENV)
            assert done.returncode in (1, 2)
            line = one_line(done.stderr)
            assert "is locked by another program" in line and f"pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------ 6. clean exits


def test_a_closed_pipe_ends_ask_quietly(small_demo: Path) -> None:
    script = (
        f"yes 'top ot codes 2022' | head -300 | {' '.join(TOPRANK)} ask --db {small_demo} - "
        '| head -1; echo "status ${PIPESTATUS[2]}" >&2'
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip() == "Top 10 occupational therapy codes, 2022"
    assert done.stderr.strip() in ("status 141", "status 0"), done.stderr


def interrupted_ingest(db: Path, src: Path, delay: float | None) -> subprocess.CompletedProcess:
    """The ingest CLI, sent SIGINT after `delay` seconds (None: left to finish)."""
    proc = subprocess.Popen(
        [*TOPRANK, "data", "ingest", "claims", str(src), "--db", str(db), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if delay is not None:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_at_any_step_of_an_ingest_is_true_and_leaves_nothing(
    small_demo: Path, tmp_path: Path
) -> None:
    src = claims_file(tmp_path / "load.csv", 200_000, bad_every=1000)
    timing_db = copy_db(small_demo, tmp_path / "timing")
    started = time.monotonic()
    whole = interrupted_ingest(timing_db, src, None)  # never interrupted: the length
    length = time.monotonic() - started
    assert whole.returncode == 0, whole.stderr
    outcomes = []
    for fraction in (0.2, 0.45, 0.6, 0.75, 0.9, 0.97, 1.05):
        db = copy_db(small_demo, tmp_path / f"at{fraction}")
        before, files_before = sha256(db), listing(db.parent)
        done = interrupted_ingest(db, src, length * fraction)
        assert "Traceback" not in done.stderr
        if done.returncode == 130:
            assert (
                "interrupted: nothing was loaded, the database is unchanged" in done.stderr
                or "interrupted: nothing was done" in done.stderr  # still starting up
            ), done.stderr
            assert sha256(db) == before
            # No growth, no partial or working files: at most the (empty) lock file.
            assert set(listing(db.parent)) - {"claims.duckdb.lock"} == set(files_before)
            outcomes.append("interrupted")
        else:
            # Finished: exit 0, also when the signal landed after the report, as the
            # process was ending (bot.cli.entry: the report is true, the exit says so).
            assert done.returncode == 0, done.stderr
            assert "read 200,000 / loaded 199,800 / rejected 200" in done.stdout
            assert count(db, "SELECT count(*) FROM claim_lines") == 199_800
            assert not (db.parent / ".claims.duckdb.writing").exists()
            outcomes.append("loaded")
    assert "interrupted" in outcomes  # the signal did land mid-ingest


def test_a_killed_ingest_leaves_its_files_for_the_next_writer_to_remove(
    small_demo: Path, tmp_path: Path
) -> None:
    db = copy_db(small_demo, tmp_path / "db")
    before = sha256(db)
    src = claims_file(tmp_path / "load.csv", 1_000_000)
    proc = subprocess.Popen(
        [*TOPRANK, "data", "ingest", "claims", str(src), "--db", str(db), "--no-progress"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.DEVNULL,
    )
    draft = db.parent / ".claims.duckdb.writing" / "next.duckdb"
    deadline = time.monotonic() + 60
    while not (draft.exists() and draft.stat().st_size >= small_demo.stat().st_size):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert sha256(db) == before
    info = toprank("data", "info", "--no-verify", "--db", str(db))
    assert "left by an interrupted write" in info.stdout
    again = toprank(
        "data", "ingest", "claims", str(claims_file(tmp_path / "s.csv", 5)), "--db", str(db)
    )
    assert again.returncode == 0, again.stderr
    assert "left beside the database by an interrupted write" in again.stdout
    assert listing(db.parent) == ["claims.duckdb", "claims.duckdb.lock"]


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int):
    """A tmpfs of `size_mb` at `path` (root only); None where mounting is not allowed."""
    path.mkdir(parents=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
            capture_output=True,
        ).returncode
        == 0
        if shutil.which("mount")
        else False
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=False)


def test_a_full_disk_names_the_database_directory_and_changes_nothing(
    small_demo: Path, tmp_path: Path
) -> None:
    src = claims_file(tmp_path / "load.csv", 1_000_000)  # the input is on the big disk
    size_mb = small_demo.stat().st_size // (1 << 20) + 1
    with small_filesystem(tmp_path / "small", size_mb + 4) as mounted:  # 4 MB free
        db = copy_db(small_demo, tmp_path / "small")
        before = sha256(db)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        limit = None
        if not mounted:  # no tmpfs: the same error from a file-size limit (EFBIG)
            limit = small_demo.stat().st_size + (4 << 20)

        def cap() -> None:
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        done = subprocess.run(
            [*TOPRANK, "data", "ingest", "claims", str(src), "--db", str(db), "--no-progress"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            preexec_fn=cap,
            timeout=300,
        )
        assert done.returncode == 1, done
        line = one_line(done.stderr)
        if mounted:
            assert f"not enough disk space in {db.parent} (the database's directory" in line
        else:
            assert f"(ulimit -f) stopped the write of the new database in {db.parent}" in line
        assert str(src) not in line and "nothing was loaded, the database is unchanged" in line
        assert sha256(db) == before
        assert listing(db.parent) == ["claims.duckdb", "claims.duckdb.lock"]


def test_a_symlinked_database_is_replaced_where_it_points(small_demo: Path, tmp_path: Path) -> None:
    real = copy_db(small_demo, tmp_path / "volume")
    link = tmp_path / "claims.duckdb"
    link.symlink_to(real)
    done = toprank(
        "data", "ingest", "claims", str(claims_file(tmp_path / "a.csv", 7)), "--db", str(link)
    )
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and count(real, "SELECT count(*) FROM claim_lines") == 7


def test_concurrent_first_use_builds_the_demo_once(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "first" / "claims.duckdb"
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            from toprank.data.demo import ensure_database

            ensure_database(target)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    import toprank.data.demo as demo_mod

    lines = demo_mod.DEFAULT_LINES
    demo_mod.DEFAULT_LINES = 5_000
    try:
        threads = [threading.Thread(target=first_use) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        demo_mod.DEFAULT_LINES = lines
    assert errors == []
    assert count(target, "SELECT count(*) FROM claim_lines") == 5_000
    assert capsys.readouterr().err.count("building the demo database") == 1


def test_a_database_from_an_older_toprank_says_to_rebuild_what_it_lacks(
    small_demo: Path, tmp_path: Path
) -> None:
    """A file whose rollups predate a column (the facility setting): a question that needs
    it says what is missing and how to rebuild, others are still answered; after
    `data demo --force` the same question is answered."""
    db = copy_db(small_demo, tmp_path / "old")
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE rollup_detail DROP COLUMN facility_setting")
    with Toprank.open(db, today=TODAY, build_if_missing=False) as bot:
        old = bot.ask("top PT codes in facility settings 2022")
        plain = bot.ask("top PT codes 2022")
    assert old.error == "internal"
    assert "older version of toprank" in old.text and "facility_setting" in old.text
    assert "toprank data demo --force" in old.text
    assert plain.error is None and plain.rows
    done = subprocess.run(
        [*TOPRANK, "data", "demo", "--force", "--lines", "50000", "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with Toprank.open(db, today=TODAY, build_if_missing=False) as bot:
        rebuilt = bot.ask("top PT codes in facility settings 2022")
    assert rebuilt.error is None and rebuilt.rows
    with duckdb.connect(str(db), read_only=True) as con:
        (top,) = con.execute(
            "SELECT hcpcs_code FROM claim_lines WHERE cohort = 'pt' AND year(service_date) = 2022"
            " AND facility_setting = 'facility' GROUP BY 1 ORDER BY sum(procedures) DESC, 1"
            " LIMIT 1"
        ).fetchone()
    assert rebuilt.rows[0]["code"] == top
