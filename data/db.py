"""The database edge: where the DuckDB file lives, how it is opened and checked, its
schema, rollups and coverage.

Questions only ever read the file, through `open_reader` (a read-only attach, see
there); writers never write the file a reader has open (data.writer: every writer
builds a new generation and renames it over the path).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from toprank.data.values import Coverage

DATA_DIR = Path(__file__).resolve().parent
DB_ENV = "TOPRANK_DB"
DB_FILE_NAME = "claims.duckdb"


def is_source_checkout(package_dir: Path = DATA_DIR) -> bool:
    """True when the package is a folder of the repository (a clone, an editable install)
    rather than files a wheel put into site-packages: pyproject.toml sits beside it."""
    return (package_dir.parent / "pyproject.toml").is_file()


def default_db_path(package_dir: Path = DATA_DIR, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the database is when neither --db nor TOPRANK_DB says: data/claims.duckdb
    in a checkout (the README's first command builds the demo there); for an installed
    wheel a per-user data directory, $XDG_DATA_HOME/toprank, else
    ~/.local/share/toprank: never inside site-packages, which may be read-only, is
    shared by every user and goes away with an upgrade."""
    if is_source_checkout(package_dir):
        return package_dir / DB_FILE_NAME
    base = environ.get("XDG_DATA_HOME", "").strip()
    # XDG: a relative path in the variable is invalid and is to be ignored
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "toprank" / DB_FILE_NAME


DEFAULT_DB = default_db_path()

# Tables a question may read. sql/ validation refuses any other table name.
QUESTION_TABLES = frozenset(
    {"rollup_month", "rollup_national", "rollup_detail", "rollup_claims", "claim_lines", "sources"}
)
# What a reader checks at open: every table a question reads must be there.
REQUIRED_TABLES = QUESTION_TABLES
# The alias the read-only attach gives the database (queries name tables unqualified).
READER_ALIAS = "claims"


class StartupError(Exception):
    """A problem the user can fix before anything runs: one line, no traceback.

    The console script prints str(error) and exits 2 (bot/cli.py), so every surface
    (ask, chat, serve, data) reports it the same way."""


class ConfigError(StartupError, ValueError):
    """A setting (an environment variable) that cannot be used as given."""


class DatabaseProblem(StartupError):
    """The database file is missing, locked, not DuckDB, not toprank's, or damaged."""


Origin = Literal["--db", "TOPRANK_DB", "TOPRANK_ENGINE_URL", "default"]


@dataclass(frozen=True)
class DbLocation:
    """Where the database is, and who said so (only the default path may be created
    on first use: an explicit path that does not exist is a mistake to report)."""

    path: Path
    origin: Origin

    @property
    def explicit(self) -> bool:
        return self.origin != "default"

    def missing_message(self) -> str:
        if not self.explicit:
            return f"no database at {self.path}; build one with `toprank data demo`"
        return (
            f"no database at {self.path} (set by {self.origin}); check the path, or build "
            f"one there with `toprank data demo --db {self.path}`"
        )


def locate(override: str | os.PathLike | None = None) -> DbLocation:
    """--db beats TOPRANK_DB beats the default (data/claims.duckdb in a checkout, the
    per-user data directory for an installed wheel: `default_db_path`)."""
    if override:
        return DbLocation(Path(override), "--db")
    env = os.environ.get(DB_ENV, "").strip()
    if env:
        return DbLocation(Path(env), "TOPRANK_DB")
    return DbLocation(DEFAULT_DB, "default")


