"""Charts: the drawn Figure's structure (kind, series, bars or points, axis labels, legend,
hidden cells) before it is saved, for every answer shape, checked against SQL over the
demo database's `claim_lines`; the Chart button only where there is a picture; the CLI's
--chart file; matplotlib imported only to draw."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text

from tests.conftest import TODAY
from toprank.bot.answer_model import Answer
from toprank.bot.chart import (
    FALL,
    HIDDEN_FILL,
    HIGHLIGHT,
    OTHER,
    PALETTE,
    PNG_SIGNATURE,
    RISE,
    STATE_TILES,
    WIDTH_IN,
    chart_figure,
    chart_png,
    draw,
)
from toprank.bot.chart_kinds import (
    BARS,
    DIVERGING_BARS,
    GROUPED_BARS,
    KIND_NOUN,
    LINES,
    MAX_ALT_TEXT,
    STACKED_BAR,
    STATE_MAP,
    alt_text,
    chart_kind,
    chart_spec,
    has_chart,
    partial_mark,
)
from toprank.bot.render_blocks import ACTION_CHART, ACTION_CSV, answer_message

REPO = Path(__file__).resolve().parent.parent
REHAB = "hcpcs_code BETWEEN '97010' AND '97799'"
YEAR = "service_date BETWEEN DATE '{y}-01-01' AND DATE '{y}-12-31'"


@pytest.fixture(scope="module")
def toprank(demo_db):
    from toprank.bot.pipeline import Toprank

    with Toprank.open(demo_db, today=TODAY, build_if_missing=False) as toprank:
        yield toprank


@pytest.fixture(scope="module")
def lines(demo_db) -> Iterator[duckdb.DuckDBPyConnection]:
    """The oracle: SQL over the raw claim lines, not the rollups toprank reads."""
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


def counts(con: duckdb.DuckDBPyConnection, key: str, where: str) -> dict[str, int]:
    rows = con.execute(
        f"SELECT {key}, SUM(procedures) FROM claim_lines WHERE {where} GROUP BY 1"
    ).fetchall()
    return {str(k): int(v) for k, v in rows}


def shares(of: dict[str, int]) -> dict[str, float]:
    total = sum(of.values())
    return {k: 100.0 * v / total for k, v in of.items()}


def top(of: dict[str, int], n: int) -> list[str]:
    return sorted(of, key=lambda k: (-of[k], k))[:n]


def by_gid(figure: Figure, gid: str) -> list[Any]:
    return list(figure.findobj(lambda a: a.get_gid() == gid))


def texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text)]


def bar_y(bar: Any) -> float:
    return bar.get_y() + bar.get_height() / 2


def ytick_at(axes: Any, y: float) -> str:
    """The category label of the band a horizontal bar sits in."""
    for tick, label in zip(axes.get_yticks(), axes.get_yticklabels(), strict=True):
        if abs(tick - y) < 0.5:
            return label.get_text()
    raise AssertionError(f"no tick near {y}")


def legend_texts(axes: Any) -> list[str]:
    legend = axes.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def face(patch: Any) -> str:
    return to_hex(patch.get_facecolor(), keep_alpha=False)


def luminance(color: Any) -> float:
    r, g, b = to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def figure_of(toprank, question: str) -> tuple[Answer, Figure]:
    answer = toprank.ask(question)
    return answer, chart_figure(answer)


# --------------------------------------------------------------------------- rankings


def test_ranking_bars_are_the_shares_of_the_lines(toprank, lines) -> None:
    answer, figure = figure_of(toprank, "top 10 rehab codes 2022")
    assert figure.get_label() == BARS
    axes = figure.axes[0]
    truth = counts(lines, "hcpcs_code", f"{REHAB} AND {YEAR.format(y=2022)}")
    expected = top(truth, 10)
    bars = sorted(by_gid(figure, "bar"), key=lambda b: -bar_y(b))  # top first
    assert len(bars) == 10
    assert [ytick_at(axes, bar_y(b)).split()[0] for b in bars] == expected
    for bar, code in zip(bars, expected, strict=True):
        assert bar.get_width() == pytest.approx(shares(truth)[code], abs=0.006)
    assert axes.get_xlabel() == "Share (%)"
    assert axes.get_legend() is None
    assert {face(b) for b in bars} == {PALETTE[0].lower()}
    footer = by_gid(figure, "footer")[0].get_text().replace("\n", " ")
    assert "Period: 2022" in footer and "Source:" in footer


def test_the_asked_code_is_highlighted(toprank, lines) -> None:
    _, figure = figure_of(toprank, "what share of OT procedures was 97530 in 2022")
    axes = figure.axes[0]
    highlighted = [b for b in by_gid(figure, "bar") if face(b) == HIGHLIGHT.lower()]
    assert [ytick_at(axes, bar_y(b)).split()[0] for b in highlighted] == ["97530"]
    truth = shares(counts(lines, "hcpcs_code", f"cohort = 'ot' AND {YEAR.format(y=2022)}"))
    assert highlighted[0].get_width() == pytest.approx(truth["97530"], abs=0.006)
    assert legend_texts(axes) == ["asked about"]


def test_hidden_counts_have_no_bar_and_no_figure(toprank, lines) -> None:
    """Vermont's OT codes: most counts are 1-10. Each shows '<11' where its bar would
    start, no bar, and its count is printed nowhere."""
    answer, figure = figure_of(toprank, "top OT codes in Vermont 2022")
    axes = figure.axes[0]
    truth = counts(lines, "hcpcs_code", f"cohort = 'ot' AND state = 'VT' AND {YEAR.format(y=2022)}")
    small = {c for c, v in truth.items() if 0 < v < 11}
    listed = [r["code"] for r in answer.rows]
    assert small & set(listed), "the question should list small cells"
    drawn = {ytick_at(axes, bar_y(b)).split()[0] for b in by_gid(figure, "bar")}
    assert not drawn & small
    marks = by_gid(figure, "mark")
    marked = {ytick_at(axes, m.get_position()[1]).split()[0] for m in marks}
    assert small & set(listed) <= marked
    assert {m.get_text().strip() for m in marks} <= {"<11", "withheld"}
    printed = set(" ".join(texts(figure)).replace("%", " ").split())
    for code in small & set(listed):
        assert str(truth[code]) not in printed
        assert f"{100.0 * truth[code] / sum(truth.values()):.1f}" not in printed


def test_the_mark_follows_the_configured_cell_size(toprank, lines, monkeypatch) -> None:
    monkeypatch.setattr(toprank, "min_cell", 20)  # as TOPRANK_MIN_CELL=20 does
    answer, figure = figure_of(toprank, "top OT codes in Oregon 2022")
    truth = counts(lines, "hcpcs_code", f"cohort = 'ot' AND state = 'OR' AND {YEAR.format(y=2022)}")
    hidden = [r["code"] for r in answer.rows if r["procedures"] == "<20"]
    assert hidden and all(truth[c] < 20 for c in hidden)
    assert {m.get_text().strip() for m in by_gid(figure, "mark")} <= {"<20", "withheld"}
    footer = by_gid(figure, "footer")[0].get_text().replace("\n", " ")
    assert "<20: a count under 20" in footer and "<11" not in footer


def test_a_per_group_ranking_names_each_group(toprank, lines) -> None:
    _, figure = figure_of(toprank, "top chiro code each year")
    assert figure.get_label() == BARS
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_yticklabels()]
    for year in range(2019, 2024):
        truth = counts(lines, "hcpcs_code", f"cohort = 'chiro' AND {YEAR.format(y=year)}")
        assert any(label.startswith(f"{year} · {top(truth, 1)[0]}") for label in labels)


# --------------------------------------------------------------------------- comparisons


def test_comparison_is_grouped_bars_codes_in_one_order(toprank, lines) -> None:
    _, figure = figure_of(toprank, "OT vs PT 2022")
    assert figure.get_label() == GROUPED_BARS
    axes = figure.axes[0]
    assert legend_texts(axes) == ["OT", "PT"]
    where = YEAR.format(y=2022)
    truth = {c: counts(lines, "hcpcs_code", f"cohort = '{c}' AND {where}") for c in ("ot", "pt")}
    order = top(truth["ot"], 10) + [
        c for c in top(truth["pt"], 10) if c not in top(truth["ot"], 10)
    ]
    ticks = [t.get_text().split()[0] for t in reversed(axes.get_yticklabels())]
    assert ticks == order  # OT's order, then the codes only PT's list has
    bars = by_gid(figure, "bar")
    assert len(bars) == 20
    for cohort, color in (("ot", PALETTE[0]), ("pt", PALETTE[1])):
        mine = [b for b in bars if face(b) == color.lower()]
        assert len(mine) == 10
        for bar in mine:
            code = ytick_at(axes, bar_y(bar)).split()[0]
            assert code in top(truth[cohort], 10)
            assert bar.get_width() == pytest.approx(shares(truth[cohort])[code], abs=0.006)
    not_listed = [m for m in by_gid(figure, "mark") if m.get_text().strip() == "–"]
    assert len(not_listed) == 2 * len(order) - 20
    assert "–: not in that group's top 10." in by_gid(figure, "footer")[0].get_text().replace(
        "\n", " "
    )


def test_period_comparison_groups_by_period(toprank, lines) -> None:
    _, figure = figure_of(toprank, "top PT codes 2021 vs 2022")
    assert figure.get_label() == GROUPED_BARS
    assert legend_texts(figure.axes[0]) == ["2021", "2022"]
    truth = counts(lines, "hcpcs_code", f"cohort = 'pt' AND {YEAR.format(y=2021)}")
    first = [b for b in by_gid(figure, "bar") if face(b) == PALETTE[0].lower()]
    assert sorted(b.get_width() for b in first) == pytest.approx(
        sorted(shares(truth)[c] for c in top(truth, 10)), abs=0.006
    )


def test_ot_vs_pt_knowledge_answer_shows_both_shares(toprank) -> None:
    answer, figure = figure_of(toprank, "how do OT and PT differ")
    assert figure.get_label() == GROUPED_BARS
    assert legend_texts(figure.axes[0]) == ["OT", "PT"]
    numbers = [r[k] for r in answer.rows for k in ("ot_share_pct", "pt_share_pct")]
    assert len(by_gid(figure, "bar")) == sum(v is not None for v in numbers)


def test_totals_side_by_side_mark_the_partly_covered_period(toprank, lines) -> None:
    _, figure = figure_of(toprank, "medicare PT procedures, 2019 versus 2023")
    assert figure.get_label() == BARS
    axes = figure.axes[0]
    assert axes.get_xlabel() == "Procedures"
    bars = {ytick_at(axes, bar_y(b)): b for b in by_gid(figure, "bar")}
    where = "cohort = 'pt' AND payer = 'medicare'"
    for year in (2019, 2023):
        truth = counts(lines, "year(service_date)", f"{where} AND {YEAR.format(y=year)}")
        assert bars[str(year)].get_width() == truth[str(year)]
    assert bars["2023"].get_hatch() and not bars["2019"].get_hatch()
    assert any("(to Sep)" in t for t in texts(figure))


# --------------------------------------------------------------------------- trends


def test_trend_is_a_line_with_the_partial_year_open_and_dashed(toprank, lines) -> None:
    _, figure = figure_of(toprank, "trend of 97530 for OT")
    assert figure.get_label() == LINES
    axes = figure.axes[0]
    truth = {}
    for year in range(2019, 2024):
        of = counts(lines, "hcpcs_code", f"cohort = 'ot' AND {YEAR.format(y=year)}")
        truth[year] = shares(of)["97530"]
    (full,) = by_gid(figure, "points")
    (partial,) = by_gid(figure, "partial_points")
    assert list(full.get_xdata()) == [0, 1, 2, 3]
    assert list(full.get_ydata()) == pytest.approx([truth[y] for y in range(2019, 2023)], abs=0.006)
    assert list(partial.get_ydata()) == pytest.approx([truth[2023]], abs=0.006)
    assert partial.get_markerfacecolor() == "white"  # open marker
    assert len(by_gid(figure, "segment")) == 3
    (dashed,) = by_gid(figure, "partial_segment")
    assert dashed.get_linestyle() == "--"
    ticks = [t.get_text() for t in axes.get_xticklabels()]
    assert ticks[:4] == ["2019", "2020", "2021", "2022"] and ticks[4] == "2023\n(to Sep)"
    assert axes.get_ylabel() == "Share (%)"
    assert axes.get_legend() is None
    assert axes.get_ylim()[0] == 0


def test_trend_of_a_whole_scope_plots_the_count(toprank, lines) -> None:
    _, figure = figure_of(toprank, "quarterly OT volume 2022")
    axes = figure.axes[0]
    truth = counts(lines, "quarter(service_date)", f"cohort = 'ot' AND {YEAR.format(y=2022)}")
    (points,) = by_gid(figure, "points")
    assert list(points.get_ydata()) == [truth[str(q)] for q in range(1, 5)]
    assert axes.get_ylabel() == "Procedures"
    assert not by_gid(figure, "partial_points")


def test_trend_comparison_is_one_line_per_cohort(toprank, lines) -> None:
    _, figure = figure_of(toprank, "97110 trend: OTs vs PTs")
    axes = figure.axes[0]
    assert legend_texts(axes) == ["OT", "PT"]
    full = by_gid(figure, "points")
    assert len(full) == 2 and len(by_gid(figure, "partial_points")) == 2
    for line, cohort in zip(full, ("ot", "pt"), strict=True):
        of = counts(lines, "hcpcs_code", f"cohort = '{cohort}' AND {YEAR.format(y=2019)}")
        assert line.get_ydata()[0] == pytest.approx(shares(of)["97110"], abs=0.006)


# --------------------------------------------------------------------------- states


def test_the_tile_grid_has_every_state_and_dc_once() -> None:
    with open(REPO / "data" / "states.csv") as f:
        states = {row["code"] for row in csv.DictReader(f) if row["kind"] == "state"}
    assert set(STATE_TILES) == states and len(states) == 51
    assert len(set(STATE_TILES.values())) == 51  # no two on one square


def test_state_breakdown_is_a_map_shaded_by_the_value(toprank, lines) -> None:
    _, figure = figure_of(toprank, "PT procedures by state 2022")
    assert figure.get_label() == STATE_MAP
    axes = figure.axes[0]
    tiles = by_gid(figure, "tile")
    assert len(tiles) == 51
    state_at = {(col, -row): s for s, (row, col) in STATE_TILES.items()}
    shade = {
        state_at[(round(t.get_x()), round(t.get_y()))]: luminance(t.get_facecolor()) for t in tiles
    }
    truth = counts(lines, "state", f"cohort = 'pt' AND {YEAR.format(y=2022)}")
    ranked = top(truth, 51)
    for bigger, smaller in zip(ranked, ranked[1:], strict=False):
        assert shade[bigger] <= shade[smaller] + 1e-9  # more is darker
    labelled = [t for t in by_gid(figure, "figure")]
    assert len(labelled) == 5
    assert {f"{shares(truth)[s]:.1f}%" for s in ranked[:5]} == {t.get_text() for t in labelled}
    assert len(figure.axes) == 2 and figure.axes[1].get_xlabel() == "Share (%)"  # colour bar
    assert not axes.axison


def test_hidden_states_are_hatched_with_no_shade_of_their_own(toprank, lines) -> None:
    answer, figure = figure_of(toprank, "SLP procedures by state in 2022 for medicaid")
    truth = counts(
        lines, "state", f"cohort = 'slp' AND payer = 'medicaid' AND {YEAR.format(y=2022)}"
    )
    small = {s for s, v in truth.items() if 0 < v < 11}
    assert small
    hidden = by_gid(figure, "tile_hidden")
    state_at = {(col, -row): s for s, (row, col) in STATE_TILES.items()}
    hidden_states = {state_at[(round(t.get_x()), round(t.get_y()))] for t in hidden}
    assert small <= hidden_states
    assert {face(t) for t in hidden} == {HIDDEN_FILL.lower()} and all(t.get_hatch() for t in hidden)
    printed = " ".join(texts(figure))
    assert printed.count("<11") >= len(small)
    words = set(printed.replace("%", " ").split())
    for state in small:
        assert f"{shares(truth)[state]:.1f}" not in words


def test_top_code_in_each_state_colours_states_by_code(toprank, lines) -> None:
    _, figure = figure_of(toprank, "top PT code per state 2021")
    assert figure.get_label() == STATE_MAP
    axes = figure.axes[0]
    state_at = {(col, -row): s for s, (row, col) in STATE_TILES.items()}
    legend = legend_texts(axes)
    colour_of = {text.split()[0]: PALETTE[i].lower() for i, text in enumerate(legend)}
    for tile in by_gid(figure, "tile"):
        state = state_at[(round(tile.get_x()), round(tile.get_y()))]
        truth = counts(
            lines, "hcpcs_code", f"cohort = 'pt' AND state = '{state}' AND {YEAR.format(y=2021)}"
        )
        assert face(tile) == colour_of[top(truth, 1)[0]]


def test_more_top_codes_than_colours_share_one_grey() -> None:
    """Nine different leading codes: the six that lead most states get a colour each,
    the rest one grey 'Other codes', so no colour stands for two codes; states missing
    from the answer are white and the footer says so."""
    states = sorted(STATE_TILES)[:45]
    codes = [f"9711{i}" for i in range(9)]
    rows = tuple(
        {"state": s, "rank": 1, "code": codes[i % 9 if i < 36 else i % 3], "share_pct": 30.0}
        for i, s in enumerate(states)
    )
    answer = Answer(
        question="top code per state",
        intent="breakdown",
        params={"per_group": "state", "group_by": "code", "n": 1, "measure": "procedures"},
        rows=rows,
        text="",
        shape="ranked:rollup_month",
        title="Top code in each state, 2022",
    )
    figure = chart_figure(answer)
    legend = legend_texts(figure.axes[0])
    assert len(legend) == 7 and legend[-1] == "Other codes"
    assert legend[:3] == ["97110", "97111", "97112"]  # leading the most states
    state_at = {(col, -row): s for s, (row, col) in STATE_TILES.items()}
    colour = {
        state_at[(round(t.get_x()), round(t.get_y()))]: face(t) for t in by_gid(figure, "tile")
    }
    code_of = {r["state"]: r["code"] for r in rows}
    by_code: dict[str, set[str]] = {}
    for state, code in code_of.items():
        by_code.setdefault(code, set()).add(colour[state])
    assert all(len(c) == 1 for c in by_code.values())  # one colour per code
    named = {next(iter(by_code[c])) for c in ["97110", "97111", "97112", "97113", "97114", "97115"]}
    assert len(named) == 6 and OTHER.lower() not in named
    assert {next(iter(by_code[c])) for c in ["97116", "97117", "97118"]} == {OTHER.lower()}
    assert len(by_gid(figure, "tile_unlisted")) == 51 - 45
    assert "White: not in the answer" in by_gid(figure, "footer")[0].get_text().replace("\n", " ")


def test_a_top_few_states_is_a_ranking(toprank) -> None:
    _, figure = figure_of(toprank, "which states bill the most 97110 in 2021?")
    assert figure.get_label() == BARS
    assert len(by_gid(figure, "bar")) == 10


# --------------------------------------------------------------------------- part of whole


def test_payer_mix_is_one_stacked_bar(toprank, lines) -> None:
    _, figure = figure_of(toprank, "payer mix for PT in 2022")
    assert figure.get_label() == STACKED_BAR
    axes = figure.axes[0]
    truth = shares(counts(lines, "payer", f"cohort = 'pt' AND {YEAR.format(y=2022)}"))
    segments = sorted(by_gid(figure, "segment"), key=lambda p: p.get_x())
    assert len(segments) == 4
    assert sum(s.get_width() for s in segments) == pytest.approx(100, abs=0.05)
    order = top({k: int(v * 1000) for k, v in truth.items()}, 4)  # biggest first
    assert [s.get_width() for s in segments] == pytest.approx([truth[p] for p in order], abs=0.006)
    names = {
        "commercial": "Commercial",
        "medicare": "Medicare",
        "medicaid": "Medicaid",
        "other": "Other payers",
    }
    assert legend_texts(axes) == [f"{names[p]} {truth[p]:.1f}%" for p in order]
    assert axes.get_xlim() == (0, 100)


def test_payer_mix_by_year_is_a_stacked_bar_per_year(toprank) -> None:
    _, figure = figure_of(toprank, "SLP payer mix by year, 2020 through 2021")
    assert figure.get_label() == STACKED_BAR
    axes = figure.axes[0]
    assert len(by_gid(figure, "segment")) == 8
    assert sorted(t.get_text() for t in axes.get_yticklabels()) == ["2020", "2021"]
    assert len(legend_texts(axes)) == 4


# --------------------------------------------------------------------------- movers


def test_movers_are_diverging_bars_in_share_points(toprank, lines) -> None:
    answer, figure = figure_of(toprank, "which OT codes lost the most share, 2019 vs 2022?")
    assert figure.get_label() == DIVERGING_BARS
    axes = figure.axes[0]
    before = shares(counts(lines, "hcpcs_code", f"cohort = 'ot' AND {YEAR.format(y=2019)}"))
    after = shares(counts(lines, "hcpcs_code", f"cohort = 'ot' AND {YEAR.format(y=2022)}"))
    bars = by_gid(figure, "bar")
    assert len(bars) == len(answer.rows)
    for bar in bars:
        code = ytick_at(axes, bar_y(bar)).split()[0]
        assert bar.get_width() == pytest.approx(after[code] - before[code], abs=0.011)
        assert bar.get_width() < 0 and face(bar) == FALL.lower()
    assert legend_texts(axes) == ["Share fell"]
    assert axes.get_xlabel() == "Change in share (points)"
    low, high = axes.get_xlim()
    assert low < min(b.get_width() for b in bars) and high > 0


def test_gainers_rise_to_the_right(toprank) -> None:
    _, figure = figure_of(toprank, "fastest growing rehab codes 2022 vs 2021")
    bars = by_gid(figure, "bar")
    assert bars and all(b.get_width() >= 0 and face(b) == RISE.lower() for b in bars)


# --------------------------------------------------------------------------- no chart


@pytest.mark.parametrize(
    "question",
    ["how many OT procedures in 2022", "how many OT visits in 2022", "what is 97110", "help"],
)
def test_a_single_figure_or_lookup_has_no_chart_and_no_button(toprank, question: str) -> None:
    answer = toprank.ask(question)
    assert chart_kind(answer) is None
    with pytest.raises(ValueError):
        chart_spec(answer)
    actions = [b for b in answer_message(answer)["blocks"] if b["type"] == "actions"]
    ids = {e["action_id"] for b in actions for e in b["elements"]}
    assert ACTION_CHART not in ids
    if answer.rows and answer.intent == "total":
        assert ACTION_CSV in ids  # the figure is still exportable


def test_every_figure_hidden_means_no_chart(toprank) -> None:
    answer = toprank.ask("trend of 97530 for OT in Vermont")
    assert answer.rows and all(r.get("suppressed") for r in answer.rows)
    assert not has_chart(answer)


# --------------------------------------------------------------------------- every shape


def _dev_turns() -> list[list[str]]:
    out = []
    for name in ("questions_v2.jsonl", "questions_v2_heldout.jsonl"):
        for line in (REPO / "tests" / "data" / name).read_text().splitlines():
            item = json.loads(line)
            out.append([item["q"]] if "q" in item else item["turns"])
    return out


def _expected_kind(answer: Answer) -> str | None:
    """The issue's table: which chart each shape gets."""
    family = (answer.shape or "").split(":")[0]
    params = answer.params
    numbers = any(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        for r in answer.rows
        for k, v in r.items()
        if k in ("share_pct", "procedures", "units", "claims", "change_pts")
    )
    if answer.error or not answer.rows or not numbers:
        return None
    if family == "time":
        return LINES
    if family == "movers":
        return DIVERGING_BARS
    if family == "total":
        return BARS if len(answer.rows) > 1 else None
    if family == "breakdown" and params.get("group_by") == "state":
        return STATE_MAP if len(answer.rows) >= 20 else BARS
    if family == "breakdown" and params.get("group_by") in ("payer", "cohort", "place_of_service"):
        by_group: dict[Any, float] = {}
        for r in answer.rows:
            group = r.get(params.get("per_group") or "") if params.get("per_group") else None
            by_group[group] = by_group.get(group, 0.0) + (r.get("share_pct") or 0.0)
        complete = all(abs(v - 100) < 0.6 for v in by_group.values())
        plain = all(r.get("share_pct") is not None for r in answer.rows)
        few = len(answer.rows) <= 6 * len(by_group) and len(answer.rows) >= 2 * len(by_group)
        return (
            STACKED_BAR
            if complete and plain and few
            else (GROUPED_BARS if len(by_group) > 1 else BARS)
        )
    if family == "ranked" and params.get("per_group") == "state":
        return STATE_MAP
    if family == "ranked" and params.get("compare_by") in ("cohort", "period", "state", "payer"):
        return GROUPED_BARS
    if family == "ranked" and params.get("per_group"):
        return GROUPED_BARS if (params.get("n") or 1) > 1 else BARS
    if family == "ranked":
        return BARS
    return None


