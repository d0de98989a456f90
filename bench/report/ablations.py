"""Find ablations in the results and summarise each arm.

A factor is an ablation within a (task, seq_len, cell) group when runs there differ in that factor only
(every other config column equal), or when the runs come from the sweep preset named for that factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.data import (
    CONFIG_FIELDS,
    KEYS,
    NA,
    STANDARD_VARIANTS,
    cell_name,
    config_key,
    sort_frame,
    text,
)
from bench.report.doc import Table, ci, integer, num, table
from bench.report.tables import outcome_stats, solve_rate


@dataclass(frozen=True)
class Factor:
    name: str
    title: str
    cols: tuple[str, ...]  # the columns that make the arms
    ignore: tuple[str, ...]  # columns that change with the arm and are not a separate difference
    preset: str  # the sweep preset that runs this ablation


FACTORS = (
    Factor("variant", "Cell variants (LSTM / GRU gates, RNN activation)", ("variant",), (), "lstm_variants"),
    Factor(
        "init",
        "Initialisation (forget-gate bias b_f / recurrent weights)",
        ("forget_bias", "recurrent_init"),
        (),
        "init",
    ),
    Factor("clip", "Gradient clipping", ("clip", "clip_value"), (), "clip"),
    Factor("lr", "Learning rate", ("lr",), (), "lr"),
    Factor("budget", "Parameter-matched vs hidden-matched", ("budget",), ("hidden_size",), "budget"),
)


@dataclass
class Ablation:
    factor: Factor
    stats: pd.DataFrame  # outcome_stats per (task, seq_len, cell, arm) + arm_x, standard
    dropped: int  # qualifying runs left out because their group had a second context


def arms(runs: pd.DataFrame, f: Factor) -> pd.Series:
    """A readable label for each run's arm of factor `f`."""
    if f.name == "budget":
        b = runs["budget"]
        return pd.Series(
            np.where(b.isna(), "hidden-matched", "param-matched " + b.map(integer)),
            index=runs.index,
            dtype=object,
        )
    if f.name == "lr":
        return runs["lr"].map(num).astype(object)
    if f.name == "init":
        return "b_f " + text(runs["forget_bias"]) + " / " + text(runs["recurrent_init"])
    if f.name == "clip":
        cv = runs["clip_value"].map(num)
        return pd.Series(
            np.where(runs["clip"].isin(["none", NA]), text(runs["clip"]), text(runs["clip"]) + " " + cv),
            index=runs.index,
            dtype=object,
        )
    return text(runs[f.cols[0]])


def find(runs: pd.DataFrame, main: pd.DataFrame, f: Factor) -> Ablation | None:
    """The runs of ablation `f` (one context per task, length and cell) summarised per arm, or None."""
    if runs.empty:
        return None
    rest = [c for c in CONFIG_FIELDS if c not in f.cols and c not in f.ignore]
    r = runs.assign(
        arm=arms(runs, f),
        rest=config_key(runs, rest),
        _preset=runs["sweep"] == f.preset,
        _main=runs["run_id"].isin(set(main["run_id"])),
    )
    grp = [*KEYS, "rest"]
    g = r.groupby(grp)
    sel = r[(g["arm"].transform("nunique") > 1) | g["_preset"].transform("max")]
    if sel.empty:
        return None
    # Two contexts for one group (e.g. the variants at two learning rates): show the fuller one.
    ctx = (
        sel.groupby(grp)
        .agg(arms=("arm", "nunique"), n=("run_id", "size"), main=("_main", "max"))
        .reset_index()
    )
    ctx = ctx.sort_values(
        [*KEYS, "arms", "n", "main", "rest"],
        ascending=[True, True, True, False, False, False, True],
        kind="mergesort",
    )
    keep = ctx.drop_duplicates(KEYS)[grp]
    kept = sel.merge(keep, on=grp, how="inner")
    stats = outcome_stats(kept, [*KEYS, "arm"])
    if f.name == "variant":
        stats["standard"] = stats["arm"].isin(STANDARD_VARIANTS)
    else:
        std = main.assign(arm=arms(main, f)).drop_duplicates(KEYS)[[*KEYS, "arm"]].assign(standard=True)
        stats = stats.merge(std, on=[*KEYS, "arm"], how="left")
        stats["standard"] = stats["standard"].eq(True)
    x = kept.groupby([*KEYS, "arm"])["lr"].first().rename("arm_x").reset_index()
    stats = stats.merge(x, on=[*KEYS, "arm"], how="left")
    order = ["arm_x", "arm"] if f.name == "lr" else ["_ns", "arm"]
    stats = sort_frame(stats.assign(_ns=~stats["standard"]), extra=order).drop(columns="_ns")
    return Ablation(f, stats, int(len(sel) - len(kept)))


