"""The report's figures of the main comparison: accuracy against length, gradient profiles, learning
curves, cost. Each is a seaborn FacetGrid; its panels are drawn by FacetGrid.map_dataframe from the
analysis tables (intervals included), so no figure depends on seaborn's bootstrap."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter

from bench.report.ablation_figure import ablation
from bench.report.data import CELL, CELL_INIT, IMPL, arm_name, cell_name
from bench.report.data import T as LEN
from bench.report.doc import Figure, integer, num
from bench.report.plotting import (
    CHANCE_STYLE,
    IMPL_STYLE,
    _cell_handles,
    _cells,
    _dodge,
    _errorbars,
    _facet,
    _length_axis,
    _log_y,
    _place,
    _spans_decades,
    _tasks,
    color,
    save,
    styled,
)

__all__ = ["ablation", "cost", "headline", "learning_curves", "profiles"]


def _compared_ratio(s: pd.DataFrame) -> pd.DataFrame:
    """Loss / chance as the arms are compared: at the common step (eq_ratio_*), else the final one."""
    eq = s["eq_ratio_mean"].notna()
    return pd.DataFrame({c: s[f"eq_ratio_{c}"].where(eq, s[f"ratio_{c}"]) for c in ("mean", "lo", "hi")})


def _headline_frame(s: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Long form for the headline: one row per (task, length, arm, metric) with a dodged x, y and its
    interval [lo, hi]: the solve rate with Wilson's interval (inside [0, 1]) and loss / chance at the
    common step with the back-transformed t-interval of its log (above 0)."""
    r = _compared_ratio(s)
    parts = []
    for (_task, cell), d in s.groupby(["task_label", CELL_INIT], sort=False):
        lengths = s.loc[s["task_label"] == _task, LEN].to_numpy(dtype=float)
        width = float(np.ptp(lengths)) if len(lengths) else 1.0
        x = _dodge(
            d[LEN].to_numpy(dtype=float), cells.index(cell), len(cells), _spans_decades(lengths), width
        )
        rate = d["n_solved"] / d["n"].where(d["n"] > 0)
        parts.append(d.assign(metric="solved", x=x, y=rate, lo=d["solved_lo"], hi=d["solved_hi"]))
        rr = r.loc[d.index]
        parts.append(d.assign(metric="ratio", x=x, y=rr["mean"], lo=rr["lo"], hi=rr["hi"]))
    return pd.concat(parts, ignore_index=True)


def _headline_axes(g: sns.FacetGrid, s: pd.DataFrame, tasks: list[str], ratio_log: bool) -> None:
    """Chance lines, scales, titles and labels of the headline's panels."""
    r = _compared_ratio(s)
    ratios = pd.concat([r["mean"], r["lo"], r["hi"]])
    for j, task in enumerate(tasks):
        sub = s[s["task_label"] == task]
        a_rate, a_loss = g.axes[0, j], g.axes[1, j]
        a_loss.axhline(1.0, **CHANCE_STYLE)
        if ratio_log:
            _log_y(a_loss, ratios)
        a_rate.set_ylim(-0.03, 1.03)
        a_rate.set_title(task)
        a_loss.set_title("")
        a_rate.set_ylabel("seeds solved (fraction)" if j == 0 else "")
        a_loss.set_ylabel("loss / chance at step S" if j == 0 else "")
        for ax in (a_rate, a_loss):
            _length_axis(ax, sub[LEN].to_numpy(dtype=float))


@styled
def headline(s: pd.DataFrame, outdir: Path) -> Figure:
    """Solve rate and loss / chance at equal steps against length: one column per task, one line per arm."""
    tasks = _tasks(s)
    cells = _cells(s[CELL_INIT])
    handles = _cell_handles(cells, [Line2D([], [], label="chance", **CHANCE_STYLE)])
    r = _compared_ratio(s)
    ratio_log = _spans_decades(pd.concat([r["mean"], r["lo"], r["hi"]]), 1.5)
    long = _headline_frame(s, cells)
    rows = ["solved", "ratio"]
    g = _facet(long, 3.9, 2.9, row="metric", col="task_label", row_order=rows, col_order=tasks, sharey="row")
    g.map_dataframe(_errorbars, marker="o", ms=4, capsize=3, lw=1.6)
    _headline_axes(g, s, tasks, ratio_log)
    return save(
        _place(g, 3.9, 2.9, top=0.8, legend=handles),
        outdir,
        "solved_vs_length",
        "Fraction of seeds solved (top; Wilson 95% interval) and eval loss relative to chance at the common "
        "step S of each task and length (bottom, 1 = chance, lower is better; geometric mean over seeds, "
        "95% t-interval on the log; the final loss where no curves were recorded) against sequence length. "
        "Hollow markers: PyTorch's default init; filled: the recommended inits.",
    )


