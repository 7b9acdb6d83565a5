"""Draw an answer's chart (bot.chart_kinds says which and what) as a matplotlib Figure,
and as PNG bytes.

matplotlib is imported inside the functions that draw, so the Slack app and the CLI
start without it (about a second) and pay for it on the first chart only. The
Figure/Agg canvas API is used instead of pyplot because pyplot keeps global state and
is not safe from Bolt's worker threads.

One style for every kind: the Okabe-Ito palette (distinct for the common colour-vision
deficiencies), a title that wraps, the source and period in a footer, type sized for
Slack's preview. A hidden cell ("<11", "withheld") is a label with no bar, segment,
point or shade of its own.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toprank.bot.answer_model import Answer
from toprank.bot.chart_kinds import (
    BARS,
    DIVERGING_BARS,
    GROUPED_BARS,
    LINES,
    OTHER_CODES,
    STACKED_BAR,
    STATE_GRID,
    STATE_MAP,
    STATE_TILES,
    ChartSpec,
    Point,
    chart_spec,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Okabe & Ito (2008): blue, orange, bluish green, reddish purple, sky blue, vermillion,
# yellow; grey for "the rest".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER = "#999999"
BASE = PALETTE[0]
HIGHLIGHT = PALETTE[1]
RISE, FALL = PALETTE[0], PALETTE[5]
HIDDEN_FILL = "#EEEEEE"
HIDDEN_HATCH = "///"
MARK_COLOR = "#555555"  # "<11", "withheld", "–"
TEXT_COLOR = "#222222"
WIDTH_IN = 8.0
DPI = 100
TITLE_SIZE = 13
LABEL_SIZE = 10
FIGURE_SIZE = 9  # the figures printed by bars and points
FOOTER_SIZE = 8
MAP_LABELLED = 5
MAX_TICK_LABELS = 15  # period names under a trend's axis
MANY_POINTS = 24  # more periods than this: smaller markers  # map tiles that print their figure: the top states


def _style(axes: Axes, spec: ChartSpec | None = None, value_axis: str = "x") -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=LABEL_SIZE, colors=TEXT_COLOR)
    if spec is not None and not spec.is_share:
        from matplotlib.ticker import StrMethodFormatter

        axis = axes.xaxis if value_axis == "x" else axes.yaxis
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _mark(axes: Axes, x: float, y: float, point: Point, **kw: Any) -> None:
    """The figure of a point that has no length: where its bar would start."""
    axes.text(
        x,
        y,
        f" {point.figure}",
        va="center",
        fontsize=FIGURE_SIZE,
        color=MARK_COLOR,
        style="italic",
        gid="mark",
        **kw,
    )


def _figure_text(point: Point) -> str:
    return f"{point.figure} ({point.partial})" if point.partial else point.figure


def _legend(axes: Axes, handles: list[Any], **kw: Any) -> None:
    if handles:
        axes.legend(handles=handles, fontsize=LABEL_SIZE, frameon=False, **kw)


def _patch(color: str, label: str, **kw: Any) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label, **kw)


# --------------------------------------------------------------------------- kinds


def _height_bars(spec: ChartSpec) -> float:
    return max(3.2, 0.36 * len(spec.categories) + 2.0)


def draw_bars(figure: Figure, spec: ChartSpec) -> None:
    """A ranking: first on top. The asked-about codes in orange; a partly covered period
    hatched; a hidden cell a label at zero."""
    axes = figure.add_subplot()
    points = spec.series[0].points
    n = len(points)
    for i, point in enumerate(points):
        y = n - 1 - i
        if point.value is None:
            _mark(axes, 0, y, point)
            continue
        color = HIGHLIGHT if point.highlight else BASE
        axes.barh(
            y,
            point.value,
            color=color,
            height=0.7,
            hatch="//" if point.partial else None,
            alpha=0.6 if point.partial else 1.0,
            edgecolor="white",
            gid="bar",
        )
        axes.text(
            point.value,
            y,
            f" {_figure_text(point)}",
            va="center",
            fontsize=FIGURE_SIZE,
            color=TEXT_COLOR,
            gid="figure",
        )
    axes.set_yticks(range(n), [p.category for p in reversed(points)])
    axes.set_ylim(-0.6, n - 0.4)
    axes.set_xlabel(spec.value_label, fontsize=LABEL_SIZE)
    axes.margins(x=0.18)
    axes.set_xlim(left=0)
    _style(axes, spec)
    if spec.highlight_label:
        _legend(axes, [_patch(HIGHLIGHT, spec.highlight_label)], loc="lower right")


def _height_grouped(spec: ChartSpec) -> float:
    return max(3.5, len(spec.categories) * (0.18 * len(spec.series) + 0.2) + 2.2)


def draw_grouped_bars(figure: Figure, spec: ChartSpec) -> None:
    """Codes down the side in one order, a bar per group within each, a colour per group."""
    axes = figure.add_subplot()
    n, k = len(spec.categories), len(spec.series)
    band = 0.8
    height = band / k
    for s, series in enumerate(spec.series):
        color = PALETTE[s % len(PALETTE)]
        for j, point in enumerate(series.points):
            y = (n - 1 - j) + band / 2 - (s + 0.5) * height
            if point.value is None:
                axes.text(
                    0,
                    y,
                    f" {point.figure}",
                    va="center",
                    fontsize=FIGURE_SIZE - 1,
                    color=MARK_COLOR,
                    style="italic",
                    gid="mark",
                )
                continue
            axes.barh(
                y,
                point.value,
                height=height * 0.95,
                color=color,
                hatch="//" if point.partial else None,
                edgecolor="white",
                gid="bar",
            )
            axes.text(
                point.value,
                y,
                f" {_figure_text(point)}",
                va="center",
                fontsize=FIGURE_SIZE - 1,
                color=TEXT_COLOR,
                gid="figure",
            )
    axes.set_yticks(range(n), list(reversed(spec.categories)))
    axes.set_ylim(-0.6, n - 0.4)
    axes.set_xlabel(spec.value_label, fontsize=LABEL_SIZE)
    axes.margins(x=0.18)
    axes.set_xlim(left=0)
    _style(axes, spec)
    handles = [_patch(PALETTE[s % len(PALETTE)], x.name) for s, x in enumerate(spec.series)]
    _legend(axes, handles, loc="lower right")


def draw_lines(figure: Figure, spec: ChartSpec) -> None:
    """Periods left to right, a line with markers per series. A partly covered period
    has an open marker reached by a dashed segment, and says so under its tick; a hidden
    value breaks the line and prints its mark at the foot of the axes."""
    from matplotlib.lines import Line2D

    axes = figure.add_subplot()
    x_of = {c: i for i, c in enumerate(spec.categories)}
    labelled = len(spec.series) == 1 and len(spec.categories) <= 13
    handles = []
    for s, series in enumerate(spec.series):
        color = PALETTE[s % len(PALETTE)]
        points = series.points
        for a, b in zip(points, points[1:], strict=False):
            if a.value is None or b.value is None:
                continue
            dashed = bool(a.partial or b.partial)
            axes.plot(
                [x_of[a.category], x_of[b.category]],
                [a.value, b.value],
                color=color,
                linewidth=2,
                linestyle="--" if dashed else "-",
                gid="partial_segment" if dashed else "segment",
            )
        for partial in (False, True):
            shown = [p for p in points if p.value is not None and bool(p.partial) == partial]
            if not shown:
                continue
            axes.plot(
                [x_of[p.category] for p in shown],
                [p.value for p in shown if p.value is not None],
                linestyle="none",
                marker="o",
                markersize=7 if len(spec.categories) <= MANY_POINTS else 4,
                color=color,
                markeredgewidth=2,
                markerfacecolor="white" if partial else color,
                gid="partial_points" if partial else "points",
                zorder=3,
            )
            if labelled:
                for p in shown:
                    axes.annotate(
                        p.figure,
                        (x_of[p.category], p.value or 0),
                        textcoords="offset points",
                        xytext=(0, 8),
                        ha="center",
                        fontsize=FIGURE_SIZE,
                        color=TEXT_COLOR,
                        gid="figure",
                    )
        for p in points:
            if p.value is None:
                axes.annotate(
                    p.figure,
                    (x_of[p.category], 0.02),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    fontsize=FIGURE_SIZE,
                    color=MARK_COLOR,
                    style="italic",
                    gid="mark",
                )
        if series.name:
            handles.append(Line2D([], [], color=color, marker="o", label=series.name))
    partial_of = {p.category: p.partial for p in spec.points if p.partial}
    # every k-th period named when there are many (57 months), a partial one always
    step = -(-len(spec.categories) // MAX_TICK_LABELS)
    ticks = [
        f"{c}\n({partial_of[c]})" if c in partial_of else c if i % step == 0 else ""
        for i, c in enumerate(spec.categories)
    ]
    axes.set_xticks(range(len(ticks)), ticks)
    if sum(bool(t) for t in ticks) > 8:
        axes.tick_params(axis="x", labelrotation=45)
    axes.set_ylabel(spec.value_label, fontsize=LABEL_SIZE)
    axes.margins(x=0.06, y=0.18)
    axes.set_ylim(bottom=0)  # one baseline for every trend: a change looks its true size
    axes.grid(axis="y", color="#E5E5E5")
    axes.set_axisbelow(True)
    _style(axes, spec, value_axis="y")
    _legend(axes, handles, loc="best")


def draw_state_map(figure: Figure, spec: ChartSpec) -> None:
    """A square per state and DC. One unnamed series: shaded by the value (a colour bar
    says how), the top states print their figure. Named series: coloured by the series
    (the top code), with a legend. Hidden cells hatched grey; states not listed white."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    axes = figure.add_subplot()
    categorical = any(s.name for s in spec.series)
    colours = [
        OTHER if s.name == OTHER_CODES else PALETTE[i % len(PALETTE)]
        for i, s in enumerate(spec.series)
    ]
    by_state = {p.category: (s, p) for s, series in enumerate(spec.series) for p in series.points}
    values = [p.value for p in spec.points if p.value is not None]
    cmap = _sequential()
    norm = Normalize(vmin=0, vmax=max(values) if values else 1)
    ranked = sorted((p for p in spec.points if p.value is not None), key=lambda p: -(p.value or 0))
    top = {p.category for p in ranked[:MAP_LABELLED]} if not categorical else set()
    for state, (row, col) in STATE_TILES.items():
        x, y = col, -row
        found = by_state.get(state)
        label, detail, weight = state, "", "normal"
        if found is None:
            face, hatch, ink, gid = "white", None, "#AAAAAA", "tile_unlisted"
        elif found[1].value is None:
            face, hatch, ink, gid = HIDDEN_FILL, HIDDEN_HATCH, MARK_COLOR, "tile_hidden"
            detail = found[1].figure
        elif categorical:
            face, hatch, gid = colours[found[0]], None, "tile"
            ink = "white" if face in (PALETTE[0], PALETTE[3], PALETTE[5]) else TEXT_COLOR
        else:
            value = found[1].value or 0
            face, hatch, gid = cmap(norm(value)), None, "tile"
            ink = "white" if norm(value) > 0.55 else TEXT_COLOR
            if state in top:
                detail, weight = found[1].figure, "bold"
        axes.add_patch(
            Rectangle(
                (x, y),
                0.92,
                0.92,
                facecolor=face,
                hatch=hatch,
                edgecolor="#BBBBBB",
                linewidth=0.6,
                gid=gid,
            )
        )
        cy = y + (0.6 if detail else 0.46)
        axes.text(
            x + 0.46,
            cy,
            label,
            ha="center",
            va="center",
            fontsize=FIGURE_SIZE,
            color=ink,
            fontweight=weight,
            gid="state",
        )
        if detail:
            axes.text(
                x + 0.46,
                y + 0.26,
                detail,
                ha="center",
                va="center",
                fontsize=FIGURE_SIZE - 0.5,
                color=ink,
                fontweight=weight,
                gid="mark" if found and found[1].value is None else "figure",
            )
    axes.set_xlim(-0.1, 11.1)
    axes.set_ylim(-len(STATE_GRID) + 0.9, 1.0)
    axes.set_aspect("equal")
    axes.axis("off")
    if categorical:
        handles = [_patch(colours[s], x.name) for s, x in enumerate(spec.series)]
        _legend(axes, handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2)
    elif values:
        bar = figure.colorbar(
            ScalarMappable(norm=norm, cmap=cmap),
            ax=axes,
            orientation="horizontal",
            shrink=0.55,
            aspect=30,
            pad=0.02,
        )
        bar.set_label(spec.value_label, fontsize=LABEL_SIZE)
        bar.ax.tick_params(labelsize=LABEL_SIZE - 1)


