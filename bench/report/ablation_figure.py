"""The figure of one ablation factor: final loss / chance per arm, one panel per group (cell x init, or cell
for the init factor: Ablation.key). One generic path for every factor: its axis (category or log),
best-arm marking and labels come from the Factor. A seaborn FacetGrid, one column per group."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from bench.report.ablations import Ablation
from bench.report.data import T as LEN
from bench.report.data import arm_name
from bench.report.doc import Figure, integer
from bench.report.plotting import (
    CHANCE_STYLE,
    CONTEXT_MARKERS,
    CONTEXT_STYLES,
    _cell_handles,
    _cells,
    _errorbars,
    _facet,
    _log_y,
    _place,
    _spans_decades,
    save,
    styled,
)


def _arm_order(d_cell: pd.DataFrame) -> list[str]:
    """Categorical arms: the standard arm first, then by name (the stats are sorted that way)."""
    d = d_cell.sort_values(["standard", "arm"], ascending=[False, True], kind="mergesort")
    return list(dict.fromkeys(d["arm"]))


def _positions(s: pd.DataFrame, contexts: list[tuple], is_log: bool, key: str) -> pd.DataFrame:
    """The stats with x (the arm's value on a log axis, else its place in the cell's arm order), shifted a
    little per context so intervals at the same arm do not hide each other; k = the context's index."""
    k = pd.Series([contexts.index(c) for c in zip(s["task_label"], s[LEN], strict=True)], index=s.index)
    off = k - (len(contexts) - 1) / 2
    if is_log:
        x = s["arm_x"].astype(float) * 10 ** (0.02 * off)
    else:
        place = pd.Series(np.nan, index=s.index)
        for _cell, d in s.groupby(key, sort=False):
            place[d.index] = d["arm"].map({arm: i for i, arm in enumerate(_arm_order(d))})
        x = place + 0.07 * off
    return s.assign(k=k, x=x, y=s["cmp_mean"], lo=s["cmp_lo"], hi=s["cmp_hi"])


def _arms(data: pd.DataFrame, color: str, best: bool, label: str | None = None) -> None:
    """One cell's panel: a line with intervals per context (marker and line style), a star at the best arm."""
    for k, d in data.groupby("k", sort=True):
        d = d.sort_values("x")
        marker, ls = CONTEXT_MARKERS[k % len(CONTEXT_MARKERS)], CONTEXT_STYLES[k % len(CONTEXT_STYLES)]
        style = {"marker": marker, "ms": 5, "ls": ls, "lw": 1.1, "capsize": 2, "elinewidth": 1.0}
        _errorbars(d, color, **style)
        if best and d["y"].notna().any():
            i = int(np.nanargmin(d["y"].to_numpy(dtype=float)))
            star = {"marker": "*", "ms": 12, "color": color, "mec": "k", "ls": "", "zorder": 4}
            plt.gca().plot([d["x"].iloc[i]], [d["y"].iloc[i]], **star)


def _handles(a: Ablation, cells: list[str], contexts: list[tuple]) -> list[Line2D]:
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
    if a.factor.best:
        handles.append(
            Line2D([], [], color="0.3", marker="*", ms=11, ls="", mec="k", label=f"best {a.factor.name}")
        )
    return handles


def _arm_axis(g: sns.FacetGrid, a: Ablation, cells: list[str]) -> None:
    """Each panel's chance line, title, and arm axis: log with the standard value dotted, or the arm names
    (the standard arm starred), rotated."""
    s = a.stats
    for cell, ax in g.axes_dict.items():
        d_cell = s[s[a.key] == cell]
        ax.axhline(1.0, **CHANCE_STYLE)
        ax.set_title(arm_name(cell))
        if a.factor.axis == "log":
            ax.set_xscale("log")
            ax.set_xlabel(f"{a.factor.title.lower()} (dotted: standard)")
            for v in d_cell.loc[d_cell["standard"], "arm_x"].unique():
                ax.axvline(v, color="0.6", ls=":", lw=1.0)
        else:
            order, std = _arm_order(d_cell), set(d_cell.loc[d_cell["standard"], "arm"])
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([f"{arm}*" if arm in std else arm for arm in order], rotation=35, ha="right")
            ax.set_xlim(-0.6, len(order) - 0.4)
            ax.set_xlabel("")
        ax.set_ylabel("loss / chance loss (equal steps)" if cell == cells[0] else "")


@styled
def ablation(a: Ablation, outdir: Path) -> Figure:
    """Final loss / chance per arm of one ablation factor: one panel per cell; each (task, length) the factor
    was run at is one line (marker and line style), so the arms compare within and across contexts."""
    s = a.stats
    contexts = list(dict.fromkeys(zip(s["task_label"], s[LEN], strict=True)))
    cells = _cells(s[a.key])
    is_log = a.factor.axis == "log"
    n_arms = int(s.groupby(a.key)["arm"].nunique().max())
    longest = int(s["arm"].str.len().max()) + 1
    # Arm names are rotated 35 degrees: room below for them, and on the left for the first one.
    below = 0.75 if is_log else 0.45 + 0.045 * min(longest, 40)
    left = 0.95 if is_log else max(0.95, 0.062 * min(longest, 40))
    w = max(3.2, 0.42 * n_arms + 1.0)
    g = _facet(
        _positions(s, contexts, is_log, a.key), w, 2.8, col=a.key, col_order=cells, sharey=True, hue=a.key
    )
    g.map_dataframe(_arms, best=bool(a.factor.best))
    _arm_axis(g, a, cells)
    values = pd.concat([s["cmp_mean"], s["cmp_lo"], s["cmp_hi"]])
    if _spans_decades(values, 1.5):
        _log_y(g.axes[0, 0], values)
    legend = _handles(a, cells, contexts)
    return save(
        _place(g, w, 2.8, top=0.8, bottom=below, left=left, legend=legend),
        outdir,
        f"ablation_{a.factor.name}",
        f"{a.factor.title}: eval loss relative to chance per arm at the common step of its group (the "
        f"largest eval step every run of the group reached; the final loss where no curves were recorded): "
        f"geometric mean over seeds, 95% t-interval on the log; one line per task and length. An "
        f"asterisk marks the standard arm (a dotted line the standard lr); "
        f"dashed: chance.",
    )
