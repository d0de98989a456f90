"""The tuning section's numbers: each arm's learning-rate grid from the tuning runs, scored and ranked by
the rule that chose the main study's rates (bench.tuning.scores / select), and whether every main-study run
used its arm's selected rate. Pure pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, TASK, TUNE_SWEEP, arm_order
from bench.report.doc import NA
from bench.tuning import arm_inits, scores

GRID = ("task.name", "arm", "train.lr", "seeds", "solved", "steps", "loss", "selected")


def _arm(cell: pd.Series, init: pd.Series) -> pd.Series:
    return cell.where(init.isin(["default", NA]), cell + "+" + init)


def grid(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, arm, rate) of the tuning runs: seeds, seeds solved, mean steps to solve (an
    unsolved seed counts as the budget + 1), the geometric mean final loss, and the selected rate
    (bench.tuning's rank 1)."""
    s = scores(runs)
    if s.empty:
        return pd.DataFrame(columns=list(GRID))
    s = s.assign(
        arm=_arm(s[CELL].astype(str), s["init"].astype(str)),
        loss=np.exp(s["log_loss"].astype(float)),
        selected=s["rank"] == 1,
    )
    order = {a: i for i, a in enumerate(arm_order(s["arm"]))}
    tasks = {t: i for i, t in enumerate(dict.fromkeys(runs[TASK]))}
    s = s.assign(_t=s[TASK].map(tasks), _a=s["arm"].map(order))
    return s.sort_values(["_t", "_a", "train.lr"], kind="mergesort")[list(GRID)].reset_index(drop=True)


def check(runs: pd.DataFrame, main: pd.DataFrame) -> dict:
    """Whether each main-comparison run used its arm's selected rate: the arms checked, the runs checked,
    `mismatch` (task, arm, rate used, rate selected, runs) and `untuned` (task, arm) with no tuning runs.
    A run without the init label (the main study's, written by a row builder that dropped it) is matched
    by the label its cell fields give (bench.tuning.arm_inits)."""
    g = grid(runs)
    sel = g[g["selected"].astype(bool)]
    chosen = dict(zip(zip(sel["task.name"], sel["arm"], strict=True), sel["train.lr"], strict=True))
    m = main[main["sweep"] != TUNE_SWEEP]
    arm = _arm(m[CELL].astype(str), arm_inits(m).astype(str))
    out: dict = {"mismatch": [], "untuned": []}
    keys = list(dict.fromkeys(zip(m[TASK], arm, strict=True)))
    out["arms"], out["runs"] = len(keys), int(len(m))
    for task, a in keys:
        here = m[(m[TASK] == task) & (arm == a)]
        if (task, a) not in chosen:
            out["untuned"].append((task, a))
            continue
        used = here["train.lr"].astype(float)
        bad = ~np.isclose(used, chosen[(task, a)], rtol=1e-9, atol=0)
        for lr in sorted(set(used[bad])):
            out["mismatch"].append(
                (task, a, float(lr), float(chosen[(task, a)]), int((used[bad] == lr).sum()))
            )
    return out


def edges(g: pd.DataFrame) -> list[tuple[str, str, float, str, tuple[float, ...]]]:
    """The arms whose selected rate is the largest or smallest rate of their grid, as (task, arm, rate,
    "top" / "bottom", tied): the best rate may lie outside the grid, so their tuning is not settled.
    `tied`: the rates that equal the selected one on seeds solved and mean steps to solve (the loss alone
    chose among them), the selected one included."""
    out = []
    for (task, arm), d in g.groupby(["task.name", "arm"], sort=False):
        sel = d[d["selected"].astype(bool)]
        if sel.empty or d["train.lr"].nunique() < 2:
            continue
        lr = float(sel["train.lr"].iloc[0])
        same = (d["solved"] == sel["solved"].iloc[0]) & np.isclose(d["steps"], sel["steps"].iloc[0])
        tied = tuple(sorted(float(x) for x in d.loc[same, "train.lr"]))
        if np.isclose(lr, d["train.lr"].max()):
            out.append((str(task), str(arm), lr, "top", tied))
        elif np.isclose(lr, d["train.lr"].min()):
            out.append((str(task), str(arm), lr, "bottom", tied))
    return out
