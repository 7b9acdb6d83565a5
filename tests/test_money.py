"""Money and people, end to end: claim files' charge/allowed/paid amounts and the CMS
file's payments, allowed amounts, charges (Tot_Srvcs x the averages) and beneficiaries,
loaded by the real ingest into a real DuckDB file, asked in words, answered in dollars.

Oracles: SQL over claim_lines (never the rollups the answers read), and the CMS-layout
file's own totals computed here with csv + Decimal.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.test_answer import surfaces
from tests.test_compile import fixture_lines
from tests.test_suppress import reader_options
from toprank.bot.answer_data import DataContext
from toprank.bot.answer_model import Answer
from toprank.bot.export import answer_csv
from toprank.bot.pipeline import Toprank
from toprank.bot.render_blocks import answer_message
from toprank.bot.render_text import render_text
from toprank.bot.suppress import Group
from toprank.data.ingest import ingest_claims, ingest_cms_puf
from toprank.intents.resolve import resolve
from toprank.sql.compile import compile_plan

TODAY = pd.Timestamp("2023-10-15").date()
CLAIM_HEADER = [
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
    "charge_amount",
    "allowed_amount",
    "paid_amount",
]
TAXONOMY = {  # a NUCC code per provider cohort (data/taxonomy.csv)
    "ot": "225X00000X",
    "pt": "225100000X",
    "slp": "235Z00000X",
    "pmr": "208100000X",
    "chiro": "111N00000X",
    "other": "207Q00000X",
}
# Rows whose amounts break the rules, and the reason each must be rejected with.
BAD_AMOUNTS = [
    (("-1.00", "40", "30"), "negative charge_amount"),
    (("90", "abc", "30"), "allowed_amount not a number"),
    (("90", "40", "1e13"), "paid_amount too large"),
    (("90", "NaN", "30"), "allowed_amount not a number"),
]
# The CMS file (current layout, its money and people columns) for 2020.
PUF_HEADER = [
    "Rndrng_NPI",
    "Rndrng_Prvdr_Last_Org_Name",
    "Rndrng_Prvdr_Type",
    "Rndrng_Prvdr_State_Abrvtn",
    "HCPCS_Cd",
    "HCPCS_Desc",
    "Place_Of_Srvc",
    "Tot_Benes",
    "Tot_Srvcs",
    "Avg_Sbmtd_Chrg",
    "Avg_Mdcr_Alowd_Amt",
    "Avg_Mdcr_Pymt_Amt",
]
PUF_TYPES = ["Physical Therapist in Private Practice", "Occupational Therapist in Private Practice"]
PUF_CODES = ["97110", "97140", "97530", "97112"]
PUF_STATES = ["TX", "CA", "NY", "FL"]


def _amounts(k: int) -> tuple[str, str, str]:
    """A line's charge, allowed and paid amounts as a file writes them; every 9th line
    has no paid amount (a claim file need not carry one on every line)."""
    charge = Decimal(2500 + (k * 7919) % 30000) / 100
    allowed = (charge * Decimal("0.4")).quantize(Decimal("0.001"))  # 3 places: rounded
    paid = "" if k % 9 == 0 else f"{(allowed * Decimal('0.8')).quantize(Decimal('0.01'))}"
    return f"{charge}", f"{allowed}", paid


def write_claims(path: Path, *, amounts: bool = True, bad: bool = False) -> int:
    """The compile fixture's lines as a claim file; returns the rows written."""
    lines = fixture_lines()
    header = CLAIM_HEADER if amounts else CLAIM_HEADER[:-3]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        n = 0
        for k, row in enumerate(lines.itertuples()):
            values = [
                row.claim_id,
                row.line_number,
                row.service_date.isoformat(),
                row.hcpcs_code,
                row.modifiers if isinstance(row.modifiers, str) else "",
                row.units,
                "1234567893",
                TAXONOMY[row.cohort],
                row.place_of_service,
                row.payer,
                row.state,
            ]
            for _ in range(row.procedures):  # a claim file has one row per line
                writer.writerow([*values, *(_amounts(k) if amounts else ())])
                n += 1
        if bad:
            for j, (money, _) in enumerate(BAD_AMOUNTS):
                writer.writerow(
                    [f"bad{j}", 1, "2022-05-02", "97110", "", 1, "1234567893", TAXONOMY["pt"]]
                    + ["11", "medicare", "TX", *money]
                )
                n += 1
    return n


