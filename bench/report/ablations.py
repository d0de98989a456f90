"""Find ablations in the results and summarise each arm (pure pandas; factors are data, factors.py).

A factor is an ablation within a (task, seq_len, cell) group when runs there differ in that factor's fields
only (the same configuration apart from them: `config_without`), or when the runs come from the sweep preset
named for that factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.data import KEYS, TASK, config_without, sort_frame
from bench.report.factors import Factor
from bench.report.outcomes import outcome_stats


@dataclass(frozen=True)
class Ablation:
    factor: Factor
    stats: pd.DataFrame  # outcome_stats per (task, seq_len, cell, arm) + arm_x, standard
    dropped: int  # qualifying runs left out because their group had a second context


def _standard(stats: pd.DataFrame, main: pd.DataFrame, f: Factor) -> pd.Series:
    if f.standard is not None:
        return stats["arm"].isin(f.standard)
    std = main.assign(arm=f.arms(main)).drop_duplicates(KEYS)[[*KEYS, "arm"]].assign(_std=True)
    return stats[[*KEYS, "arm"]].merge(std, on=[*KEYS, "arm"], how="left")["_std"].eq(True).to_numpy()


def find(runs: pd.DataFrame, main: pd.DataFrame, f: Factor) -> Ablation | None:
    """The runs of ablation `f` (one context per task, length and cell) summarised per arm, or None."""
    if runs.empty:
        return None
    r = runs.assign(
        arm=f.arms(runs),
        rest=config_without(runs, f.fields),
        _preset=runs["sweep"] == f.preset if f.preset else False,
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
    stats["standard"] = _standard(stats, main, f)
    # The arm's position on a numeric axis: the value of the factor's first field.
    x = pd.to_numeric(kept[f.fields[0]], errors="coerce")
    x = kept.assign(arm_x=x).groupby([*KEYS, "arm"])["arm_x"].first().reset_index()
    stats = stats.merge(x, on=[*KEYS, "arm"], how="left")
    order = ["arm_x", "arm"] if f.axis == "log" else ["_ns", "arm"]
    stats = sort_frame(stats.assign(_ns=~stats["standard"]), extra=order).drop(columns="_ns")
    return Ablation(f, stats, int(len(sel) - len(kept)))


def find_all(runs: pd.DataFrame, main: pd.DataFrame, factors: tuple[Factor, ...], missing: frozenset[str]):
    """Every factor's ablation present -> (ablations by factor name, notes on factors left out)."""
    found: dict[str, Ablation] = {}
    notes: list[str] = []
    for f in factors:
        lacking = [c for c in f.fields if c in missing]
        if lacking:
            notes.append(f"ablation '{f.name}': the results have no values for {lacking[0]}")
            continue
        a = find(runs, main, f)
        if a is not None:
            found[f.name] = a
            if a.dropped:
                notes.append(
                    f"ablation '{f.name}': {a.dropped} runs in a second context of the same group not shown"
                )
    return found, notes


def best_arms(a: Ablation) -> pd.DataFrame:
    """Per (task, seq_len, cell): the arm with the lowest mean final loss / chance, and `tied`: the other
    arms with the same mean (e.g. every one at chance), comma-separated."""
    s = a.stats.dropna(subset=["ratio_mean"])
    s = s.sort_values([*KEYS, "ratio_mean", "arm_x"], kind="mergesort")
    best = s.drop_duplicates(KEYS)
    low = s.merge(best[[*KEYS, "ratio_mean"]].rename(columns={"ratio_mean": "_best"}), on=KEYS)
    low = low[np.isclose(low["ratio_mean"], low["_best"], rtol=1e-9, atol=0)]
    low = low[low.duplicated(KEYS)]  # the first row of each group is the best arm itself
    tied = low.groupby(KEYS)["arm"].agg(", ".join).rename("tied")
    best = best.merge(tied, left_on=KEYS, right_index=True, how="left")
    best["tied"] = best["tied"].fillna("")
    return sort_frame(best[[*KEYS, TASK, "arm", "arm_x", "ratio_mean", "tied"]])


def clearly(a: pd.Series, b: pd.Series) -> int:
    """-1 when arm `a`'s loss / chance is clearly below `b`'s (95% intervals apart), +1 clearly above, else 0.
    With fewer than two seeds there is no interval, so nothing is clear."""
    if a["ratio_n"] >= 2 and b["ratio_n"] >= 2:
        if a["ratio_hi"] < b["ratio_lo"]:
            return -1
        if a["ratio_lo"] > b["ratio_hi"]:
            return 1
    return 0
