"""The report's tables as blocks: summary, gradient profiles (decay, horizon, sigma_max), cost, parameter
counts, micro-benchmarks, ablations. Formatting only: the numbers come from the analysis (outcomes.py,
profiles.py, ablations.py)."""

from __future__ import annotations

import pandas as pd

from bench.report.ablations import Ablation
from bench.report.data import (
    CELL,
    CELL_INIT,
    CELL_ORDER,
    IMPL,
    INIT_NAMES,
    VARIANT,
    T,
    arm_name,
    arm_order,
    cell_name,
    init_of,
    rank,
    sort_frame,
)
from bench.report.doc import MISSING, Block, Para, Table, ci, integer, num, table
from bench.report.outcomes import BEAT_RATIO, NEAR_RATIO
from bench.report.profiles import FALLOFF, PHASES

BEATS_DEFINITION = (
    f"An arm **beats chance** at a task and length when the geometric mean over seeds of its final loss / "
    f"chance is below {BEAT_RATIO} and, with two or more seeds, the upper end of its 95% interval (t on "
    f"the log, back-transformed) is below 1 (with one seed only the first condition is checked). "
    f"Otherwise it **stays near chance** (mean within {BEAT_RATIO}–{NEAR_RATIO} × chance), "
    f"is **below chance but not reliably** (mean below {BEAT_RATIO} × chance, interval reaching chance), "
    f"or is **worse than chance** (mean above {NEAR_RATIO} × chance). Chance is the loss of the best "
    f"memoryless predictor, stored with each run (`chance_loss`). This is each arm's own end of training "
    f"(the full budget, or the step it solved at): a property of the arm, not a comparison."
)
# How every interval of the report is made (stated under the tables that show them).
INTERVALS = (
    "Intervals (95%): solve rates: Wilson's score interval on k/n; losses and loss / chance: geometric "
    "mean over seeds with a t-interval on the log, back-transformed (never below 0); accuracies: Wilson's "
    "interval on the mean over seeds with the seeds as trials (a mean of values in [0, 1] has variance at "
    "most p(1-p)/n, so it is conservative and stays inside [0, 1])."
)
EQUAL_STEPS = (
    "Equal steps: runs stop early at the solve criterion, so final losses are never compared; the loss "
    "and accuracy columns read each run's eval loss and accuracy at the common step S of the compared "
    "group (the largest eval step every run of the group reached; a diverged run that stopped before S "
    "counts as infinitely bad). Solved runs are compared by solve rate and steps to solve."
)


VERDICT_TEXT = {
    "beats": "yes",
    "unclear": "no (interval reaches chance)",
    "near": "no (near chance)",
    "worse": "no (worse than chance)",
    "none": MISSING,
}


def solve_rate(k: float, n: float, lo: float | None = None, hi: float | None = None) -> str:
    """Solved seeds / seeds run, e.g. "2/3", with its interval when given: "2/3 [0.21, 0.94]"."""
    if not n:
        return MISSING
    return f"{int(k)}/{int(n)}" + ("" if lo is None or pd.isna(lo) else f" [{num(lo, 2)}, {num(hi, 2)}]")


def rates(s: pd.DataFrame) -> list[str]:
    """The solve-rate column with Wilson's intervals."""
    cols = (s["n_solved"], s["n"], s["solved_lo"], s["solved_hi"])
    return [solve_rate(*r) for r in zip(*cols, strict=True)]


def cis(s: pd.DataFrame, prefix: str) -> list[str]:
    """'mean [lo, hi]' per row for the statistics `prefix`_mean/lo/hi/n."""
    cols = (s[f"{prefix}_mean"], s[f"{prefix}_lo"], s[f"{prefix}_hi"], s[f"{prefix}_n"])
    return [ci(*r) for r in zip(*cols, strict=True)]


