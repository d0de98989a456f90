"""Find ablations in the results and summarise each arm (pure pandas; factors are data, factors.py).

A factor is an ablation within a (task, seq_len, arm) group when runs there differ in that factor's fields
only (the same configuration apart from them: `config_without`), or when the runs come from the sweep preset
named for that factor. An arm is a cell x init (data.CELL_INIT); a factor that varies the init itself
(the init ablation) is grouped per cell instead (data.CELL_KEYS), since its arms are the inits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.data import CELL, CELL_KEYS, INIT_FIELDS, KEYS, TASK, config_without, sort_frame
from bench.report.factors import Factor
from bench.report.outcomes import outcome_stats


@dataclass(frozen=True)
class Ablation:
    factor: Factor
    stats: pd.DataFrame  # outcome_stats per (*keys, arm) + arm_x, standard
    dropped: int  # qualifying runs left out because their group had a second context
    keys: tuple[str, ...] = tuple(KEYS)  # the groups: (task, seq_len, arm), or per cell for the init factor

    @property
    def key(self) -> str:
        """The group's third key: data.CELL_INIT, or data.CELL for a factor that varies the init."""
        return self.keys[2]


def compared(stats: pd.DataFrame) -> pd.DataFrame:
    """The loss / chance the arms of a group are compared by (`cmp_mean`, `cmp_lo`, `cmp_hi`, `cmp_n`,
    `cmp_step`): at the group's common step (equal.py) where the curves give one, else the final one."""
    eq = stats["eq_ratio_mean"].notna()
    out = stats.copy()
    for s in ("mean", "lo", "hi", "n"):
        out[f"cmp_{s}"] = stats[f"eq_ratio_{s}"].where(eq, stats[f"ratio_{s}"])
    out["cmp_step"] = stats["eq_step"].where(eq)
    return out


def keys_of(f: Factor) -> list[str]:
    """The group keys of factor `f`: per arm, or per cell when the factor's fields are the init's."""
    return list(CELL_KEYS) if set(f.fields) & set(INIT_FIELDS) else list(KEYS)


def _standard(stats: pd.DataFrame, main: pd.DataFrame, f: Factor, keys: list[str]) -> pd.Series:
    if f.standard is not None:
        return stats["arm"].isin(f.standard)
    # the main comparison's arm; per cell (init factor), its first arm: PyTorch's default init if it ran
    m = sort_frame(main)
    std = m.assign(arm=f.arms(m)).drop_duplicates(keys)[[*keys, "arm"]].assign(_std=True)
    return stats[[*keys, "arm"]].merge(std, on=[*keys, "arm"], how="left")["_std"].eq(True).to_numpy()


def find(
    runs: pd.DataFrame, main: pd.DataFrame, f: Factor, curves: pd.DataFrame | None = None
) -> Ablation | None:
    """The runs of ablation `f` (one context per group) summarised per arm, or None; with `curves`, the arms
    of a group are also compared at its common step (equal.py)."""
    if runs.empty:
        return None
    keys = keys_of(f)
    r = runs.assign(
        arm=f.arms(runs),
        rest=config_without(runs, f.fields),
        _preset=runs["sweep"] == f.preset if f.preset else False,
        _main=runs["run_id"].isin(set(main["run_id"])),
    )
    grp = [*keys, "rest"]
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
        [*keys, "arms", "n", "main", "rest"],
        ascending=[True, True, True, False, False, False, True],
        kind="mergesort",
    )
    keep = ctx.drop_duplicates(keys)[grp]
    kept = sel.merge(keep, on=grp, how="inner")
    stats = outcome_stats(kept, [*keys, "arm"], curves, common=keys)
    stats["standard"] = _standard(stats, main, f, keys)
    # The arm's position on a numeric axis: the value of the factor's first field.
    x = pd.to_numeric(kept[f.fields[0]], errors="coerce")
    x = kept.assign(arm_x=x).groupby([*keys, "arm"])["arm_x"].first().reset_index()
    stats = stats.merge(x, on=[*keys, "arm"], how="left")
    order = ["arm_x", "arm"] if f.axis == "log" else ["_ns", "arm"]
    stats = sort_frame(stats.assign(_ns=~stats["standard"]), extra=order).drop(columns="_ns")
    stats = compared(stats)
    return Ablation(f, stats, int(len(sel) - len(kept)), tuple(keys))


def find_all(
    runs: pd.DataFrame,
    main: pd.DataFrame,
    factors: tuple[Factor, ...],
    missing: frozenset[str],
    curves: pd.DataFrame | None = None,
):
    """Every factor's ablation present -> (ablations by factor name, notes on factors left out)."""
    found: dict[str, Ablation] = {}
    notes: list[str] = []
    for f in factors:
        lacking = [c for c in f.fields if c in missing]
        if lacking:
            notes.append(f"ablation '{f.name}': the results have no values for {lacking[0]}")
            continue
        a = find(runs, main, f, curves)
        if a is not None:
            found[f.name] = a
            if a.dropped:
                notes.append(
                    f"ablation '{f.name}': {a.dropped} runs in a second context of the same group not shown"
                )
    return found, notes


def best_arms(a: Ablation) -> pd.DataFrame:
    """Per group: the arm with the lowest loss / chance as compared (`compared`: at the common step, else
    final), and `tied`: the other arms with the same value (e.g. every one at chance), comma-separated."""
    keys = list(a.keys)
    s = a.stats.dropna(subset=["cmp_mean"])
    s = s.sort_values([*keys, "cmp_mean", "arm_x"], kind="mergesort")
    best = s.drop_duplicates(keys)
    low = s.merge(best[[*keys, "cmp_mean"]].rename(columns={"cmp_mean": "_best"}), on=keys)
    low = low[np.isclose(low["cmp_mean"], low["_best"], rtol=1e-9, atol=0)]
    low = low[low.duplicated(keys)]  # the first row of each group is the best arm itself
    tied = low.groupby(keys)["arm"].agg(", ".join).rename("tied")
    best = best.merge(tied, left_on=keys, right_index=True, how="left")
    best["tied"] = best["tied"].fillna("")
    cols = [
        *keys,
        *(c for c in (CELL, TASK) if c not in keys),
        "arm",
        "arm_x",
        "cmp_mean",
        "cmp_step",
        "tied",
    ]
    return sort_frame(best[cols])


def clearly(a: pd.Series, b: pd.Series) -> int:
    """-1 when arm `a`'s loss / chance as compared (`compared`) is clearly below `b`'s (95% intervals apart),
    +1 clearly above, else 0. With fewer than two seeds there is no interval, so nothing is clear."""
    p = "cmp" if "cmp_n" in a.index and "cmp_n" in b.index else "ratio"
    if a[f"{p}_n"] >= 2 and b[f"{p}_n"] >= 2:
        if a[f"{p}_hi"] < b[f"{p}_lo"]:
            return -1
        if a[f"{p}_lo"] > b[f"{p}_hi"]:
            return 1
    return 0
