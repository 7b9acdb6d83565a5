"""Territories, military post codes and the two codes that name no place (XX unknown, ZZ
foreign) are kept: they count in national answers, the places among them are filters,
and `data info` counts each. Oracles: the test file's own line counts and SQL over
claim_lines."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TODAY
from tests.test_ingest import REPO, ingest, line, write
from toprank.bot.chart_kinds import STATE_TILES, Point, _unlisted
from toprank.data.catalog import NO_PLACE_STATES, load_catalog

# lines per state code in the file (every one a PT 97110 line in 2022)
PLAN = {
    "TX": 30,
    "CA": 20,
    "PR": 14,
    "VI": 2,
    "GU": 3,
    "AS": 1,
    "MP": 1,
    "AA": 2,
    "AE": 12,
    "AP": 1,
    "XX": 5,
    "ZZ": 4,
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("territories")
    lines = [
        line(f"{state}-{i}", state=state if i % 2 else state.lower())
        for state, count in PLAN.items()
        for i in range(count)
    ]
    lines.append(line("bad", state="QQ"))
    dbf = tmp / "claims.duckdb"
    report = ingest(dbf, write(tmp / "claims.csv", lines))
    assert (report.read, report.loaded, report.rejected) == (len(lines), sum(PLAN.values()), 1)
    return dbf


def test_states_csv_kinds_match_the_code_constants() -> None:
    catalog = load_catalog()
    assert catalog.no_place_states == NO_PLACE_STATES
    assert len(catalog.us_states) == 51 and set(catalog.us_states) == set(STATE_TILES)
    assert {c for c, k in catalog.state_kinds.items() if k == "territory"} == {
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    }
    assert {c for c, k in catalog.state_kinds.items() if k == "military"} == {"AA", "AE", "AP"}


def test_every_code_is_loaded_and_counted_nationally(loaded: Path) -> None:
    from toprank.bot.pipeline import Toprank

    con = duckdb.connect(str(loaded), read_only=True)
    by_state = dict(
        con.execute("SELECT state, count(*) FROM claim_lines GROUP BY state").fetchall()
    )
    con.close()
    assert by_state == PLAN
    with Toprank.open(loaded, today=TODAY, build_if_missing=False) as bot:
        national = bot.ask("top PT codes 2022")
        assert [(r["code"], r["procedures"]) for r in national.rows] == [
            ("97110", sum(PLAN.values()))
        ]


@pytest.mark.parametrize(
    "question, code",
    [
        ("top PT codes in Puerto Rico 2022", "PR"),
        ("top PT codes in PR 2022", "PR"),
        ("top pt codes in pr 2022", "PR"),
        ("top PT codes in the virgin islands 2022", "VI"),
        ("top PT codes in Guam 2022", "GU"),
        ("top PT codes in AE 2022", "AE"),
        ("top PT codes in Armed Forces Europe 2022", "AE"),
    ],
)
def test_a_territory_or_military_code_is_a_place_filter(
    loaded: Path, question: str, code: str
) -> None:
    from toprank.bot.pipeline import Toprank

    with Toprank.open(loaded, today=TODAY, build_if_missing=False) as bot:
        answer = bot.ask(question)
    assert answer.error is None, answer.text
    assert answer.params["state"] == code
    procedures = answer.rows[0]["procedures"]
    # small cells are hidden under the CMS rule; the hidden mark stands for 1-10
    assert procedures == PLAN[code] if PLAN[code] >= 11 else procedures == "<11"


@pytest.mark.parametrize(
    "question", ["top PT codes in ZZ 2022", "top PT codes in XX", "PT codes abroad 2022"]
)
def test_xx_and_zz_are_no_place_and_say_so(loaded: Path, question: str) -> None:
    from toprank.bot.pipeline import Toprank

    with Toprank.open(loaded, today=TODAY, build_if_missing=False) as bot:
        answer = bot.ask(question)
    assert answer.error == "unknown_place" and not answer.rows
    assert "national answers only" in answer.text


def test_by_state_ranks_territories_and_leaves_xx_zz_out_with_a_note(loaded: Path) -> None:
    from toprank.bot.pipeline import Toprank

    with Toprank.open(loaded, today=TODAY, build_if_missing=False) as bot:
        answer = bot.ask("PT procedures by state 2022")
    states = [r["state"] for r in answer.rows]
    assert set(states) == set(PLAN) - set(NO_PLACE_STATES)
    assert states[:3] == ["TX", "CA", "PR"]
    xx_zz = PLAN["XX"] + PLAN["ZZ"]
    assert f"{xx_zz} procedures whose state is XX (unknown) or ZZ (foreign)" in answer.text


@pytest.mark.slow  # runs `toprank data info` as a process
def test_data_info_counts_each_non_state_code(loaded: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "data", "info", "--db", str(loaded)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("rows outside the 50 states and DC")[1].split("\n\n")[0]
    listed = {}
    for row in section.splitlines()[2:]:
        parts = row.split()
        listed[parts[0]] = int(parts[-2])
    assert listed == {c: n for c, n in PLAN.items() if c not in ("TX", "CA")}


def test_the_tile_map_names_what_has_no_square() -> None:
    points = [Point(s, 1.0, "1") for s in STATE_TILES] + [Point("PR", 5.0, "5")]
    assert _unlisted(points) == ["Not on the map: PR 5."]
    assert _unlisted(points[:10])[0].startswith("White")


def test_taxonomy_assistants_and_the_generic_speech_code() -> None:
    with (REPO / "data" / "taxonomy.csv").open() as f:
        cohorts = {r["taxonomy"]: r["cohort"] for r in csv.DictReader(f)}
    assert cohorts["2355S0801X"] == "slp"  # speech-language assistant, like PT/OT assistants
    assert cohorts["225200000X"] == "pt" and cohorts["224Z00000X"] == "ot"
    # generic speech/language/hearing code, hearing staff included: not slp alone
    assert cohorts["235500000X"] == "other"
