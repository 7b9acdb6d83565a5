"""Rollups where the data lives: build them inside PostgreSQL or Spark from a claim-lines
table of the user's, export them as Parquet, import them into the embedded DuckDB.

    build(url, source, mapping)    one job in the warehouse: read the source once for
                                   the counts, build every rollup under a staging name,
                                   check it, then swap it in (PostgreSQL: one
                                   transaction; Spark: the renames come last)
    export(url, directory)         the rollups and sources as Parquet + manifest.json
    import_rollups(directory, db)  a DuckDB file holding those rollups (answers in ms)

The source's rows are checked with the rules ingest applies to claim files, in their
canonical form (a warehouse table is typed already): what cannot be counted is
reported by reason and left out, and loaded + rejected = read is checked before the
swap, as are the procedures: every rollup adds up to the loaded lines' procedures.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from toprank.data.catalog import Catalog, load_catalog
from toprank.sql.dialects import DUCKDB, POSTGRES, SPARK, param_types, render_tree
from toprank.sql.engines import EngineUnavailable, EngineURLError, redact, scheme

BUILD_SQL = Path(__file__).resolve().parent / "scaleout" / "build_rollups.sql"
STAGING = "toprank_build_"
# The tables a build makes and an export copies, in the order the answers need them.
ROLLUP_TABLES = ("rollup_national", "rollup_month", "rollup_detail", "rollup_claims")
EXPORTED_TABLES = (*ROLLUP_TABLES, "sources")
SCRATCH_TABLES = ("month_base", "per_claim")
# Each table's columns, as DuckDB types (data/rollups.sql, data/schema.sql): an export
# writes these types whatever the warehouse returned, and an import checks them.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "rollup_national": (
        ("cohort", "VARCHAR"),
        ("month", "DATE"),
        ("hcpcs_code", "VARCHAR"),
        ("procedures", "BIGINT"),
        ("units", "BIGINT"),
        ("claims", "BIGINT"),
        ("payments_cents", "BIGINT"),
        ("allowed_cents", "BIGINT"),
        ("charges_cents", "BIGINT"),
        ("beneficiaries", "BIGINT"),
        ("payments_procedures", "BIGINT"),
        ("allowed_procedures", "BIGINT"),
        ("charges_procedures", "BIGINT"),
        ("beneficiaries_procedures", "BIGINT"),
    ),
    "rollup_month": (
        ("cohort", "VARCHAR"),
        ("month", "DATE"),
        ("state", "VARCHAR"),
        ("payer", "VARCHAR"),
        ("hcpcs_code", "VARCHAR"),
        ("procedures", "BIGINT"),
        ("units", "BIGINT"),
        ("claims", "BIGINT"),
        ("payments_cents", "BIGINT"),
        ("allowed_cents", "BIGINT"),
        ("charges_cents", "BIGINT"),
        ("beneficiaries", "BIGINT"),
        ("payments_procedures", "BIGINT"),
        ("allowed_procedures", "BIGINT"),
        ("charges_procedures", "BIGINT"),
        ("beneficiaries_procedures", "BIGINT"),
    ),
    "rollup_detail": (
        ("cohort", "VARCHAR"),
        ("month", "DATE"),
        ("state", "VARCHAR"),
        ("payer", "VARCHAR"),
        ("place_of_service", "VARCHAR"),
        ("facility_setting", "VARCHAR"),
        ("modifiers", "VARCHAR"),
        ("hcpcs_code", "VARCHAR"),
        ("procedures", "BIGINT"),
        ("units", "BIGINT"),
        ("payments_cents", "BIGINT"),
        ("allowed_cents", "BIGINT"),
        ("charges_cents", "BIGINT"),
        ("beneficiaries", "BIGINT"),
        ("payments_procedures", "BIGINT"),
        ("allowed_procedures", "BIGINT"),
        ("charges_procedures", "BIGINT"),
        ("beneficiaries_procedures", "BIGINT"),
    ),
    "rollup_claims": (
        ("cohort", "VARCHAR"),
        ("month", "DATE"),
        ("state", "VARCHAR"),
        ("payer", "VARCHAR"),
        ("place_of_service", "VARCHAR"),
        ("claims", "BIGINT"),
    ),
    "sources": (
        ("source_id", "INTEGER"),
        ("name", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("fingerprint", "VARCHAR"),
        ("rows_read", "BIGINT"),
        ("rows_loaded", "BIGINT"),
        ("rows_rejected", "BIGINT"),
        ("first_date", "DATE"),
        ("last_date", "DATE"),
        ("loaded_at", "TIMESTAMP"),
    ),
}
# How DuckDB's build orders each table (its zone maps skip months by this order).
IMPORT_ORDER = {
    "rollup_national": "cohort, month, hcpcs_code",
    "rollup_month": "cohort, month, hcpcs_code, state, payer",
    "rollup_detail": "month, cohort, hcpcs_code",
    "rollup_claims": "cohort, month, state, payer, place_of_service",
    "sources": "source_id",
}

# The claim-lines columns a source table provides (named so, or mapped with --map).
# cohort may be left out when rendering_taxonomy is there (the taxonomy decides, as at
# ingest); the optional ones default as at ingest.
AMOUNT_COLUMNS = ("payments_cents", "allowed_cents", "charges_cents", "beneficiaries")
REQUIRED = ("claim_id", "service_date", "hcpcs_code", "payer", "state")
OPTIONAL = (
    "modifiers",
    "units",
    "place_of_service",
    "procedures",
    "cohort",
    "rendering_taxonomy",
    # money in whole cents and beneficiaries, as claim_lines holds them (NULL: none)
    *AMOUNT_COLUMNS,
)
SOURCE_COLUMNS = (*REQUIRED, *OPTIONAL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODE_PATTERN = "^([0-9]{4}[0-9FMTU]|[A-Z][0-9]{4})$"  # ingest_code, canonical
_MODIFIERS_PATTERN = "^[A-Z0-9]{2}( [A-Z0-9]{2})*$"
_PLACE_PATTERN = "^[0-9]{2}$"
EARLIEST_SERVICE = date(1990, 1, 1)


class BuildError(ValueError):
    """The build cannot run as asked (said in one line; nothing was changed)."""


# ---------------------------------------------------------------- statements


class Runner(Protocol):
    dialect: str

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def columns(self, table: str) -> list[str]: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class _PostgresRunner:
    """One connection, one transaction for the whole build (DDL is transactional)."""

    dialect = POSTGRES

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ModuleNotFoundError:
            raise EngineUnavailable(
                "PostgreSQL needs psycopg: pip install 'toprank[postgres]'"
            ) from None
        try:
            self.con = psycopg.connect(url, autocommit=False, application_name="toprank build")
        except psycopg.Error as error:
            raise EngineUnavailable(f"cannot connect to {redact(url)}: {error}") from None

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        # Always with a (maybe empty) dict: psycopg then reads %% as %, which is how
        # sql.dialects writes a literal percent for PostgreSQL.
        cursor = self.con.execute(sql, dict(params or {}))
        return list(cursor.fetchall()) if cursor.description else []

    def columns(self, table: str) -> list[str]:
        cursor = self.con.execute(f"SELECT * FROM {table} LIMIT 0")
        return [c.name for c in cursor.description or ()]

    def commit(self) -> None:
        self.con.commit()

    def close(self) -> None:
        self.con.close()  # an uncommitted build is rolled back


class _SparkRunner:
    dialect = SPARK

    def __init__(self, url: str) -> None:
        from toprank.sql.engine_spark import SparkEngine

        self.engine = SparkEngine(url, timeout=3600)
        self.session = self.engine.session()

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.session.sql(sql, args=dict(params or {}) or None).collect()]

    def columns(self, table: str) -> list[str]:
        return list(self.session.sql(f"SELECT * FROM {table} LIMIT 0").columns)

    def commit(self) -> None:
        pass  # each statement is its own job; the swap is last

    def close(self) -> None:
        self.engine.close()


RUNNERS: dict[str, Callable[[str], Runner]] = {
    "postgresql": _PostgresRunner,
    "postgres": _PostgresRunner,
    "sc": _SparkRunner,
}


def open_runner(url: str) -> Runner:
    kind = scheme(url)
    runner = RUNNERS.get(kind or "")
    if runner is None:
        raise EngineURLError(
            f"--engine {redact(url)} is not a warehouse (use postgresql://... or sc://host:port); "
            "the embedded DuckDB builds its rollups at ingest"
        )
    return runner(url)


def _execute(runner: Runner, tree: exp.Expression, params: Mapping[str, Any] | None = None):
    types = param_types(tuple(sorted((params or {}).items()))) if params else ()
    return runner.run(render_tree(tree, runner.dialect, types), params)


def _parse(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=DUCKDB)
    assert isinstance(tree, exp.Expression)
    return tree


def build_statements() -> list[exp.Expression]:
    """The rollup statements of sql/scaleout/build_rollups.sql, parsed (DuckDB dialect)."""
    text = BUILD_SQL.read_text(encoding="utf-8")
    return [s for s in sqlglot.parse(text, read=DUCKDB) if isinstance(s, exp.Expression)]


# ---------------------------------------------------------------- the source


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """--map column=name ...: our column -> the source table's column."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise BuildError(f"--map {pair!r} is not column=name (e.g. service_date=svc_dt)")
        if ours not in SOURCE_COLUMNS:
            raise BuildError(
                f"--map {pair!r}: {ours!r} is not a claim-lines column "
                f"({', '.join(SOURCE_COLUMNS)})"
            )
        if not _IDENTIFIER.fullmatch(theirs):
            raise BuildError(f"--map {pair!r}: {theirs!r} is not a column name")
        mapping[ours] = theirs
    return mapping


