"""The report's numbers, pure pandas: outcome statistics per group, the chance verdicts, the summary, the
cost medians and the learning-curve medians. No formatting here (tables.py formats them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, CELL_INIT, IMPL, KEYS, TASK, arm_order, config_without, sort_frame
from bench.report.stats import mean_ci

# "Beats chance": mean final loss below BEAT_RATIO x chance loss, and (with >= 2 seeds) the upper end of the
# 95% t-interval of the loss below chance. Stated in the report next to every use.
BEAT_RATIO = 0.9
NEAR_RATIO = 1.1
# Cost medians never pool runs made on different devices or with different thread counts.
COST_APART = ("device", "threads")


def verdicts(ratio_mean: pd.Series, ratio_hi: pd.Series, n: pd.Series) -> pd.Series:
    """'beats' / 'unclear' / 'near' / 'worse' / 'none' per row, from loss/chance mean and interval."""
    out = pd.Series("none", index=ratio_mean.index, dtype=object)
    out[ratio_mean > NEAR_RATIO] = "worse"
    out[ratio_mean <= NEAR_RATIO] = "near"
    below = ratio_mean < BEAT_RATIO
    out[below] = "unclear"
    out[below & ((n == 1) | (ratio_hi < 1.0))] = "beats"
    return out


def _stat(df: pd.DataFrame, keys: list[str], col: str, prefix: str) -> pd.DataFrame:
    return mean_ci(df, keys, col).add_prefix(prefix + "_")


def outcome_stats(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group (with its task and cell): run counts by status, solve rate, accuracy / loss / loss-ratio
    mean and 95% interval, median steps to solve, chance levels, and the chance verdict. Failed runs count
    only as failed."""
    st = runs["status"]
    base = runs.assign(_ok=st == "ok", _div=st == "diverged", _fail=st == "failed")
    g = base.groupby(keys, sort=True)
    carry = {c: (c, "first") for c in (TASK, CELL) if c not in keys}  # constant within a group
    out = g.agg(
        **carry,
        task_variant=("task_variant", "first"),
        n_ok=("_ok", "sum"),
        n_diverged=("_div", "sum"),
        n_failed=("_fail", "sum"),
        chance_loss=("chance_loss", "median"),
        chance_accuracy=("chance_accuracy", "median"),
        batch_size=("train.batch_size", "median"),
    )
    counted = base[~base["_fail"]]
    out["n"] = counted.groupby(keys).size().reindex(out.index, fill_value=0)
    out["n_solved"] = counted.groupby(keys)["solved"].sum().reindex(out.index, fill_value=0)
    solved = counted[counted["solved"]]
    out["steps_to_solve"] = solved.groupby(keys)["steps_to_solve"].median().reindex(out.index)
    for col, prefix in (("final_accuracy", "acc"), ("final_loss", "loss"), ("loss_ratio", "ratio")):
        out = (
            out.join(_stat(counted, keys, col, prefix))
            if len(counted)
            else out.assign(**{f"{prefix}_{s}": np.nan for s in ("n", "mean", "std", "lo", "hi")})
        )
    out["verdict"] = verdicts(out["ratio_mean"], out["ratio_hi"], out["ratio_n"])
    return out.reset_index()


def summary(main: pd.DataFrame) -> pd.DataFrame:
    """The summary statistics of the main comparison, one row per (task, seq_len, cell), sorted."""
    return sort_frame(outcome_stats(main, KEYS)) if len(main) else pd.DataFrame()


def cost_frame(runs: pd.DataFrame, main: pd.DataFrame) -> pd.DataFrame:
    """Median cost per (task, seq_len, cell, impl, kernel, device, threads) over the main configuration
    and its twins that differ only in implementation (fused vs explicit); `vs_lstm` against the LSTM with
    the same task, length, implementation, kernel, device and threads."""
    r = runs.assign(_cfg=config_without(runs, [IMPL]))
    wanted = main.assign(_cfg=config_without(main, [IMPL]))[[*KEYS, "_cfg"]].drop_duplicates()
    r = r.merge(wanted, on=[*KEYS, "_cfg"], how="inner")
    r = r[r["status"] != "failed"]
    if r.empty:
        return pd.DataFrame()
    # The code that ran the cell (fused, or the explicit cell's cpp / python / autograd path) is part of
    # what a time measures: never pooled either. Older schemas did not record it.
    r = r.assign(kernel=r["kernel"] if "kernel" in r.columns else None)
    r["kernel"] = r["kernel"].where(r["kernel"].notna(), r[IMPL])
    by = [*KEYS, IMPL, "kernel", *COST_APART]
    out = (
        r.groupby(by, sort=True, dropna=False)
        .agg(
            **{TASK: (TASK, "first"), CELL: (CELL, "first")},
            n=("run_id", "size"),
            ms_per_step=("ms_per_step", "median"),
            elements_per_s=("elements_per_s", "median"),
            peak_mem_mb=("peak_mem_mb", "median"),
            num_params=("num_params", "median"),
            hidden_size=("hidden_size", "median"),
            batch_size=("train.batch_size", "median"),
        )
        .reset_index()
    )
    # against the LSTM at PyTorch's default init (else its first arm): the init does not change the cost
    same = [k for k in by if k != CELL_INIT]
    lstm = out[out[CELL] == "lstm"]
    pos = {a: i for i, a in enumerate(arm_order(lstm[CELL_INIT]))}
    lstm = lstm.assign(_a=lstm[CELL_INIT].map(pos)).sort_values("_a", kind="mergesort").drop_duplicates(same)
    lstm = lstm[[*same, "ms_per_step"]].rename(columns={"ms_per_step": "_lstm_ms"})
    out = out.merge(lstm, on=same, how="left")
    out["vs_lstm"] = out["ms_per_step"] / out["_lstm_ms"]
    return sort_frame(out.drop(columns=["_lstm_ms"]), extra=[IMPL, *COST_APART])


def curve_medians(main: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Eval loss / chance loss per (task, seq_len, cell, step): median, min and max over seeds."""
    need = {"run_id", "step", "split", "metric", "value"}
    if curves.empty or not need <= set(curves.columns):
        return pd.DataFrame()
    c = curves[(curves["split"] == "eval") & (curves["metric"] == "loss")][["run_id", "step", "value"]]
    c = c.merge(main[["run_id", *KEYS, CELL, TASK, "chance_loss"]], on="run_id", how="inner")
    c = c.assign(
        ratio=pd.to_numeric(c["value"], errors="coerce") / c["chance_loss"],
        step=pd.to_numeric(c["step"], errors="coerce"),
    )
    c = c[np.isfinite(c["ratio"]) & c["step"].notna()]
    if c.empty:
        return pd.DataFrame()
    g = c.groupby([*KEYS, CELL, TASK, "step"], sort=True)["ratio"]
    out = g.agg(["median", "min", "max", "count"]).reset_index()
    return sort_frame(out, extra=["step"])