def db_path(override: str | os.PathLike | None = None) -> Path:
    """--db beats TOPRANK_DB beats data/claims.duckdb."""
    return locate(override).path


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path names right now: a renamed-in generation has a new inode."""

    device: int
    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def connect_rw(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))


def connect_ro(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """Questions only ever get a read-only connection."""
    return duckdb.connect(str(path), read_only=True)


def open_reader(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the file at `path` as it is now, checked.

    The file is attached to a fresh in-memory DuckDB rather than opened with
    duckdb.connect(path): DuckDB caches database instances by path within a process,
    so after a writer renamed a new generation over the path, connect(path) would hand
    back the old, unlinked file for as long as any connection to it is open. Raises
    DatabaseProblem (one line) when the file is missing, locked, not a DuckDB
    database, or lacks toprank's tables."""
    path = Path(path)
    if not path.exists():
        raise DatabaseProblem(f"no database at {path}")
    if path.is_dir():
        raise DatabaseProblem(f"{path} is a directory, not a database file")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH $path AS {READER_ALIAS} (READ_ONLY)", {"path": str(path)})
        con.execute(f"USE {READER_ALIAS}")
        check_tables(con, path)
    except duckdb.Error as exc:
        con.close()
        raise DatabaseProblem(open_error_message(path, exc)) from None
    except BaseException:
        con.close()
        raise
    return con


def check_tables(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Raises DatabaseProblem unless every table a question reads is there."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    missing = sorted(REQUIRED_TABLES - present)
    if missing:
        raise DatabaseProblem(
            f"{path} is a DuckDB database but not a toprank one (no table "
            f"{', '.join(missing)}); build one with `toprank data demo` or load files with "
            "`toprank data ingest`"
        )


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def open_error_message(path: Path, exc: BaseException) -> str:
    """One line for a failure to open or read the database file."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    holder = _LOCK_HOLDER.search(text)
    if holder is not None or "could not set lock" in text.lower():
        who = f" ({holder.group(1)}, pid {holder.group(2)})" if holder else ""
        return (
            f"{path} is locked by another program that has it open for writing{who}; "
            "toprank's own writers never lock the file the bot reads, so close that program"
        )
    if "not a valid DuckDB database" in text:
        return f"{path} is not a DuckDB database file"
    if is_corruption(exc):
        return f"{path} is damaged ({first}); restore it from a backup or rebuild it"
    if "version" in text.lower() and "storage" in text.lower():
        return f"{path} was written by a different DuckDB version ({first})"
    return f"cannot open {path} as a DuckDB database: {first}"


def is_corruption(exc: BaseException) -> bool:
    """DuckDB's report of a block whose checksum does not match (or a mangled file)."""
    text = str(exc).lower()
    return "corrupt database file" in text or "checksum" in text


@dataclass(frozen=True)
class Verification:
    """The result of reading every block of the given tables."""

    tables: tuple[str, ...]
    rows: int
    seconds: float
    damaged: str | None  # the first table that failed, with DuckDB's reason


def verify_blocks(
    con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] | None = None
) -> Verification:
    """Reads every column of every row of `tables` (default: all of the database's), so
    DuckDB checks every block's checksum. It is the cost of one full scan: 0.6 s for
    the 1M-line demo database on 2 cores, growing with the data."""
    started = time.perf_counter()
    names = tables or tuple(
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "ORDER BY table_name"
        ).fetchall()
    )
    rows = 0
    for table in names:
        columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
        hashes = ", ".join(f'sum(hash("{c}"))' for c in columns)
        try:
            row = con.execute(f'SELECT count(*), {hashes} FROM "{table}"').fetchone()
        except duckdb.Error as exc:
            if not is_corruption(exc):
                raise
            reason = str(exc).strip().splitlines()[0]
            return Verification(names, rows, time.perf_counter() - started, f"{table}: {reason}")
        rows += int(row[0]) if row else 0
    return Verification(names, rows, time.perf_counter() - started, None)


def fetch_one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The one row of a query that always returns one (an aggregate without GROUP BY):
    DuckDB types fetchone() as optional, and a missing row here is a bug, not data."""
    row = result.fetchone()
    if row is None:
        raise RuntimeError("a one-row query returned no row")
    return row


def _run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute((DATA_DIR / name).read_text(encoding="utf-8"))


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    _run_script(con, "schema.sql")


def rebuild_rollups(con: duckdb.DuckDBPyConnection) -> None:
    _run_script(con, "rollups.sql")


def _amounts_held(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The amounts some loaded source carries (none in a database built before the
    amount columns: its rollups lack them until the next load rebuilds them)."""
    try:
        row = con.execute(
            "SELECT count(payments_cents), count(allowed_cents), count(charges_cents), "
            "count(beneficiaries) FROM rollup_national WHERE cohort = 'all'"
        ).fetchone()
    except duckdb.BinderException:
        return ()
    names = ("payments", "allowed", "charges", "beneficiaries")
    return tuple(name for name, n in zip(names, row or (), strict=False) if n)


