"""A bar chart of an answer's rows as PNG bytes (matplotlib, Agg; no files, no pyplot).

The Figure/Agg canvas API is used instead of pyplot because pyplot keeps global state
and is not safe from Bolt's worker threads.
"""

from __future__ import annotations

import io
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.answer_model import Answer
from bot.render_blocks import chart_measure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BARS = 50
BAR_COLOR = "#2E6DB4"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def bar_label(row: Mapping[str, Any], several_cohorts: bool) -> str:
    if row.get("code") is not None:
        label = str(row["code"])
        if several_cohorts and row.get("cohort"):
            label = f"{str(row['cohort']).upper()} {label}"
        description = str(row.get("description") or "")
        if description:
            short = description if len(description) <= 28 else description[:27] + "…"
            label = f"{label}  {short}"
        return label
    for key in ("year", "period", "state", "payer", "cohort"):
        if row.get(key) is not None:
            return str(row[key])
    return "?"


@dataclass(frozen=True)
class Bars:
    """What a chart shows: a bar per row, its length and the figure printed by it. A
    hidden count has no bar and says so ("<11", "withheld"), never 0."""

    key: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    figures: tuple[str, ...]


def chart_bars(answer: Answer) -> Bars:
    """The bars of the answer's rows. ValueError if there is nothing to plot."""
    rows = list(answer.rows[:MAX_BARS])
    key = chart_measure(rows)
    if key is None:
        raise ValueError("the answer has no numbers to chart")
    several_cohorts = len({r.get("cohort") for r in rows}) > 1
    is_share = key.endswith("_pct")
    figures = []
    for r in rows:
        value = r.get(key)
        if _is_number(value):
            figures.append(f"{value:.1f}%" if is_share else f"{value:,.0f}")
        elif r.get("suppressed") and not r.get("complementary"):
            marks = [v for v in r.values() if isinstance(v, str) and v.startswith("<")]
            figures.append(marks[0] if marks else "withheld")
        else:
            figures.append("withheld" if r.get("suppressed") else "-")
    return Bars(
        key,
        tuple(bar_label(r, several_cohorts) for r in rows),
        tuple(float(r[key]) if _is_number(r.get(key)) else 0.0 for r in rows),
        tuple(figures),
    )


def bar_chart_png(answer: Answer) -> bytes:
    """PNG bytes of a bar chart of the answer's rows. ValueError if there is nothing to plot."""
    rows = list(answer.rows[:MAX_BARS])
    bars_of = chart_bars(answer)
    key, labels, values = bars_of.key, list(bars_of.labels), list(bars_of.values)
    is_share = key.endswith("_pct")
    by_time = any(r.get("year") is not None or r.get("period") is not None for r in rows)

    if by_time:  # a trend reads left to right
        figure = Figure(figsize=(max(6.0, 0.8 * len(rows) + 2), 4.5), dpi=100)
        axes = figure.add_subplot()
        bars = axes.bar(labels, values, color=BAR_COLOR)
        axes.set_ylabel("Share (%)" if is_share else key.capitalize())
    else:  # a ranking reads top to bottom, first rank on top
        figure = Figure(figsize=(8.0, max(3.0, 0.32 * len(rows) + 1.5)), dpi=100)
        axes = figure.add_subplot()
        bars = axes.barh(labels[::-1], values[::-1], color=BAR_COLOR)
        axes.set_xlabel("Share (%)" if is_share else key.capitalize())
    axes.bar_label(
        bars,
        labels=list(bars_of.figures if by_time else bars_of.figures[::-1]),
        padding=3,
        fontsize=8,
    )
    axes.margins(x=0.12) if not by_time else axes.margins(y=0.12)
    axes.spines[["top", "right"]].set_visible(False)
    title = answer.title or answer.question
    if answer.period_label and answer.period_label not in title:
        title = f"{title} ({answer.period_label})"
    axes.set_title(title[:90], fontsize=11, loc="left")
    sources = ", ".join(answer.provenance.sources)
    if sources:
        figure.text(0.01, 0.01, f"Source: {sources}"[:120], fontsize=7, color="#666666")
    figure.tight_layout(rect=(0, 0.03, 1, 1))

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
