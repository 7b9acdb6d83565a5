"""The demo dataset: calibration to the published tables (SQL over the rollups of the real
1M-line DuckDB file), exact quotas, determinism, coverage, variation, line details, the
atomic build and the `toprank data demo|info` commands."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from toprank.data import db
from toprank.data import demo as demo_mod
from toprank.data.catalog import in_rehab_range
from toprank.data.demo import (
    CalibrationError,
    build_demo,
    calibration_problems,
    code_year_counts,
    ensure_database,
    largest_remainder,
    load_spec,
    luhn_valid_npi,
    quota_index_cells,
    systematic_round,
)

REPO = Path(__file__).resolve().parents[1]
# The copy kept with the tests is preferred; the shared reference is the fallback.
PUBLISHED_COPY = Path(__file__).resolve().parent / "data" / "published_rankings.csv"
PUBLISHED_SHARED = Path(__file__).resolve().parents[2] / "shared/reference/published_rankings.csv"
COHORTS = ("pt", "ot", "slp", "chiro", "pmr", "other")


def published_tables() -> dict[str, list[dict[str, str]]]:
    path = next((p for p in (PUBLISHED_COPY, PUBLISHED_SHARED) if p.exists()), None)
    if path is None:
        pytest.skip("published_rankings.csv not found")
    tables: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            tables[row["list"]].append(row)
    return dict(tables)


def shares(con: duckdb.DuckDBPyConnection, cohort: str, start: str, end: str) -> list[tuple]:
    """(code, procedures, share %) of the cohort in the period, ranked, from the rollup."""
    return con.execute(
        """
        SELECT hcpcs_code, p, 100.0 * p / sum(p) OVER () AS share
        FROM (SELECT hcpcs_code, sum(procedures) AS p FROM rollup_national
              WHERE cohort = $cohort AND month BETWEEN $start AND $end GROUP BY hcpcs_code)
        ORDER BY p DESC, hcpcs_code
        """,
        {"cohort": cohort, "start": date.fromisoformat(start), "end": date.fromisoformat(end)},
    ).fetchall()


def rounded(share: float, precision: str) -> float:
    return float(round(share)) if precision == "integer percent" else round(share, 1)


@pytest.fixture(scope="module")
def con(demo_db: Path):
    connection = db.connect_ro(demo_db)
    yield connection
    connection.close()


# ---------------------------------------------------------------- published tables


def test_test_copy_of_published_table_matches_shared_reference() -> None:
    if not PUBLISHED_SHARED.exists():
        pytest.skip("shared reference not in this checkout")
    assert PUBLISHED_COPY.read_bytes() == PUBLISHED_SHARED.read_bytes()


def test_rehab_2023_top_15_in_published_order_with_one_decimal_shares(con) -> None:
    table = published_tables()["rehab_2023"]
    got = shares(con, "rehab", table[0]["period_start"], table[0]["period_end"])
    assert [code for code, _, _ in got[: len(table)]] == [row["code"] for row in table]
    for (code, _, share), row in zip(got, table, strict=False):
        assert int(row["rank"]) == [c for c, _, _ in got].index(code) + 1
        assert rounded(share, row["precision"]) == float(row["share_pct"]), code
    # Everything outside the published 15 ranks below the 15th (97032) outright.
    fifteenth = got[len(table) - 1]
    assert all(share < fifteenth[2] for _, _, share in got[len(table) :])
    assert all(p < fifteenth[1] for _, p, _ in got[len(table) :])


def test_rehab_cohort_is_every_rehab_range_code_from_every_provider(con) -> None:
    by_cohort = con.execute(
        "SELECT count(DISTINCT cohort) FROM claim_lines "
        "WHERE hcpcs_code BETWEEN '97010' AND '97799' AND service_date >= '2023-01-01'"
    ).fetchone()[0]
    assert by_cohort == 6  # every provider cohort bills some rehab-range code
    rehab, direct = con.execute(
        "SELECT (SELECT sum(procedures) FROM rollup_national WHERE cohort = 'rehab'), "
        "(SELECT sum(procedures) FROM claim_lines WHERE hcpcs_code BETWEEN '97010' AND '97799')"
    ).fetchone()
    assert rehab == direct


def test_ot_2022_top_3_and_published_integer_shares(con) -> None:
    table = published_tables()["ot_2022"]
    got = shares(con, "ot", table[0]["period_start"], table[0]["period_end"])
    codes = [code for code, _, _ in got]
    share = {code: s for code, _, s in got}
    for row in table:
        if row["rank"]:
            assert codes.index(row["code"]) + 1 == int(row["rank"]), row["code"]
        else:  # published as "within the top 10"
            assert row["code"] in codes[:10], row["code"]
        assert rounded(share[row["code"]], row["precision"]) == float(row["share_pct"])


def test_pt_2022_top_3_is_97110_97140_97530(con) -> None:
    got = shares(con, "pt", "2022-01-01", "2022-12-31")
    assert [code for code, _, _ in got[:3]] == ["97110", "97140", "97530"]


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_calibration_holds_at_larger_scales() -> None:
    """The quotas behind the published tables are exact, so every size reproduces them."""
    spec = load_spec()
    for lines in (1_000_000, 2_345_678, 10_000_000, 100_000_000, 1_000_000_000):
        counts = code_year_counts(spec, lines)
        assert counts["n"].sum() == lines
        assert calibration_problems(counts, spec) == [], lines


def test_calibration_check_catches_a_wrong_table() -> None:
    spec = load_spec()
    counts = code_year_counts(spec, 1_000_000)
    swapped = counts.copy()
    ot_2022 = (swapped["cohort"] == "ot") & (swapped["year"] == 2022)
    n_110 = swapped.loc[ot_2022 & (swapped["code"] == "97110"), "n"].iloc[0]
    n_140 = swapped.loc[ot_2022 & (swapped["code"] == "97140"), "n"].iloc[0]
    swapped.loc[ot_2022 & (swapped["code"] == "97110"), "n"] = n_140
    swapped.loc[ot_2022 & (swapped["code"] == "97140"), "n"] = n_110
    assert calibration_problems(counts, spec) == []
    assert any("ot 2022" in p for p in calibration_problems(swapped, spec))


# ---------------------------------------------------------------- size and coverage


def test_loaded_lines_equal_requested(con) -> None:
    lines, procedures = con.execute("SELECT count(*), sum(procedures) FROM claim_lines").fetchone()
    assert lines == procedures == 1_000_000
    source = con.execute(
        "SELECT source_id, kind, rows_read, rows_loaded, rows_rejected, fingerprint FROM sources"
    ).fetchall()
    assert source == [(1, "demo", 1_000_000, 1_000_000, 0, "demo:v1:lines=1000000")]


def test_coverage_2019_through_september_2023_every_month(con) -> None:
    coverage = db.read_coverage(con)
    assert (coverage.start, coverage.end) == (date(2019, 1, 1), date(2023, 9, 30))
    assert coverage.claim_lines == coverage.procedures == 1_000_000
    first, last = con.execute(
        "SELECT min(service_date), max(service_date) FROM claim_lines"
    ).fetchone()
    assert date(2019, 1, 1) <= first <= date(2019, 1, 4)
    assert date(2023, 9, 27) <= last <= date(2023, 9, 30)
    for cohort in (*COHORTS, "rehab", "all"):
        months = con.execute(
            "SELECT count(DISTINCT month) FROM rollup_national WHERE cohort = $c", {"c": cohort}
        ).fetchone()[0]
        assert months == 57, cohort


def test_every_state_payer_and_cohort(con, catalog) -> None:
    states = {r[0] for r in con.execute("SELECT DISTINCT state FROM claim_lines").fetchall()}
    assert states == set(catalog.us_states) and len(states) == 51
    payers = {r[0] for r in con.execute("SELECT DISTINCT payer FROM claim_lines").fetchall()}
    assert payers == {"medicare", "medicaid", "commercial", "other"}
    cohorts = {r[0] for r in con.execute("SELECT DISTINCT cohort FROM rollup_month").fetchall()}
    assert cohorts == {*COHORTS, "rehab", "all"}
    # Every state sees every provider cohort in every year, and every payer in every year.
    for key in ("cohort", "payer"):
        full = con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT state, {key}, year(month) FROM rollup_month "
            "WHERE cohort NOT IN ('rehab', 'all'))"
        ).fetchone()[0]
        assert full == 51 * (6 if key == "cohort" else 4) * 5, key


def test_every_billed_code_is_in_the_code_dictionary(con, catalog) -> None:
    codes = {r[0] for r in con.execute("SELECT DISTINCT hcpcs_code FROM claim_lines").fetchall()}
    assert codes <= set(catalog.codes)


# ---------------------------------------------------------------- rollups


_REHAB = "hcpcs_code BETWEEN '97010' AND '97799' AND length(hcpcs_code) = 5"


def _mismatches(con, expected: str, table: str, columns: str) -> int:
    """Rows in one and not the other, both ways (0 when the rollup is exact)."""
    return con.execute(
        f"WITH expected AS ({expected}), got AS (SELECT {columns} FROM {table}) "
        "SELECT count(*) FROM ((SELECT * FROM expected EXCEPT ALL SELECT * FROM got) "
        "UNION ALL (SELECT * FROM got EXCEPT ALL SELECT * FROM expected))"
    ).fetchone()[0]


def test_rollup_month_matches_claim_lines_exactly(con) -> None:
    # procedures, units and distinct claims per code, straight from the lines
    grain = "date_trunc('month', service_date)::DATE AS month, state, payer, hcpcs_code"
    measures = (
        "sum(procedures)::BIGINT, coalesce(sum(units), 0)::BIGINT, count(DISTINCT claim_id)::BIGINT"
    )
    expected = (
        f"SELECT cohort, {grain}, {measures} FROM claim_lines GROUP BY ALL "
        f"UNION ALL SELECT 'rehab', {grain}, {measures} FROM claim_lines WHERE {_REHAB} "
        "GROUP BY ALL "
        f"UNION ALL SELECT 'all', {grain}, {measures} FROM claim_lines GROUP BY ALL"
    )
    columns = "cohort, month, state, payer, hcpcs_code, procedures, units, claims"
    assert _mismatches(con, expected, "rollup_month", columns) == 0


def test_rollup_detail_and_claims_match_claim_lines_exactly(con) -> None:
    grain = (
        "cohort, date_trunc('month', service_date)::DATE AS month, state, payer, "
        "coalesce(place_of_service, '') AS pos"
    )
    detail = (
        f"SELECT {grain}, coalesce(modifiers, ''), hcpcs_code, sum(procedures)::BIGINT, "
        "coalesce(sum(units), 0)::BIGINT FROM claim_lines GROUP BY ALL"
    )
    assert (
        _mismatches(
            con,
            detail,
            "rollup_detail",
            "cohort, month, state, payer, "
            "place_of_service, modifiers, hcpcs_code, procedures, units",
        )
        == 0
    )
    # claims of a scope, no code split (a demo claim is one cohort, day, state, payer, place)
    claims = (
        f"SELECT {grain}, count(DISTINCT claim_id)::BIGINT FROM claim_lines GROUP BY ALL "
        f"UNION ALL SELECT 'rehab', date_trunc('month', service_date)::DATE, state, payer, "
        f"coalesce(place_of_service, ''), count(DISTINCT claim_id)::BIGINT FROM claim_lines "
        f"WHERE {_REHAB} GROUP BY ALL "
        f"UNION ALL SELECT 'all', date_trunc('month', service_date)::DATE, state, payer, "
        f"coalesce(place_of_service, ''), count(DISTINCT claim_id)::BIGINT FROM claim_lines "
        "GROUP BY ALL"
    )
    summed = (
        "SELECT cohort, month, state, payer, place_of_service, sum(claims)::BIGINT "
        "FROM rollup_claims GROUP BY ALL"
    )
    assert _mismatches(con, claims, f"({summed})", "*") == 0


def test_rollup_totals(con) -> None:
    totals = dict(
        con.execute("SELECT cohort, sum(procedures) FROM rollup_national GROUP BY 1").fetchall()
    )
    assert totals["all"] == 1_000_000
    assert sum(totals[c] for c in COHORTS) == totals["all"]
    national = con.execute(
        "SELECT count(*) FROM ("
        "(SELECT cohort, month, hcpcs_code, sum(procedures) FROM rollup_month GROUP BY ALL "
        " EXCEPT SELECT cohort, month, hcpcs_code, procedures FROM rollup_national) UNION ALL "
        "(SELECT cohort, month, hcpcs_code, procedures FROM rollup_national EXCEPT "
        " SELECT cohort, month, hcpcs_code, sum(procedures) FROM rollup_month GROUP BY ALL))"
    ).fetchone()[0]
    assert national == 0


# ---------------------------------------------------------------- realistic variation


def _payer_share(con, state: str, payer: str) -> float:
    return con.execute(
        "SELECT 100.0 * sum(procedures) FILTER (WHERE payer = $p) / sum(procedures) "
        "FROM rollup_month WHERE cohort = 'all' AND state = $s",
        {"p": payer, "s": state},
    ).fetchone()[0]


def test_payer_mix_varies_by_state_and_cohort(con) -> None:
    assert _payer_share(con, "FL", "medicare") > _payer_share(con, "UT", "medicare") + 5
    assert _payer_share(con, "NM", "medicaid") > _payer_share(con, "UT", "medicaid") + 3
    medicaid = dict(
        con.execute(
            "SELECT cohort, 100.0 * sum(procedures) FILTER (WHERE payer = 'medicaid') "
            "/ sum(procedures) FROM rollup_month GROUP BY 1"
        ).fetchall()
    )
    assert medicaid["slp"] > medicaid["pt"] + 10 > medicaid["chiro"] + 10


def test_code_mix_varies_by_state(con) -> None:
    spread = con.execute(
        """
        WITH t AS (SELECT state, hcpcs_code, sum(procedures) AS p FROM rollup_month
                   WHERE cohort = 'pt' AND month BETWEEN '2022-01-01' AND '2022-12-31'
                   GROUP BY ALL),
        s AS (SELECT state, hcpcs_code, 100.0 * p / sum(p) OVER (PARTITION BY state) AS share
              FROM t)
        SELECT max(share) - min(share) FROM s WHERE hcpcs_code = '97110'
        """
    ).fetchone()[0]
    assert spread > 3


def test_mix_drifts_by_year(con) -> None:
    def share(cohort: str, code: str, year: int) -> float:
        got = shares(con, cohort, f"{year}-01-01", f"{year}-12-31")
        return next(s for c, _, s in got if c == code)

    for cohort in ("pt", "ot"):
        assert (
            share(cohort, "97530", 2019)
            < share(cohort, "97530", 2021)
            < share(cohort, "97530", 2023)
        )
        assert (
            share(cohort, "97140", 2019)
            > share(cohort, "97140", 2021)
            > share(cohort, "97140", 2023)
        )


def test_volume_dips_in_spring_2020(con) -> None:
    month = dict(
        con.execute(
            "SELECT month, sum(procedures) FROM rollup_national WHERE cohort = 'all' GROUP BY 1"
        ).fetchall()
    )
    assert month[date(2020, 4, 1)] < 0.6 * month[date(2019, 4, 1)]
    assert month[date(2022, 4, 1)] > month[date(2019, 4, 1)]


# ---------------------------------------------------------------- line details


def test_npis_are_luhn_valid_and_each_is_one_provider(con, catalog) -> None:
    npis = [r[0] for r in con.execute("SELECT DISTINCT rendering_npi FROM claim_lines").fetchall()]
    assert len(npis) > 10_000
    assert all(luhn_valid_npi(n) for n in npis)
    split = con.execute(
        "SELECT count(*) FROM (SELECT rendering_npi FROM claim_lines GROUP BY 1 HAVING "
        "count(DISTINCT rendering_taxonomy) > 1 OR count(DISTINCT cohort) > 1 "
        "OR count(DISTINCT state) > 1)"
    ).fetchone()[0]
    assert split == 0
    pairs = con.execute("SELECT DISTINCT rendering_taxonomy, cohort FROM claim_lines").fetchall()
    assert all(catalog.taxonomy[taxonomy] == cohort for taxonomy, cohort in pairs)


def test_luhn_check() -> None:
    assert luhn_valid_npi("1234567893")
    assert not luhn_valid_npi("1234567890")
    assert not luhn_valid_npi("123456789")


def test_claims_hold_one_visit(con) -> None:
    inconsistent = con.execute(
        "SELECT count(*) FROM (SELECT claim_id FROM claim_lines GROUP BY 1 HAVING "
        "count(DISTINCT service_date) > 1 OR count(DISTINCT rendering_npi) > 1 OR "
        "count(DISTINCT payer) > 1 OR count(DISTINCT place_of_service) > 1 OR count(*) > 3)"
    ).fetchone()[0]
    assert inconsistent == 0
    unique_lines = con.execute(
        "SELECT count(DISTINCT (claim_id, line_number)) FROM claim_lines"
    ).fetchone()[0]
    assert unique_lines == 1_000_000


def test_service_dates_are_weekdays(con) -> None:
    days = {
        r[0]
        for r in con.execute("SELECT DISTINCT isodow(service_date) FROM claim_lines").fetchall()
    }
    assert days == {1, 2, 3, 4, 5}


def test_units_and_therapy_modifiers(con, catalog) -> None:
    rows = con.execute(
        "SELECT cohort, hcpcs_code, units, modifiers, count(*) FROM claim_lines GROUP BY ALL"
    ).fetchall()
    discipline = {"pt": "GP", "ot": "GO", "slp": "GN"}
    for cohort, code, units, modifiers, _ in rows:
        timed = catalog.codes[code].timed == "yes"
        assert (1 <= units <= 4) if timed else units == 1, (code, units)
        mods = (modifiers or "").split()
        therapy = in_rehab_range(code) or code.startswith("92")
        if cohort in discipline and therapy:
            assert mods[0] == discipline[cohort], (cohort, code, modifiers)
        else:
            assert not set(mods) & {"GP", "GO", "GN"}, (cohort, code, modifiers)
    multi_unit = sum(n for _, _, units, _, n in rows if units > 1)
    assert multi_unit > 100_000


# ---------------------------------------------------------------- exact quotas


def test_quota_cells_sum_exactly_at_odd_sizes() -> None:
    spec = load_spec()
    for lines in (50_001, 333_333, 1_000_003):
        counts = code_year_counts(spec, lines)
        _, cells = quota_index_cells(spec, counts)
        assert cells["n"].sum() == lines
        assert (cells["n"] > 0).all()
        by_code = cells.groupby(["cohort_i", "code_i"])["n"].sum()
        assert by_code.sum() == lines


@settings(max_examples=examples(60), deadline=None)
@given(
    totals=st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
    weights=st.lists(st.floats(0.01, 1000), min_size=1, max_size=12),
)
def test_systematic_round_is_exact_and_within_one(totals, weights) -> None:
    total = np.array(totals, dtype=np.int64)
    weight = np.tile(np.array(weights), (len(totals), 1))
    counts = systematic_round(total, weight)
    assert (counts.sum(axis=1) == total).all()
    quota = total[:, None] * weight / weight.sum(axis=1, keepdims=True)
    assert (np.abs(counts - quota) < 1 + 1e-9).all()
    assert (counts >= 0).all()


@settings(max_examples=examples(60), deadline=None)
@given(total=st.integers(0, 10**9), weights=st.lists(st.floats(0, 1000), min_size=1, max_size=20))
def test_largest_remainder_is_exact_and_within_one(total, weights) -> None:
    weight = np.array(weights)
    if weight.sum() == 0:
        weight[0] = 1.0
    n = len(weight)
    counts = largest_remainder(np.zeros(n, dtype=np.int64), np.full(n, total), weight)
    assert counts.sum() == total
    assert (np.abs(counts - total * weight / weight.sum()) < 1 + 1e-6).all()


# ---------------------------------------------------------------- determinism and atomicity


def _checksum(path: Path) -> tuple:
    with duckdb.connect(str(path), read_only=True) as c:
        return c.execute(
            "SELECT (SELECT count(*) FROM rollup_month), "
            "(SELECT sum(hash(cohort, month, state, payer, hcpcs_code, procedures)) FROM rollup_month), "
            "(SELECT sum(hash(claim_id, line_number, service_date, hcpcs_code, modifiers, units, "
            "rendering_npi, rendering_taxonomy, cohort, place_of_service, payer, state)) "
            "FROM claim_lines)"
        ).fetchone()


@pytest.mark.slow  # a process or a full build
def test_two_builds_are_identical(tmp_path: Path) -> None:
    a = build_demo(tmp_path / "a.duckdb", lines=50_000, progress=False)
    b = build_demo(tmp_path / "b.duckdb", lines=50_000, progress=False)
    c = build_demo(tmp_path / "c.duckdb", lines=60_000, progress=False)
    assert a.lines == b.lines == 50_000 and a.bytes > 0
    assert _checksum(a.path) == _checksum(b.path)
    assert _checksum(a.path) != _checksum(c.path)


@pytest.mark.slow  # a process or a full build
def test_failed_build_leaves_nothing_behind_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "claims.duckdb"

    def broken(_con) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(demo_mod.db, "rebuild_rollups", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_demo(target, lines=20_000, progress=False)
    # Only the writers' lock file stays (empty: no holder); removing a lock file races.
    assert [p.name for p in tmp_path.iterdir()] == ["claims.duckdb.lock"]
    assert (tmp_path / "claims.duckdb.lock").read_text() == ""

    monkeypatch.undo()
    build_demo(target, lines=20_000, progress=False)
    before = _checksum(target)
    monkeypatch.setattr(demo_mod.db, "rebuild_rollups", broken)
    with pytest.raises(RuntimeError):
        build_demo(target, lines=30_000, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.duckdb", "claims.duckdb.lock"]
    assert _checksum(target) == before


def test_tiny_builds_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        build_demo("/nonexistent/never.duckdb", lines=10, progress=False)


def test_balancing_refuses_impossible_targets() -> None:
    spec = load_spec()
    targets = spec.targets.copy()
    targets.loc[targets["code"] == "97110", "share_pct"] = 1.0  # PT cannot go negative
    broken = demo_mod.DemoSpec(spec.params, spec.mix, spec.balance, targets)
    with pytest.raises(CalibrationError, match="negative"):
        code_year_counts(broken, 1_000_000)


@pytest.mark.slow  # a process, a timeout waited out or a full build
def test_ensure_database_builds_only_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(demo_mod, "DEFAULT_LINES", 20_000)
    target = tmp_path / "auto" / "claims.duckdb"
    monkeypatch.setenv("TOPRANK_DB", str(target))
    assert ensure_database() == target
    assert "building the demo database" in capsys.readouterr().err
    with duckdb.connect(str(target), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM claim_lines").fetchone()[0] == 20_000
    stamp = target.stat().st_mtime_ns
    explicit = tmp_path / "other.duckdb"
    assert ensure_database() == target and target.stat().st_mtime_ns == stamp
    assert capsys.readouterr().err == ""
    assert ensure_database(explicit) == explicit and explicit.exists()


# ---------------------------------------------------------------- the commands


def toprank(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.mark.slow  # a process or a full build
def test_data_demo_and_info_commands(tmp_path: Path) -> None:
    target = tmp_path / "cli.duckdb"
    made = toprank("data", "demo", "--lines", "30k", "--db", str(target))
    assert made.returncode == 0, made.stderr
    assert "30,000 claim lines" in made.stdout and target.exists()

    stamp = target.stat().st_mtime_ns
    again = toprank("data", "demo", "--lines", "40000", "--db", str(target))
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert target.stat().st_mtime_ns == stamp

    forced = toprank("data", "demo", "--lines", "40_000", "--db", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    with duckdb.connect(str(target), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM claim_lines").fetchone()[0] == 40_000

    info = toprank("data", "info", "--db", str(target))
    assert info.returncode == 0, info.stderr
    out = info.stdout
    assert "2019-01-01 to 2023-09-30" in out
    assert "demo: synthetic claims calibrated to published rankings" in out
    assert "40,000" in out
    for cohort in (*COHORTS, "rehab", "all"):
        assert any(line.split()[:1] == [cohort] for line in out.splitlines()), cohort
    assert all(str(y) in out for y in range(2019, 2024))


@pytest.mark.slow  # a process or a full build
def test_data_commands_respect_toprank_db_and_explain_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.duckdb"
    info = toprank("data", "info", env={"TOPRANK_DB": str(missing)})
    assert info.returncode == 1
    assert "no database at" in info.stderr and str(missing) in info.stderr
    assert "Traceback" not in info.stderr

    not_db = tmp_path / "notes.duckdb"
    not_db.write_text("not a database")
    bad = toprank("data", "info", "--db", str(not_db))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr

    tiny = toprank("data", "demo", "--lines", "12", "--db", str(tmp_path / "t.duckdb"))
    assert tiny.returncode == 2 and "--lines" in tiny.stderr
    assert not (tmp_path / "t.duckdb").exists()

    via_env = tmp_path / "env.duckdb"
    made = toprank("data", "demo", "--lines", "20000", env={"TOPRANK_DB": str(via_env)})
    assert made.returncode == 0, made.stderr
    assert via_env.exists()
