"""Ingest of real files into the claims database, losing nothing.

    toprank data ingest claims FILE... [--db PATH] [--map old=new ...] [--rejects PATH]
    toprank data ingest cms-puf FILE --year YYYY [--db PATH] [--rejects PATH]

The work happens inside DuckDB (its CSV and Parquet readers plus set-based SQL in
data/ingest.sql), never row by row in Python. One run is one transaction: every file is
read, validated and inserted, the sources rows written and the rollups brought up to
date (the new lines' rollups added in, data.db.update_rollups), and only then committed,
once. It runs in a copy of the database (data.writer: one writer at a
time, the bot never waits) that replaces the database by one rename after the commit.
Any failure (a corrupt file, a refused re-ingest, Ctrl-C, a full disk, a killed
process) leaves the database exactly as it was.

Nothing vanishes: for every file, loaded + rejected = read (+ skipped: the AMA
copyright row of a legacy CMS file, the only row ever skipped), checked before the
commit.
"read" is counted independently of the CSV parser (the file's lines are counted while
its sha256 fingerprint is computed, in a thread beside DuckDB's read), so a line the
parser skipped would show up as a mismatch instead of disappearing. Rejected rows go
to a rejects CSV with their original values and the reason.

Each file is read once. The insert keeps the rows that pass validation, and DuckDB hands
the others, and only those, to a Python function (`_SetAside`) that keeps them in a
temporary Parquet file; they are then validated again, in SQL, to get their reasons.
Valid rows never leave DuckDB.

CSV files take one of two readers:
- DuckDB's quote-aware reader (fast) when every record is exactly one line, which the
  line count proves after the fact;
- otherwise (a quote left open runs across lines and swallows the lines after it, or
  the reader gives up) the file is re-read one physical line = one row and split in
  SQL: slower, but a stray quote then costs only its own line.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import functools
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from toprank.data import db, writer
from toprank.data.catalog import Catalog, load_catalog

SourceKind = Literal["claims", "cms-puf"]
Reader = Literal["csv", "csv-lines", "parquet"]
# How the rows set aside by the load pass are read back (see _SetAside).
SET_ASIDE_READER: Literal["set-aside"] = "set-aside"

SQL_PATH = Path(__file__).resolve().parent / "ingest.sql"

# Claim-line files: the documented columns, in the documented order.
CLAIM_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "line_number",
    "service_date",
    "hcpcs_code",
    "modifiers",
    "units",
    "rendering_npi",
    "rendering_taxonomy",
    "place_of_service",
    "payer_type",
    "state",
)
CLAIM_REQUIRED = frozenset({"claim_id", "service_date", "hcpcs_code", "payer_type", "state"})
# Optional money columns of a claim file, in dollars (numbers >= 0; blank: not known).
# Stored as whole cents: charge_amount -> charges_cents, allowed_amount -> allowed_cents,
# paid_amount -> payments_cents.
CLAIM_AMOUNT_COLUMNS: tuple[str, ...] = ("charge_amount", "allowed_amount", "paid_amount")

# The CMS "Medicare Physician & Other Practitioners - by Provider and Service" file:
# the columns toprank reads (the others are ignored). Matched case-insensitively.
PUF_COLUMNS: tuple[str, ...] = (
    "rndrng_npi",
    "rndrng_prvdr_last_org_name",  # only to recognise the AMA copyright row
    "rndrng_prvdr_type",
    "rndrng_prvdr_state_abrvtn",
    "hcpcs_cd",
    "hcpcs_desc",
    "place_of_srvc",
    "tot_srvcs",
)
PUF_REQUIRED = frozenset(
    {"rndrng_npi", "rndrng_prvdr_type", "rndrng_prvdr_state_abrvtn", "hcpcs_cd", "tot_srvcs"}
)
_T = TypeVar("_T")  # what a timed step returns

FIRST_PUF_YEAR = 2012  # the first year CMS published this file (CY2012, in 2014)

# The CY2012-2018 files as first published (tab-delimited .txt) name the same columns
# differently; their names -> today's. Matched case-insensitively, after --map. The
# money columns are here too, so a reader of them finds them under today's names.
PUF_LEGACY_NAMES: Mapping[str, str] = {
    "npi": "rndrng_npi",
    "nppes_provider_last_org_name": "rndrng_prvdr_last_org_name",
    "nppes_provider_first_name": "rndrng_prvdr_first_name",
    "nppes_provider_mi": "rndrng_prvdr_mi",
    "nppes_credentials": "rndrng_prvdr_crdntls",
    "nppes_provider_gender": "rndrng_prvdr_gndr",
    "nppes_entity_code": "rndrng_prvdr_ent_cd",
    "nppes_provider_street1": "rndrng_prvdr_st1",
    "nppes_provider_street2": "rndrng_prvdr_st2",
    "nppes_provider_city": "rndrng_prvdr_city",
    "nppes_provider_zip": "rndrng_prvdr_zip5",
    "nppes_provider_state": "rndrng_prvdr_state_abrvtn",
    "nppes_provider_country": "rndrng_prvdr_cntry",
    "provider_type": "rndrng_prvdr_type",
    "medicare_participation_indicator": "rndrng_prvdr_mdcr_prtcptg_ind",
    "place_of_service": "place_of_srvc",
    "hcpcs_code": "hcpcs_cd",
    "hcpcs_description": "hcpcs_desc",
    "hcpcs_drug_indicator": "hcpcs_drug_ind",
    "line_srvc_cnt": "tot_srvcs",
    "bene_unique_cnt": "tot_benes",
    "bene_day_srvc_cnt": "tot_bene_day_srvcs",
    "average_medicare_allowed_amt": "avg_mdcr_alowd_amt",
    "average_submitted_chrg_amt": "avg_sbmtd_chrg",
    "average_medicare_payment_amt": "avg_mdcr_pymt_amt",
    "average_medicare_standard_amt": "avg_mdcr_stdzd_amt",
}
# The one column the first releases of CY2019-2022 had and today's files (28 columns)
# do not.
PUF_GENDER_COLUMN = "rndrng_prvdr_gndr"
# The row some legacy files carry under the header in place of data: the AMA's CPT
# copyright notice (NPI 0000000001). It is skipped and counted, never loaded or rejected.
PUF_NOTICE_REASON = "AMA copyright notice row (not data)"
# The CMS file's money and people (optional: a file without them loads without amounts).
# Payments, allowed amounts and charges are Tot_Srvcs x the file's averages, in cents.
PUF_AMOUNT_COLUMNS: tuple[str, ...] = (
    "avg_mdcr_pymt_amt",
    "avg_mdcr_alowd_amt",
    "avg_sbmtd_chrg",
    "tot_benes",
)

_CHUNK = 8 << 20
_CSV_BYTES_PER_LINE_GUESS = 80  # a claim line is 60-100 bytes of text
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A well-formed CSV field: quoted (with "" for a quote inside) or without any quote.
# The per-line reader checks a line against _CSV_LINE and splits it with _CSV_NEXT_FIELD:
# both are the size of one field whatever the width of the file, so their cost follows
# the length of the line. (A pattern with one capture group per column, as first used,
# costs RE2 time in proportion to length x columns: 44 ms a row at 500 columns.)
_CSV_FIELD = r'"(?:[^"]|"")*"|[^,"]*'
_CSV_LINE = rf"(?:{_CSV_FIELD})(?:,(?:{_CSV_FIELD}))*"
_CSV_NEXT_FIELD = rf",({_CSV_FIELD})"  # matched over ',' || line: one match per field
_BLANK_LINE = re.compile(rb"(?<=\n)\r?\n")
# The widest file toprank reads. toprank uses 11 columns of a claims file and 8 of the
# CMS file's 28 or 29; real extracts carry some dozens more. Past this a file is refused before
# any row is read: it is more likely the wrong file, and every column costs its share of
# each read (a CSV's reader types all of them).
MAX_COLUMNS = 1_000
_HEADER_MAX_BYTES = 1 << 20  # a header line longer than this is not read whole
_IGNORED_NAMED = 25  # columns named in the "ignored column(s)" note


class IngestError(Exception):
    """A problem the user can fix; the message says what and the database is unchanged."""


class AlreadyIngested(IngestError):
    """The same file (same sha256) was loaded before: refused, never double counted."""


class _SetAsideInBatches(Exception):
    """File #index rejected too many rows to set them aside one by one."""

    def __init__(self, index: int, limit: int) -> None:
        super().__init__(f"over {limit:,} rows rejected")
        self.index = index