def check_table_name(source: str) -> exp.Table:
    """A source table name (table, schema.table or catalog.schema.table), never SQL."""
    parts = source.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise BuildError(f"--source {source!r} is not a table name (table or schema.table)")
    return exp.to_table(source, dialect=DUCKDB)


def source_view(
    table: exp.Table, present: Sequence[str], mapping: Mapping[str, str], catalog: Catalog
) -> exp.Expression:
    """SELECT the claim-lines columns from the source (mapped, typed, defaults filled)."""
    have = {c.lower(): c for c in present}

    def column(ours: str) -> exp.Expression | None:
        name = mapping.get(ours, ours)
        actual = have.get(name.lower())
        return exp.column(actual, quoted=True) if actual is not None else None

    missing = [c for c in REQUIRED if column(c) is None]
    if column("cohort") is None and column("rendering_taxonomy") is None:
        missing.append("cohort (or rendering_taxonomy)")
    if missing:
        raise BuildError(
            f"the source has no column for {', '.join(missing)} "
            f"(its columns: {', '.join(present)}); name one with --map column=name"
        )

    def typed(ours: str, kind: str, default: exp.Expression | None = None) -> Any:
        found = column(ours)
        value = exp.cast(found, kind) if found is not None else default or exp.null()
        if found is None and default is None:
            value = exp.cast(value, kind)
        return exp.alias_(value, ours)

    taxonomy = column("rendering_taxonomy")
    cohort = column("cohort")
    if cohort is None:
        assert taxonomy is not None
        # the provider's taxonomy decides the cohort, as at ingest (unknown: 'other')
        case = exp.Case(this=exp.cast(taxonomy, "VARCHAR"))
        for code, name in sorted(catalog.taxonomy.items()):
            case = case.when(exp.Literal.string(code), exp.Literal.string(name))
        cohort_value: exp.Expression = case.else_(exp.Literal.string("other"))
    else:
        cohort_value = exp.cast(cohort, "VARCHAR")
    # the fee schedule's setting of the place of service, as at ingest
    # (data/facility_places.csv; no place, no setting)
    place = column("place_of_service")
    setting: exp.Expression = exp.cast(exp.null(), "VARCHAR")
    if place is not None:
        setting = (
            exp.Case()
            .when(
                exp.cast(place, "VARCHAR").isin(
                    *(exp.Literal.string(c) for c in sorted(catalog.facility_places))
                ),
                exp.Literal.string("facility"),
            )
            .when(
                exp.not_(exp.cast(place, "VARCHAR").is_(exp.null())),
                exp.Literal.string("non-facility"),
            )
        )
    selects = [
        typed("claim_id", "VARCHAR"),
        typed("service_date", "DATE"),
        typed("hcpcs_code", "VARCHAR"),
        typed("modifiers", "VARCHAR"),
        typed("units", "BIGINT"),
        typed("place_of_service", "VARCHAR"),
        typed("payer", "VARCHAR"),
        typed("state", "VARCHAR"),
        typed("procedures", "BIGINT", exp.cast(exp.Literal.number(1), "BIGINT")),
        exp.alias_(cohort_value, "cohort"),
        exp.alias_(setting, "facility_setting"),
        *(typed(name, "BIGINT") for name in AMOUNT_COLUMNS),
    ]
    return exp.select(*selects).from_(table.copy())


