"""The report's figures. Each is drawn once, on its own matplotlib Figure (no pyplot state), and saved as
a PNG with no timestamp in its metadata so the same data gives the same bytes."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")  # before seaborn, which imports pyplot

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullLocator  # noqa: E402

from bench.report.ablations import Ablation  # noqa: E402
from bench.report.data import CELL, CELL_ORDER, IMPL, TASK, TASK_ORDER, cell_name, rank  # noqa: E402
from bench.report.data import T as LEN  # noqa: E402
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


def color(cell: str) -> str:
    """The fixed colour of a cell, the same in every figure."""
    if cell in PALETTE:
        return PALETTE[cell]
    return _EXTRA[sum(map(ord, cell)) % len(_EXTRA)]  # stable, unlike hash()


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


def _new(
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
    sharey: bool | str = False,
    legend: list[Line2D] | None = None,
    legend_y: float = 0.05,
) -> tuple[MplFigure, np.ndarray]:
    """A grid of axes `w` x `h` inches with fixed margins and gaps in inches, and `legend` across the top,
    `legend_y` inches below the edge. A fixed layout instead of matplotlib's constrained layout: several
    times faster, and these figures are regular grids anyway. Axes widen (up to MAX_AXES_W) so the legend
    fits on one row; past that it wraps and the top margin grows."""
    width = left + right + ncols * w + (ncols - 1) * wgap
    fig = MplFigure(figsize=(width, 1.0))
    FigureCanvasAgg(fig)  # a real canvas, to measure the legend before laying out
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
    grid = {
        "left": left / width,
        "right": 1 - right / width,
        "bottom": bottom / height,
        "top": 1 - top / height,
        "wspace": wgap / w,
        "hspace": hgap / h,
    }
    return fig, fig.subplots(nrows, ncols, squeeze=False, sharey=sharey, gridspec_kw=grid)


def _save(fig: MplFigure, outdir: Path, name: str, caption: str) -> Figure:
    path = outdir / f"{name}.png"
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})  # no version or time stamp
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


def _cells(values: pd.Series) -> list[str]:
    """The cells present, in the fixed order (unknown cells after, by name)."""
    return sorted(set(values), key=lambda c: (CELL_ORDER.index(c) if c in CELL_ORDER else len(CELL_ORDER), c))


def _tasks(df: pd.DataFrame) -> list[str]:
    u = df[[TASK, "task_label"]].drop_duplicates()
    u = u.assign(_r=rank(u[TASK], TASK_ORDER)).sort_values(["_r", "task_label"], kind="mergesort")
    return list(dict.fromkeys(u["task_label"]))


def _cell_handles(cells: list[str], extra: list[Line2D] | None = None) -> list[Line2D]:
    return [Line2D([], [], color=color(c), marker="o", label=cell_name(c)) for c in cells] + (extra or [])


@styled
def headline(s: pd.DataFrame, outdir: Path) -> Figure:
    """Final accuracy and final loss / chance against length: one column per task, one line per cell."""
    tasks = _tasks(s)
    cells = _cells(s[CELL])
    handles = _cell_handles(cells, [Line2D([], [], label="chance", **CHANCE_STYLE)])
    fig, axes = _new(2, len(tasks), 3.9, 2.9, sharey="row", top=0.8, legend=handles)
    ratio_log = _spans_decades(pd.concat([s["ratio_mean"], s["ratio_lo"], s["ratio_hi"]]), 1.5)
    for j, task in enumerate(tasks):
        sub = s[s["task_label"] == task]
        lengths = sub[LEN].to_numpy(dtype=float)
        log = _spans_decades(lengths)
        width = float(np.ptp(lengths)) if len(lengths) else 1.0
        a_acc, a_loss = axes[0, j], axes[1, j]
        for i, cell in enumerate(cells):
            d = sub[sub[CELL] == cell]
            if d.empty:
                continue
            x = _dodge(d[LEN].to_numpy(dtype=float), i, len(cells), log, width)
            kw = {"color": color(cell), "marker": "o", "ms": 4, "capsize": 3, "lw": 1.6}
            if d["acc_mean"].notna().any():
                # accuracy lives in [0, 1]: a t-interval over 2-3 seeds can reach far outside it
                lo, hi = d["acc_lo"].clip(0, 1), d["acc_hi"].clip(0, 1)
                a_acc.errorbar(x, d["acc_mean"], yerr=_yerr(d["acc_mean"], lo, hi), **kw)
            # a loss ratio is positive: on a log axis, clip the lower bar at a tenth of the smallest mean
            floor = d["ratio_mean"][d["ratio_mean"] > 0].min() / 10 if ratio_log else -np.inf
            r_lo = d["ratio_lo"].clip(lower=floor)
            a_loss.errorbar(x, d["ratio_mean"], yerr=_yerr(d["ratio_mean"], r_lo, d["ratio_hi"]), **kw)
        chance = sub.groupby(LEN)["chance_accuracy"].median()
        if chance.notna().any():
            a_acc.plot(chance.index, chance.values, label="chance", **CHANCE_STYLE)
        if sub["acc_mean"].isna().all():
            a_acc.text(
                0.5,
                0.5,
                "no accuracy recorded\nfor this task",
                ha="center",
                va="center",
                transform=a_acc.transAxes,
                color="0.4",
            )
        a_loss.axhline(1.0, **CHANCE_STYLE)
        if ratio_log:
            _log_y(a_loss, pd.concat([s["ratio_mean"], s["ratio_lo"], s["ratio_hi"]]))
        a_acc.set_ylim(-0.03, 1.03)
        a_acc.set_title(task)
        if j == 0:
            a_acc.set_ylabel("final accuracy (eval)")
            a_loss.set_ylabel("final loss / chance loss")
        for ax in (a_acc, a_loss):
            _length_axis(ax, lengths)
    return _save(
        fig,
        outdir,
        "accuracy_vs_length",
        "Final accuracy (top) and final loss relative to chance (bottom, 1 = chance, lower is better) "
        "against sequence length. Points: mean over seeds; bars: 95% t-interval (none with one seed), "
        "clipped to [0, 1] for accuracy and above 0 for the loss ratio.",
    )


@styled
def profiles(med: pd.DataFrame, outdir: Path) -> Figure:
    """||dL/dh_t|| (and ||dL/dc_t||) against distance at each task's longest profiled length; rows = tasks,
    columns = cells, one shared log y-axis so cells and tasks compare directly."""
    tasks = _tasks(med)
    longest = med.groupby("task_label")[LEN].max()
    sub = med[med[LEN] == med["task_label"].map(longest)]
    cells = _cells(sub[CELL])
    pos = sub["median"][sub["median"] > 0]
    # Exact zeros are drawn two decades below the smallest positive value (kept inside float64's range).
    floor = 10.0 ** max(math.floor(math.log10(pos.min())) - 2, -300) if len(pos) else 1e-30
    handles = [
        Line2D([], [], color="0.2", ls=":", lw=1.8, label="||dL/dh_t|| at init"),
        Line2D([], [], color="0.2", ls="-", lw=1.8, label="||dL/dh_t|| trained"),
    ]
    if (sub["state"] == "c").any():
        handles += [
            Line2D([], [], color="0.2", ls=":", lw=1.1, marker="s", ms=3, label="||dL/dc_t|| at init"),
            Line2D([], [], color="0.2", ls="-", lw=1.1, marker="s", ms=3, label="||dL/dc_t|| trained"),
        ]
    if (sub["median"] == 0).any():
        handles.append(
            Line2D([], [], color="0.2", ls="", marker="v", label=f"exactly 0 (drawn at {num(floor)})")
        )
    fig, axes = _new(len(tasks), len(cells), 3.6, 2.5, sharey=True, top=0.8, legend=handles)
    for r, task in enumerate(tasks):
        T = longest[task]
        for c, cell in enumerate(cells):
            ax = axes[r, c]
            d = sub[(sub["task_label"] == task) & (sub[CELL] == cell)]
            zero_here = False
            for phase, ls in (("init", ":"), ("trained", "-")):
                for state in ("h", "c"):
                    e = d[(d["phase"] == phase) & (d["state"] == state)]
                    if e.empty:
                        continue
                    style = {"color": color(cell), "ls": ls, "lw": 1.8 if state == "h" else 1.1}
                    if state == "c":
                        style |= {"marker": "s", "ms": 3, "markevery": max(1, len(e) // 10), "alpha": 0.75}
                    ax.plot(e["distance"], e["median"].where(e["median"] > 0), **style)
                    z = e[e["median"] == 0]
                    if len(z):
                        zero_here = True
                        ax.scatter(
                            z["distance"],
                            np.full(len(z), floor),
                            marker="v",
                            s=14,
                            color=color(cell),
                            alpha=0.8,
                            zorder=3,
                        )
            if zero_here:
                ax.axhline(floor, color="0.5", lw=0.6)
                ax.annotate(
                    "underflow to 0",
                    xy=(0.02, floor),
                    xycoords=("axes fraction", "data"),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="left",
                    va="bottom",
                    fontsize=8,
                    color="0.2",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6", "lw": 0.5},
                )
            if d.empty:
                ax.text(0.5, 0.5, "no profile", ha="center", va="center", transform=ax.transAxes)
            _log_y(ax)
            ax.set_title(f"{cell_name(cell)}: {task}, T={integer(T)}")
            if r == len(tasks) - 1:
                ax.set_xlabel("distance from scored position (steps)")
            if c == 0:
                ax.set_ylabel("gradient norm (median)")
    axes[0, 0].set_ylim(bottom=floor / 5)
    return _save(
        fig,
        outdir,
        "grad_profiles",
        "Gradient profiles at each task's longest length: norm of the loss gradient with respect to the "
        "hidden state h_t (and the LSTM cell state c_t) against steps back from the scored position; median "
        "over seeds, top layer; at initialisation (dotted) and at the end of training (solid). Log scale; "
        f"exact zeros (underflow) are drawn as triangles at {num(floor)}. Every length: the table below.",
    )


@styled
def learning_curves(cm: pd.DataFrame, outdir: Path) -> Figure:
    """Eval loss / chance against training step; rows = tasks, columns = lengths, one line per cell."""
    tasks = _tasks(cm)
    ncols = int(cm.groupby("task_label")[LEN].nunique().max())
    cells = _cells(cm[CELL])
    handles = _cell_handles(cells, [Line2D([], [], label="chance", **CHANCE_STYLE)])
    fig, axes = _new(len(tasks), ncols, 3.3, 2.4, sharey=True, top=0.8, legend=handles)
    for r, task in enumerate(tasks):
        sub = cm[cm["task_label"] == task]
        lengths = sorted(sub[LEN].unique())
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(lengths):
                ax.set_visible(False)
                continue
            d = sub[sub[LEN] == lengths[c]]
            for cell in cells:
                e = d[d[CELL] == cell]
                if e.empty:
                    continue
                ax.fill_between(e["step"], e["min"], e["max"], color=color(cell), alpha=0.15, lw=0)
                ax.plot(e["step"], e["median"], color=color(cell), lw=1.6)
            ax.axhline(1.0, **CHANCE_STYLE)
            ax.set_title(f"{task}, T={integer(lengths[c])}")
            ax.set_xlabel("training step (steps)")
            if c == 0:
                ax.set_ylabel("eval loss / chance loss")
    if _spans_decades(pd.concat([cm["min"], cm["max"]]), 1.5):
        _log_y(axes[0, 0], pd.concat([cm["min"], cm["max"]]))
    return _save(
        fig,
        outdir,
        "learning_curves",
        "Learning curves: eval loss relative to chance against training steps. Line: median over seeds; "
        "band: min to max over seeds; dashed: chance.",
    )


@styled
def cost(c: pd.DataFrame, outdir: Path) -> Figure:
    """ms per step and elements per second against length, per cell (colour) and implementation (style)."""
    tasks = _tasks(c)
    cells = _cells(c[CELL])
    impls = sorted(c[IMPL].unique(), key=lambda i: (i not in IMPL_STYLE, i))
    handles = _cell_handles(
        cells, [Line2D([], [], color="0.3", ls=IMPL_STYLE.get(i, "-."), label=i) for i in impls]
    )
    fig, axes = _new(2, len(tasks), 3.9, 2.8, sharey="row", top=0.8, legend=handles)
    logs = [_spans_decades(c["ms_per_step"]), _spans_decades(c["elements_per_s"])]
    for j, task in enumerate(tasks):
        sub = c[c["task_label"] == task]
        for cell in cells:
            for impl in impls:
                d = sub[(sub[CELL] == cell) & (sub[IMPL] == impl)]
                if d.empty:
                    continue
                style = {"color": color(cell), "ls": IMPL_STYLE.get(impl, "-."), "marker": "o", "ms": 4}
                axes[0, j].plot(d[LEN], d["ms_per_step"], **style)
                axes[1, j].plot(d[LEN], d["elements_per_s"], **style)
        axes[0, j].set_title(task)
        if j == 0:
            axes[0, j].set_ylabel("time per training step (ms)")
            axes[1, j].set_ylabel("throughput (elements/s)")
        for r in (0, 1):
            _length_axis(axes[r, j], sub[LEN].to_numpy())
            if logs[r]:
                _log_y(axes[r, j], c[("ms_per_step", "elements_per_s")[r]])
        axes[1, j].yaxis.set_major_formatter(EngFormatter(sep=""))  # 800k, not 800000
    return _save(
        fig,
        outdir,
        "cost",
        "Cost: milliseconds per training step (top) and sequence elements processed per second (bottom) "
        "against sequence length; median over seeds; line style = implementation.",
    )


@styled
def ablation(a: Ablation, outdir: Path) -> Figure:
    """Final loss / chance per arm of one ablation factor: one panel per cell; each (task, length) the factor
    was run at is one line (marker and line style), so the arms compare within and across contexts."""
    s = a.stats
    contexts = list(dict.fromkeys(zip(s["task_label"], s[LEN], strict=True)))
    cells = _cells(s[CELL])
    is_log = a.factor.axis == "log"
    best = a.factor.best
    n_arms = int(s.groupby(CELL)["arm"].nunique().max())
    longest = int(s["arm"].str.len().max()) + 1
    # Arm names are rotated 35 degrees: room below for them, and on the left for the first one.
    below = 0.75 if is_log else 0.45 + 0.045 * min(longest, 40)
    left = 0.95 if is_log else max(0.95, 0.062 * min(longest, 40))
    handles = _cell_handles(cells)
    handles += [
        Line2D(
            [],
            [],
            color="0.3",
            marker=CONTEXT_MARKERS[k % len(CONTEXT_MARKERS)],
            ls=CONTEXT_STYLES[k % len(CONTEXT_STYLES)],
            label=f"{task}, T={integer(T)}",
        )
        for k, (task, T) in enumerate(contexts)
    ]
    handles.append(Line2D([], [], label="chance", **CHANCE_STYLE))
    if best:
        handles.append(
            Line2D([], [], color="0.3", marker="*", ms=11, ls="", mec="k", label=f"best {a.factor.name}")
        )
    fig, axes = _new(
        1,
        len(cells),
        max(3.2, 0.42 * n_arms + 1.0),
        2.8,
        sharey=True,
        top=0.8,
        bottom=below,
        left=left,
        legend=handles,
    )
    for c, cell in enumerate(cells):
        ax = axes[0, c]
        d_cell = s[s[CELL] == cell]
        ax.axhline(1.0, **CHANCE_STYLE)
        ax.set_title(cell_name(cell))
        # Categorical arms: the standard arm first, then by name (the stats are sorted that way).
        order = list(
            dict.fromkeys(
                d_cell.sort_values(["standard", "arm"], ascending=[False, True], kind="mergesort")["arm"]
            )
        )
        pos = {arm: i for i, arm in enumerate(order)}
        for k, (task, T) in enumerate(contexts):
            d = d_cell[(d_cell["task_label"] == task) & (d_cell[LEN] == T)]
            if d.empty:
                continue
            off = k - (len(contexts) - 1) / 2
            if is_log:
                d = d.sort_values("arm_x")
                x = d["arm_x"].to_numpy(dtype=float) * 10 ** (0.02 * off)
            else:
                d = d.assign(_p=d["arm"].map(pos)).sort_values("_p")
                x = d["_p"].to_numpy(dtype=float) + 0.07 * off
            ax.errorbar(
                x,
                d["ratio_mean"],
                yerr=_yerr(d["ratio_mean"], d["ratio_lo"], d["ratio_hi"]),
                color=color(cell),
                marker=CONTEXT_MARKERS[k % len(CONTEXT_MARKERS)],
                ms=5,
                ls=CONTEXT_STYLES[k % len(CONTEXT_STYLES)],
                lw=1.1,
                capsize=2,
                elinewidth=1.0,
            )
            if best and d["ratio_mean"].notna().any():
                i = int(np.nanargmin(d["ratio_mean"].to_numpy(dtype=float)))
                ax.plot(
                    [x[i]],
                    [d["ratio_mean"].iloc[i]],
                    marker="*",
                    ms=12,
                    color=color(cell),
                    mec="k",
                    ls="",
                    zorder=4,
                )
        if is_log:
            ax.set_xscale("log")
            ax.set_xlabel(f"{a.factor.title.lower()} (dotted: standard)")
            std = d_cell.loc[d_cell["standard"], "arm_x"].unique()
            for v in std:
                ax.axvline(v, color="0.6", ls=":", lw=1.0)
        else:
            std = set(d_cell.loc[d_cell["standard"], "arm"])
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([f"{arm}*" if arm in std else arm for arm in order], rotation=35, ha="right")
            ax.set_xlim(-0.6, len(order) - 0.4)
        if c == 0:
            ax.set_ylabel("final loss / chance loss")
    values = pd.concat([s["ratio_mean"], s["ratio_lo"], s["ratio_hi"]])
    if _spans_decades(values, 1.5):
        _log_y(axes[0, 0], values)
    return _save(
        fig,
        outdir,
        f"ablation_{a.factor.name}",
        f"{a.factor.title}: final loss relative to chance per arm (mean over seeds, 95% t-interval), one "
        f"line per task and length. An asterisk marks the standard arm (a dotted line the standard lr); "
        f"dashed: chance.",
    )
