"""The headline figure: critical length per arm, one panel per task (a seaborn FacetGrid, one hue per arm).
Each arm is a row: a marker at its critical length (hollow: PyTorch's default init, filled: a recommended
init, so each cell's pair sits together in one hue), a bar to the first length it fails (the bracket), an
arrow to the right when it never failed up to the longest length it ran, to the left when it fails its
shortest; lengths on a log axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.report.critical import bracket
from bench.report.data import CELL_INIT, arm_name, arm_order
from bench.report.doc import Figure
from bench.report.plotting import _facet, _place, _tasks, hollow, save, styled

MARGIN = 2.2  # the x-axis reaches this factor below the shortest and above the longest length


def _row(data: pd.DataFrame, color: str, label: str | None = None) -> None:
    """One arm on one task's panel (for FacetGrid.map_dataframe: `data` holds that one row)."""
    ax = plt.gca()
    for _, r in data.iterrows():
        y, lo, hi = r["y"], r["x_min"], r["x_max"]
        face = "white" if hollow(r[CELL_INIT]) else color
        arrow = {"arrowstyle": "-|>", "color": color, "lw": 1.8, "mutation_scale": 11}
        if r["kind"] == "bracket":
            ax.plot([r["crit"], r["fail"]], [y, y], color=color, lw=3.0, solid_capstyle="butt", alpha=0.55)
            ax.plot([r["fail"]], [y], marker="|", ms=11, mew=2.2, color=color, ls="")
        elif r["kind"] == "at_least":
            ax.annotate("", xy=(hi, y), xytext=(r["crit"], y), arrowprops=arrow)
        elif r["kind"] == "below":
            ax.annotate("", xy=(lo, y), xytext=(r["fail"], y), arrowprops=arrow)
            ax.plot([r["fail"]], [y], marker="|", ms=11, mew=2.2, color=color, ls="")
        if r["kind"] in ("bracket", "at_least"):
            ax.plot([r["crit"]], [y], marker="o", ms=7, mew=1.6, mfc=face, mec=color, ls="", zorder=4)
        ax.annotate(
            bracket(r, detail=False), xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
            textcoords="offset points", va="center", ha="left", fontsize=8, color="0.25",
        )  # fmt: skip


def _frame(crit: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """The rows to draw, with y (arm position, first arm on top) and each task's x range."""
    ys = {a: len(arms) - 1 - i for i, a in enumerate(arms)}
    lengths = crit.assign(_l=crit["lengths"].map(lambda e: [t for t, *_ in e]))
    span = lengths.groupby("task_label")["_l"].agg(
        lambda ls: (min(min(x) for x in ls), max(max(x) for x in ls))
    )
    return crit.assign(
        y=crit[CELL_INIT].map(ys),
        x_min=crit["task_label"].map(lambda t: span[t][0] / MARGIN),
        x_max=crit["task_label"].map(lambda t: span[t][1] * MARGIN),
    )


def _handles() -> list[Line2D]:
    grey = {"color": "0.3", "ls": ""}
    return [
        Line2D([], [], marker="o", mfc="white", label="critical length, PyTorch's default init", **grey),
        Line2D([], [], marker="o", label="critical length, recommended init (same hue: same cell)", **grey),
        Line2D([], [], marker="|", ms=11, mew=2.2, label="first length failed", **grey),
        Line2D([], [], marker=">", label="arrow: never failed / fails the shortest", **grey),
    ]


@styled
def critical_figure(crit: pd.DataFrame, outdir: Path) -> Figure:
    """Critical length per arm, one panel per task; written to figures/critical_length.png."""
    arms = arm_order(crit[CELL_INIT])
    tasks = _tasks(crit)
    data = _frame(crit, arms)
    h = max(2.2, 0.32 * len(arms) + 0.6)
    g = _facet(data, 3.6, h, col="task_label", col_order=tasks, hue_order=arms, sharey=True)
    g.map_dataframe(_row)
    for task, ax in g.axes_dict.items():
        d = data[data["task_label"] == task]
        ladder = sorted({t for e in d["lengths"] for t, *_ in e})
        ax.set_xscale("log")
        ax.set_xlim(d["x_min"].min(), d["x_max"].max())
        ax.set_xticks(ladder)
        ax.set_xticklabels([str(t) for t in ladder])
        ax.minorticks_off()
        ax.set_title(task)
        ax.set_xlabel("sequence length T (steps)")
        ax.grid(True, axis="x", which="major")
    g.axes[0, 0].set_yticks(np.arange(len(arms)))
    g.axes[0, 0].set_yticklabels([arm_name(a) for a in reversed(arms)])
    g.axes[0, 0].set_ylim(-0.6, len(arms) - 0.4)
    return save(
        _place(g, 3.6, h, top=0.9, left=1.55, right=0.9, wgap=1.0, legend=_handles()),
        outdir,
        "critical_length",
        "Critical length per arm and task: the longest T solved on a majority of seeds (marker; hollow: "
        "PyTorch's default init, filled: the recommended init of the same cell, same hue), a bar to the "
        "first longer length it fails (the bracket, written on the right), an arrow to the right when it "
        "never failed up to the longest length it ran, to the left from the shortest length when it fails "
        "even that. Log length axis.",
    )
