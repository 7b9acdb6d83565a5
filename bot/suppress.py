"""Small-cell suppression that arithmetic cannot undo. Pure.

CMS's cell-size rule: no count from 1 to MIN_CELL-1 may be shown or be derivable.

Primary suppression hides such counts (shown as "<11", their shares withheld).

Complementary suppression closes the arithmetic. A group is a set of cells that add up
to a total the reader knows: stated in the answer, worked out from a shown count and its
share, or simply asked for in another question; so every group's total is assumed known.
The reader then knows R, the total minus the shown cells: the sum of the hidden cells and,
when the list is not complete, of the cells not listed. The answer is exposed when

- R is itself a small count (one hidden cell, or "everything else", would be 1-10), or
- some hidden small cell can take only one value, given R, the bounds each hidden cell is
  known to lie in ("<11" is 1-10, a withheld cell is at least 11) and, for a ranked list,
  the order of the rows (each at most the one above it).

While a group is exposed, the smallest shown cell of the group is withheld too. Should no
shown cell be left and the group still be exposed, its total is withheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MIN_CELL = 11
UNBOUNDED = float("inf")


def is_small(count: Any, min_cell: int) -> bool:
    return (
        isinstance(count, int)
        and not isinstance(count, bool)
        and min_cell > 0
        and 0 < count < min_cell
    )


def hidden(min_cell: int) -> str:
    return f"<{min_cell}"


@dataclass(frozen=True)
class Group:
    """Cells that add up to `total`, with the row indexes in list order.

    complete: every member of the total is listed (else the rest is one unknown sum >= 0).
    ordered: the rows are ranked by the count, each at most the one before it.
    total_key: the row key holding the total as the answer states it; set to None in
    every row of the group when the total itself has to be withheld.
    """

    rows: tuple[int, ...]
    total: int | None
    complete: bool
    ordered: bool = False
    total_key: str = "_total"


# --------------------------------------------------------------------------- the reader


@dataclass(frozen=True)
class Cell:
    """A cell as the reader sees it: its value if shown, else the bounds it lies in."""

    value: int | None  # shown
    small: bool = False  # hidden as "<min_cell"

    def bounds(self, min_cell: int) -> tuple[float, float]:
        if self.value is not None:
            return (self.value, self.value)
        return (1, min_cell - 1) if self.small else (min_cell, UNBOUNDED)


def exposed(
    cells: Sequence[Cell], total: int, complete: bool, ordered: bool, min_cell: int
) -> bool:
    """Whether a reader who knows the total can work out a small count from these cells."""
    rest = total - sum(c.value for c in cells if c.value is not None)
    if 0 < rest < min_cell:
        return True
    hidden_ix = [i for i, c in enumerate(cells) if c.value is None]
    if not hidden_ix:
        return False
    lo, hi = _bounds(cells, ordered, min_cell)
    runs = _runs(hidden_ix, ordered)
    if not complete:  # the unlisted rest is what the hidden cells leave of R
        least = sum(_run_range(run, lo, hi)[0] for run in runs)
        most = sum(_run_range(run, lo, hi)[1] for run in runs)
        if rest - least == max(0, rest - most) and 0 < rest - least < min_cell:
            return True
    for i in hidden_ix:
        if not cells[i].small:
            continue
        feasible = [
            v
            for v in range(int(lo[i]), int(min(hi[i], min_cell - 1)) + 1)
            if _fits(rest - v, i, v, runs, lo, hi, complete)
        ]
        if len(feasible) <= 1:
            return True
    return False


def _bounds(cells: Sequence[Cell], ordered: bool, min_cell: int) -> tuple[list[float], list[float]]:
    """Each hidden cell's bounds, narrowed in a ranked list by the nearest shown cells."""
    lo = [c.bounds(min_cell)[0] for c in cells]
    hi = [c.bounds(min_cell)[1] for c in cells]
    if ordered:
        above: float = UNBOUNDED
        for i, c in enumerate(cells):
            if c.value is not None:
                above = c.value
            else:
                hi[i] = min(hi[i], above)
        below: float = 0
        for i in range(len(cells) - 1, -1, -1):
            if cells[i].value is not None:
                below = cells[i].value or 0
            else:
                lo[i] = max(lo[i], below)
    return lo, hi