class _FastReaderFailed(Exception):
    """The quote-aware reader could not account for every line of file #index."""

    def __init__(self, index: int, why: str) -> None:
        super().__init__(why)
        self.index = index


@dataclass(frozen=True)
class FileReport:
    file: str  # the path as given
    name: str  # the sources.name it was recorded under
    source_id: int
    fingerprint: str  # sha256 of the content (decompressed for .csv.gz)
    reader: Reader
    read: int
    loaded: int
    rejected: int
    procedures: int
    first_date: date | None
    last_date: date | None
    reasons: tuple[tuple[str, int], ...]  # the most common reject reasons, with counts
    # rows that are no data (the AMA copyright row of a legacy CMS file): neither loaded
    # nor rejected, so loaded + rejected + skipped = read
    skipped: int = 0
    layout: str = ""  # how the file was read (describe_layout)


@dataclass(frozen=True)
class IngestReport:
    kind: SourceKind
    db_path: Path
    files: tuple[FileReport, ...]
    read: int
    loaded: int
    rejected: int
    rejects_path: Path | None  # None when nothing was rejected
    seconds: float
    demo_lines_removed: int = 0
    notes: tuple[str, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()  # seconds per step, for the benchmark
    # Set when the data was committed but the rejects file could not go where asked.
    rejects_problem: str | None = None
    rollups: str = "rollups rebuilt"  # how the rollups took the new lines (data.db)

    @property
    def source_id(self) -> int:
        return self.files[0].source_id


# --------------------------------------------------------------------------- SQL blocks


def _load_blocks(path: Path = SQL_PATH) -> dict[str, str]:
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-- name:"):
            current = blocks.setdefault(line.split(":", 1)[1].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in blocks.items()}


_BLOCKS = _load_blocks()
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _statements(sql: str) -> list[str]:
    """A block's statements (blocks end statements with ';' at the end of a line)."""
    parts = re.split(r";[ \t]*(?:\n|$)", sql)
    return [p.strip() for p in parts if p.strip() and not _only_comments(p)]


def _only_comments(sql: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("--") for ln in sql.splitlines())


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run one statement, binding exactly the $parameters it names."""
    names = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in names}
    missing = names - bound.keys()
    if missing:
        raise KeyError(f"unbound SQL parameters: {sorted(missing)}")
    try:
        return con.execute(sql, bound)
    except RuntimeError as exc:
        raise _interrupt_or(exc) from None


def _interrupt_or(exc: RuntimeError) -> BaseException:
    """DuckDB reports Ctrl-C as RuntimeError("Query interrupted"): make it one again."""
    return KeyboardInterrupt() if "interrupted" in str(exc).lower() else exc


def _run_block(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, object] | None = None
) -> None:
    for statement in _statements(_BLOCKS[name]):
        _run(con, statement, params)


# ------------------------------------------------------------------------ file handling


@dataclass(frozen=True)
class _Kind:
    kind: SourceKind
    columns: tuple[str, ...]
    required: frozenset[str]
    validated: str  # block names
    insert: str
    rejects_insert: str
    rejects_table: str
    # other names a file of this kind may use for a column -> the canonical name
    aliases: Mapping[str, str] = field(default_factory=dict)


_CLAIMS = _Kind(
    "claims",
    (*CLAIM_COLUMNS, *CLAIM_AMOUNT_COLUMNS),
    CLAIM_REQUIRED,
    "claims_validated",
    "claims_insert",
    "claims_rejects_insert",
    "claims_rejects_table",
)
_PUF = _Kind(
    "cms-puf",
    (*PUF_COLUMNS, *PUF_AMOUNT_COLUMNS),
    PUF_REQUIRED,
    "puf_validated",
    "puf_insert",
    "puf_rejects_insert",
    "puf_rejects_table",
    PUF_LEGACY_NAMES,
)


@dataclass(frozen=True)
class _File:
    """One input file, inspected before the database is touched."""

    path: Path
    given: str
    format: Literal["csv", "parquet"]
    compression: Literal["none", "gzip"]
    ncols: int  # columns in the file
    positions: Mapping[str, int]  # canonical column -> 0-based position in the file
    types: tuple[str, ...]  # DuckDB types (Parquet); VARCHAR for CSV
    parquet_rows: int | None
    ignored: tuple[str, ...]  # file columns toprank does not use
    delimiter: str = ","  # CSV: ',' or a tab (told from the header line)
    legacy_names: bool = False  # columns found under the kind's other (older) names
    names: tuple[str, ...] = ()  # the header as written


def _detect(path: Path) -> tuple[Literal["csv", "parquet"], Literal["none", "gzip"]]:
    with path.open("rb") as f:
        head = f.read(4)
        if head == _PARQUET_MAGIC:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - 4, 0))
            if size < 12 or f.read(4) != _PARQUET_MAGIC:
                raise IngestError(
                    f"{path} is a Parquet file without its footer (truncated or corrupt); "
                    "nothing was loaded"
                )
            return "parquet", "none"
    if head[:2] == _GZIP_MAGIC:
        return "csv", "gzip"
    if head == _ZSTD_MAGIC:
        raise IngestError(f"{path} is zstd-compressed; decompress it or use gzip")
    return "csv", "none"


def _csv_header(path: Path, compression: str) -> tuple[list[str], str]:
    """The header's names and the delimiter: a tab when the header holds more tabs than
    commas (the CMS files of CY2012-2018 as first published), else a comma."""
    try:
        first = _gzip_first_line(path) if compression == "gzip" else _plain_first_line(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(
            f"{path} is not a readable gzip file ({exc}); nothing was loaded"
        ) from exc
    if len(first) >= _HEADER_MAX_BYTES and not first.endswith(b"\n"):
        raise _too_wide(path, f"its header line is over {_HEADER_MAX_BYTES >> 20} MB")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: the header line is not UTF-8 text") from exc
    if not text.strip():
        raise IngestError(f"{path} is empty or starts with a blank line (no header)")
    header = text.rstrip("\r\n")
    delimiter = "\t" if header.count("\t") > header.count(",") else ","
    return next(csv.reader(io.StringIO(header), delimiter=delimiter)), delimiter


def _plain_first_line(path: Path) -> bytes:
    """The header line with its line end (none when the file has one line or the line
    is longer than _HEADER_MAX_BYTES)."""
    with path.open("rb") as f:
        return f.readline(_HEADER_MAX_BYTES)


def _gzip_first_line(path: Path) -> bytes:
    """The header of a gzip CSV, decompressing only as much as needed; like
    _plain_first_line, with its line end."""
    inflate = zlib.decompressobj(wbits=31)
    out = b""
    with path.open("rb") as f:
        while b"\n" not in out and len(out) < _HEADER_MAX_BYTES and not inflate.eof:
            chunk = f.read(1 << 16)
            if not chunk:
                break
            out += inflate.decompress(chunk)
    end = out.find(b"\n")
    return out[: end + 1] if 0 <= end < _HEADER_MAX_BYTES else out[:_HEADER_MAX_BYTES]


def _resolve_columns(
    path: Path,
    names: Sequence[str],
    kind: _Kind,
    column_map: Mapping[str, str],
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Canonical column -> position, after --map renames. Errors name what to fix."""
    renames = {old.strip().lower(): new.strip().lower() for old, new in column_map.items()}
    for old, new in renames.items():
        if new not in kind.columns:
            raise IngestError(
                f"--map {old}={new}: '{new}' is not a {kind.kind} column "
                f"(expected one of {', '.join(kind.columns)})"
            )
    lowered = [n.strip().lower() for n in names]
    unknown_sources = [old for old in renames if old not in lowered]
    if unknown_sources:
        raise IngestError(
            f"--map: {path} has no column {', '.join(repr(o) for o in unknown_sources)} "
            f"(its columns: {', '.join(names)})"
        )
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(lowered):
        canonical = renames.get(name, name)
        canonical = kind.aliases.get(canonical, canonical)
        if canonical not in kind.columns:
            ignored.append(names[i])
            continue
        if canonical in positions:
            raise IngestError(f"{path}: two columns are '{canonical}' (after --map renames)")
        positions[canonical] = i
    missing = sorted(kind.required - positions.keys())
    if missing:
        raise IngestError(
            f"{path} lacks required column(s) {', '.join(missing)} "
            f"(its columns: {', '.join(names)}); rename with --map OLD=NEW"
        )
    return positions, tuple(ignored)


def _inspect(
    con: duckdb.DuckDBPyConnection, given: str, kind: _Kind, column_map: Mapping[str, str]
) -> _File:
    path = Path(given).expanduser()
    if not path.is_file():
        raise IngestError(f"{given}: no such file")
    fmt, compression = _detect(path)
    if fmt == "parquet":
        try:
            described = con.execute(
                "DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)}
            ).fetchall()
            rows = db.fetch_one(
                con.execute(
                    "SELECT sum(num_rows) FROM parquet_file_metadata($path)", {"path": str(path)}
                )
            )[0]
        except duckdb.Error as exc:
            raise IngestError(
                f"{path} is not a readable Parquet file ({_first_line(exc)}); nothing was loaded"
            ) from exc
        names = [r[0] for r in described]
        types = tuple(str(r[1]) for r in described)
        parquet_rows = int(rows or 0)
    else:
        names, delimiter = _csv_header(path, compression)
        types = tuple("VARCHAR" for _ in names)
        parquet_rows = None
    _check_width(path, len(names))
    positions, ignored = _resolve_columns(path, names, kind, column_map)
    lowered = {n.strip().lower() for n in names}
    return _File(
        path,
        given,
        fmt,
        compression,
        len(names),
        positions,
        types,
        parquet_rows,
        ignored,
        delimiter=delimiter if fmt == "csv" else ",",
        legacy_names=bool(lowered & kind.aliases.keys()),
        names=tuple(names),
    )


def _check_width(path: Path, ncols: int) -> None:
    """The column limit, checked before any row is read."""
    if ncols > MAX_COLUMNS:
        raise _too_wide(path, f"it has {ncols:,} columns")


def _too_wide(path: Path, why: str) -> IngestError:
    return IngestError(
        f"{path} is too wide: {why} and toprank reads at most {MAX_COLUMNS:,} columns; "
        f"keep the columns it uses (claims: {len(CLAIM_COLUMNS)}, the CMS file: "
        f"{len(PUF_COLUMNS)}) and load that file; nothing was loaded"
    )


def _ignored_note(file: _File) -> str:
    """The columns toprank does not use, by name up to _IGNORED_NAMED of them (the CMS
    file's 22 all named; a wide extract's hundreds not in one line)."""
    named = ", ".join(file.ignored[:_IGNORED_NAMED])
    more = len(file.ignored) - _IGNORED_NAMED
    return f"{file.path.name}: ignored column(s) {named}" + (
        f" and {more:,} more" if more > 0 else ""
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------ fingerprint and line count


class _LineCounter:
    """Counts a CSV's data lines (blank lines and the header aside) from raw chunks."""

    def __init__(self) -> None:
        self.newlines = 0
        self.blank = 0
        self.size = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        window = self._tail + chunk
        if b"\n\n" in window or b"\n\r\n" in window:
            start = len(self._tail)
            self.blank += sum(1 for m in _BLANK_LINE.finditer(window) if m.end() - 1 >= start)
        self._tail = window[-2:]

    @property
    def data_lines(self) -> int:
        if self.size == 0:
            return 0
        physical = self.newlines + (0 if self._tail.endswith(b"\n") else 1)
        return max(physical - self.blank - 1, 0)


class _Scan(threading.Thread):
    """The file's fingerprint and, for CSV, its data-line count; runs beside DuckDB.

    The fingerprint is the sha256 of the content: the bytes of a plain CSV or Parquet
    file, the decompressed text of a .csv.gz (so the same rows gzipped or not are
    recognised as the same file).
    """

    def __init__(self, file: _File) -> None:
        super().__init__(name=f"scan {file.path.name}", daemon=True)
        self.file = file
        self.fingerprint = ""
        self.data_lines = 0
        self.bytes_read = 0  # of the file as stored (compressed for .csv.gz)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sha = hashlib.sha256()
            counter = _LineCounter() if self.file.format == "csv" else None

            def take(content: bytes) -> None:
                sha.update(content)
                if counter is not None:
                    counter.feed(content)

            gunzip = _Gunzip(take) if self.file.compression == "gzip" else None
            with self.file.path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    self.bytes_read += len(chunk)
                    if gunzip is not None:
                        gunzip.feed(chunk)
                    else:
                        take(chunk)
            if gunzip is not None:
                gunzip.finish()
            self.fingerprint = sha.hexdigest()
            self.data_lines = counter.data_lines if counter else 0
        except BaseException as exc:  # reported by the main thread
            self.error = exc


class _Gunzip:
    """Passes the decompressed content of a (possibly multi-member) gzip file on."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.inflate = zlib.decompressobj(wbits=31)
        self.in_member = False

    def feed(self, data: bytes) -> None:
        while data:
            self.in_member = True
            self.sink(self.inflate.decompress(data))
            if not self.inflate.eof:
                return
            data = self.inflate.unused_data  # the next member, if any
            self.inflate = zlib.decompressobj(wbits=31)
            self.in_member = False

    def finish(self) -> None:
        if self.in_member:  # a member started but never reached its end
            raise EOFError("truncated gzip data")


# ------------------------------------------------------------------------- SQL sources


def _projection(file: _File, kind: _Kind, reader: Reader | Literal["set-aside"]) -> str:
    """`<expr> AS <canonical>` for every column of the kind, from positions only."""
    parts = []
    for i, name in enumerate(kind.columns):
        pos = file.positions.get(name)
        if reader == SET_ASIDE_READER:  # values as read, in the kind's column order
            expr = f'"row"[{i + 1}]'
        elif pos is None:
            expr = "CAST(NULL AS VARCHAR)"
        elif reader == "csv":
            expr = f"c{pos}"
        elif reader == "csv-lines":  # a line that does not split keeps only raw_line
            expr = f"CASE WHEN well_formed THEN ingest_unquote(fields[{pos + 1}]) END"
        else:
            ref = f"#{pos + 1}"
            if file.types[pos].startswith("TIMESTAMP"):
                ref = f"CAST({ref} AS DATE)"
            expr = f"CAST({ref} AS VARCHAR)"
        parts.append(f"{expr} AS {name}")
    return ",\n       ".join(parts)


def _source(file: _File, kind: _Kind, reader: Reader) -> tuple[str, dict[str, object]]:
    block = {"csv": "source_csv", "csv-lines": "source_lines", "parquet": "source_parquet"}[reader]
    sql = _BLOCKS[block].replace("__PROJECTION__", _projection(file, kind, reader))
    params: dict[str, object] = {"path": str(file.path), "compression": file.compression}
    if reader == "csv":
        params["columns"] = {f"c{i}": "VARCHAR" for i in range(file.ncols)}
        params["delim"] = file.delimiter
    elif reader == "csv-lines":
        line_pattern, field_pattern = _line_patterns(file.delimiter)
        params["line_pattern"] = line_pattern
        params["field_pattern"] = field_pattern
        params["delim"] = file.delimiter
        params["ncols"] = file.ncols
        params["raw_delim"] = "\x1f\x1e\x1d"  # unit, record, group separators in a row
    return sql, params


def _line_patterns(delimiter: str) -> tuple[str, str]:
    """_CSV_LINE and _CSV_NEXT_FIELD for a file's delimiter (a comma or a tab)."""
    if delimiter == ",":
        return _CSV_LINE, _CSV_NEXT_FIELD
    d = re.escape(delimiter)
    one = rf'"(?:[^"]|"")*"|[^{d}"]*'
    return rf"(?:{one})(?:{d}(?:{one}))*", rf"{d}({one})"


def describe_layout(file: _File, kind: _Kind) -> str:
    """How a file was read, said in the ingest's output: the CMS file's era (names,
    columns), the delimiter."""
    delimiter = "tab-delimited" if file.delimiter == "\t" else "comma-delimited"
    if file.format == "parquet":
        delimiter = "Parquet"
    if kind is not _PUF:
        return f"{file.path.name}: {delimiter}, {file.ncols} columns"
    if file.legacy_names:
        era = "legacy column names (the CY2012-2018 files as first published)"
    elif PUF_GENDER_COLUMN in {n.strip().lower() for n in file.names}:
        era = "current column names, with Rndrng_Prvdr_Gndr (first releases of CY2019-2022)"
    else:
        era = "current column names"
    return f"{file.path.name}: CMS layout: {era}, {delimiter}, {file.ncols} columns"


def _compose(block: str, kind: _Kind, source_sql: str) -> str:
    validated = _BLOCKS[kind.validated].replace("__SOURCE__", source_sql)
    row = f"[{', '.join((*kind.columns, '_malformed', '_raw_line'))}]"
    return _BLOCKS[block].replace("__VALIDATED__", validated).replace("__ROW__", row)


def _set_aside_source(file: _File, kind: _Kind, path: Path) -> tuple[str, dict[str, object]]:
    sql = _BLOCKS["source_set_aside"].replace(
        "__PROJECTION__", _projection(file, kind, SET_ASIDE_READER)
    )
    return sql, {"set_aside": str(path), "ncols": len(kind.columns)}


class _SetAside:
    """The rows the load pass did not insert, kept as DuckDB hands them over.

    The insert filters on `ok OR ingest_set_aside(ok, row)`, so DuckDB calls the function
    only where `ok` is false and the function sees the rejected rows and nothing else (it
    checks `ok` itself, so it would stay right if an engine passed more). It returns
    false, so those rows are not inserted. They are written to a Parquet file beside the
    database (memory stays small however many rows a file rejects) and read back in SQL.

    Two ways to be called, because each is cheap in a different case:
    - one row at a time (`take_row`, a native function): the cost follows the number of
      rejected rows, nothing at all for a clean file; the usual choice;
    - a batch at a time (`take_batch`, an Arrow function): DuckDB calls it for every
      batch of about 2,048 rows, rejected rows or not, which costs about a second per
      10M rows but no more when many rows are rejected.
    One call per row costs about 8 us and one per batch about 0.15 ms, so they break even
    near 1 rejected row in 100: past that many (and at least ROW_BY_ROW_MIN) rows set
    aside one by one, the file is loaded again in batches.
    DuckDB may call from several threads at once: a lock keeps the writes in order.
    """

    FLUSH_ROWS = 65_536  # rows buffered before a Parquet row group is written
    ROW_BY_ROW_MIN = 100_000

    def __init__(self, directory: Path, rows_expected: int) -> None:
        self.directory = directory
        self.row_by_row_limit = max(self.ROW_BY_ROW_MIN, rows_expected // 100)
        self.path: Path | None = None
        self.rows = 0
        self.too_many = False  # set when row-by-row calls passed row_by_row_limit
        self._lists: list[list[str | None]] = []  # rows from take_row, not yet written
        self._arrays: list[pa.Array] = []  # batches from take_batch, not yet written
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._lock = threading.Lock()

    def take_row(self, ok: bool, row: list[str | None]) -> bool:
        if ok is not True:
            with self._lock:
                if self.rows >= self.row_by_row_limit:
                    self.too_many = True
                    raise _TooManyRejects(f"over {self.row_by_row_limit:,} rows rejected")
                self._lists.append(row)
                self._keep(1)
        return False

    def take_batch(
        self, ok: pa.ChunkedArray | pa.Array, row: pa.ChunkedArray | pa.Array
    ) -> pa.Array:
        # No compute kernel in the usual case (every row passed is rejected). DuckDB 2
        # passes chunked arrays; plain arrays are taken too.
        if ok.null_count or any(chunk.true_count for chunk in _chunks(ok)):
            row = row.filter(pc.invert(pc.fill_null(ok, False)))
        if len(row):
            with self._lock:
                self._arrays.extend(_chunks(row))
                self._keep(len(row))
        return self._none_inserted(len(ok))

    @staticmethod
    @functools.cache
    def _none_inserted(n: int) -> pa.Array:
        return pa.array([False] * n, type=pa.bool_())

    def _keep(self, n: int) -> None:
        self.rows += n
        self._buffered += n
        if self._buffered >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        row_type = pa.list_(pa.string())
        arrays = [*self._arrays]
        if self._lists:
            arrays.append(pa.array(self._lists, type=row_type))
        if not arrays:
            return
        table = pa.table({"row": pa.chunked_array(arrays, type=arrays[0].type)})
        if self._writer is None:
            fd, name = tempfile.mkstemp(
                prefix=".toprank-rejected-", suffix=".parquet", dir=self.directory
            )
            os.close(fd)
            self.path = Path(name)
            self._writer = pq.ParquetWriter(name, table.schema)
        self._writer.write_table(table)
        self._lists, self._arrays, self._buffered = [], [], 0

    def finish(self) -> Path | None:
        """Writes what is buffered; the file to read back, or None when no row was set aside."""
        with self._lock:
            self._flush()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        return self.path

    def remove(self) -> None:
        with self._lock:
            if self._writer is not None:
                with contextlib.suppress(Exception):  # already failing: only clean up
                    self._writer.close()
                self._writer = None
        if self.path is not None:
            _remove(self.path)


def _rows_expected(file: _File) -> int:
    """Rows in the file: exact for Parquet, a guess from the size for CSV (the line count
    comes later, beside the load)."""
    if file.parquet_rows is not None:
        return file.parquet_rows
    return file.path.stat().st_size // _CSV_BYTES_PER_LINE_GUESS


def _chunks(values: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


class _TooManyRejects(Exception):
    """Raised inside DuckDB's call to take_row: load this file again in batches."""


# ---------------------------------------------------------------------------- progress


def _bytes_read_by_process() -> int | None:
    """Bytes this process has read so far (Linux), or None where that is not known."""
    try:
        with open("/proc/self/io", "rb") as f:
            for line in f:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _FileReadProgress:
    """Percent of a file read by DuckDB, for the load step's bar.

    DuckDB's own query progress hardly moves on the ingest insert (measured: 49% to 50%
    over a 14 s load, where a bare read_csv goes from 20% to 89%), so the bar follows
    the bytes the process reads instead, less what the fingerprint thread reads of the
    same file. None (DuckDB's progress is used) where /proc/self/io is missing.
    """

    def __init__(self, size: int, scan: _Scan) -> None:
        self.size = max(size, 1)
        self.scan = scan
        self.start = _bytes_read_by_process()

    def __call__(self) -> float | None:
        now = _bytes_read_by_process()
        if now is None or self.start is None:
            return None
        read_by_duckdb = now - self.start - self.scan.bytes_read
        return max(0.0, min(99.0, 100.0 * read_by_duckdb / self.size))


def _with_progress(
    con: duckdb.DuckDBPyConnection,
    desc: str,
    enabled: bool,
    work: Callable[[], _T],
    percent: Callable[[], float | None] | None = None,
) -> _T:
    """Run `work` (DuckDB statements) with a tqdm bar fed by `percent` when it knows,
    else by DuckDB's query progress."""
    if not enabled:
        return work()
    bar = tqdm(
        total=100,
        desc=desc,
        file=sys.stderr,
        leave=False,
        delay=0.3,  # only steps that take a while get a bar
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    )
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.25):
            pct = percent() if percent is not None else None
            try:
                if pct is None:
                    pct = con.query_progress()
            except duckdb.Error:  # the statement ended between two polls
                return
            if pct >= 0:
                bar.n = min(int(pct), 100)
                bar.refresh()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        return work()
    finally:
        done.set()
        poller.join()
        bar.n = 100
        bar.close()


# ------------------------------------------------------------------------------ ingest


def ingest_claims(
    db_path: str | os.PathLike | None,
    files: Iterable[str | os.PathLike],
    *,
    column_map: Mapping[str, str] | None = None,
    rejects_path: str | os.PathLike | None = None,
    progress: bool = True,
    today: date | None = None,
) -> IngestReport:
    """Load claim-line files (CSV, CSV.gz, Parquet) in one transaction."""
    return _Ingest(
        kind=_CLAIMS,
        db_path=db.db_path(db_path),
        files=[os.fspath(f) for f in files],
        column_map=dict(column_map or {}),
        rejects_path=Path(rejects_path) if rejects_path else None,
        progress=progress,
        today=today or date.today(),
        year=None,
    ).run()


def ingest_cms_puf(
    db_path: str | os.PathLike | None,
    file: str | os.PathLike,
    *,
    year: int,
    column_map: Mapping[str, str] | None = None,
    rejects_path: str | os.PathLike | None = None,
    progress: bool = True,
    today: date | None = None,
) -> IngestReport:
    """Load one year of the CMS Medicare "by Provider and Service" file."""
    today = today or date.today()
    if not isinstance(year, int) or not FIRST_PUF_YEAR <= year <= today.year:
        raise IngestError(f"--year must be a year from {FIRST_PUF_YEAR} to {today.year}")
    return _Ingest(
        kind=_PUF,
        db_path=db.db_path(db_path),
        files=[os.fspath(file)],
        column_map=dict(column_map or {}),
        rejects_path=Path(rejects_path) if rejects_path else None,
        progress=progress,
        today=today,
        year=year,
    ).run()


@dataclass
class _Ingest:
    kind: _Kind
    db_path: Path
    files: list[str]
    column_map: dict[str, str]
    rejects_path: Path | None
    progress: bool
    today: date
    year: int | None
    catalog: Catalog = field(default_factory=load_catalog)
    _scans: dict[int, _Scan] = field(default_factory=dict)
    _set_aside: _SetAside | None = None  # the file being loaded: where its rejected rows go
    _draft: writer.Draft | None = None  # the generation being written (data.writer)
    timings: dict[str, float] = field(default_factory=dict)
    _rollups: db.RollupUpdate | None = None  # how this run's commit updated the rollups

    def run(self) -> IngestReport:
        """Load into a new generation of the database and rename it over the old one
        (data.writer): before that rename nothing has changed, after it everything has.
        Success or failure is decided there, and every message says which it was."""
        started = time.perf_counter()
        if not self.files:
            raise IngestError("no files given")
        if self.kind is _PUF and len(self.files) != 1:
            raise IngestError("cms-puf takes one file (one year) at a time")
        draft: writer.Draft | None = None
        report: IngestReport | None = None
        with writer.watching_interrupts() as watch:
            try:
                with writer.writing(self.db_path, writer.command_line(), copy=True) as draft:
                    self._draft = draft
                    report = self._load_and_commit(draft, started)
            except KeyboardInterrupt:
                if report is not None:  # Ctrl-C while the working files were removed
                    return report
                raise
            except writer.WriterBusy as exc:
                raise IngestError(str(exc)) from None
            except writer.GenerationConflict as exc:
                raise IngestError(str(exc)) from None
            except IngestError as exc:
                if watch.pressed:
                    raise KeyboardInterrupt from None
                if writer.no_space(exc):  # said of the input file by the step that met it
                    raise IngestError(
                        f"{writer.no_space_message(self.db_path, exc)}; nothing was loaded, "
                        "the database is unchanged"
                    ) from None
                raise
            except Exception as exc:
                if watch.pressed:  # an error Ctrl-C caused (a UDF, a reader): the same thing
                    raise KeyboardInterrupt from None
                if writer.no_space(exc):
                    raise IngestError(
                        f"{writer.no_space_message(self.db_path, exc)}; nothing was loaded, "
                        "the database is unchanged"
                    ) from None
                raise
            finally:
                self._draft = None
        assert report is not None
        return report

    def _load_and_commit(self, draft: writer.Draft, started: float) -> IngestReport:
        readers: dict[int, Reader] = {}
        notes: list[str] = []
        if draft.cleaned_up:
            notes.append(
                f"removed {_human_bytes(draft.cleaned_up)} left beside the database by an "
                "interrupted write"
            )
        try:
            con = db.connect_rw(draft.path)
        except duckdb.Error as exc:
            raise IngestError(_open_error(self.db_path, exc)) from exc
        try:
            inspected = [_inspect(con, f, self.kind, self.column_map) for f in self.files]
            for f in inspected:
                if f.ignored:
                    notes.append(_ignored_note(f))
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
            con.execute("SET preserve_insertion_order = false")
            batched = False
            while True:
                self._register_set_aside(con, batched)
                try:
                    result = self._transaction(con, inspected, readers)
                    break
                except _SetAsideInBatches as retry:
                    # Rolled back already; every file of this run, in batches this time.
                    batched = True
                    notes.append(
                        f"{inspected[retry.index].path.name}: {retry} - read again setting "
                        "rejected rows aside in batches"
                    )
                except _FastReaderFailed as retry:
                    # Rolled back already; read that file line by line this time.
                    readers[retry.index] = "csv-lines"
                    notes.append(
                        f"{inspected[retry.index].path.name}: {retry} - re-read one line per row"
                    )
            files, rejects, demo_removed = result
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if demo_removed:
            notes.insert(
                0,
                f"removed the demo data ({demo_removed:,} claim lines) so demo and real "
                "data never mix",
            )
        loaded = sum(f.loaded for f in files)
        with writer.interrupts_deferred() as late:
            draft.publish()  # the commit
            where, problem = self._place_rejects(rejects, loaded)
        if late.pressed:
            notes.append("Ctrl-C came after the commit: the load is complete")
        return IngestReport(
            kind=self.kind.kind,
            db_path=self.db_path,
            files=tuple(files),
            read=sum(f.read for f in files),
            loaded=loaded,
            rejected=sum(f.rejected for f in files),
            rejects_path=where,
            seconds=time.perf_counter() - started,
            demo_lines_removed=demo_removed,
            notes=tuple(notes),
            timings=tuple(self.timings.items()),
            rejects_problem=problem,
            rollups=self._rollups.describe() if self._rollups else "rollups rebuilt",
        )

    def _place_rejects(
        self, rejects: tuple[Path, Path] | None, loaded: int
    ) -> tuple[Path | None, str | None]:
        """After the commit: move the rejects file from the working directory to where it
        was asked for. A failure is said as what it is (the data is loaded), with where
        the file is instead (next to the database)."""
        if rejects is None:
            return None, None
        written, target = rejects
        try:
            _move(written, target)
            return target, None
        except OSError as exc:
            reason = exc.strerror or _first_line(exc)
            fallback = self._rejects_target(_source_id_of(written), default=True)
            if fallback == target:
                fallback = fallback.with_name(f"{fallback.stem}.{os.getpid()}.csv")
            try:
                _move(written, fallback)
            except OSError as again:
                return None, (
                    f"loaded {loaded:,} rows; could not move the rejects file to {target}: "
                    f"{reason}; nor next to the database ({again.strerror or again}): the "
                    "rejected rows were not kept"
                )
            return fallback, (
                f"loaded {loaded:,} rows; could not move the rejects file to {target}: "
                f"{reason}; it is at {fallback}"
            )

    def _register_set_aside(self, con: duckdb.DuckDBPyConnection, batched: bool) -> None:
        """(Re)defines ingest_set_aside, the function the insert calls for rejected rows."""
        with contextlib.suppress(duckdb.Error):  # not defined yet
            con.remove_function("ingest_set_aside")
        set_aside: Callable[..., Any] = self._set_aside_batch if batched else self._set_aside_row
        # The stubs list enums for type/null_handling (duckdb.func, 2.x only); every
        # supported DuckDB also takes these strings.
        con.create_function(  # type: ignore[call-overload]
            "ingest_set_aside",
            set_aside,
            [duckdb.type("BOOLEAN"), duckdb.type("VARCHAR[]")],
            duckdb.type("BOOLEAN"),
            type="arrow" if batched else "native",
            null_handling="special",
            side_effects=True,  # never folded away or cached: each call keeps rows
        )

    def _current_set_aside(self) -> _SetAside:
        if self._set_aside is None:
            raise RuntimeError("ingest_set_aside called outside a file's load")
        return self._set_aside

    def _set_aside_row(self, ok: bool, row: list[str | None]) -> bool:
        return self._current_set_aside().take_row(ok, row)

    def _set_aside_batch(
        self, ok: pa.ChunkedArray | pa.Array, row: pa.ChunkedArray | pa.Array
    ) -> pa.Array:
        return self._current_set_aside().take_batch(ok, row)

    # One transaction for the whole run; returns (file reports, (rejects file written,
    # where it goes) or None, demo lines).
    def _transaction(
        self,
        con: duckdb.DuckDBPyConnection,
        inspected: list[_File],
        readers: dict[int, Reader],
    ) -> tuple[list[FileReport], tuple[Path, Path] | None, int]:
        con.execute("BEGIN TRANSACTION")
        try:
            db.create_schema(con)
            _run_block(con, "lookups", self._lookup_params())
            _run_block(con, self.kind.rejects_table)
            demo_removed = self._remove_demo(con)
            (next_id,) = db.fetch_one(
                con.execute("SELECT coalesce(max(source_id), 0) + 1 FROM sources")
            )
            reports: list[FileReport] = []
            seen: dict[str, str] = {}
            for index, file in enumerate(inspected):
                reader: Reader = (
                    "parquet" if file.format == "parquet" else readers.get(index, "csv")
                )
                report = self._load_file(con, index, file, reader, next_id + index, seen)
                reports.append(report)
            rollups = self._step(
                con,
                "rollups",
                lambda: db.update_rollups(con, next_id, rebuild=demo_removed > 0),
            )
            assert isinstance(rollups, db.RollupUpdate)
            self._rollups = rollups
            total_rejected = sum(r.rejected for r in reports)
            rejects: tuple[Path, Path] | None = None
            if total_rejected:
                # Written beside the draft; moved to its place only after the commit.
                written = self._scratch(f"rejects.{next_id}.csv")
                con.execute(
                    "COPY (SELECT * FROM ingest_rejects) TO $path (HEADER, DELIMITER ',')",
                    {"path": str(written)},
                )
                rejects = (written, self._rejects_target(next_id))
            for r in reports:
                if r.loaded == 0:
                    where = ""
                    if rejects is not None:
                        with contextlib.suppress(OSError):
                            _move(*rejects)
                            where = f"; see {rejects[1]}"
                    raise IngestError(
                        f"every row of {r.file} was rejected ({_reasons_text(r.reasons)}); "
                        f"the database is unchanged{where}"
                    )
                # The promise of this module, checked again before anything is committed.
                if r.loaded + r.rejected + r.skipped != r.read:
                    raise RuntimeError(f"{r.file}: loaded + rejected != read")
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
        return reports, rejects, demo_removed

    def _scratch(self, name: str) -> Path:
        """A file in the draft's working directory (removed with it)."""
        if self._draft is None:
            raise RuntimeError("no draft: ingest runs inside data.writer.writing")
        return self._draft.scratch(name)

    def _load_file(
        self,
        con: duckdb.DuckDBPyConnection,
        index: int,
        file: _File,
        reader: Reader,
        source_id: int,
        seen: dict[str, str],
    ) -> FileReport:
        scan = self._scans.get(index)
        if scan is None:  # fingerprint and line count, beside DuckDB's read
            scan = self._scans[index] = _Scan(file)
            scan.start()
        source_sql, params = _source(file, self.kind, reader)
        params.update(
            source_id=source_id,
            today=self.today,
            year=self.year,
            file=file.given,
            exact_lines=reader == "csv",
        )
        insert_sql = _compose(self.kind.insert, self.kind, source_sql)
        _run_block(con, "drop_reject_tables")
        with self._setting_aside(_rows_expected(file)) as set_aside:
            try:
                loaded = int(
                    self._step(
                        con,
                        f"load {file.path.name}",
                        lambda: db.fetch_one(_run(con, insert_sql, params))[0],
                        _FileReadProgress(file.path.stat().st_size, scan),
                    )
                )
            except duckdb.InterruptException:
                raise KeyboardInterrupt from None  # Ctrl-C: stop, never retry another way
            except duckdb.Error as exc:
                if set_aside.too_many:
                    raise _SetAsideInBatches(index, set_aside.row_by_row_limit) from exc
                scan.join()
                if scan.error is not None:
                    raise _scan_error(file, scan.error) from exc
                if reader == "csv":
                    raise _FastReaderFailed(
                        index, f"CSV reader stopped ({_first_line(exc)})"
                    ) from exc
                raise IngestError(f"cannot read {file.given}: {_first_line(exc)}") from exc
            scan.join()
            if scan.error is not None:
                raise _scan_error(file, scan.error)
            fingerprint = scan.fingerprint
            self._refuse_duplicate(con, file, fingerprint, seen)

            # Account for every line (CSV) or row (Parquet) of the file.
            expected = (file.parquet_rows or 0) if reader == "parquet" else scan.data_lines
            structural = 0
            if reader != "parquet":
                records, spanning = db.fetch_one(con.execute(_BLOCKS["csv_rejected_lines"]))
                if reader == "csv" and spanning:
                    raise _FastReaderFailed(index, "a quoted value runs across lines")
                structural = int(records)
                if structural:
                    _run(con, _BLOCKS["csv_rejects_insert"], params)
            invalid = expected - loaded - structural
            if invalid < 0 and reader == "csv":
                raise _FastReaderFailed(
                    index, "the CSV reader saw more rows than the file has lines"
                )
            set_aside_path = set_aside.finish()
            found = set_aside.rows
            if found != invalid:
                if reader == "csv":
                    raise _FastReaderFailed(
                        index, f"{expected - loaded - structural - found:,} line(s) unaccounted for"
                    )
                raise IngestError(
                    f"{file.given}: {expected:,} rows in the file but {loaded + structural + found:,} "
                    "accounted for; nothing was loaded"
                )
            if set_aside_path is not None:
                # The same validation over the rows set aside gives each its reason.
                aside_sql, aside_params = _set_aside_source(file, self.kind, set_aside_path)
                rejects_sql = _compose(self.kind.rejects_insert, self.kind, aside_sql)
                written = int(
                    self._step(
                        con,
                        f"rejects {file.path.name}",
                        lambda: db.fetch_one(_run(con, rejects_sql, {**params, **aside_params}))[0],
                    )
                )
                if written != found:
                    raise RuntimeError(
                        f"{file.given}: {found:,} rows set aside but {written:,} fail validation"
                    )
        skipped = 0
        if self.kind is _PUF and found:
            # the copyright row was set aside with the rejected rows: counted apart
            skipped = int(
                db.fetch_one(
                    _run(
                        con,
                        "DELETE FROM ingest_rejects WHERE file = $file AND reason = $notice",
                        {"file": file.given, "notice": PUF_NOTICE_REASON},
                    )
                )[0]
            )
        rejected = structural + found - skipped
        if expected == 0 or expected == skipped:
            raise IngestError(f"{file.given} has no data rows; nothing was loaded")
        if loaded + rejected + skipped != expected:  # the promise of this module
            raise RuntimeError(f"{file.given}: loaded + rejected != read ({expected:,})")
        first, last, procedures = db.fetch_one(_run(con, _BLOCKS["source_summary"], params))
        if self.kind is _PUF and self.year is not None:
            first, last = date(self.year, 1, 1), date(self.year, 12, 31)
        name = self._source_name(file)
        _run(
            con,
            _BLOCKS["insert_source"],
            {
                "source_id": source_id,
                "name": name,
                "kind": self.kind.kind,
                "fingerprint": fingerprint,
                "read": expected - skipped,  # data rows (see data/schema.sql)
                "loaded": loaded,
                "rejected": rejected,
                "first_date": first,
                "last_date": last,
            },
        )
        reasons = tuple(
            (str(reason), int(n))
            for reason, n in _run(con, _BLOCKS["reject_reasons"], params).fetchall()
        )
        return FileReport(
            file=file.given,
            name=name,
            source_id=source_id,
            fingerprint=fingerprint,
            reader=reader,
            read=expected,
            loaded=loaded,
            rejected=rejected,
            procedures=int(procedures),
            first_date=first,
            last_date=last,
            reasons=reasons,
            skipped=skipped,
            layout=describe_layout(file, self.kind),
        )

    @contextlib.contextmanager
    def _setting_aside(self, rows_expected: int) -> Iterator[_SetAside]:
        """Where ingest_set_aside puts the rejected rows of the file being loaded."""
        directory = self._draft.dir if self._draft is not None else self.db_path.parent
        self._set_aside = set_aside = _SetAside(directory, rows_expected)
        try:
            yield set_aside
        finally:
            self._set_aside = None
            set_aside.remove()

    def _remove_demo(self, con: duckdb.DuckDBPyConnection) -> int:
        """Demo and real data never mix: the demo rows go (in this transaction) first."""
        if not db.fetch_one(con.execute("SELECT count(*) FROM sources WHERE kind = 'demo'"))[0]:
            return 0
        demo_lines, all_lines = db.fetch_one(
            con.execute(
                "SELECT count(*) FILTER (WHERE source_id IN "
                "(SELECT source_id FROM sources WHERE kind = 'demo')), count(*) FROM claim_lines"
            )
        )
        if demo_lines == all_lines:  # the usual case: cheaper to drop than to delete rows
            con.execute("DROP TABLE claim_lines")
            con.execute("DELETE FROM sources WHERE kind = 'demo'")
            db.create_schema(con)
        else:
            _run_block(con, "remove_demo")
        return int(demo_lines)

    def _step(
        self,
        con: duckdb.DuckDBPyConnection,
        desc: str,
        work: Callable[[], _T],
        percent: Callable[[], float | None] | None = None,
    ) -> _T:
        """One timed step, with a progress bar when enabled."""
        started = time.perf_counter()
        try:
            return _with_progress(con, desc, self.progress, work, percent)
        except RuntimeError as exc:
            raise _interrupt_or(exc) from None
        finally:
            self.timings[desc] = self.timings.get(desc, 0.0) + time.perf_counter() - started

    def _refuse_duplicate(
        self, con: duckdb.DuckDBPyConnection, file: _File, fingerprint: str, seen: dict[str, str]
    ) -> None:
        if fingerprint in seen:
            raise AlreadyIngested(
                f"{file.given} has the same contents as {seen[fingerprint]}; give each file "
                "once. Nothing was loaded."
            )
        seen[fingerprint] = file.given
        prior = con.execute(
            "SELECT source_id, name, CAST(loaded_at AS DATE) FROM sources WHERE fingerprint = $fp",
            {"fp": fingerprint},
        ).fetchone()
        if prior:
            raise AlreadyIngested(
                f"{file.given} was already loaded (source #{prior[0]} '{prior[1]}', on "
                f"{prior[2]}, sha256 {fingerprint[:12]}...); loading it again would count "
                "its rows twice. Nothing was changed."
            )

    def _source_name(self, file: _File) -> str:
        if self.kind is _PUF:
            return f"CMS Medicare by Provider and Service {self.year} ({file.path.name})"
        return file.path.name

    def _rejects_target(self, first_source_id: int, *, default: bool = False) -> Path:
        """--rejects (a file, or a directory to put the default name in), else next to
        the database."""
        name = f"{self.db_path.stem}.rejects.{first_source_id}.csv"
        if self.rejects_path is not None and not default:
            if self.rejects_path.is_dir():
                return self.rejects_path / name
            return self.rejects_path
        return self.db_path.with_name(name)

    def _lookup_params(self) -> dict[str, object]:
        cat = self.catalog
        words: dict[str, str] = {}
        for payer, synonyms in cat.payers.items():
            for word in (payer, *synonyms, cat.payer_names.get(payer, payer)):
                key = " ".join(word.lower().replace("_", " ").replace("-", " ").split())
                words.setdefault(key, payer)  # the first payer to claim a word keeps it
        return {
            "taxonomy_codes": list(cat.taxonomy.keys()),
            "taxonomy_cohorts": list(cat.taxonomy.values()),
            "payer_words": list(words.keys()),
            "payer_keys": list(words.values()),
            "state_codes": list(cat.states.keys()),
            "facility_places": sorted(cat.facility_places),
            "known_codes": list(cat.codes.keys()),
            "provider_types": list(cat.provider_types.keys()),
            "provider_cohorts": list(cat.provider_types.values()),
        }


def _scan_error(file: _File, error: BaseException) -> IngestError:
    if isinstance(error, IngestError):
        return error
    if isinstance(error, (EOFError, zlib.error)):
        return IngestError(
            f"{file.given}: the gzip data is truncated or corrupt; nothing was loaded"
        )
    return IngestError(f"{file.given}: {error}")


def _reasons_text(reasons: Sequence[tuple[str, int]]) -> str:
    return "; ".join(f"{n:,} {reason}" for reason, n in reasons) or "no reason recorded"


def _open_error(path: Path, exc: BaseException) -> str:
    text = _first_line(exc)
    return f"cannot open the copy of the database {path} to load into: {text}"


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction open: nothing to undo
        con.execute("ROLLBACK")


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _move(source: Path, target: Path) -> None:
    """A rename where it can be, else a copy then a removal (another file system)."""
    for parent in (target.parent, *target.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a directory")
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
    shutil.move(str(source), str(target))


def _source_id_of(rejects: Path) -> int:
    match = re.search(r"rejects\.(\d+)\.csv$", rejects.name)
    return int(match.group(1)) if match else 0


def _human_bytes(size: float) -> str:
    from toprank.data.demo import human_bytes

    return human_bytes(size)


# --------------------------------------------------------------------------------- CLI


def add_parser(data_subparsers: argparse._SubParsersAction) -> None:
    """Adds `ingest claims` and `ingest cms-puf` under `toprank data`."""
    ingest = data_subparsers.add_parser(
        "ingest",
        help="load real files: claim lines or the CMS Medicare PUF",
        description="Load real data files into the database (one transaction per run).",
    )
    kinds = ingest.add_subparsers(dest="ingest_kind", metavar="KIND")
    ingest.set_defaults(func=lambda args: (ingest.print_help(), 2)[1])

    claims = kinds.add_parser(
        "claims",
        help="claim-line files: CSV, CSV.gz or Parquet",
        description="Load claim-line files (columns: "
        + ", ".join(CLAIM_COLUMNS)
        + "; optional amounts in dollars: "
        + ", ".join(CLAIM_AMOUNT_COLUMNS)
        + ").",
    )
    claims.add_argument("files", nargs="+", metavar="FILE")
    _common_options(claims)
    claims.set_defaults(func=_cli_claims)

    puf = kinds.add_parser(
        "cms-puf",
        help='the CMS "Medicare Physician & Other Practitioners - by Provider and Service" CSV',
        description="Load one year of the CMS Medicare by Provider and Service file.",
    )
    puf.add_argument("file", metavar="FILE")
    puf.add_argument("--year", type=int, required=True, help="the year the file covers")
    _common_options(puf)
    puf.set_defaults(func=_cli_puf)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        dest="ingest_db",
        metavar="PATH",
        default=None,
        help="database file (default: $TOPRANK_DB or data/claims.duckdb)",
    )
    parser.add_argument(
        "--map",
        dest="column_map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rename a column of the file (repeatable), e.g. --map cpt=hcpcs_code",
    )
    parser.add_argument(
        "--rejects",
        metavar="PATH",
        default=None,
        help="where to write rejected rows (default: next to the database)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parse_map(items: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise IngestError(f"--map {item!r}: expected OLD=NEW")
        mapping[old.strip()] = new.strip()
    return mapping


def _cli_db(args: argparse.Namespace) -> str | None:
    return getattr(args, "ingest_db", None) or getattr(args, "db", None)


def _cli_claims(args: argparse.Namespace) -> int:
    return _cli_run(
        lambda: ingest_claims(
            _cli_db(args),
            args.files,
            column_map=_parse_map(args.column_map),
            rejects_path=args.rejects,
            progress=not args.no_progress,
        )
    )


def _cli_puf(args: argparse.Namespace) -> int:
    return _cli_run(
        lambda: ingest_cms_puf(
            _cli_db(args),
            args.file,
            year=args.year,
            column_map=_parse_map(args.column_map),
            rejects_path=args.rejects,
            progress=not args.no_progress,
        )
    )


def _cli_run(work: Callable[[], IngestReport]) -> int:
    try:
        report = work()
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was loaded, the database is unchanged", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment problem: say so, no traceback
        print(
            f"error: ingest failed ({type(exc).__name__}: {_first_line(exc)}); "
            "nothing was loaded, the database is unchanged",
            file=sys.stderr,
        )
        return 1
    print(format_report(report))
    return 0


def format_report(report: IngestReport) -> str:
    lines = list(report.notes)
    for f in report.files:
        span = f" {f.first_date} to {f.last_date}," if f.first_date else ""
        if report.kind == "cms-puf" and f.layout:
            lines.append(f.layout)
        skipped = f" / skipped {f.skipped:,} (the AMA copyright row)" if f.skipped else ""
        lines.append(
            f"{f.name}: read {f.read:,} / loaded {f.loaded:,} / rejected {f.rejected:,}"
            f"{skipped} (source #{f.source_id},{span} {f.procedures:,} procedures)"
        )
        if f.rejected:
            lines.append(f"  rejected: {_reasons_text(f.reasons)}")
    if len(report.files) > 1:
        lines.append(
            f"total: read {report.read:,} / loaded {report.loaded:,} / rejected {report.rejected:,}"
        )
    if report.rejects_problem:
        lines.append(report.rejects_problem)
    elif report.rejects_path:
        lines.append(f"rejected rows written to {report.rejects_path}")
    lines.append(f"database {report.db_path} updated in {report.seconds:.1f}s; {report.rollups}")
    return "\n".join(lines)