def _in(column: str, values: Sequence[str]) -> exp.Expression:
    return exp.column(column).isin(*(exp.Literal.string(v) for v in values))


def _regexp(column: str, pattern: str) -> exp.Expression:
    return exp.RegexpLike(this=exp.column(column), expression=exp.Literal.string(pattern))


def reject_reasons(catalog: Catalog, today: date) -> exp.Expression:
    """The first rule a row breaks (NULL: the row is loaded). Ingest's rules for claims,
    on values in canonical form; the lists are our reference data, never user text."""
    rules: list[tuple[Any, str]] = [
        (exp.column("claim_id").is_(exp.null()), "claim_id missing"),
        (exp.column("service_date").is_(exp.null()), "service_date missing"),
        (
            exp.or_(
                exp.column("service_date")
                < exp.cast(exp.Literal.string(str(EARLIEST_SERVICE)), "DATE"),
                exp.column("service_date") > exp.cast(exp.Literal.string(str(today)), "DATE"),
            ),
            f"service_date before {EARLIEST_SERVICE} or after today",
        ),
        (
            exp.or_(
                exp.column("hcpcs_code").is_(exp.null()),
                exp.not_(_regexp("hcpcs_code", _CODE_PATTERN)),
            ),
            "hcpcs_code is not a HCPCS/CPT code",
        ),
        (
            exp.and_(
                exp.not_(exp.column("modifiers").is_(exp.null())),
                exp.not_(_regexp("modifiers", _MODIFIERS_PATTERN)),
            ),
            "modifiers are not two-character codes separated by spaces",
        ),
        (exp.column("units") < exp.Literal.number(0), "units below 0"),
        *((exp.column(name) < exp.Literal.number(0), f"{name} below 0") for name in AMOUNT_COLUMNS),
        (
            exp.and_(
                exp.not_(exp.column("place_of_service").is_(exp.null())),
                exp.not_(_regexp("place_of_service", _PLACE_PATTERN)),
            ),
            "place_of_service is not a two-digit code",
        ),
        (
            exp.or_(
                exp.column("payer").is_(exp.null()), exp.not_(_in("payer", list(catalog.payers)))
            ),
            f"payer is not one of {', '.join(catalog.payers)}",
        ),
        (
            exp.or_(
                exp.column("state").is_(exp.null()), exp.not_(_in("state", list(catalog.states)))
            ),
            "state is not a USPS state code",
        ),
        (
            exp.or_(
                exp.column("cohort").is_(exp.null()),
                exp.not_(_in("cohort", list(catalog.provider_cohorts))),
            ),
            f"cohort is not one of {', '.join(catalog.provider_cohorts)}",
        ),
        (
            exp.or_(
                exp.column("procedures").is_(exp.null()),
                exp.column("procedures") < exp.Literal.number(1),
            ),
            "procedures missing or below 1",
        ),
    ]
    case = exp.Case()
    for condition, reason in rules:
        case = case.when(condition, exp.Literal.string(reason))
    return case