def summary_table(s: pd.DataFrame) -> Table:
    """Section 1's table."""
    rows = pd.DataFrame(
        {
            "Task": s["task_label"],
            "T": s[T].map(integer),
            "Arm": s[CELL_INIT].map(arm_name),
            "Solved [95% CI]": rates(s),
            "Median steps to solve": s["steps_to_solve"].map(integer),
            "Step S": s["eq_step"].map(integer),
            "Loss / chance at S [95% CI]": cis(s, "eq_ratio"),
            "Accuracy at S [95% CI]": cis(s, "eq_acc"),
            "Final loss / chance [95% CI]": cis(s, "ratio"),
            "Beats chance (final)": [
                VERDICT_TEXT[v] + (" (n=1)" if v == "beats" and n == 1 else "")
                for v, n in zip(s["verdict"], s["ratio_n"], strict=True)
            ],
            "Chance loss": s["chance_loss"].map(num),
            "Chance accuracy": s["chance_accuracy"].map(num),
            "Diverged / failed": [
                f"{int(d)} / {int(f)}" for d, f in zip(s["n_diverged"], s["n_failed"], strict=True)
            ],
        }
    )
    return table(
        rows,
        "Solved: seeds that reached the task's solve criterion with the final loss below chance / seeds "
        "run (failed runs excluded). Steps to solve: median over solved seeds. S: the common step of the "
        "task and length (every arm compared there). Loss / chance and accuracy at S: geometric mean and "
        "mean over seeds. " + EQUAL_STEPS + " " + INTERVALS,
    )


