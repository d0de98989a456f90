"""Find ablations in the results and summarise each arm (pure pandas; factors are data, factors.py).

A factor's ablation tables the runs of the sweep preset named for it (`factor_runs`), never another
preset's: each preset's runs appear under its own factor only, and no factor's table mixes presets. The
main comparison's runs join a group as its reference arm where they have the same configuration apart
from the factor's fields (`config_without`) and hold the factor at one arm; where the main comparison
itself varies the factor (the main study's init arms), those arms are the main comparison, shown in its
own sections, and are left out here (`main_arms` names them). A factor without a preset tables the runs
of no preset that differ in its fields only. An arm is a cell x init (data.CELL_INIT); a factor that
varies the init itself (the init ablation) is grouped per cell instead (data.CELL_KEYS), since its arms
are the inits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.report.data import (
    CELL,
    CELL_INIT,
    CELL_KEYS,
    INIT_FIELDS,
    KEYS,
    TASK,
    TUNE_SWEEP,
    arm_order,
    config_without,
    sort_frame,
)
from bench.report.factors import Factor
from bench.report.outcomes import outcome_stats


@dataclass(frozen=True)
class Ablation:
    factor: Factor
    stats: pd.DataFrame  # outcome_stats per (*keys, arm) + arm_x, standard
    dropped: int  # qualifying runs left out because their group had a second context
    keys: tuple[str, ...] = tuple(KEYS)  # the groups: (task, seq_len, arm), or per cell for the init factor
    run_ids: frozenset[str] = field(default_factory=frozenset)  # the runs its table summarises

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


def _varies_in_main(main: pd.DataFrame, f: Factor, keys: list[str]) -> pd.Series:
    """Per main-comparison run: whether its group (`keys`) has more than one arm of factor `f` there."""
    if main.empty:
        return pd.Series(dtype=bool)
    arms = main.assign(_arm=f.arms(main)).groupby(keys, dropna=False)["_arm"].transform("nunique")
    return (arms > 1).set_axis(main["run_id"].to_numpy())


def main_arms(main: pd.DataFrame, f: Factor, presets: tuple[str, ...] = ()) -> list[str]:
    """The main study's arms (data.CELL_INIT) along which it varies factor `f` itself, in arm order (empty
    when it holds `f` at one arm per group): those are the main comparison, not an ablation. The main
    study: the main comparison's runs from none of `presets` (where presets' runs stand in for it, they
    are those presets')."""
    main = main[~main["sweep"].isin(presets)] if len(main) else main
    if main.empty or not set(f.fields) <= set(main.columns):
        return []
    varies = _varies_in_main(main, f, keys_of(f))
    return arm_order(main.loc[varies.to_numpy(), CELL_INIT])


def factor_runs(runs: pd.DataFrame, main: pd.DataFrame, f: Factor, presets: tuple[str, ...]) -> pd.DataFrame:
    """The runs factor `f` may table: its preset's runs, and the main comparison's runs where the main
    comparison holds `f` at one arm (the reference arm, if a group matches); without a preset, the runs of
    none of `presets` (nor the tuning runs, which the tuning section shows). Another preset's runs never
    (they vary other fields, and have their own factor)."""
    if f.preset is None:
        return runs[~runs["sweep"].isin({*presets, TUNE_SWEEP})]
    varies = _varies_in_main(main, f, keys_of(f))
    # in the main comparison, at its one arm of `f`, and from no preset (where presets' runs stand in for a
    # main comparison that was not run, they are still their own preset's)
    ref = runs["run_id"].map(varies).eq(False) & ~runs["sweep"].isin({*presets, f.preset})
    return runs[(runs["sweep"] == f.preset) | ref]


def find(
    runs: pd.DataFrame,
    main: pd.DataFrame,
    f: Factor,
    curves: pd.DataFrame | None = None,
    presets: tuple[str, ...] = (),
) -> Ablation | None:
    """The runs of ablation `f` (factor_runs; one context per group) summarised per arm, or None; with
    `curves`, the arms of a group are also compared at its common step (equal.py). `presets`: every
    factor's preset, for a factor without one."""
    runs = factor_runs(runs, main, f, presets)
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
    # a preset's group (its runs, with any reference runs of the main comparison); a factor without a
    # preset: a group whose runs differ in the factor
    sel = r[g["_preset"].transform("max")] if f.preset else r[g["arm"].transform("nunique") > 1]
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
    return Ablation(f, stats, int(len(sel) - len(kept)), tuple(keys), frozenset(kept["run_id"]))


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
        a = find(runs, main, f, curves, tuple(x.preset for x in factors if x.preset))
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
