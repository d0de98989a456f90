"""The figure of one ablation factor: final loss / chance per arm, one panel per cell. One generic path for
every factor: its axis (category or log), best-arm marking and labels come from the Factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from bench.report.ablations import Ablation
from bench.report.data import CELL, cell_name
from bench.report.data import T as LEN
from bench.report.doc import Figure, integer
from bench.report.plotting import (
    CHANCE_STYLE,
    CONTEXT_MARKERS,
    CONTEXT_STYLES,
    _cell_handles,
    _cells,
    _log_y,
    _new,
    _spans_decades,
    _yerr,
    color,
    save,
    styled,
)


@styled
def ablation(a: Ablation, outdir: Path) -> Figure:  # over 60 lines: one figure's drawing, read in order
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
    return save(
        fig,
        outdir,
        f"ablation_{a.factor.name}",
        f"{a.factor.title}: final loss relative to chance per arm (mean over seeds, 95% t-interval), one "
        f"line per task and length. An asterisk marks the standard arm (a dotted line the standard lr); "
        f"dashed: chance.",
    )