def cost_table(c: pd.DataFrame) -> Table:
    """Section 5's cost table."""
    rows = pd.DataFrame(
        {
            "Task": c["task_label"],
            "T": c[T].map(integer),
            "Arm": c[CELL_INIT].map(arm_name),
            "Impl": [
                i if k in (i, None) else f"{i} ({k})" for i, k in zip(c[IMPL], c["kernel"], strict=True)
            ],
            "Threads": c["threads"].map(integer),
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
        "Medians over seeds. Impl: the implementation and, in brackets, the code that ran it (cpp: the "
        "C++ fast path of bench/fastpath.py; python / autograd: the Python loops). × LSTM time: ms per "
        "training step relative to the LSTM with the same task, length, implementation, code and thread "
        "count (runs on different devices, code or thread counts are never pooled). elements / s: "
        "sequence elements processed per second in training (batch × T / time per step).",
    )


def params_table(runs: pd.DataFrame) -> Table:
    """Every distinct model size in the results, with its parameter count."""
    size = [VARIANT, "cell.layers", "hidden_size", "cell.budget", "num_params"]
    u = runs.groupby(["task_label", CELL, *size], dropna=False, sort=False).size().rename("n").reset_index()
    u = sort_frame(u, extra=size)
    rows = pd.DataFrame(
        {
            "Task": u["task_label"],
            "Cell": u[CELL].map(cell_name),
            "Variant": u[VARIANT],
            "Layers": u["cell.layers"].map(integer),
            "Hidden": u["hidden_size"].map(integer),
            "Parameter budget": u["cell.budget"].map(integer),
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


def _rate(r: pd.Series) -> str:
    """The fitted decay rate with the distances fitted, e.g. '0.52 (d 0-14)'."""
    if pd.isna(r["rate"]):
        return MISSING
    return f"{num(r['rate'], 2)} (d {integer(r['fit_lo'])}-{integer(r['fit_hi'])})"


def horizon_text(r: pd.Series) -> str:
    """The horizon as the tables write it: '12', '15 (0: underflow)', '> 59' (not within the distances
    profiled), or 'already 0' (no norm at the scored position to compare with)."""
    if not r["ref"] > 0:
        return "already 0" if r["ref"] == 0 else MISSING
    if pd.isna(r["horizon"]):
        return f"> {integer(r['max_distance'])}"
    return integer(r["horizon"]) + (" (0: underflow)" if r["zero_at"] == r["horizon"] else "")


PROFILE_COLUMNS = (
    "One table per cell: each init's median profile over seeds (top layer) side by side, PyTorch's default "
    "first. Decades / step: the fitted decay rate, minus the least-squares slope of log10(median norm) "
    "against distance, over the distances where the median is > 0 and finite (in brackets: the first and "
    "last distance fitted; negative: the norm grows with distance). Horizon: the smallest distance at which "
    "the median is at most {falloff:.0e} of its value at distance 0 (exact zeros, underflow, count as "
    "below; > D: not within the D steps profiled). sigma_max(W_hh): median over seeds of the largest "
    "singular value of the recurrent matrix (all gate blocks stacked) at the same step; Pascanu et al. "
    "2013's condition sigma_max < 1 concerns the tanh RNN. –: the arm did not run at that length."
)


def profile_table(f: pd.DataFrame, cell: str) -> Table:
    """One cell's profiles: a row per (task, length, phase, state), its inits side by side (default first)
    with decay rate, horizon and sigma_max(W_hh) each."""
    c = f[f[CELL] == cell]
    arms = arm_order(c[CELL_INIT])
    keys = ["task_label", T, "phase", "state"]
    by_arm = {a: {tuple(r[k] for k in keys): r for _, r in c[c[CELL_INIT] == a].iterrows()} for a in arms}
    header = ["Task", "T", "When", "State"]
    for a in arms:
        label = INIT_NAMES.get(init_of(a), init_of(a))
        header += [f"{label}: decades / step", f"{label}: horizon", f"{label}: sigma_max(W_hh)"]
    rows = []
    for key in c[keys].drop_duplicates().itertuples(index=False):
        row = [key[0], integer(key[1]), PHASES.get(key[2], key[2]), key[3]]
        for a in arms:
            r = by_arm[a].get(tuple(key))
            row += [MISSING] * 3 if r is None else [_rate(r), horizon_text(r), num(r["sigma_max"])]
        rows.append(tuple(row))
    caption = f"{cell_name(cell)}: decay rate, horizon and sigma_max(W_hh) per init."
    return Table(tuple(header), tuple(rows), caption)


def profile_blocks(f: pd.DataFrame) -> list[Block]:
    """Section 'Gradient profiles': what the columns are, then one table per cell, its inits side by side."""
    present = set(f[CELL])
    cells = [c for c in CELL_ORDER if c in present] + sorted(present - set(CELL_ORDER))
    return [Para(PROFILE_COLUMNS.format(falloff=FALLOFF)), *(profile_table(f, cell) for cell in cells)]


def ablation_table(a: Ablation) -> Table:
    """One ablation's table: every arm of every (task, length, cell) group."""
    s = a.stats
    rows = pd.DataFrame(
        {
            "Task": s["task_label"],
            "T": s[T].map(integer),
            "Arm" if a.key == CELL_INIT else "Cell": s[a.key].map(arm_name),
            a.factor.name: [
                f"{arm} (standard)" if std else arm for arm, std in zip(s["arm"], s["standard"], strict=True)
            ],
            "Solved [95% CI]": rates(s),
            "Median steps to solve": s["steps_to_solve"].map(integer),
            "Step S": s["cmp_step"].map(integer),
            "Loss / chance at S [95% CI]": cis(s, "cmp"),
            "Accuracy at S [95% CI]": cis(s, "eq_acc"),
            "Diverged / failed": [
                f"{int(d)} / {int(x)}" for d, x in zip(s["n_diverged"], s["n_failed"], strict=True)
            ],
        }
    )
    return table(
        rows,
        f"{a.factor.title}: each arm against the standard configuration of that group "
        f"(marked 'standard': the arm of the main comparison). Loss / chance below 1 is better "
        f"than chance. S: the common step of the group (– : no curves; the final loss is shown then). "
        + EQUAL_STEPS
        + " "
        + INTERVALS,
    )


def best_arm_lines(best: pd.DataFrame, factor_name: str, key: str = CELL_INIT) -> tuple[str, ...]:
    """One line per group: its best arm (ablations.best_arms) and the arms tied with it."""
    return tuple(
        f"{r['task_label']}, T={integer(r[T])}, {arm_name(r[key])}: best {factor_name} {r['arm']} "
        f"({at_step(r['cmp_step'])} {num(r['cmp_mean'])}"
        + (f"; tied with {r['tied']})" if r["tied"] else ")")
        for _, r in best.iterrows()
    )


def at_step(step: float) -> str:
    """'loss / chance at step 200' (equal steps), or 'final loss / chance' where no common step is known."""
    return "final loss / chance" if pd.isna(step) else f"loss / chance at step {integer(step)}"