# The amounts a code rollup carries (data/rollups.sql): NULL where no line of a group has
# the amount, so they add up NULL-aware (a NULL side leaves the other), never NULL + x.
AMOUNT_ROLLUP_COLUMNS = (
    "payments_cents",
    "allowed_cents",
    "charges_cents",
    "beneficiaries",
    "payments_procedures",
    "allowed_procedures",
    "charges_procedures",
    "beneficiaries_procedures",
)
# Each rollup's grouping keys and measures (data/rollups.sql), for the incremental update.
# Every measure adds up over disjoint sets of lines: procedures and units always; claims
# (distinct claim ids per key) when no claim has lines on both sides of a key, which
# update_rollups checks before it adds anything.
ROLLUP_GRAIN: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rollup_detail": (
        (
            "cohort",
            "month",
            "state",
            "payer",
            "place_of_service",
            "facility_setting",
            "modifiers",
            "hcpcs_code",
        ),
        ("procedures", "units", *AMOUNT_ROLLUP_COLUMNS),
    ),
    "rollup_month": (
        ("cohort", "month", "state", "payer", "hcpcs_code"),
        ("procedures", "units", "claims", *AMOUNT_ROLLUP_COLUMNS),
    ),
    "rollup_national": (
        ("cohort", "month", "hcpcs_code"),
        ("procedures", "units", "claims", *AMOUNT_ROLLUP_COLUMNS),
    ),
    "rollup_claims": (("cohort", "month", "state", "payer", "place_of_service"), ("claims",)),
}

# A claim of the new lines already has lines in the same month among the loaded ones:
# the distinct-claim counts of the keys they share would not add up. A semi-join of the
# loaded lines on the new claims: DuckDB builds the hash table on the new claims (the
# size of the new file) and, from their range of ids and months, skips the loaded row
# groups whose min/max cannot match (a new month's file, new ids) without reading them.
# Joined on the id strings, not their hash: a hash defeats that skipping (measured at
# 10M loaded lines: 18.7 s with hash(claim_id), under 0.1 s on the strings).
_SHARED_CLAIMS_SQL = """
WITH fresh AS (
    SELECT DISTINCT claim_id, CAST(date_trunc('month', service_date) AS DATE) AS month
    FROM claim_lines
    WHERE source_id >= $first AND claim_id IS NOT NULL
)
SELECT count(*)
FROM claim_lines AS o
SEMI JOIN fresh AS f
    ON o.claim_id = f.claim_id
   AND f.month = CAST(date_trunc('month', o.service_date) AS DATE)
WHERE o.source_id < $first
"""


@dataclass(frozen=True)
class RollupUpdate:
    """How the rollups took the new lines: added to (incremental) or built again."""

    incremental: bool
    why: str  # said in the ingest's output

    def describe(self) -> str:
        return f"rollups {'updated' if self.incremental else 'rebuilt'} ({self.why})"


def _delta_script() -> str:
    """data/rollups.sql over the new lines only, into temp delta_* tables."""
    script = (DATA_DIR / "rollups.sql").read_text(encoding="utf-8")
    replaced = (
        script.replace(
            "CREATE OR REPLACE TABLE rollup_", "CREATE OR REPLACE TEMP TABLE delta_rollup_"
        )
        .replace("FROM claim_lines", "FROM delta_lines")
        .replace("FROM rollup_month", "FROM delta_rollup_month")
    )
    creates = replaced.count("CREATE OR REPLACE TEMP TABLE delta_rollup_")
    if creates != len(ROLLUP_GRAIN) or "FROM claim_lines" in replaced or "FROM rollup_" in replaced:
        raise RuntimeError("data/rollups.sql changed: update data.db._delta_script with it")
    return replaced