def ablation_table(a: Ablation) -> Table:
    """One ablation's table: every arm of every (task, length, cell) group."""
    s = a.stats
    rows = pd.DataFrame(
        {
            "Task": s["task_label"],
            "T": s["seq_len"].map(integer),
            "Cell": s["cell"].map(cell_name),
            a.factor.name: [
                f"{arm} (standard)" if std else arm for arm, std in zip(s["arm"], s["standard"], strict=True)
            ],
            "Solved": [solve_rate(k, n) for k, n in zip(s["n_solved"], s["n"], strict=True)],
            "Loss / chance, mean [95% CI]": [
                ci(*r) for r in zip(s["ratio_mean"], s["ratio_lo"], s["ratio_hi"], s["ratio_n"], strict=True)
            ],
            "Final accuracy, mean [95% CI]": [
                ci(*r) for r in zip(s["acc_mean"], s["acc_lo"], s["acc_hi"], s["acc_n"], strict=True)
            ],
            "Median steps to solve": s["steps_to_solve"].map(integer),
            "Diverged / failed": [
                f"{int(d)} / {int(x)}" for d, x in zip(s["n_diverged"], s["n_failed"], strict=True)
            ],
        }
    )
    return table(
        rows,
        f"{a.factor.title}: each arm against the standard configuration of that cell "
        f"(marked 'standard': the arm of the main comparison). Loss / chance below 1 is better "
        f"than chance.",
    )


def best_lr(a: Ablation) -> pd.DataFrame:
    """Per (task, seq_len, cell): the learning rate with the lowest mean final loss / chance, and `tied`:
    the other learning rates with the same mean (e.g. every one at chance), comma-separated."""
    s = a.stats.dropna(subset=["ratio_mean"])
    s = s.sort_values([*KEYS, "ratio_mean", "arm_x"], kind="mergesort")
    best = s.drop_duplicates(KEYS)
    low = s.merge(best[[*KEYS, "ratio_mean"]].rename(columns={"ratio_mean": "_best"}), on=KEYS)
    low = low[np.isclose(low["ratio_mean"], low["_best"], rtol=1e-9, atol=0)]
    low = low[low.duplicated(KEYS)]  # the first row of each group is the best arm itself
    tied = low.groupby(KEYS)["arm"].agg(", ".join).rename("tied")
    best = best.merge(tied, left_on=KEYS, right_index=True, how="left")
    best["tied"] = best["tied"].fillna("")
    return sort_frame(best[[*KEYS, "task", "arm", "arm_x", "ratio_mean", "tied"]])


def clearly(a: pd.Series, b: pd.Series) -> int:
    """-1 when arm `a`'s loss / chance is clearly below `b`'s (95% intervals apart), +1 clearly above, else 0.
    With fewer than two seeds there is no interval, so nothing is clear."""
    if a["ratio_n"] >= 2 and b["ratio_n"] >= 2:
        if a["ratio_hi"] < b["ratio_lo"]:
            return -1
        if a["ratio_lo"] > b["ratio_hi"]:
            return 1
    return 0
