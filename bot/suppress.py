"""Small-cell suppression that arithmetic cannot undo. Pure.

CMS's cell-size rule: no count from 1 to MIN_CELL-1 may be shown or be derivable.
Primary suppression hides such counts (shown as "<11", their shares withheld).
Complementary suppression closes the arithmetic: where a group of cells is listed in
full and its total is stated (or can be worked out from a shown count and its share),
one hidden cell would be the total minus the shown ones, so the next-smallest shown
cell of the group is hidden too, which leaves only a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MIN_CELL = 11


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
    """Cells that add up to a total: the row indexes, whether every member of the total
    is listed, and whether the total is shown or derivable."""

    rows: tuple[int, ...]
    complete: bool
    total_known: bool = True


def suppress(
    rows: list[dict[str, Any]],
    count_keys: Sequence[str],
    share_keys: Sequence[str],
    min_cell: int,
    groups: Sequence[Group] = (),
) -> set[int]:
    """Hide small counts in place (every key of `count_keys` in every row), withhold the
    shares of hidden cells, and hide complementary cells in each complete group.
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
        if not (group.complete and group.total_known):
            continue
        inside = [i for i in group.rows if i in hidden_rows]
        if not inside:
            continue
        hidden_values = [rows[i].get("_raw", 0) for i in inside]
        if any(v >= min_cell for v in hidden_values):
            continue  # a large hidden cell already leaves a range
        shown = [
            i for i in group.rows if i not in hidden_rows and isinstance(rows[i].get(main), int)
        ]
        if not shown:
            continue
        j = min(shown, key=lambda i: (rows[i][main], i))
        rows[j][main] = None  # withheld: a large cell, so only a range is left
        for key in (*count_keys[1:], *share_keys):
            if key in rows[j]:
                rows[j][key] = None
        rows[j]["suppressed"] = True
        rows[j]["complementary"] = True
        hidden_rows.add(j)
    return hidden_rows


def strip_raw(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        row.pop("_raw", None)