def update_rollups(
    con: duckdb.DuckDBPyConnection, first_new_source: int, *, rebuild: bool = False
) -> RollupUpdate:
    """Bring the rollups up to date after lines of sources >= first_new_source were added.

    The new lines' own rollups (the same SQL as a full build, over those lines only) are
    added into the existing tables, so the cost follows the new file and the size of the
    rollups, not the number of lines already loaded. Exact because every measure adds
    up (ROLLUP_GRAIN); when a new claim id already has lines in the same month, or the
    tables are missing or older than this build, the rollups are built again in full."""
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    (old_lines,) = con.execute(
        "SELECT count(*) FROM claim_lines WHERE source_id < $first", {"first": first_new_source}
    ).fetchone() or (0,)
    why = ""
    if rebuild:
        why = "the demo data was removed"
    elif not old_lines:
        why = "first data in the database"
    elif not set(ROLLUP_GRAIN) <= tables or not _current_columns(con):
        why = "the rollups were missing or from an older toprank"
    elif _scalar(con, _SHARED_CLAIMS_SQL, {"first": first_new_source}):
        why = "new lines share claim ids with loaded claims in the same month"
    if why:
        rebuild_rollups(con)
        return RollupUpdate(False, why)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW delta_lines AS "
        f"SELECT * FROM claim_lines WHERE source_id >= {int(first_new_source)}"
    )
    con.execute(_delta_script())
    for table, (keys, measures) in ROLLUP_GRAIN.items():
        on = " AND ".join(f"t.{k} = d.{k}" for k in keys)
        sums = ", ".join(
            f"{m} = coalesce(t.{m} + d.{m}, t.{m}, d.{m})"
            if m in AMOUNT_ROLLUP_COLUMNS
            else f"{m} = t.{m} + d.{m}"
            for m in measures
        )
        con.execute(
            f"MERGE INTO {table} AS t USING delta_{table} AS d ON {on} "
            f"WHEN MATCHED THEN UPDATE SET {sums} "
            f"WHEN NOT MATCHED THEN INSERT BY NAME"
        )
        con.execute(f"DROP TABLE delta_{table}")
    con.execute("DROP VIEW delta_lines")
    return RollupUpdate(True, "the new lines added to them")


def missing_rollup_columns(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The columns this build gives the rollups that the file's rollups lack (a file
    built by an older toprank); empty when they are current."""
    missing: list[str] = []
    for table, (keys, measures) in ROLLUP_GRAIN.items():
        have = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
        missing += [c for c in (*keys, *measures) if c not in have]
    return tuple(dict.fromkeys(missing))


def _current_columns(con: duckdb.DuckDBPyConnection) -> bool:
    """Every rollup has the columns this build gives it."""
    return not missing_rollup_columns(con)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> int:
    row = con.execute(sql, dict(params)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def read_coverage(con: duckdb.DuckDBPyConnection) -> Coverage | None:
    """Coverage from the sources table (None for an empty database)."""
    row = con.execute(
        "SELECT min(first_date), max(last_date), list(name ORDER BY source_id), "
        "coalesce(sum(rows_loaded), 0) FROM sources"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    total = con.execute(
        "SELECT coalesce(sum(procedures), 0) FROM rollup_national WHERE cohort = 'all'"
    ).fetchone()
    procedures = total[0] if total else 0
    first, last, names, lines = row
    annual = con.execute(
        "SELECT DISTINCT year(first_date) AS y FROM sources WHERE kind = 'cms-puf' ORDER BY y"
    ).fetchall()
    (no_place,) = con.execute(
        "SELECT coalesce(sum(procedures), 0) FROM rollup_month "
        "WHERE cohort = 'all' AND state IN ('XX', 'ZZ')"
    ).fetchone() or (0,)
    return Coverage(
        amounts=_amounts_held(con),
        start=first if isinstance(first, date) else date.fromisoformat(str(first)),
        end=last if isinstance(last, date) else date.fromisoformat(str(last)),
        sources=tuple(names or ()),
        claim_lines=int(lines),
        procedures=int(procedures),
        annual_years=tuple(int(y) for (y,) in annual),
        no_place_procedures=int(no_place),
    )
