"""The numeric tables of the report: summary, cost, parameter counts, micro-benchmarks, curve medians."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL_ORDER, CONFIG_FIELDS, KEYS, cell_name, config_key, rank, sort_frame
from bench.report.doc import MISSING, Table, ci, integer, num, table
from bench.report.stats import mean_ci

# "Beats chance": mean final loss below BEAT_RATIO x chance loss, and (with >= 2 seeds) the upper end of the
# 95% t-interval of the loss below chance. Stated in the report next to every use.
BEAT_RATIO = 0.9
NEAR_RATIO = 1.1
BEATS_DEFINITION = (
    f"A cell **beats chance** at a task and length when its mean final loss over seeds is below "
    f"{BEAT_RATIO} × the task's chance loss and, with two or more seeds, the upper end of the 95% "
    f"t-interval of that mean is below the chance loss (with one seed only the first condition is "
    f"checked). Otherwise it **stays near chance** (mean within {BEAT_RATIO}–{NEAR_RATIO} × chance), "
    f"is **below chance but not reliably** (mean below {BEAT_RATIO} × chance, interval reaching chance), "
    f"or is **worse than chance** (mean above {NEAR_RATIO} × chance). Chance is the loss of the best "
    f"memoryless predictor, stored with each run (`chance_loss`)."
)


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
    """Per group: run counts by status, solve rate, accuracy / loss / loss-ratio mean and 95% interval,
    median steps to solve, chance levels, and the chance verdict. Failed runs count only as failed."""
    st = runs["status"]
    base = runs.assign(_ok=st == "ok", _div=st == "diverged", _fail=st == "failed")
    g = base.groupby(keys, sort=True)
    out = g.agg(
        task=("task", "first"),
        task_variant=("task_variant", "first"),
        n_ok=("_ok", "sum"),
        n_diverged=("_div", "sum"),
        n_failed=("_fail", "sum"),
        chance_loss=("chance_loss", "median"),
        chance_accuracy=("chance_accuracy", "median"),
        batch_size=("batch_size", "median"),
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


VERDICT_TEXT = {
    "beats": "yes",
    "unclear": "no (interval reaches chance)",
    "near": "no (near chance)",
    "worse": "no (worse than chance)",
    "none": MISSING,
}


def solve_rate(k: float, n: float) -> str:
    """Solved seeds / seeds run, e.g. "2/3"."""
    return f"{int(k)}/{int(n)}" if n else MISSING


def summary_table(s: pd.DataFrame) -> Table:
    """Section 1's table."""
    rows = pd.DataFrame(
        {
            "Task": s["task_label"],
            "T": s["seq_len"].map(integer),
            "Cell": s["cell"].map(cell_name),
            "Solved": [solve_rate(k, n) for k, n in zip(s["n_solved"], s["n"], strict=True)],
            "Final accuracy, mean [95% CI]": [
                ci(*r) for r in zip(s["acc_mean"], s["acc_lo"], s["acc_hi"], s["acc_n"], strict=True)
            ],
            "Final loss, mean [95% CI]": [
                ci(*r) for r in zip(s["loss_mean"], s["loss_lo"], s["loss_hi"], s["loss_n"], strict=True)
            ],
            "Loss / chance": s["ratio_mean"].map(num),
            "Beats chance": [
                VERDICT_TEXT[v] + (" (n=1)" if v == "beats" and n == 1 else "")
                for v, n in zip(s["verdict"], s["ratio_n"], strict=True)
            ],
            "Median steps to solve": s["steps_to_solve"].map(integer),
            "Chance loss": s["chance_loss"].map(num),
            "Chance accuracy": s["chance_accuracy"].map(num),
            "Diverged / failed": [
                f"{int(d)} / {int(f)}" for d, f in zip(s["n_diverged"], s["n_failed"], strict=True)
            ],
        }
    )
    return table(
        rows,
        "Solved: seeds that reached the task's solve criterion / seeds run (failed runs "
        "excluded). Intervals: 95% Student-t over seeds. Steps to solve: median over "
        "solved seeds.",
    )


def cost_frame(runs: pd.DataFrame, main: pd.DataFrame) -> pd.DataFrame:
    """Median cost per (task, seq_len, cell, impl) over the main configuration and its twins that differ
    only in implementation (fused vs explicit)."""
    cols = [c for c in CONFIG_FIELDS if c != "impl"]
    r = runs.assign(cfg_noimpl=config_key(runs, cols))
    wanted = main.assign(cfg_noimpl=config_key(main, cols))[[*KEYS, "cfg_noimpl"]].drop_duplicates()
    r = r.merge(wanted, on=[*KEYS, "cfg_noimpl"], how="inner")
    r = r[r["status"] != "failed"]
    if r.empty:
        return pd.DataFrame()
    g = r.groupby([*KEYS, "impl"], sort=True)
    out = g.agg(
        task=("task", "first"),
        n=("run_id", "size"),
        ms_per_step=("ms_per_step", "median"),
        elements_per_s=("elements_per_s", "median"),
        peak_mem_mb=("peak_mem_mb", "median"),
        num_params=("num_params", "median"),
        hidden_size=("hidden_size", "median"),
        batch_size=("batch_size", "median"),
    ).reset_index()
    lstm = out[out["cell"] == "lstm"][["task_label", "seq_len", "impl", "ms_per_step"]]
    out = out.merge(
        lstm.rename(columns={"ms_per_step": "_lstm_ms"}), on=["task_label", "seq_len", "impl"], how="left"
    )
    out["vs_lstm"] = out["ms_per_step"] / out["_lstm_ms"]
    return sort_frame(out.drop(columns=["_lstm_ms"]), extra=["impl"])


