"""The report's numbers, pure pandas: outcome statistics per group, the chance verdicts, the summary, the
cost medians and the learning-curve medians. No formatting here (tables.py formats them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, CELL_INIT, IMPL, KEYS, TASK, arm_order, config_without, sort_frame
from bench.report.equal import equal_steps
from bench.report.stats import log_ci, wilson, wilson_mean

# "Beats chance": geometric mean final loss below BEAT_RATIO x chance loss, and (with >= 2 seeds) the upper
# end of its 95% interval (t on the log) below chance. Stated in the report next to every use.
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


# (column, prefix, interval): accuracies in [0, 1] get Wilson's interval of the mean, positive losses and
# loss ratios a t-interval on the log (geometric mean), so no interval leaves its variable's range.
STATS = (
    ("final_accuracy", "acc", wilson_mean),
    ("final_loss", "loss", log_ci),
    ("loss_ratio", "ratio", log_ci),
    ("eq_acc", "eq_acc", wilson_mean),
    ("eq_ratio", "eq_ratio", log_ci),
)


def _intervals(out: pd.DataFrame, counted: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    for col, prefix, fn in STATS:
        if len(counted) and col in counted.columns:
            out = out.join(fn(counted, keys, col).add_prefix(prefix + "_"))
        else:
            out = out.assign(**{f"{prefix}_{s}": np.nan for s in ("n", "mean", "std", "lo", "hi")})
    return out


def with_equal_steps(runs: pd.DataFrame, curves: pd.DataFrame | None, common: list[str]) -> pd.DataFrame:
    """`runs` with eq_step, eq_loss, eq_ratio, eq_acc: each run at its `common` group's common step."""
    runs = runs.drop(columns=[c for c in ("eq_step", "eq_loss", "eq_ratio", "eq_acc") if c in runs.columns])
    if curves is None or runs.empty:
        return runs.assign(eq_step=np.nan, eq_loss=np.nan, eq_ratio=np.nan, eq_acc=np.nan)
    return runs.merge(equal_steps(runs, curves, common), on="run_id", how="left")


def outcome_stats(
    runs: pd.DataFrame, keys: list[str], curves: pd.DataFrame | None = None, common: list[str] | None = None
) -> pd.DataFrame:
    """Per group (with its task and cell): run counts by status, solve rate with Wilson's interval, accuracy
    / loss / loss-ratio means and 95% intervals at the end of each run's training and (with `curves`) at the
    common step of the compared group `common` (default: the keys but the last), median steps and wall-clock
    seconds to solve, chance levels, and the chance verdict. Solved: the criterion reached with the final
    loss below chance (`solved_ok`). Failed runs count only as failed."""
    runs = with_equal_steps(runs, curves, common if common is not None else keys[:-1])
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
    out["n_solved"] = counted.groupby(keys)["solved_ok"].sum().reindex(out.index, fill_value=0)
    ci = [wilson(k, n) for k, n in zip(out["n_solved"], out["n"], strict=True)]
    out["solved_lo"], out["solved_hi"] = [lo for lo, _ in ci], [hi for _, hi in ci]
    solved = counted[counted["solved_ok"]]
    out["steps_to_solve"] = solved.groupby(keys)["steps_to_solve"].median().reindex(out.index)
    out["wall_s_to_solve"] = solved.groupby(keys)["wall_s_to_solve"].median().reindex(out.index)
    out["eq_step"] = counted.groupby(keys)["eq_step"].max().reindex(out.index)
    out = _intervals(out, counted, keys)
    out["verdict"] = verdicts(out["ratio_mean"], out["ratio_hi"], out["ratio_n"])
    return out.reset_index()


def summary(main: pd.DataFrame, curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """The summary statistics of the main comparison, one row per (task, seq_len, arm), sorted; losses and
    accuracies compared at the common step of each (task, seq_len)."""
    return sort_frame(outcome_stats(main, KEYS, curves)) if len(main) else pd.DataFrame()


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