def test_every_shape_of_the_dev_sets_gets_its_kind_of_chart(toprank) -> None:
    """Every turn of the development sets: the kind the issue's table names, drawn with
    one bar, segment, tile or marker per figure the chart prints (none for hidden cells)."""
    seen: dict[str, int] = {}
    for turns in _dev_turns():
        context = None
        for question in turns:
            answer, context = toprank.converse(question, context)
            expected = _expected_kind(answer)
            assert chart_kind(answer) == expected, (question, answer.shape, answer.params)
            if expected is None:
                continue
            seen[expected] = seen.get(expected, 0) + 1
            spec = chart_spec(answer)
            figure = draw(spec)
            assert figure.get_label() == expected
            numeric = [p for p in spec.points if p.value is not None]
            drawn = {
                BARS: ["bar"],
                GROUPED_BARS: ["bar"],
                DIVERGING_BARS: ["bar"],
                STACKED_BAR: ["segment"],
                STATE_MAP: ["tile"],
            }.get(expected)
            if drawn:
                assert sum(len(by_gid(figure, g)) for g in drawn) == len(numeric), question
            else:
                markers = sum(
                    len(m.get_xdata())
                    for g in ("points", "partial_points")
                    for m in by_gid(figure, g)
                )
                assert markers == len(numeric), question
            hidden = [p for p in spec.points if p.value is None]
            assert len(by_gid(figure, "mark")) >= len(hidden), question  # each says why
    assert set(seen) == set(KIND_NOUN), seen  # every kind is met in the dev sets


