"""What the report's figures share: colours, style, the fixed-inch layout, axis helpers, and `save`, the
one place a figure is written (a PNG with no timestamp in its metadata, so the same data gives the same
bytes). Each figure is a seaborn FacetGrid (one panel per facet, one colour per cell), drawn once and laid
out in fixed inches."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")  # before seaborn, which imports pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # noqa: E402

from bench.atomic import atomic_path  # noqa: E402
from bench.report.data import (  # noqa: E402
    CELL_INIT,
    INIT_ORDER,
    TASK,
    TASK_ORDER,
    arm_name,
    arm_order,
    init_of,
    rank,
)
from bench.report.doc import Figure, integer, num  # noqa: E402

# One colour per cell everywhere (seaborn's colour-blind palette), extra cells after them.
PALETTE = {"rnn": "#0173B2", "lstm": "#DE8F05", "gru": "#029E73"}
_EXTRA = ("#CC78BC", "#CA9161", "#949494", "#56B4E9", "#D55E00")
IMPL_STYLE = {"fused": "-", "explicit": "--"}
DPI = 100
CHANCE_STYLE = {"color": "0.35", "ls": "--", "lw": 1.0}
MAX_AXES_W = 4.5  # inches: axes widen up to this to fit a one-row legend
CONTEXT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
CONTEXT_STYLES = ("-", "--", "-.", ":")
P = ParamSpec("P")
R = TypeVar("R")


def _mix(hex_color: str, other: tuple[float, float, float], t: float) -> str:
    rgb = matplotlib.colors.to_rgb(hex_color)
    return matplotlib.colors.to_hex(tuple((1 - t) * a + t * b for a, b in zip(rgb, other, strict=True)))


def color(arm: str) -> str:
    """The fixed colour of an arm, the same in every figure: one hue per cell, a shade per init (PyTorch's
    default init pale, the recommended inits full and darker in INIT_ORDER, others greyed)."""
    cell, init = arm.split("+", 1)[0], init_of(arm)
    base = PALETTE.get(cell) or _EXTRA[sum(map(ord, cell)) % len(_EXTRA)]  # stable, unlike hash()
    if init == "default":
        return _mix(base, (1.0, 1.0, 1.0), 0.45)
    if init not in INIT_ORDER:  # an init outside the study's: greyed, a shade per name
        return _mix(base, (0.5, 0.5, 0.5), 0.3 + 0.1 * (sum(map(ord, init)) % 4))
    return _mix(base, (0.0, 0.0, 0.0), 0.25 * (INIT_ORDER.index(init) - 1))


def hollow(arm: str) -> bool:
    """Default-init arms are drawn with hollow markers, the recommended inits with filled ones."""
    return init_of(str(arm)) == "default"


def _rc() -> dict:
    return {
        **sns.axes_style("whitegrid"),
        **sns.plotting_context("paper", font_scale=1.15),
        "svg.hashsalt": "bench-report",
        "axes.titleweight": "bold",
    }


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Draw under seaborn's whitegrid style without touching the caller's global matplotlib settings."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(_rc()):
            return fn(*args, **kwargs)

    return wrapper


def _legend_size(fig: MplFigure, handles: list[Line2D], ncols: int) -> tuple[float, float]:
    """Inches (width, height) a legend of `handles` in `ncols` columns takes (measured, then removed)."""
    leg = fig.legend(handles=handles, ncols=ncols, frameon=False)
    box = leg.get_window_extent(fig.canvas.get_renderer())
    leg.remove()
    return box.width / fig.dpi, box.height / fig.dpi


def _layout(
    fig: MplFigure,
    nrows: int,
    ncols: int,
    w: float,
    h: float,
    *,
    top: float = 0.7,
    bottom: float = 0.6,
    left: float = 0.95,
    right: float = 0.2,
    hgap: float = 0.85,
    wgap: float = 0.3,
    legend: list[Line2D] | None = None,
    legend_y: float = 0.05,
) -> None:
    """Size `fig` for a grid of axes `w` x `h` inches with fixed margins and gaps in inches, put `legend`
    across the top, `legend_y` inches below the edge, and place the axes. A fixed layout instead of
    matplotlib's constrained or tight layout: several times faster, and these figures are regular grids
    anyway. Axes widen (up to MAX_AXES_W) so the legend fits on one row; past that it wraps and the top
    margin grows. Called once everything is drawn (seaborn's FacetGrid lays out again after each map)."""
    width = left + right + ncols * w + (ncols - 1) * wgap
    fig.set_size_inches(width, 1.0)
    lcols = 1
    if legend:
        lcols = len(legend)
        lw, one_row = _legend_size(fig, legend, lcols)
        if lw > width - 0.2:  # widen the axes (up to MAX_AXES_W) for a one-row legend
            w = max(w, min(MAX_AXES_W, (lw + 0.2 - left - right - (ncols - 1) * wgap) / ncols))
            width = left + right + ncols * w + (ncols - 1) * wgap
        while lcols > 1 and lw > width - 0.2:  # still too wide: wrap onto more rows
            lcols -= 1
            lw, lh = _legend_size(fig, legend, lcols)
            top += lh - one_row
            one_row = lh
    height = top + bottom + nrows * h + (nrows - 1) * hgap
    fig.set_size_inches(width, height)
    if legend:
        fig.legend(
            handles=legend,
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - legend_y / height),
            ncols=lcols,
            frameon=False,
        )
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wgap / w,
        hspace=hgap / h,
    )