# ---------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildReport:
    source: str
    read: int
    loaded: int
    rejected: int
    reasons: tuple[tuple[str, int], ...]
    first_date: date | None
    last_date: date | None
    procedures: int
    tables: tuple[tuple[str, int], ...]  # table -> rows
    seconds: float


def _create_view(runner: Runner, name: str, select: exp.Expression) -> None:
    # A temporary view: the build's session sees it, nothing else does.
    view = exp.Create(
        this=exp.to_table(name),
        kind="VIEW",
        expression=select,
        replace=True,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )
    _execute(runner, view)


def _drop(runner: Runner, table: str) -> None:
    _execute(runner, _parse(f"DROP TABLE IF EXISTS {table}"))


def build(
    url: str,
    source: str,
    mapping: Mapping[str, str] | None = None,
    *,
    today: date | None = None,
    catalog: Catalog | None = None,
) -> BuildReport:
    """Build the rollups inside the warehouse at `url` from its table `source`."""
    started = time.perf_counter()
    catalog = catalog or load_catalog()
    today = today or date.today()
    table = check_table_name(source)
    runner = open_runner(url)
    try:
        try:
            present = runner.columns(table.sql(dialect=runner.dialect))
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BuildError(f"cannot read the source table {source!r}: {first[:300]}") from None
        _create_view(runner, "toprank_source", source_view(table, present, mapping or {}, catalog))
        checked = exp.select(
            "*", exp.alias_(reject_reasons(catalog, today), "reject_reason")
        ).from_("toprank_source")
        _create_view(runner, "toprank_checked", checked)
        lines = (
            exp.select(*SOURCE_COLUMNS_OUT)
            .from_("toprank_checked")
            .where(exp.column("reject_reason").is_(exp.null()))
        )
        _create_view(runner, "toprank_lines", lines)
        counted = _execute(
            runner,
            _parse(
                "SELECT reject_reason, CAST(COUNT(*) AS BIGINT) FROM toprank_checked GROUP BY 1"
            ),
        )
        reasons = tuple(
            sorted(((str(r), int(n)) for r, n in counted if r is not None), key=lambda x: -x[1])
        )
        read = sum(int(n) for _, n in counted)
        rejected = sum(n for _, n in reasons)
        loaded_row = _execute(
            runner,
            _parse(
                "SELECT CAST(COUNT(*) AS BIGINT), MIN(service_date), MAX(service_date), "
                "CAST(coalesce(SUM(procedures), 0) AS BIGINT) FROM toprank_lines"
            ),
        )[0]
        loaded, first, last, procedures = (
            int(loaded_row[0]),
            loaded_row[1],
            loaded_row[2],
            int(loaded_row[3]),
        )
        if loaded + rejected != read:
            raise BuildError(f"{loaded:,} loaded + {rejected:,} rejected != {read:,} read")
        if loaded == 0:
            raise BuildError(
                f"no row of {source!r} can be counted ({read:,} read, all rejected: "
                + "; ".join(f"{r} ({n:,})" for r, n in reasons[:3])
                + ")"
            )
        for name in (*EXPORTED_TABLES, *SCRATCH_TABLES):
            _drop(runner, STAGING + name)
        for statement in build_statements():
            _execute(runner, statement)
        insert = _parse(
            f"INSERT INTO {STAGING}sources VALUES ($source_id, $name, $kind, $fingerprint, "
            "$rows_read, $rows_loaded, $rows_rejected, $first_date, $last_date, $loaded_at)"
        )
        _execute(
            runner,
            insert,
            {
                "source_id": 1,
                "name": f"warehouse table {source}",
                "kind": "warehouse",
                "fingerprint": f"{scheme(url)}:{source}",
                "rows_read": read,
                "rows_loaded": loaded,
                "rows_rejected": rejected,
                "first_date": _as_date(first),
                "last_date": _as_date(last),
                "loaded_at": datetime.now().replace(microsecond=0),
            },
        )
        _check_totals(runner, procedures)
        tables = []
        for name in EXPORTED_TABLES:
            rows = _execute(runner, _parse(f"SELECT CAST(COUNT(*) AS BIGINT) FROM {STAGING}{name}"))
            tables.append((name, int(rows[0][0])))
        for name in EXPORTED_TABLES:  # the swap: last, and one transaction on PostgreSQL
            _drop(runner, name)
            _execute(runner, _parse(f"ALTER TABLE {STAGING}{name} RENAME TO {name}"))
        for name in SCRATCH_TABLES:
            _drop(runner, STAGING + name)
        runner.commit()
    finally:
        runner.close()
    return BuildReport(
        source=source,
        read=read,
        loaded=loaded,
        rejected=rejected,
        reasons=reasons,
        first_date=_as_date(first),
        last_date=_as_date(last),
        procedures=procedures,
        tables=tuple(tables),
        seconds=time.perf_counter() - started,
    )