def _runs(hidden_ix: Sequence[int], ordered: bool) -> list[list[int]]:
    """Hidden cells bound to each other by order: adjacent hidden rows of a ranked list."""
    if not ordered:
        return [[i] for i in hidden_ix]
    runs: list[list[int]] = []
    for i in hidden_ix:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _run_range(run: Sequence[int], lo: Sequence[float], hi: Sequence[float]) -> tuple[float, float]:
    """The least and greatest sum of a run whose values never rise down the run; an empty
    range (lo > hi) when no values fit."""
    low = [0.0] * len(run)
    for k in range(len(run) - 1, -1, -1):
        low[k] = max(lo[run[k]], low[k + 1] if k + 1 < len(run) else 0)
    high = [0.0] * len(run)
    for k in range(len(run)):
        high[k] = min(hi[run[k]], high[k - 1] if k else UNBOUNDED)
    if any(a > b for a, b in zip(low, high, strict=True)):
        return (1.0, 0.0)
    return (sum(low), sum(high))


def _fits(
    need: float,
    fixed: int,
    value: int,
    runs: Sequence[Sequence[int]],
    lo: Sequence[float],
    hi: Sequence[float],
    complete: bool,
) -> bool:
    """Whether the hidden cells other than `fixed` (set to `value`) and the unlisted rest
    can add up to `need`."""
    least, most = 0.0, 0.0 if complete else UNBOUNDED
    for run in runs:
        if fixed in run:
            k = run.index(fixed)
            lo2, hi2 = list(lo), list(hi)
            for j in run[:k]:
                lo2[j] = max(lo2[j], value)
            for j in run[k + 1 :]:
                hi2[j] = min(hi2[j], value)
            parts = [list(run[:k]), list(run[k + 1 :])]
            ranges = [_run_range(p, lo2, hi2) for p in parts if p]
        else:
            ranges = [_run_range(run, lo, hi)]
        for a, b in ranges:
            if a > b:
                return False
            least += a
            most += b
    return least <= need <= most


# --------------------------------------------------------------------------- suppression


def suppress(
    rows: list[dict[str, Any]],
    count_keys: Sequence[str],
    share_keys: Sequence[str],
    min_cell: int,
    groups: Sequence[Group] = (),
) -> set[int]:
    """Hide small counts in place (every key of `count_keys` in every row), withhold the
    shares of hidden cells, then withhold cells (or a total) until no group is exposed.
    Returns the indexes of rows whose main count was hidden. Rows keep their raw count
    under "_raw" until `strip_raw`."""
    if min_cell <= 0:
        return set()
    main = count_keys[0]
    hidden_rows: set[int] = set()
    for i, row in enumerate(rows):
        small = False
        row["_raw"] = row.get(main)
        for key in count_keys:
            if is_small(row.get(key), min_cell):
                row[key] = hidden(min_cell)
                small = True
        if small:
            for key in share_keys:
                if key in row:
                    row[key] = None
            row["suppressed"] = True
            hidden_rows.add(i)
    for group in groups:
        if group.total is None or group.total < min_cell:
            continue  # a small total is never stated, so its parts cannot be worked out
        while exposed(
            [_cell(rows[i], main, min_cell) for i in group.rows],
            group.total,
            group.complete,
            group.ordered,
            min_cell,
        ):
            shown = [i for i in group.rows if isinstance(rows[i].get(main), int)]
            if not shown:
                for i in group.rows:
                    rows[i][group.total_key] = None
                break
            j = min(shown, key=lambda i: (rows[i][main], -i))
            _withhold(rows[j], count_keys, share_keys)
            hidden_rows.add(j)
    return hidden_rows


def _cell(row: dict[str, Any], main: str, min_cell: int) -> Cell:
    value = row.get(main)
    if isinstance(value, int) and not isinstance(value, bool):
        return Cell(value)
    return Cell(None, small=value == hidden(min_cell))


def _withhold(row: dict[str, Any], count_keys: Sequence[str], share_keys: Sequence[str]) -> None:
    """A large cell withheld to protect a small one: only a range is left."""
    for key in (*count_keys, *share_keys):
        if key in row:
            row[key] = None
    row["suppressed"] = True
    row["complementary"] = True


def strip_raw(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        row.pop("_raw", None)