def write_puf(path: Path) -> list[dict[str, str]]:
    rows = []
    for k in range(160):
        services = Decimal(11 + (k * 37) % 400) + (Decimal("0.5") if k % 7 == 0 else 0)
        rows.append(
            {
                "Rndrng_NPI": f"{1000000000 + k * 9973}",
                "Rndrng_Prvdr_Last_Org_Name": f"Provider {k}",
                "Rndrng_Prvdr_Type": PUF_TYPES[k % 2],
                "Rndrng_Prvdr_State_Abrvtn": PUF_STATES[(k // 2) % 4],
                "HCPCS_Cd": PUF_CODES[(k // 3) % 4],
                "HCPCS_Desc": "therapy",
                "Place_Of_Srvc": "O",
                "Tot_Benes": str(11 + (k * 13) % 90),
                "Tot_Srvcs": str(services),
                "Avg_Sbmtd_Chrg": f"{Decimal(9000 + (k * 611) % 9000) / 100}",
                "Avg_Mdcr_Alowd_Amt": f"{Decimal(2000 + (k * 373) % 2000) / 99:.9f}",
                "Avg_Mdcr_Pymt_Amt": f"{Decimal(1600 + (k * 211) % 1600) / 97:.9f}",
            }
        )
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PUF_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def cents(services: str, average: str) -> int:
    """The file's own figure: Tot_Srvcs x the average, in cents, halves away from zero."""
    product = Decimal(services) * Decimal(average) * 100
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def money_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("money")
    path = directory / "claims.duckdb"
    ingest_claims(path, [_claims_file(directory)], progress=False, today=TODAY)
    write_puf(directory / "puf2020.csv")
    ingest_cms_puf(path, directory / "puf2020.csv", year=2020, progress=False, today=TODAY)
    return path


def _claims_file(directory: Path) -> Path:
    path = directory / "claims.csv"
    write_claims(path)
    return path


@pytest.fixture(scope="module")
def exact(money_db: Path):
    """The bot with small-cell suppression off, for figures compared one by one."""
    bot = Toprank.open(money_db, today=TODAY, build_if_missing=False)
    bot.min_cell = 0
    yield bot
    bot.close()


@pytest.fixture(scope="module")
def bot(money_db: Path):
    bot = Toprank.open(money_db, today=TODAY, build_if_missing=False)
    yield bot
    bot.close()


def sql(db: Path, query: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def ask(bot: Toprank, question: str) -> Answer:
    answer = bot.ask(question)
    assert answer.error is None, (question, answer.error, answer.text)
    return answer


def dollars(cents_: int | None) -> float | None:
    return None if cents_ is None else round(cents_ / 100, 2)


# --------------------------------------------------------------------------- ingest


def test_claim_amounts_are_validated_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    read = write_claims(path, bad=True)
    rejects = tmp_path / "rejects.csv"
    report = ingest_claims(
        tmp_path / "db.duckdb", [path], rejects_path=rejects, progress=False, today=TODAY
    )
    assert report.read == read and report.loaded + report.rejected == read
    assert report.rejected == len(BAD_AMOUNTS)
    with rejects.open() as f:
        reasons = sorted(r["reason"] for r in csv.DictReader(f))
    assert reasons == sorted(reason for _, reason in BAD_AMOUNTS)
    # the stored cents are the file's dollars, rounded to the cent once
    with path.open() as f:
        want = {
            (r["claim_id"], int(r["line_number"])): tuple(
                None
                if not r[k]
                else int((Decimal(r[k]) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                for k in ("charge_amount", "allowed_amount", "paid_amount")
            )
            for r in csv.DictReader(f)
            if not r["claim_id"].startswith("bad")
        }
    got = {
        (claim, line): (charge, allowed, paid)
        for claim, line, charge, allowed, paid in sql(
            tmp_path / "db.duckdb",
            "SELECT claim_id, line_number, charges_cents, allowed_cents, payments_cents "
            "FROM claim_lines",
        )
    }
    assert got == want


def test_a_bad_cms_amount_rejects_the_row_with_its_reason(tmp_path: Path) -> None:
    rows = write_puf(tmp_path / "puf.csv")[:6]
    rows[1]["Avg_Mdcr_Pymt_Amt"] = "n/a"
    rows[2]["Avg_Sbmtd_Chrg"] = "-4"
    rows[3]["Tot_Benes"] = "12.5"
    rows[4]["Avg_Mdcr_Alowd_Amt"] = ""  # blank: the amount is not known, the row loads
    with (tmp_path / "puf.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PUF_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    rejects = tmp_path / "rejects.csv"
    report = ingest_cms_puf(
        tmp_path / "db.duckdb",
        tmp_path / "puf.csv",
        year=2021,
        rejects_path=rejects,
        progress=False,
        today=TODAY,
    )
    assert (report.read, report.loaded, report.rejected) == (6, 3, 3)
    with rejects.open() as f:
        reasons = sorted(r["reason"] for r in csv.DictReader(f))
    assert reasons == [
        "Avg_Mdcr_Pymt_Amt not a number",
        "Tot_Benes not a whole number",
        "negative Avg_Sbmtd_Chrg",
    ]
    blank = sql(
        tmp_path / "db.duckdb",
        "SELECT allowed_cents, payments_cents FROM claim_lines WHERE rendering_npi = ?",
        [rows[4]["Rndrng_NPI"]],
    )
    assert blank == [(None, cents(rows[4]["Tot_Srvcs"], rows[4]["Avg_Mdcr_Pymt_Amt"]))]


# --------------------------------------------------------------------------- answers


def test_top_codes_by_payments_rank_by_the_amount(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "top 5 PT codes by payments 2022")
    truth = sql(
        money_db,
        "SELECT hcpcs_code, sum(payments_cents), sum(procedures) FROM claim_lines "
        "WHERE cohort = 'pt' AND year(service_date) = 2022 AND payments_cents IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    total = sum(t[1] for t in truth)
    assert answer.params["measure"] == "payments"
    assert [(r["code"], r["payments"], r["procedures"]) for r in answer.rows] == [
        (code, dollars(amount), procedures) for code, amount, procedures in truth[:5]
    ]
    for row, (_, amount, _) in zip(answer.rows, truth, strict=False):
        assert row["share_pct"] == round(100 * amount / total, 2)  # a share of the amount
    assert f"${total / 100:,.2f}" in answer.text


def test_how_much_was_paid_for_a_code(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "how much was paid for 97110 in 2022")
    ((amount, procedures),) = sql(
        money_db,
        "SELECT sum(payments_cents), sum(procedures) FROM claim_lines WHERE hcpcs_code = "
        "'97110' AND year(service_date) = 2022 AND payments_cents IS NOT NULL",
    )
    (row,) = answer.rows
    assert (row["payments"], row["procedures"]) == (dollars(amount), procedures)
    assert f"${amount / 100:,.2f}" in answer.text


def test_an_average_is_a_ratio_of_sums(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "average allowed amount for 97140 in 2022")
    ((amount, procedures),) = sql(
        money_db,
        "SELECT sum(allowed_cents), sum(procedures) FROM claim_lines WHERE hcpcs_code = "
        "'97140' AND year(service_date) = 2022 AND allowed_cents IS NOT NULL",
    )
    (row,) = answer.rows
    assert row["avg_allowed"] == round(amount / procedures / 100, 2)
    assert f"${amount / procedures / 100:,.2f} per procedure" in answer.text
    assert "ratio of sums" in answer.text


def test_rankings_by_an_average_rank_by_the_average(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "which state has the highest average payment for 97110 in 2022")
    truth = sql(
        money_db,
        "SELECT state, sum(payments_cents) / sum(procedures) AS avg FROM claim_lines "
        "WHERE hcpcs_code = '97110' AND year(service_date) = 2022 "
        "AND payments_cents IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    (row,) = answer.rows
    assert (row["state"], row["avg_payments"]) == (truth[0][0], round(truth[0][1] / 100, 2))
    assert "Ranked by the average per procedure" in answer.text
    answer = ask(exact, "top 3 PT codes by average allowed amount 2022")
    truth = sql(
        money_db,
        "SELECT hcpcs_code, sum(allowed_cents) / sum(procedures) FROM claim_lines WHERE "
        "cohort = 'pt' AND year(service_date) = 2022 AND allowed_cents IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3",
    )
    assert [(r["code"], r["avg_allowed"]) for r in answer.rows] == [
        (code, round(avg / 100, 2)) for code, avg in truth
    ]


def test_which_state_has_the_highest_charges(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "which state has the highest charges for OT in 2022")
    truth = sql(
        money_db,
        "SELECT state, sum(charges_cents) FROM claim_lines WHERE cohort = 'ot' "
        "AND year(service_date) = 2022 AND charges_cents IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
    )
    (row,) = answer.rows
    assert (row["state"], row["charges"]) == (truth[0][0], dollars(truth[0][1]))


def test_a_trend_of_allowed_amounts(exact: Toprank, money_db: Path) -> None:
    answer = ask(exact, "allowed amounts for 97110 by year")
    truth = dict(
        sql(
            money_db,
            "SELECT year(service_date), sum(allowed_cents) FROM claim_lines WHERE hcpcs_code "
            "= '97110' AND allowed_cents IS NOT NULL GROUP BY 1",
        )
    )
    assert {r["year"]: r["allowed"] for r in answer.rows} == {
        y: dollars(v) for y, v in truth.items()
    }


def test_cms_file_answers_equal_the_files_own_totals(exact: Toprank, money_db: Path) -> None:
    rows = [r for r in csv.DictReader((money_db.parent / "puf2020.csv").open())]
    pt = [r for r in rows if r["Rndrng_Prvdr_Type"] == PUF_TYPES[0]]
    want: dict[str, int] = {}
    for r in pt:
        want[r["HCPCS_Cd"]] = want.get(r["HCPCS_Cd"], 0) + cents(
            r["Tot_Srvcs"], r["Avg_Mdcr_Pymt_Amt"]
        )
    answer = ask(exact, "top PT codes by Medicare payments 2020")
    assert {r["code"]: r["payments"] for r in answer.rows} == {
        code: dollars(v) for code, v in want.items()
    }
    assert [r["code"] for r in answer.rows] == sorted(want, key=lambda c: -want[c])
    for measure, column in (("allowed", "Avg_Mdcr_Alowd_Amt"), ("charges", "Avg_Sbmtd_Chrg")):
        got = ask(exact, f"total {measure} for OT in 2020").rows[0][measure]
        ot = [r for r in rows if r["Rndrng_Prvdr_Type"] == PUF_TYPES[1]]
        assert got == dollars(sum(cents(r["Tot_Srvcs"], r[column]) for r in ot)), measure


def test_beneficiaries_are_summed_and_said_to_be_per_provider(
    exact: Toprank, money_db: Path
) -> None:
    rows = [r for r in csv.DictReader((money_db.parent / "puf2020.csv").open())]
    answer = ask(exact, "beneficiaries for 97530 in 2020")
    want = sum(int(r["Tot_Benes"]) for r in rows if r["HCPCS_Cd"] == "97530")
    row = next(r for r in answer.rows if r.get("codes") == "97530" or r.get("code") == "97530")
    assert row["beneficiaries"] == want
    assert "counts once for each" in answer.text


def test_a_source_without_amounts_says_so(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    write_claims(path, amounts=False)
    ingest_claims(tmp_path / "db.duckdb", [path], progress=False, today=TODAY)
    with Toprank.open(tmp_path / "db.duckdb", today=TODAY, build_if_missing=False) as bot:
        for question in ("top PT codes by payments 2022", "beneficiaries for 97530 in 2022"):
            answer = bot.ask(question)
            assert answer.error == "no_data" and not answer.rows, question
            assert "has no" in answer.text and "$" not in answer.text, answer.text


def test_amounts_on_every_surface(exact: Toprank) -> None:
    answer = ask(exact, "top 3 PT codes by payments 2022")
    first = answer.rows[0]
    shown = f"${first['payments']:,.2f}"
    assert shown in render_text(answer)
    table = json.dumps(answer_message(answer))
    assert shown in table
    csv_rows = list(csv.DictReader(io.StringIO(answer_csv(answer))))
    assert float(csv_rows[0]["payments"]) == first["payments"]
    assert int(csv_rows[0]["procedures"]) == first["procedures"]
    payload = answer.to_json()
    assert payload["rows"][0]["payments"] == first["payments"]


# --------------------------------------------------------------------------- small cells

MONEY_SLICES = st.tuples(
    st.sampled_from(["OT", "PT", "SLP", "chiro", "rehab"]),
    st.sampled_from(["", "in TX", "in CA", "for medicare", "for medicaid"]),
    st.sampled_from(["2021", "2022", "Q1 2022", "June 2021"]),
    st.sampled_from(["payments", "allowed amounts", "charges", "average payments"]),
    st.sampled_from(
        [
            "top 20 {c} codes by {m} {s} {y}",
            "{c} {m} by state {y}",
            "{c} {m} by payer {s} {y}",
            "{m} for 97110 {c} {s} {y}",
            "{c} {m} for 97140 by month {s} {y}",
        ]
    ),
)


@pytest.mark.slow  # every surface of each answer, its chart included: a quarter second each
@settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(MONEY_SLICES)
@example(("SLP", "for medicare", "2021", "payments", "{m} for 97110 {c} {s} {y}"))
def test_an_amount_never_reveals_a_hidden_count(bot: Toprank, exact: Toprank, slice_) -> None:
    cohort, where, period, measure, template = slice_
    question = " ".join(template.format(c=cohort, s=where, y=period, m=measure).split())
    answer = bot.ask(question)
    assert answer.error != "internal", answer.text
    for surface, counts in surfaces(answer).items():
        assert not [v for v in counts if 0 < v < 11], (question, surface, counts)
    for row in answer.rows:
        if not isinstance(row.get("procedures"), int):
            # the amount, its average and its share would give the count away
            kept = {k: v for k, v in row.items() if k in HIDDEN_WITH or k.startswith("avg_")}
            assert all(v is None for v in kept.values()), (question, row)
    # Each series' procedures add up to the scope's (which a reader may know): where the
    # list is the whole scope (its shares of the amount add up to 100%), no hidden small
    # count may have only one possible value.
    truth = exact.ask(question)
    family = (answer.shape or "").split(":")[0]
    if answer.error or family not in ("ranked", "breakdown"):
        return
    assert len(truth.rows) == len(answer.rows)
    for shown, (values, shares) in zip(_series(answer), _series(truth, True), strict=True):
        if abs(sum(shares) - 100) > 0.05 or len(shown) > 8:
            continue  # a part of the scope listed, or too many fillings to try here
        if all(isinstance(v, int) for v in shown):
            continue
        options, rests = reader_options(shown, sum(values), True, False)
        hidden = [v for v in shown if not isinstance(v, int)]
        pinned = [o for o, v in zip(options, hidden, strict=True) if v == "<11" and len(o) == 1]
        assert not pinned, (question, shown, values)


HIDDEN_WITH = ("payments", "allowed", "charges", "share_pct")


def _series(answer: Answer, with_shares: bool = False) -> list[Any]:
    """Each series' procedures (and shares), in row order."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in answer.rows:
        key = (row.get("cohort"), row.get("period"), row.get("state"), row.get("payer"))
        if answer.shape and answer.shape.startswith("breakdown"):
            key = (row.get("cohort"), row.get("period"))
        out.setdefault(key, []).append(row)
    if with_shares:
        return [
            ([r["procedures"] for r in rows], [r.get("share_pct") or 0 for r in rows])
            for rows in out.values()
        ]
    return [[r["procedures"] for r in rows] for rows in out.values()]


def test_demo_amounts_are_units_times_the_fee_table(demo_db: Path) -> None:
    fees = Path(__file__).resolve().parents[1] / "data" / "demo_fees.csv"
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        unpriced, wrong, lines = con.execute(
            "WITH fee AS (SELECT code, payer, CAST(round(charge * 100) AS BIGINT) AS charge, "
            "CAST(round(allowed * 100) AS BIGINT) AS allowed, "
            "CAST(round(paid * 100) AS BIGINT) AS paid "
            "FROM read_csv(?, comment = '#', header = true, "
            "types = {'code': 'VARCHAR', 'charge': 'DECIMAL(12,2)', "
            "'allowed': 'DECIMAL(12,2)', 'paid': 'DECIMAL(12,2)'})) "
            "SELECT count(*) FILTER (WHERE fee.code IS NULL), "
            "count(*) FILTER (WHERE charges_cents <> units * fee.charge "
            "OR allowed_cents <> units * fee.allowed OR payments_cents <> units * fee.paid), "
            "count(*) FROM claim_lines AS l LEFT JOIN fee "
            "ON fee.code = l.hcpcs_code AND fee.payer = l.payer",
            [str(fees)],
        ).fetchone()
    finally:
        con.close()
    assert lines > 0 and unpriced == 0 and wrong == 0


@pytest.mark.parametrize(
    "counts",
    [[50, 40, 5], [30, 12, 9, 3], [120, 11, 11, 10]],
)
def test_a_single_hidden_count_is_not_left_derivable(bot: Toprank, counts: list[int]) -> None:
    """A complete list whose procedures add up to the scope's: hiding the one small count
    alone would leave it as the scope's minus the rest, so another row is withheld too
    (its amount, average and share with it)."""
    spec = bot.understand("top 20 PT codes by average payments 2022")
    r = resolve(spec, bot.coverage)
    ctx = DataContext(
        r=r,
        plan=compile_plan(r),
        records=[],
        catalog=bot.catalog,
        knowledge=bot.knowledge,
        coverage=bot.coverage,
        min_cell=11,
    )
    rows: list[dict[str, Any]] = [
        {
            "code": f"9711{i}",
            "payments": 1000 * n,
            "procedures": n,
            "avg_payments": 1000.0,
            "share_pct": 1.0,
            "_series": 0,
            "_base_total": sum(counts),
        }
        for i, n in enumerate(counts)
    ]
    ctx.suppress(rows, ())
    shown = [row["procedures"] for row in rows]
    options, rests = reader_options(shown, sum(counts), True, False)
    hidden = [v for v in shown if not isinstance(v, int)]
    assert all(len(o) > 1 for o, v in zip(options, hidden, strict=True) if v == "<11"), shown
    for row in rows:
        if not isinstance(row["procedures"], int):
            assert row["payments"] is None and row["avg_payments"] is None, row


def test_beneficiaries_are_suppressed_as_counts(bot: Toprank) -> None:
    """Beneficiaries are a count: 1-10 hidden, and a complete list's single small one
    takes another with it (the builder's groups), as procedures would."""
    spec = bot.understand("top 20 PT codes by beneficiaries 2020")
    r = resolve(spec, bot.coverage)
    ctx = DataContext(
        r=r,
        plan=compile_plan(r),
        records=[],
        catalog=bot.catalog,
        knowledge=bot.knowledge,
        coverage=bot.coverage,
        min_cell=11,
    )
    people = [50, 40, 5]
    rows: list[dict[str, Any]] = [
        {
            "code": f"9711{i}",
            "beneficiaries": n,
            "procedures": 100,
            "share_pct": 1.0,
            "_series": 0,
            "_total": sum(people),
            "_base_total": 300,
        }
        for i, n in enumerate(people)
    ]
    groups = [Group((0, 1, 2), sum(people), complete=True, ordered=True)]
    ctx.suppress(rows, groups)
    assert [row["beneficiaries"] for row in rows] == [50, None, "<11"]
    assert rows[2]["share_pct"] is None and rows[1]["share_pct"] is None


def test_the_money_benchmark_runs_and_prints_its_figures(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests import bench_money

    assert bench_money.main(["--lines", "3000", "--repeat", "1", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert out.count("rows/s") == 2 and "amounts cost" in out
    for plain, money in bench_money.QUESTIONS:
        assert repr(plain) in out and repr(money) in out
