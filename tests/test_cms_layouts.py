"""`toprank data ingest cms-puf` over the CMS "by Provider and Service" file in each
year's layout, written here from the published column lists:

- current (CY2019 on, as served today): 28 columns, comma-delimited, Rndrng_* names;
- the first releases of CY2019-2022: the same plus Rndrng_Prvdr_Gndr (29 columns);
- CY2012-2018 as first published: tab-delimited .txt, legacy names (npi, nppes_*,
  line_srvc_cnt, ...), the AMA copyright row under the header, provider types of that
  era ("Physical Therapist", "Occupational therapist");
- the same legacy names comma-delimited (as some mirrors re-serve them).

Oracles: the totals of the rows each test writes (never toprank's output) and SQL over
claim_lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from tests.conftest import TODAY
from tests.test_ingest import REPO, read_rejects, rows, snapshot
from toprank.data.ingest import AlreadyIngested, ingest_cms_puf

CURRENT_28 = [
    "Rndrng_NPI",
    "Rndrng_Prvdr_Last_Org_Name",
    "Rndrng_Prvdr_First_Name",
    "Rndrng_Prvdr_MI",
    "Rndrng_Prvdr_Crdntls",
    "Rndrng_Prvdr_Ent_Cd",
    "Rndrng_Prvdr_St1",
    "Rndrng_Prvdr_St2",
    "Rndrng_Prvdr_City",
    "Rndrng_Prvdr_State_Abrvtn",
    "Rndrng_Prvdr_State_FIPS",
    "Rndrng_Prvdr_Zip5",
    "Rndrng_Prvdr_RUCA",
    "Rndrng_Prvdr_RUCA_Desc",
    "Rndrng_Prvdr_Cntry",
    "Rndrng_Prvdr_Type",
    "Rndrng_Prvdr_Mdcr_Prtcptg_Ind",
    "HCPCS_Cd",
    "HCPCS_Desc",
    "HCPCS_Drug_Ind",
    "Place_Of_Srvc",
    "Tot_Benes",
    "Tot_Srvcs",
    "Tot_Bene_Day_Srvcs",
    "Avg_Sbmtd_Chrg",
    "Avg_Mdcr_Alowd_Amt",
    "Avg_Mdcr_Pymt_Amt",
    "Avg_Mdcr_Stdzd_Amt",
]
CURRENT_29 = [*CURRENT_28[:5], "Rndrng_Prvdr_Gndr", *CURRENT_28[5:]]
LEGACY_26 = [
    "npi",
    "nppes_provider_last_org_name",
    "nppes_provider_first_name",
    "nppes_provider_mi",
    "nppes_credentials",
    "nppes_provider_gender",
    "nppes_entity_code",
    "nppes_provider_street1",
    "nppes_provider_street2",
    "nppes_provider_city",
    "nppes_provider_zip",
    "nppes_provider_state",
    "nppes_provider_country",
    "provider_type",
    "medicare_participation_indicator",
    "place_of_service",
    "hcpcs_code",
    "hcpcs_description",
    "hcpcs_drug_indicator",
    "line_srvc_cnt",
    "bene_unique_cnt",
    "bene_day_srvc_cnt",
    "average_Medicare_allowed_amt",
    "average_submitted_chrg_amt",
    "average_Medicare_payment_amt",
    "average_Medicare_standard_amt",
]
# canonical field -> the column each layout writes it in
FIELDS_CURRENT = {
    "npi": "Rndrng_NPI",
    "name": "Rndrng_Prvdr_Last_Org_Name",
    "state": "Rndrng_Prvdr_State_Abrvtn",
    "type": "Rndrng_Prvdr_Type",
    "place": "Place_Of_Srvc",
    "code": "HCPCS_Cd",
    "desc": "HCPCS_Desc",
    "services": "Tot_Srvcs",
}
FIELDS_LEGACY = {
    "npi": "npi",
    "name": "nppes_provider_last_org_name",
    "state": "nppes_provider_state",
    "type": "provider_type",
    "place": "place_of_service",
    "code": "hcpcs_code",
    "desc": "hcpcs_description",
    "services": "line_srvc_cnt",
}
PT_NOW, OT_NOW = (
    "Physical Therapist in Private Practice",
    "Occupational Therapist in Private Practice",
)
PT_THEN, OT_THEN = "Physical Therapist", "Occupational therapist"


@dataclass(frozen=True)
class Row:
    npi: str
    state: str
    pt: bool  # PT, else OT
    code: str
    services: str
    place: str = "O"
    good: bool = True


# Good rows in 50 states, territories, military codes, XX and ZZ; bad rows last.
ROWS = (
    Row("1000000001", "CA", True, "97110", "1200"),
    Row("1000000001", "CA", True, "97140", "800.4", "F"),
    Row("1000000002", "TX", False, "97530", "500.5"),
    Row("1000000003", "PR", True, "97110", "150"),
    Row("1000000004", "PR", False, "97530", "60", "F"),
    Row("1000000005", "GU", True, "97110", "25"),
    Row("1000000006", "VI", True, "97140", "12", "F"),
    Row("1000000007", "AE", True, "97110", "14"),
    Row("1000000008", "XX", True, "97110", "33"),
    Row("1000000009", "ZZ", False, "97530", "21"),
    Row("1000000010", "QQ", True, "97110", "99", good=False),  # unknown state
    Row("1000000011", "CA", True, "97110", "-3", good=False),
    Row("1000000012", "CA", True, "97110", "40", "X", good=False),  # not F or O
)
GOOD = [r for r in ROWS if r.good]


def procedures(r: Row) -> int:
    return int(float(r.services) + 0.5)  # halves away from zero, as documented


@dataclass(frozen=True)
class Layout:
    name: str
    columns: list[str]
    fields: dict[str, str]
    delimiter: str
    suffix: str
    notice: bool  # the AMA copyright row under the header
    legacy_types: bool
    says: str  # what the ingest says of the layout


LAYOUTS = (
    Layout("current-28", CURRENT_28, FIELDS_CURRENT, ",", ".csv", False, False, "current column names, comma-delimited, 28 columns"),
    Layout("first-release-29", CURRENT_29, FIELDS_CURRENT, ",", ".csv", False, False, "with Rndrng_Prvdr_Gndr (first releases of CY2019-2022), comma-delimited, 29 columns"),
    Layout("legacy-tab", LEGACY_26, FIELDS_LEGACY, "\t", ".txt", True, True, "legacy column names (the CY2012-2018 files as first published), tab-delimited, 26 columns"),
    Layout("legacy-comma", LEGACY_26, FIELDS_LEGACY, ",", ".csv", False, True, "legacy column names (the CY2012-2018 files as first published), comma-delimited, 26 columns"),
)  # fmt: skip


def write_layout(path: Path, layout: Layout) -> Path:
    lines = [layout.delimiter.join(layout.columns)]

    def line(values: dict[str, str]) -> str:
        cells = {layout.fields[k]: v for k, v in values.items()}
        return layout.delimiter.join(cells.get(c, "") for c in layout.columns)

    if layout.notice:
        lines.append(
            line(
                {
                    "npi": "0000000001",
                    "name": "CPT copyright 2013 American Medical Association.  All Rights Reserved.",
                }
            )
        )
    for r in ROWS:
        kind = (
            (PT_THEN if r.pt else OT_THEN) if layout.legacy_types else (PT_NOW if r.pt else OT_NOW)
        )
        lines.append(
            line(
                {
                    "npi": r.npi,
                    "name": "Smith",
                    "state": r.state,
                    "type": kind,
                    "place": r.place,
                    "code": r.code,
                    "desc": "Therapeutic exercise",
                    "services": r.services,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.with_suffix(layout.suffix) if path.suffix == layout.suffix else path


@pytest.fixture(scope="module", params=LAYOUTS, ids=lambda layout: layout.name)
def layout(request) -> Layout:
    return request.param


# One ingest per layout, read by every test of that layout (none of them writes to it:
# the one that tries is refused, and checks the file is unchanged).
@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, layout: Layout) -> tuple[Path, object, Layout]:
    tmp_path = tmp_path_factory.mktemp(layout.name)
    dbf = tmp_path / "claims.duckdb"
    src = write_layout(tmp_path / f"puf{layout.suffix}", layout)
    report = ingest_cms_puf(dbf, src, year=2022, progress=False, today=TODAY)
    return dbf, report, layout


def test_every_row_is_accounted_for(loaded) -> None:
    dbf, report, layout = loaded
    (f,) = report.files
    bad = len(ROWS) - len(GOOD)
    assert (f.read, f.loaded, f.rejected, f.skipped) == (
        len(ROWS) + layout.notice,
        len(GOOD),
        bad,
        int(layout.notice),
    )
    assert f.loaded + f.rejected + f.skipped == f.read
    assert layout.says in f.layout
    assert sorted(r["reason"] for r in read_rejects(report.rejects_path)) == [
        "bad Place_Of_Srvc (expected F or O)",
        "negative Tot_Srvcs",
        "unknown state",
    ]
    (total,) = rows(dbf, "SELECT sum(procedures) FROM claim_lines")
    assert total == (sum(procedures(r) for r in GOOD),)


def test_each_era_s_provider_types_map_to_the_cohorts(loaded) -> None:
    dbf, _, _ = loaded
    got = dict(rows(dbf, "SELECT rendering_npi, cohort FROM claim_lines"))
    assert got == {r.npi: "pt" if r.pt else "ot" for r in GOOD}


def test_f_and_o_are_the_setting_never_a_place_of_service(loaded) -> None:
    dbf, _, _ = loaded
    assert rows(dbf, "SELECT count(*) FROM claim_lines WHERE place_of_service IS NOT NULL") == [
        (0,)
    ]
    got = dict(rows(dbf, "SELECT facility_setting, sum(procedures) FROM claim_lines GROUP BY ALL"))
    expected: dict[str, int] = {}
    for r in GOOD:
        key = "facility" if r.place == "F" else "non-facility"
        expected[key] = expected.get(key, 0) + procedures(r)
    assert got == expected


def _answer(dbf: Path, question: str):
    from toprank.bot.pipeline import Toprank

    # every count shown: the oracle compares exact figures, small cells included
    with (
        mock.patch.dict(os.environ, {"TOPRANK_MIN_CELL": "0"}),
        Toprank.open(dbf, today=TODAY, build_if_missing=False) as bot,
    ):
        return bot.ask(question)


def _by_code(rows_: list[dict]) -> dict[str, int]:
    return {r["code"]: r["procedures"] for r in rows_}


def _expected(keep: Callable[[Row], bool]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in GOOD:
        if keep(r):
            out[r.code] = out.get(r.code, 0) + procedures(r)
    return out


def test_answers_equal_the_file_s_own_totals_territories_included(loaded) -> None:
    dbf, _, _ = loaded
    national = _answer(dbf, "top codes 2022")
    assert _by_code(national.rows) == _expected(lambda r: True)  # XX, ZZ, PR... all in
    pt = _answer(dbf, "top PT codes 2022")
    assert _by_code(pt.rows) == _expected(lambda r: r.pt)
    pr = _answer(dbf, "top codes in Puerto Rico 2022")
    assert _by_code(pr.rows) == _expected(lambda r: r.state == "PR")
    facility = _answer(dbf, "top codes in facility settings 2022")
    assert _by_code(facility.rows) == _expected(lambda r: r.place == "F")
    office = _answer(dbf, "top codes non-facility 2022")
    assert _by_code(office.rows) == _expected(lambda r: r.place == "O")


def test_the_same_file_again_is_refused_and_changes_nothing(loaded, tmp_path: Path) -> None:
    dbf, _, layout = loaded
    before = snapshot(dbf)
    again = write_layout(tmp_path / f"copy{layout.suffix}", layout)
    with pytest.raises(AlreadyIngested):
        ingest_cms_puf(dbf, again, year=2022, progress=False, today=TODAY)
    assert snapshot(dbf) == before


def test_a_file_of_only_the_copyright_row_loads_nothing(tmp_path: Path) -> None:
    src = tmp_path / "empty.txt"
    notice = {"npi": "0000000001", "nppes_provider_last_org_name": "CPT copyright 2012 AMA"}
    src.write_text(
        "\t".join(LEGACY_26) + "\n" + "\t".join(notice.get(c, "") for c in LEGACY_26) + "\n"
    )
    dbf = tmp_path / "claims.duckdb"
    from toprank.data.ingest import IngestError

    with pytest.raises(IngestError, match="no data rows"):
        ingest_cms_puf(dbf, src, year=2013, progress=False, today=TODAY)
    assert not dbf.exists()


@pytest.mark.slow  # runs `toprank data ingest` as a process
def test_the_cli_says_the_layout_and_the_skipped_row(tmp_path: Path) -> None:
    legacy = next(x for x in LAYOUTS if x.name == "legacy-tab")
    src = write_layout(tmp_path / "Medicare_Provider_Util_Payment_PUF_CY2014.txt", legacy)
    done = subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "data", "ingest", "cms-puf", str(src), "--year",
         "2014", "--db", str(tmp_path / "c.duckdb"), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert legacy.says in done.stdout
    n = len(ROWS)
    assert f"read {n + 1} / loaded {len(GOOD)} / rejected {n - len(GOOD)} / skipped 1" in (
        done.stdout
    )
    assert "Traceback" not in done.stderr