def _profile_lines(data: pd.DataFrame, color: str, label: str | None = None) -> None:
    """One arm's ||dL/dh_t|| in a (task, cell) panel: at init (dotted) and at the end (solid); exact zeros
    are left out of the lines (a log axis has no 0) and drawn by `_underflow`."""
    ax = plt.gca()
    for phase, ls in (("init", ":"), ("end", "-")):
        e = data[data["phase"] == phase]
        if len(e):
            ax.plot(e["distance"], e["median"].where(e["median"] > 0), color=color, ls=ls, lw=1.8)


def _underflow(data: pd.DataFrame, color: str, floor: float, label: str | None = None) -> None:
    """Exact zeros of one panel as triangles at `floor`, with a line and a note there."""
    z = data[data["median"] == 0]
    if z.empty:
        return
    ax = plt.gca()
    ax.scatter(z["distance"], np.full(len(z), floor), marker="v", s=14, color=color, alpha=0.8, zorder=3)
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


def _profile_handles(sub: pd.DataFrame, arms: list[str], floor: float) -> list[Line2D]:
    handles = [Line2D([], [], color=color(a), lw=2.2, label=arm_name(a)) for a in arms]
    handles += [
        Line2D([], [], color="0.2", ls=":", lw=1.8, label="at init"),
        Line2D([], [], color="0.2", ls="-", lw=1.8, label="at end"),
    ]
    if (sub["median"] == 0).any():
        handles.append(
            Line2D([], [], color="0.2", ls="", marker="v", label=f"exactly 0 (drawn at {num(floor)})")
        )
    return handles


def _panel_lengths(med: pd.DataFrame) -> pd.DataFrame:
    """Per (task, cell) the length drawn: the longest among those where the most of the cell's arms have a
    profile, so default and recommended inits stand in one panel."""
    n = med.groupby(["task_label", CELL, LEN])[CELL_INIT].nunique().rename("arms").reset_index()
    n = n.sort_values(["task_label", CELL, "arms", LEN], ascending=[True, True, False, False])
    return n.drop_duplicates(["task_label", CELL])[["task_label", CELL, LEN]]


@styled
def profiles(med: pd.DataFrame, outdir: Path) -> Figure:
    """||dL/dh_t|| against distance, one panel per (task, cell) with the cell's inits in it (PyTorch's
    default pale, the recommended ones darker), at init (dotted) and at the end (solid); rows = tasks,
    columns = cells, one shared log y-axis so cells and tasks compare directly."""
    tasks = _tasks(med)
    sub = med[med["state"] == "h"].merge(_panel_lengths(med), on=["task_label", CELL, LEN], how="inner")
    arms = _cells(sub[CELL_INIT])
    cells = list(dict.fromkeys(a.split("+", 1)[0] for a in arms))
    pos = sub["median"][sub["median"] > 0]
    # Exact zeros are drawn two decades below the smallest positive value (kept inside float64's range).
    floor = 10.0 ** max(math.floor(math.log10(pos.min())) - 2, -300) if len(pos) else 1e-30
    g = _facet(sub, 3.6, 2.5, row="task_label", col=CELL, row_order=tasks, col_order=cells, sharey=True)
    g.map_dataframe(_profile_lines)
    g.map_dataframe(_underflow, floor=floor)
    for (task, cell), ax in g.axes_dict.items():
        here = sub[(sub["task_label"] == task) & (sub[CELL] == cell)]
        if here.empty:
            ax.text(0.5, 0.5, "no profile", ha="center", va="center", transform=ax.transAxes)
        _log_y(ax)
        T = f", T={integer(here[LEN].iloc[0])}" if len(here) else ""
        ax.set_title(f"{cell_name(cell)}: {task}{T}")
        ax.set_xlabel("distance from scored position (steps)" if task == tasks[-1] else "")
        ax.set_ylabel("||dL/dh_t|| (median)" if cell == cells[0] else "")
    g.axes[0, 0].set_ylim(bottom=floor / 5)
    return save(
        _place(g, 3.6, 2.5, top=0.8, legend=_profile_handles(sub, arms, floor)),
        outdir,
        "grad_profiles",
        "Gradient profiles, default vs recommended initialisation: norm of the loss gradient with respect "
        "to the hidden state h_t against steps back from the scored position, one panel per task and cell "
        "with the cell's inits in it (PyTorch's default pale, the recommended inits darker), at the longest "
        "length where most of them ran; median over seeds, top layer; at initialisation (dotted) and at "
        f"the end of training (solid). Log scale; exact zeros (underflow) are drawn as triangles at "
        f"{num(floor)}. Every length, the LSTM's ||dL/dc_t||, decay rates and horizons: the tables below.",
    )