SOURCE_COLUMNS_OUT = (
    "claim_id",
    "service_date",
    "hcpcs_code",
    "modifiers",
    "units",
    "place_of_service",
    "payer",
    "state",
    "procedures",
    "cohort",
    "facility_setting",
    *AMOUNT_COLUMNS,
)


def _check_totals(runner: Runner, procedures: int) -> None:
    """Every rollup adds up to the loaded lines' procedures (nothing lost in a GROUP BY)."""
    for table, where in (
        ("rollup_detail", ""),
        ("rollup_month", " WHERE cohort = 'all'"),
        ("rollup_national", " WHERE cohort = 'all'"),
    ):
        got = _execute(
            runner,
            _parse(
                f"SELECT CAST(coalesce(SUM(procedures), 0) AS BIGINT) FROM {STAGING}{table}{where}"
            ),
        )[0][0]
        if int(got) != procedures:
            raise BuildError(f"{table} holds {int(got):,} procedures, the lines {procedures:,}")


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------- export / import

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    procedures: int | None  # the sum, where the table has procedures (a check on import)


def _arrow_schema(table: str) -> Any:
    import pyarrow as pa

    kinds = {
        "VARCHAR": pa.string(),
        "DATE": pa.date32(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "TIMESTAMP": pa.timestamp("us"),
    }
    return pa.schema([(name, kinds[kind]) for name, kind in COLUMNS[table]])


def _fetch_table(url: str, table: str) -> Any:
    """The whole table as an Arrow table with the schema of COLUMNS[table]."""
    import pyarrow as pa

    names = ", ".join(name for name, _ in COLUMNS[table])
    sql = f"SELECT {names} FROM {table}"
    kind = scheme(url)
    schema = _arrow_schema(table)
    if kind in ("postgresql", "postgres"):
        import psycopg

        batches = []
        with psycopg.connect(url) as con, con.cursor(name=f"toprank_export_{table}") as cursor:
            con.read_only = True
            cursor.itersize = 100_000
            cursor.execute(sql)
            while rows := cursor.fetchmany(100_000):
                columns = list(zip(*rows, strict=True))
                batches.append(pa.record_batch([pa.array(c) for c in columns], names=schema.names))
        if not batches:
            return schema.empty_table()
        return pa.Table.from_batches(batches).cast(schema)
    runner = open_runner(url)
    try:
        assert isinstance(runner, _SparkRunner)
        return runner.session.sql(sql).toArrow().cast(schema)
    finally:
        runner.close()


def export(url: str, directory: str | os.PathLike) -> tuple[TableCopy, ...]:
    """Write each rollup table and sources to DIR/<table>.parquet, and a manifest with
    their rows and procedures for the import to check."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for table in EXPORTED_TABLES:
        try:
            data = _fetch_table(url, table)
        except (EngineUnavailable, EngineURLError):
            raise
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BuildError(
                f"cannot read {table} from {redact(url)} (build it with `toprank data build`): "
                f"{first[:200]}"
            ) from None
        partial = out / f".{table}.parquet.partial"
        pq.write_table(data, partial)
        partial.replace(out / f"{table}.parquet")
        total = pc.sum(data["procedures"]).as_py() if "procedures" in data.column_names else None
        copies.append(TableCopy(table, data.num_rows, int(total) if total is not None else None))
    manifest = {
        "engine": redact(url),
        "exported_at": datetime.now().replace(microsecond=0).isoformat(),
        "tables": {c.table: {"rows": c.rows, "procedures": c.procedures} for c in copies},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return tuple(copies)


def import_rollups(
    directory: str | os.PathLike, db_path: str | os.PathLike, *, force: bool = False
) -> tuple[TableCopy, ...]:
    """A DuckDB file at `db_path` holding the exported rollups and sources (no claim
    lines: they stay in the warehouse). Written beside the target and renamed into
    place only when every table matches the manifest, so a failed import changes nothing."""

    from toprank.data import db

    source = Path(directory)
    manifest_path = source / MANIFEST
    if not manifest_path.exists():
        raise BuildError(f"{source} holds no {MANIFEST}: export it with `toprank data export`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["tables"]
    except (ValueError, KeyError) as error:
        raise BuildError(f"{manifest_path} is not an export manifest ({error})") from None
    missing = [t for t in EXPORTED_TABLES if not (source / f"{t}.parquet").exists()]
    if missing or set(expected) != set(EXPORTED_TABLES):
        raise BuildError(f"{source} is missing {', '.join(missing or ['manifest entries'])}")
    target = Path(db_path)
    if target.exists() and not force:
        raise BuildError(f"{target} already exists; add --force to replace it")
    partial = target.with_name(target.name + ".import.tmp")
    partial.unlink(missing_ok=True)
    copies = []
    con = db.connect_rw(partial)
    try:
        db.create_schema(con)
        for table in EXPORTED_TABLES:
            path = str(source / f"{table}.parquet")
            columns = ", ".join(f"CAST({n} AS {k}) AS {n}" for n, k in COLUMNS[table])
            found = [
                r[0]
                for r in con.execute(
                    "DESCRIBE SELECT * FROM read_parquet($p)", {"p": path}
                ).fetchall()
            ]
            wanted = [n for n, _ in COLUMNS[table]]
            if found != wanted:
                raise BuildError(f"{path} has columns {found}, expected {wanted}")
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(
                f"CREATE TABLE {table} AS SELECT {columns} FROM read_parquet($p) "
                f"ORDER BY {IMPORT_ORDER[table]}",
                {"p": path},
            )
            rows = _scalar(con, f"SELECT count(*) FROM {table}")
            total = None
            if any(n == "procedures" for n, _ in COLUMNS[table]):
                total = _scalar(
                    con, f"SELECT CAST(coalesce(sum(procedures), 0) AS BIGINT) FROM {table}"
                )
            want = expected[table]
            if rows != want["rows"] or total != want["procedures"]:
                raise BuildError(
                    f"{table}: {rows:,} rows and {total} procedures, the export had "
                    f"{want['rows']:,} and {want['procedures']}"
                )
            copies.append(TableCopy(table, int(rows), total))
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        partial.unlink(missing_ok=True)
        raise
    con.close()
    partial.replace(target)
    return tuple(copies)


def _scalar(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row is not None else 0
