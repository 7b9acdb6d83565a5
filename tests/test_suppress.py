"""bot.suppress against a brute-force reader: for random groups of cells with a known
total, every way of filling in the hidden cells that fits what is shown is tried, and no
small count (a hidden cell, or the rest of the group) may have only one possible value."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from toprank.bot.suppress import Group, suppress

MIN_CELL = 11

GROUPS = st.tuples(
    st.lists(
        st.one_of(st.integers(1, 10), st.integers(11, 24)),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),  # ordered (a ranking)
    st.lists(st.integers(1, 10), max_size=3),  # cells left out of the list
)


def reader_options(
    shown: list[Any], total: int, complete: bool, ordered: bool
) -> tuple[list[set[int]], set[int]]:
    """Every value each hidden cell, and the unlisted rest, can take given what a reader
    sees: shown counts, "<11" (1-10), withheld (at least 11), the order of a ranking."""
    hidden = [i for i, v in enumerate(shown) if not isinstance(v, int)]
    known = sum(v for v in shown if isinstance(v, int))
    ranges = [
        range(1, MIN_CELL) if shown[i] == f"<{MIN_CELL}" else range(MIN_CELL, total - known + 1)
        for i in hidden
    ]
    options: list[set[int]] = [set() for _ in hidden]
    rests: set[int] = set()
    for values in itertools.product(*ranges):
        rest = total - known - sum(values)
        if rest < 0 or (complete and rest):
            continue
        if ordered:
            filled = list(shown)
            for i, v in zip(hidden, values, strict=True):
                filled[i] = v
            if any(a < b for a, b in itertools.pairwise(filled)):
                continue
        for k, v in enumerate(values):
            options[k].add(v)
        rests.add(rest)
    return options, rests


@settings(max_examples=examples(400), deadline=None)
@given(GROUPS)
def test_no_small_count_is_left_with_one_possible_value(group) -> None:
    values, ordered, left_out = group
    if ordered:
        values = sorted(values, reverse=True)
        left_out = [v for v in left_out if v <= values[-1]]
    total = sum(values) + sum(left_out)
    assume(total >= MIN_CELL)  # a small total is itself never stated (tested below)
    complete = not left_out
    rows: list[dict[str, Any]] = [{"n": v, "share": v / total} for v in values]
    suppress(
        rows,
        ("n",),
        ("share",),
        MIN_CELL,
        [Group(tuple(range(len(rows))), total, complete=complete, ordered=ordered)],
    )
    shown = [r["n"] for r in rows]
    if any(r.get("_total", 0) is None for r in rows):
        return  # the total itself was withheld: nothing to subtract from
    # what is shown is true, and every small count is hidden
    for raw, row in zip(values, rows, strict=True):
        assert row["n"] in (raw, f"<{MIN_CELL}", None)
        assert not (isinstance(row["n"], int) and raw < MIN_CELL)
        assert (row["share"] is None) == (row["n"] != raw)
    hidden = [i for i, v in enumerate(shown) if not isinstance(v, int)]
    size = 1
    for i in hidden:
        size *= (
            MIN_CELL - 1
            if shown[i] == f"<{MIN_CELL}"
            else total - sum(v for v in shown if isinstance(v, int))
        )
    assume(size <= 300_000)
    options, rests = reader_options(shown, total, complete, ordered)
    for k, i in enumerate(hidden):
        assert values[i] in options[k]  # the truth is among what the reader considers
        if shown[i] == f"<{MIN_CELL}":
            assert len(options[k]) > 1, (values, shown, total, complete)
    assert not (len(rests) == 1 and 0 < min(rests) < MIN_CELL), (values, shown, total)


def test_one_small_cell_in_a_complete_ranking_takes_the_next_smallest_with_it() -> None:
    rows: list[dict[str, Any]] = [{"n": v} for v in (120, 40, 25, 6)]
    suppress(rows, ("n",), (), MIN_CELL, [Group((0, 1, 2, 3), 191, complete=True, ordered=True)])
    assert [r["n"] for r in rows] == [120, 40, None, "<11"]


def test_the_rest_of_a_group_is_a_cell_too() -> None:
    # the top two of a scope of 103: the rest, 3, would be the total minus the shown
    rows: list[dict[str, Any]] = [{"n": v} for v in (60, 40)]
    suppress(rows, ("n",), (), MIN_CELL, [Group((0, 1), 103, complete=False, ordered=True)])
    assert [r["n"] for r in rows] == [60, None]


def test_order_pins_cells_that_the_sum_alone_would_not() -> None:
    # 10 + 9 = 19 with the first at least the second: (10, 9) is the only way
    rows: list[dict[str, Any]] = [{"n": v} for v in (50, 10, 9)]
    suppress(rows, ("n",), (), MIN_CELL, [Group((0, 1, 2), 69, complete=True, ordered=True)])
    assert rows[0]["n"] is None


def test_a_total_that_gives_away_its_only_cells_is_withheld() -> None:
    rows: list[dict[str, Any]] = [{"n": 10, "_total": 20}, {"n": 10, "_total": 20}]
    suppress(rows, ("n",), (), MIN_CELL, [Group((0, 1), 20, complete=True)])
    assert [r["n"] for r in rows] == ["<11", "<11"]
    assert all(r["_total"] is None for r in rows)


def test_small_totals_are_never_groups() -> None:
    rows: list[dict[str, Any]] = [{"n": 4}, {"n": 3}]
    suppress(rows, ("n",), (), MIN_CELL, [Group((0, 1), 7, complete=True)])
    assert [r["n"] for r in rows] == ["<11", "<11"]


@settings(max_examples=examples(300), deadline=None)
@given(
    GROUPS,
    st.lists(st.integers(0, 10_000_000), min_size=6, max_size=6),  # amounts in cents
)
def test_an_amount_is_hidden_with_its_count(group, amounts) -> None:
    """Money rides on its procedures (bot.answer_data): the count is suppressed as any
    count is, and a row whose count is hidden, by the rule or to protect another, shows
    neither its amount nor its average nor its share; the rows that stay show theirs."""
    values, _, left_out = group
    total = sum(values) + sum(left_out)
    assume(total >= MIN_CELL)
    rows: list[dict[str, Any]] = [
        {"procedures": v, "payments": a, "avg_payments": a / v, "share_pct": 1.0}
        for v, a in zip(values, amounts, strict=False)
    ]
    suppress(
        rows,
        ("procedures",),
        ("payments", "avg_payments", "share_pct"),
        MIN_CELL,
        [Group(tuple(range(len(rows))), total, complete=not left_out)],
    )
    for row, raw, amount in zip(rows, values, amounts, strict=False):
        if isinstance(row["procedures"], int):
            assert row["procedures"] == raw >= MIN_CELL
            assert row["payments"] == amount and row["avg_payments"] == amount / raw
        else:
            assert row["payments"] is None and row["avg_payments"] is None
            assert row["share_pct"] is None