# --------------------------------------------------------------------------- style, alt text


def test_a_long_title_wraps_inside_the_image(toprank) -> None:
    answer = toprank.ask("top 10 rehab codes 2022")
    long = dataclasses.replace(answer, title="Top PT codes " + "excluding medicare, " * 12 + "2022")
    figure = chart_figure(long)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    title = by_gid(figure, "title")[0]
    extent = title.get_window_extent(canvas.get_renderer())
    assert title.get_text().count("\n") >= 2
    assert extent.x0 >= 0 and extent.x1 <= figure.bbox.width
    assert extent.y1 <= figure.bbox.height


def test_png_is_the_figure_at_slack_preview_width(toprank) -> None:
    png = chart_png(toprank.ask("PT procedures by state 2022"))
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk (PNG spec)
    assert width == WIDTH_IN * 100 and 300 < height < 1200


def test_alt_text_says_what_the_chart_shows(toprank) -> None:
    trend = alt_text(chart_spec(toprank.ask("trend of 97530 for OT")))
    assert trend.startswith("Line chart: ") and "(to Sep)" in trend and "2019" in trend
    hidden = alt_text(chart_spec(toprank.ask("top OT codes in Vermont 2022")))
    assert "<11" in hidden
    big = alt_text(chart_spec(toprank.ask("top PT code per state 2021")))
    assert len(big) <= MAX_ALT_TEXT


