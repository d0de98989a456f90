"""The report's figures of the main comparison: accuracy against length, gradient profiles, learning
curves, cost."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter

from bench.report.ablation_figure import ablation
from bench.report.data import CELL, IMPL, cell_name
from bench.report.data import T as LEN
from bench.report.doc import Figure, integer, num
from bench.report.plotting import (
    CHANCE_STYLE,
    IMPL_STYLE,
    _cell_handles,
    _cells,
    _dodge,
    _length_axis,
    _log_y,
    _new,
    _spans_decades,
    _tasks,
    _yerr,
    color,
    save,
    styled,
)

__all__ = ["ablation", "cost", "headline", "learning_curves", "profiles"]


@styled
def headline(s: pd.DataFrame, outdir: Path) -> Figure:  # one figure's drawing, read in order
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
    return save(
        fig,
        outdir,
        "accuracy_vs_length",
        "Final accuracy (top) and final loss relative to chance (bottom, 1 = chance, lower is better) "
        "against sequence length. Points: mean over seeds; bars: 95% t-interval (none with one seed), "
        "clipped to [0, 1] for accuracy and above 0 for the loss ratio.",
    )


@styled
def profiles(med: pd.DataFrame, outdir: Path) -> Figure:  # over 60 lines: one figure's drawing, read in order
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
    return save(
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
    return save(
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
    return save(
        fig,
        outdir,
        "cost",
        "Cost: milliseconds per training step (top) and sequence elements processed per second (bottom) "
        "against sequence length; median over seeds; line style = implementation.",
    )