def _band(data: pd.DataFrame, color: str, label: str | None = None) -> None:
    """Min to max over seeds, behind the median line."""
    plt.gca().fill_between(data["step"], data["min"], data["max"], color=color, alpha=0.15, lw=0)


@styled
def learning_curves(cm: pd.DataFrame, outdir: Path) -> Figure:
    """Eval loss / chance against training step; rows = tasks, columns = lengths, one line per cell."""
    tasks = _tasks(cm)
    ncols = int(cm.groupby("task_label")[LEN].nunique().max())
    cells = _cells(cm[CELL_INIT])
    handles = _cell_handles(cells, [Line2D([], [], label="chance", **CHANCE_STYLE)])
    # Columns are the task's lengths in order: the first column holds each task's shortest.
    cm = cm.assign(length_rank=cm.groupby("task_label")[LEN].rank(method="dense").astype(int) - 1)
    cols = list(range(ncols))
    g = _facet(
        cm, 3.3, 2.4, row="task_label", col="length_rank", row_order=tasks, col_order=cols, sharey=True
    )
    g.map_dataframe(_band)
    g.map_dataframe(sns.lineplot, x="step", y="median", estimator=None, errorbar=None, legend=False, lw=1.6)
    for (task, c), ax in g.axes_dict.items():
        lengths = sorted(cm.loc[cm["task_label"] == task, LEN].unique())
        if c >= len(lengths):
            ax.set_visible(False)
            continue
        ax.axhline(1.0, **CHANCE_STYLE)
        ax.set_title(f"{task}, T={integer(lengths[c])}")
        ax.set_xlabel("training step (steps)")
        ax.set_ylabel("eval loss / chance loss" if c == 0 else "")
    if _spans_decades(pd.concat([cm["min"], cm["max"]]), 1.5):
        _log_y(g.axes[0, 0], pd.concat([cm["min"], cm["max"]]))
    return save(
        _place(g, 3.3, 2.4, top=0.8, legend=handles),
        outdir,
        "learning_curves",
        "Learning curves: eval loss relative to chance against training steps. Line: median over seeds; "
        "band: min to max over seeds; dashed: chance.",
    )


def _cost_lines(data: pd.DataFrame, color: str, impls: list[str], label: str | None = None) -> None:
    """One cell's cost against length, one line per implementation (line style)."""
    for impl in impls:
        d = data[data[IMPL] == impl]
        if len(d):
            plt.gca().plot(d[LEN], d["value"], color=color, ls=IMPL_STYLE.get(impl, "-."), marker="o", ms=4)


@styled
def cost(c: pd.DataFrame, outdir: Path) -> Figure:
    """ms per step and elements per second against length, per cell (colour) and implementation (style)."""
    tasks = _tasks(c)
    cells = _cells(c[CELL_INIT])
    impls = sorted(c[IMPL].unique(), key=lambda i: (i not in IMPL_STYLE, i))
    handles = _cell_handles(
        cells, [Line2D([], [], color="0.3", ls=IMPL_STYLE.get(i, "-."), label=i) for i in impls]
    )
    metrics = ["ms_per_step", "elements_per_s"]
    long = pd.concat([c.assign(metric=m, value=c[m]) for m in metrics], ignore_index=True)
    g = _facet(
        long, 3.9, 2.8, row="metric", col="task_label", row_order=metrics, col_order=tasks, sharey="row"
    )
    g.map_dataframe(_cost_lines, impls=impls)
    labels = ["time per training step (ms)", "throughput (elements/s)"]
    for (metric, task), ax in g.axes_dict.items():
        r = metrics.index(metric)
        ax.set_title(task if r == 0 else "")
        ax.set_ylabel(labels[r] if task == tasks[0] else "")
        _length_axis(ax, c.loc[c["task_label"] == task, LEN].to_numpy())
        if _spans_decades(c[metric]):
            _log_y(ax, c[metric])
        if r == 1:
            ax.yaxis.set_major_formatter(EngFormatter(sep=""))  # 800k, not 800000
    return save(
        _place(g, 3.9, 2.8, top=0.8, legend=handles),
        outdir,
        "cost",
        "Cost: milliseconds per training step (top) and sequence elements processed per second (bottom) "
        "against sequence length; median over seeds; line style = implementation.",
    )