def _facet(
    data: pd.DataFrame,
    w: float,
    h: float,
    *,
    row: str | None = None,
    col: str | None = None,
    row_order: list | None = None,
    col_order: list | None = None,
    hue_order: list[str] | None = None,
    sharey: bool | str = False,
    hue: str = CELL_INIT,
) -> sns.FacetGrid:
    """A seaborn FacetGrid of axes `w` x `h` inches, one colour per arm (hue: cell x init, or the cell), no
    shared x-axis, all spines kept; `_place` lays it out once it is drawn."""
    hue_order = hue_order if hue_order is not None else _cells(data[hue])
    return sns.FacetGrid(
        data,
        row=row,
        col=col,
        hue=hue,
        row_order=row_order,
        col_order=col_order,
        hue_order=hue_order,
        palette={c: color(c) for c in hue_order},
        sharex=False,
        sharey=sharey,
        despine=False,
        height=h,
        aspect=w / h,
        legend_out=False,
    )


def _place(g: sns.FacetGrid, w: float, h: float, **layout) -> MplFigure:
    """Lay out a drawn FacetGrid's figure with the fixed inches of `_layout`; the figure, for `save`."""
    nrows, ncols = g.axes.shape
    _layout(g.figure, nrows, ncols, w, h, **layout)
    return g.figure


def save(fig: MplFigure, outdir: Path, name: str, caption: str) -> Figure:
    """Write `fig` as outdir/name.png and close it (seaborn's grids are registered with pyplot)."""
    path = outdir / f"{name}.png"
    try:
        with atomic_path(path) as tmp:  # temp name + rename: never a truncated figure
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})  # no version or time stamp
    finally:
        plt.close(fig)
    return Figure(path, f"figures/{name}.png", caption)


def _log_y(ax, values: pd.Series | np.ndarray | None = None) -> None:
    """Log y-axis. Over less than three decades label 1-2-5 steps in plain numbers (a bare 10^0 says little);
    over more, powers of ten and no minor ticks (they cost time and add nothing)."""
    ax.set_yscale("log")
    if values is not None and not _spans_decades(values, 3.0):
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: num(v, 2)))
    ax.yaxis.set_minor_locator(NullLocator())


def _spans_decades(values: pd.Series | np.ndarray, decades: float = 1.0) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and math.log10(v.max() / v.min()) >= decades


def _length_axis(ax, lengths: np.ndarray) -> None:
    """Log-x when the lengths span a decade or more; ticks at the lengths run."""
    lengths = np.unique(np.asarray(lengths, dtype=float))
    if _spans_decades(lengths):
        ax.set_xscale("log")
    if 0 < len(lengths) <= 8:
        ax.set_xticks(lengths)
        ax.set_xticklabels([integer(x) for x in lengths])
        ax.minorticks_off()
    ax.set_xlabel("sequence length T (steps)")
    ax.grid(True, which="major")


def _dodge(x: np.ndarray, i: int, n: int, log: bool, width: float) -> np.ndarray:
    # Shift each cell a little sideways so intervals at the same length do not hide each other.
    off = i - (n - 1) / 2
    return x * 10 ** (0.012 * off) if log else x + off * 0.012 * width


def _yerr(mean: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    return np.vstack([(mean - lo).fillna(0).clip(lower=0), (hi - mean).fillna(0).clip(lower=0)])


def _errorbars(data: pd.DataFrame, color: str, label: str | None = None, **style) -> None:
    """For FacetGrid.map_dataframe: `y` against `x` with the interval [lo, hi] the analysis computed (no
    bootstrap, so the same data draws the same figure); nothing when `y` is missing throughout."""
    if data["y"].notna().any():
        yerr = _yerr(data["y"], data["lo"], data["hi"])
        face = {"mfc": "white", "mew": 1.3} if label is not None and hollow(label) else {}
        plt.gca().errorbar(data["x"], data["y"], yerr=yerr, color=color, **face, **style)


def _cells(values: pd.Series) -> list[str]:
    """The arms (or cells) present, in the fixed order (data.arm_order: unknown ones after, by name)."""
    return arm_order(str(v) for v in values)


def _tasks(df: pd.DataFrame) -> list[str]:
    u = df[[TASK, "task_label"]].drop_duplicates()
    u = u.assign(_r=rank(u[TASK], TASK_ORDER)).sort_values(["_r", "task_label"], kind="mergesort")
    return list(dict.fromkeys(u["task_label"]))


def _cell_handles(arms: list[str], extra: list[Line2D] | None = None) -> list[Line2D]:
    """Legend entries of the arms (or cells): colour and marker face as drawn."""
    face = lambda a: {"mfc": "white"} if hollow(a) else {}  # noqa: E731
    arms_ = [Line2D([], [], color=color(a), marker="o", label=arm_name(a), **face(a)) for a in arms]
    return arms_ + (extra or [])