def _sequential() -> Any:
    """Light to dark blue: one hue, so order reads under any colour-vision deficiency."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("toprank_blues", ["#DCEAF7", "#0B4F8A"])


LEGEND_LINE_CHARS = 78  # legend text that fits one line across the figure


def _legend_columns(labels: list[str]) -> int:
    """As few rows as the longest entry allows across the figure, the columns even."""
    widest = max((len(label) for label in labels), default=1) + 6  # + the colour key
    fit = max(1, min(len(labels), LEGEND_LINE_CHARS // widest))
    rows = -(-len(labels) // fit)
    return -(-len(labels) // rows)


def _stacked_labels(spec: ChartSpec) -> list[str]:
    single = len(spec.categories) == 1
    return [f"{s.name} {s.points[0].figure}" if single else s.name for s in spec.series]


def _height_stacked(spec: ChartSpec) -> float:
    labels = _stacked_labels(spec)
    legend_rows = -(-len(labels) // _legend_columns(labels))
    return max(3.0, 0.7 * len(spec.categories) + 2.4) + 0.28 * legend_rows


def draw_stacked_bar(figure: Figure, spec: ChartSpec) -> None:
    """Each group a 100% bar, its parts left to right in one order and colour; a part
    wide enough prints its share inside, the legend names every part."""
    axes = figure.add_subplot()
    n = len(spec.categories)
    left = [0.0] * n
    single = n == 1
    handles = []
    for s, series in enumerate(spec.series):
        color = PALETTE[s % len(PALETTE)]
        for j, point in enumerate(series.points):
            if point.value is None:
                continue
            y = n - 1 - j
            axes.barh(
                y,
                point.value,
                left=left[j],
                color=color,
                height=0.6,
                edgecolor="white",
                gid="segment",
            )
            if point.value >= 4.5:
                ink = "white" if s in (0, 3, 5) else TEXT_COLOR
                axes.text(
                    left[j] + point.value / 2,
                    y,
                    point.figure,
                    ha="center",
                    va="center",
                    fontsize=FIGURE_SIZE if point.value >= 7 else FIGURE_SIZE - 1.5,
                    color=ink,
                    gid="figure",
                )
            left[j] += point.value
        handles.append(_patch(color, _stacked_labels(spec)[s]))
    axes.set_yticks(range(n), list(reversed(spec.categories)))
    if single:
        axes.set_yticks([])
        axes.spines["left"].set_visible(False)
    axes.set_xlim(0, 100)
    axes.set_ylim(-0.6, n - 0.4)
    axes.set_xlabel(spec.value_label, fontsize=LABEL_SIZE)
    _style(axes)
    ncol = _legend_columns([h.get_label() for h in handles])
    _legend(axes, handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol)


def draw_diverging_bars(figure: Figure, spec: ChartSpec) -> None:
    """Rises to the right, falls to the left of zero, in two colours, biggest on top."""
    axes = figure.add_subplot()
    n = len(spec.categories)
    y_of = {c: n - 1 - i for i, c in enumerate(spec.categories)}
    handles = []
    for series in spec.series:
        color = RISE if series.name == "Share rose" else FALL
        for point in series.points:
            y = y_of[point.category]
            if point.value is None:
                _mark(axes, 0, y, point)
                continue
            axes.barh(y, point.value, color=color, height=0.7, gid="bar")
            ha = "left" if point.value >= 0 else "right"
            axes.text(
                point.value,
                y,
                f" {point.figure} " if ha else point.figure,
                ha=ha,
                va="center",
                fontsize=FIGURE_SIZE,
                color=TEXT_COLOR,
                gid="figure",
            )
        handles.append(_patch(color, series.name))
    axes.axvline(0, color="#444444", linewidth=1)
    axes.set_yticks(range(n), list(reversed(spec.categories)))
    axes.set_ylim(-0.6, n - 0.4)
    axes.set_xlabel(spec.value_label, fontsize=LABEL_SIZE)
    values = [p.value for p in spec.points if p.value is not None] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    pad = (high - low) * 0.3 or 1.0
    # room for the figures either side; zero stays in view when all moved one way
    axes.set_xlim(low - (pad if low < 0 else pad / 6), high + (pad if high > 0 else pad / 6))
    _style(axes)
    _legend(axes, handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)


DRAWERS: dict[str, tuple[Callable[[Figure, ChartSpec], None], Callable[[ChartSpec], float]]] = {
    BARS: (draw_bars, _height_bars),
    GROUPED_BARS: (draw_grouped_bars, _height_grouped),
    LINES: (draw_lines, lambda spec: 4.8),
    STATE_MAP: (draw_state_map, lambda spec: 6.4),
    STACKED_BAR: (draw_stacked_bar, _height_stacked),
    DIVERGING_BARS: (draw_diverging_bars, _height_bars),
}


def draw(spec: ChartSpec) -> Figure:
    """The Figure of a chart spec, ready to inspect or save. Its label is the kind."""
    from matplotlib.figure import Figure

    drawer, height = DRAWERS[spec.kind]
    figure = Figure(figsize=(WIDTH_IN, height(spec)), dpi=DPI, layout="constrained")
    figure.set_label(spec.kind)
    drawer(figure, spec)
    width_chars = title_width()
    title = figure.suptitle(
        wrap(spec.title, width_chars),
        x=0.01,
        ha="left",
        fontsize=TITLE_SIZE,
        fontweight="bold",
        color=TEXT_COLOR,
    )
    footer_chars = int(WIDTH_IN * 72 / (FOOTER_SIZE * 0.55))
    footer = figure.supxlabel(
        wrap(spec.footer, footer_chars),
        x=0.01,
        ha="left",
        fontsize=FOOTER_SIZE,
        color="#555555",
    )
    title.set_gid("title")
    footer.set_gid("footer")
    return figure


def title_width() -> int:
    """Characters of a title line that fit the figure's width (bold, about 0.62 em each)."""
    return int(WIDTH_IN * 72 / (TITLE_SIZE * 0.62))


def chart_figure(answer: Answer) -> Figure:
    """The answer's chart as a Figure. ValueError when the answer gets no chart."""
    return draw(chart_spec(answer))


def figure_png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def chart_png(answer: Answer) -> bytes:
    """PNG bytes of the answer's chart. ValueError when the answer gets no chart."""
    return figure_png(chart_figure(answer))
