"""Paired comparisons of the main comparison's arms: the seeds of a task and length share their data streams
(bench.train: batches, eval and probe sets are drawn from the seed), so two arms are compared seed by seed.
Per (task, length) and pair of arms, on the seeds both ran: the solved seeds with the exact sign test on
the seeds where exactly one solved, and the log loss ratio at the pair's common step (equal.py) with the
exact Wilcoxon signed-rank test. An arm is "clearly better" only when a test favours it at p < ALPHA and
neither favours the other."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from bench.report.data import CELL_INIT, TASK, arm_order, init_of
from bench.report.data import T as LEN
from bench.report.equal import equal_steps
from bench.report.stats import sign_test, wilcoxon

ALPHA = 0.05
SEED_COLUMNS = (
    "task_label", LEN, CELL_INIT, "seed", "run_id", "status", "solved_ok", "steps_to_solve", "train.steps",
    "final_loss", "loss_ratio", "eq_step", "eq_ratio", "eq_acc",
)  # fmt: skip


def one_factor(a: str, b: str) -> bool:
    """Whether two arms differ in one factor only: the same cell, or the same init on two cells."""
    return a.split("+", 1)[0] == b.split("+", 1)[0] or init_of(a) == init_of(b)


def per_seed(main: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run of the main comparison, with its values at the common step of its task and length
    (every arm of that task and length compared there, as in the summary)."""
    if main.empty:
        return pd.DataFrame(columns=list(SEED_COLUMNS))
    r = main.merge(equal_steps(main, curves, ["task_label", LEN]), on="run_id", how="left")
    r = r.assign(seed=pd.to_numeric(r["seed"], errors="coerce").astype("Int64"))
    return r[[c for c in SEED_COLUMNS if c in r.columns]].reset_index(drop=True)


def _pair(runs: pd.DataFrame, pts: pd.DataFrame, a: str, b: str) -> dict | None:
    """The paired tests of arms a and b on the seeds both ran (failed runs left out)."""
    r = runs[runs[CELL_INIT].isin([a, b]) & (runs["status"] != "failed")]
    seeds = sorted(set(r.loc[r[CELL_INIT] == a, "seed"]) & set(r.loc[r[CELL_INIT] == b, "seed"]))
    if not seeds:
        return None
    r = r[r["seed"].isin(seeds)]
    eq = equal_steps(r, pts, ["task_label", LEN]).set_index("run_id")
    by = {arm: r[r[CELL_INIT] == arm].drop_duplicates("seed").set_index("seed") for arm in (a, b)}
    sa, sb = by[a].loc[seeds, "solved_ok"].astype(bool), by[b].loc[seeds, "solved_ok"].astype(bool)
    # a loss that underflowed to exactly 0 logs to -inf: lower than any other (two of them: nan, dropped)
    with np.errstate(divide="ignore", invalid="ignore"):
        la = np.log(eq.loc[by[a].loc[seeds, "run_id"], "eq_ratio"].to_numpy(dtype=float))
        lb = np.log(eq.loc[by[b].loc[seeds, "run_id"], "eq_ratio"].to_numpy(dtype=float))
        d = lb - la  # > 0: a has the lower loss at the common step
    only_a, only_b = int((sa & ~sb).sum()), int((sb & ~sa).sum())
    _, n_w, p_w = wilcoxon(d)
    med = float(np.median(d[~np.isnan(d)])) if (~np.isnan(d)).any() else math.nan
    steps = {
        arm: by[arm].loc[seeds][by[arm].loc[seeds, "solved_ok"].astype(bool)]["steps_to_solve"]
        for arm in (a, b)
    }
    return {
        "a": a, "b": b, "n": len(seeds), "solved_a": int(sa.sum()), "solved_b": int(sb.sum()),
        "only_a": only_a, "only_b": only_b, "p_sign": sign_test(only_a, only_b),
        "step": float(eq["eq_step"].max()), "n_loss": n_w, "p_loss": p_w,
        "loss_b_over_a": float(np.exp(med)), "d_median": med,
        "steps_a": float(steps[a].median()), "steps_b": float(steps[b].median()),
    }  # fmt: skip


def _verdict(row: dict) -> str:
    """'a' / 'b' when a test favours that arm at p < ALPHA and none favours the other; '' otherwise."""
    votes = set()
    if row["p_sign"] < ALPHA:
        votes.add("a" if row["only_a"] > row["only_b"] else "b")
    if row["p_loss"] < ALPHA and not math.isnan(row["d_median"]):
        votes.add("a" if row["d_median"] > 0 else "b")
    return votes.pop() if len(votes) == 1 else ""


def paired(main: pd.DataFrame, curves: pd.DataFrame, every_pair: bool = False) -> pd.DataFrame:
    """One row per (task, length, pair of arms): the pairs that differ in one factor (same cell, or same
    init), or every pair (`every_pair`, for the CSV). Columns: task_label, task.name, seq_len, a, b, n,
    solved_a/b, only_a/b, p_sign, step, n_loss, p_loss, loss_b_over_a, steps_a/b, verdict."""
    rows = []
    if main.empty:
        return pd.DataFrame(rows)
    c = curves
    if {"split", "metric", "run_id"} <= set(c.columns):
        c = c[
            (c["split"] == "eval")
            & c["metric"].isin(["loss", "accuracy"])
            & c["run_id"].isin(set(main["run_id"]))
        ]
    for (task, T), g in main.groupby(["task_label", LEN], sort=False):
        for a, b in itertools.combinations(arm_order(g[CELL_INIT]), 2):
            if not (every_pair or one_factor(a, b)):
                continue
            row = _pair(g, c, a, b)
            if row is not None:
                rows.append(
                    {"task_label": task, TASK: g[TASK].iloc[0], LEN: T, **row, "verdict": _verdict(row)}
                )
    return pd.DataFrame(rows)