def cost_table(c: pd.DataFrame) -> Table:
    """Section 5's cost table."""
    rows = pd.DataFrame(
        {
            "Task": c["task_label"],
            "T": c["seq_len"].map(integer),
            "Cell": c["cell"].map(cell_name),
            "Impl": c["impl"],
            "Runs": c["n"].map(integer),
            "Hidden": c["hidden_size"].map(integer),
            "Batch": c["batch_size"].map(integer),
            "ms / step": c["ms_per_step"].map(num),
            "× LSTM time": c["vs_lstm"].map(num),
            "elements / s": c["elements_per_s"].map(num),
            "Peak memory (MB)": c["peak_mem_mb"].map(num),
        }
    )
    return table(
        rows,
        "Medians over seeds. × LSTM time: ms per training step relative to the LSTM with the "
        "same task, length and implementation. elements / s: sequence elements processed per "
        "second in training (batch × T / time per step).",
    )


def params_table(runs: pd.DataFrame) -> Table:
    """Every distinct model size in the results, with its parameter count."""
    cols = ["task_label", "cell", "variant", "layers", "hidden_size", "budget", "num_params"]
    u = runs.groupby(cols, dropna=False, sort=False).size().rename("n").reset_index()
    u = sort_frame(u, extra=["variant", "layers", "hidden_size", "budget", "num_params"])
    rows = pd.DataFrame(
        {
            "Task": u["task_label"],
            "Cell": u["cell"].map(cell_name),
            "Variant": u["variant"],
            "Layers": u["layers"].map(integer),
            "Hidden": u["hidden_size"].map(integer),
            "Parameter budget": u["budget"].map(integer),
            "Parameters": u["num_params"].map(integer),
            "Runs": u["n"].map(integer),
        }
    )
    return table(
        rows,
        "Every distinct model size in these results. Parameter budget: set for "
        "parameter-matched runs (hidden size solved for the budget), – for hidden-matched.",
    )


MICRO_COLUMNS = (
    ("name", "Benchmark", str),
    ("cell", "Cell", cell_name),
    ("impl", "Impl", str),
    ("pass", "Pass", str),
    ("hidden", "Hidden", integer),
    ("seq_len", "T", integer),
    ("batch", "Batch", integer),
    ("min_s", "min ms", lambda v: num(float(v) * 1e3)),
    ("mean_s", "mean ms", lambda v: num(float(v) * 1e3)),
    ("rounds", "Rounds", integer),
    ("gflops_per_s", "GFLOP/s", num),
    ("gemm_gflops_per_s", "GEMM GFLOP/s", num),
    ("gemm_fraction", "Fraction of GEMM", num),
    ("device", "Device", str),
    ("threads", "Threads", integer),
)


def microbench_table(mb: pd.DataFrame) -> tuple[Table | None, list[str]]:
    """The micro-benchmark table, with only the columns the file has; plus the columns it lacked."""
    have = [(c, h, f) for c, h, f in MICRO_COLUMNS if c in mb.columns]
    lacking = [c for c, _, _ in MICRO_COLUMNS if c not in mb.columns]
    if mb.empty or not have:
        return None, lacking
    m = mb.copy()
    m["_c"] = rank(m["cell"].astype(str), CELL_ORDER) if "cell" in m.columns else 0
    by = [c for c in ("name", "_c", "impl", "pass", "hidden", "seq_len", "batch") if c in m.columns]
    m = m.sort_values(by, kind="mergesort") if by else m
    rows = pd.DataFrame({h: [MISSING if pd.isna(v) else f(v) for v in m[c]] for c, h, f in have})
    return table(
        rows,
        "Micro-benchmarks (results_dir/microbench.parquet): best (min) and mean time per call "
        "over rounds; GFLOP/s from counted FLOPs; GEMM GFLOP/s and fraction of GEMM as "
        "recorded by the micro-benchmark (achieved rate against a plain matrix multiply).",
    ), lacking


def curve_medians(main: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Eval loss / chance loss per (task, seq_len, cell, step): median, min and max over seeds."""
    need = {"run_id", "step", "split", "metric", "value"}
    if curves.empty or not need <= set(curves.columns):
        return pd.DataFrame()
    c = curves[(curves["split"] == "eval") & (curves["metric"] == "loss")][["run_id", "step", "value"]]
    c = c.merge(main[["run_id", *KEYS, "task", "chance_loss"]], on="run_id", how="inner")
    c = c.assign(
        ratio=pd.to_numeric(c["value"], errors="coerce") / c["chance_loss"],
        step=pd.to_numeric(c["step"], errors="coerce"),
    )
    c = c[np.isfinite(c["ratio"]) & c["step"].notna()]
    if c.empty:
        return pd.DataFrame()
    g = c.groupby([*KEYS, "task", "step"], sort=True)["ratio"]
    out = g.agg(["median", "min", "max", "count"]).reset_index()
    return sort_frame(out, extra=["step"])