@pytest.mark.parametrize(
    ("label", "mark"),
    [
        ("2023 (Jan-Sep)", "to Sep"),
        ("2023 through September", "to Sep"),
        ("2019 (Apr-Dec)", "Apr-Dec"),
        ("2022", None),
        ("2022-Q3", None),
    ],
)
def test_partial_period_marks(label: str, mark: str | None) -> None:
    assert partial_mark(label) == mark


# --------------------------------------------------------------------------- imports, CLI


def _env(demo_db: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOPRANK_DB": str(demo_db)}
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        env.pop(key, None)
    return env


def test_matplotlib_is_imported_only_to_draw(demo_db: Path) -> None:
    script = f"""
import sys
import toprank.bot.app, toprank.bot.cli, toprank.bot.listeners.actions, toprank.bot.chart, toprank.bot.render_blocks
from toprank.bot.chart_kinds import alt_text, chart_spec
from toprank.bot.pipeline import Toprank
with Toprank.open({str(demo_db)!r}, build_if_missing=False) as t:
    answer = t.ask("trend of 97530 for OT")
    toprank.bot.render_blocks.answer_message(answer)
    alt_text(chart_spec(answer))
    before = "matplotlib" in sys.modules
    toprank.bot.chart.chart_png(answer)
    print(before, "matplotlib" in sys.modules)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_env(demo_db),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]


def ask(args: list[str], demo_db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "ask", *args],
        capture_output=True,
        text=True,
        env=_env(demo_db),
        timeout=300,
        cwd=REPO,
    )


def test_cli_chart_writes_the_png(demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "trend.png"
    proc = ask(["--chart", str(target), "trend of 97530 for OT"], demo_db)
    assert proc.returncode == 0, proc.stderr
    assert "97530" in proc.stdout  # the answer still goes to stdout
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and struct.unpack(">I", data[16:20])[0] == 800
    assert proc.stderr.strip() == f"toprank: line chart written to {target}"
    assert [p.name for p in tmp_path.iterdir()] == ["trend.png"]  # no temporary left


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["how many OT procedures in 2022"], 1, "no chart written: the answer is a single figure"),
        (["what is 97110"], 1, "no chart written"),
        (["trend of 97530 for OT in Vermont"], 1, "hidden"),
    ],
)
def test_cli_chart_without_a_chart_writes_nothing(
    demo_db: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    target = tmp_path / "old.png"
    target.write_bytes(b"keep me")
    proc = ask(["--chart", str(target), *args], demo_db)
    assert proc.returncode == code
    assert proc.stdout.strip()  # answered all the same
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("chart", "question", "message"),
    [
        ("{tmp}/chart.jpg", "top ot codes", "name the file *.png"),
        ("{tmp}/missing/chart.png", "top ot codes", "no such directory"),
        ("{tmp}", "top ot codes", "is a directory"),
        ("{tmp}/chart.png", "-", "ask one question"),
    ],
)
def test_cli_chart_bad_usage_is_one_line(
    demo_db: Path, tmp_path: Path, chart: str, question: str, message: str
) -> None:
    proc = ask(["--chart", chart.format(tmp=tmp_path), question], demo_db)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.png"))
