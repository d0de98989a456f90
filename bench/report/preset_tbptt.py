"""The truncated-BPTT preset's verdicts (conf/sweep/tbptt.yaml: K = L/8, L/4, L/2, L), pure pandas.

Three claims: (1) a dependency longer than the truncation window cannot be learnt: with K <= D, the
task's longest dependency (Task.max_distance, from the task registry), the truncated gradient never reaches
from the scored step back to the input; (2) truncation is cheaper per step than full BPTT (ms_per_step
against K); (3) truncated BPTT learns as well as full BPTT: each K against full BPTT of the same task and
arm (preset_common.better), judged only where full BPTT solved a majority of seeds. Each run's gradient
profile differentiates its truncated objective, so its norms are exactly 0 from distance K on: the table
shows that distance, as a check that the truncation is what ran.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL_INIT, TASK, Prepared, T, arm_name, sort_frame
from bench.report.doc import integer, num, plural
from bench.report.lengths import task_lengths
from bench.report.outcomes import BEAT_RATIO
from bench.report.preset_common import (
    BETTER_RULE,
    FAILS,
    HOLDS,
    PARTLY,
    UNTESTED,
    PresetResult,
    arm_stats,
    arm_text,
    better,
    judge,
    missing,
    of_preset,
    profile_rates,
    share,
    solves,
    verdict_rows,
)

PRESET = "tbptt"
GROUP = ["task_label", TASK, T, CELL_INIT]
KEYS = [*GROUP, "K"]
# Per-step times of runs made one after another on a shared CPU differ by several percent for the same
# work: a truncated K counts as cheaper (or dearer) than full BPTT only beyond this fraction of its time.
COST_MARGIN = 0.1
# A trend of cost against K (Spearman's rank correlation over the K values run) counts from here.
TREND = 0.8


def analyse(p: Prepared) -> PresetResult:
    """Per task, length, arm and K: outcome, L and D, whether K cuts D, median ms per step, and where the
    end-of-training profile becomes exactly 0; the two verdicts."""
    runs = of_preset(p.runs, PRESET)
    if runs.empty:
        return missing(PRESET)
    facts = task_lengths(runs)
    k = pd.to_numeric(runs["train.tbptt"], errors="coerce")
    r = runs.assign(L=facts["length"], D=facts["max_distance"])
    r["K"] = k.where(k.notna() & (k < r["L"]), r["L"])  # null or K >= L: one chunk, full BPTT (K = L)
    s = arm_stats(r, KEYS, p.curves)
    cost = r.groupby(KEYS, sort=False).agg(
        L=("L", "first"), D=("D", "first"), ms=("ms_per_step", "median"), mem=("peak_mem_mb", "median")
    )
    zero = profile_rates(p.profile, r, KEYS)
    zero = zero[(zero["phase"] == "end") & (zero["direction"] == "forward")]
    zero = zero[zero["layer"] == zero.groupby(KEYS)["layer"].transform("max")][[*KEYS, "zero_at"]]
    table = s.merge(cost.reset_index(), on=KEYS, how="left").merge(zero, on=KEYS, how="left")
    table = table.assign(full=table["K"] >= table["L"], cuts=table["K"] <= table["D"])
    table = sort_frame(table, extra=["K"])
    rows = [_learnt(table), _cost(table), _as_full(table)]
    return PresetResult(PRESET, len(runs), table, verdict_rows(PRESET, rows))


# The claims, by which the scorecard finds their verdicts (scorecard_presets.LINKS).
LEARNT = "a dependency longer than K cannot be learnt"
CHEAPER = "truncated BPTT is cheaper per step than full BPTT"
AS_FULL = "truncated BPTT learns as well as full BPTT (where full BPTT solved a majority of seeds)"


def _k(r: pd.Series) -> str:
    return f"K={integer(r['K'])}" + (" (full)" if r["full"] else "")


def _learnt(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = LEARNT
    cut, uncut = table[table["cuts"]], table[~table["cuts"]]
    if cut.empty:
        return claim, UNTESTED, "no run with K at or below the task's longest dependency"
    said = []
    for _, g in table.groupby(GROUP, sort=False):
        first = g.iloc[0]
        said.append(
            f"{arm_name(first[CELL_INIT])} on {first['task_label']} (L={integer(first['L'])}, D="
            f"{integer(first['D'])}): "
            + ", ".join(f"{_k(r)} {integer(r['n_solved'])}/{integer(r['n'])}" for _, r in g.iterrows())
            + f" (loss / chance at step {integer(first['cmp_step'])}: "
            + ", ".join(num(x, 2) for x in g["cmp_mean"])
            + ")"
        )
    cut_solved = int(cut["n_solved"].sum())
    cut_major = int(sum(solves(r) for _, r in cut.iterrows()))
    uncut_major = int(sum(solves(r) for _, r in uncut.iterrows()))
    partial = int(((cut["cmp_mean"] < BEAT_RATIO) & (cut["n_solved"] == 0)).sum())
    counts = (
        f"With K <= D (the longest dependency cut): {cut_solved} of {integer(cut['n'].sum())} runs solved, "
        f"{cut_major} of {len(cut)} arms on a majority of seeds; with K > D: {uncut_major} of {len(uncut)} "
        "arms solved on a majority of seeds."
        + (
            f" Yet {partial} of the {len(cut)} cut arms reach below {num(BEAT_RATIO)} x chance at step S "
            "without solving (a partial fit, not a solve)."
            if partial
            else ""
        )
    )
    if cut_major:
        verdict = FAILS
    elif cut_solved:
        verdict = PARTLY
    else:  # nothing cut was learnt; that says something only when the uncut runs could learn it
        verdict = HOLDS if uncut_major else UNTESTED
    why = ""
    if verdict == UNTESTED:
        why = " No run with K > D to compare with." if uncut.empty else " Nothing solved with K > D either."
        why += " So these runs cannot tell."
    return claim, verdict, "Solved seeds per K: " + "; ".join(said) + ". " + counts + why


def _cost(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = CHEAPER
    said, cheaper, dearer, n, falls, rises = [], 0, 0, 0, 0, 0
    for _, g in table.groupby(GROUP, sort=False):
        full = g[g["full"]]
        if full.empty or g["ms"].isna().all():
            continue
        ref = float(full["ms"].iloc[0])
        trunc = g[~g["full"]]
        rel = trunc["ms"] / ref
        n, cheaper, dearer = (
            n + len(trunc),
            cheaper + int((rel < 1 - COST_MARGIN).sum()),
            dearer + int((rel > 1 + COST_MARGIN).sum()),
        )
        rho = g["K"].rank().corr(g["ms"].rank()) if len(g) > 2 else np.nan  # Spearman
        falls, rises = falls + bool(rho <= -TREND), rises + bool(rho >= TREND)
        first = g.iloc[0]
        said.append(
            f"{arm_name(first[CELL_INIT])} on {first['task_label']}: "
            + ", ".join(f"{_k(r)} {num(r['ms'])}" for _, r in g.iterrows())
        )
    if not n:
        return claim, UNTESTED, "no group with both full-BPTT and truncated runs timed"
    text = (
        "Median ms per training step: " + "; ".join(said) + ". Truncated K cheaper than full BPTT (by more "
        f"than {num(100 * COST_MARGIN)}%) in {cheaper} of {n}, dearer in {dearer}; the cost per step falls "
        f"as K grows in {falls} of {len(said)} groups and rises in {rises} (Spearman's rank correlation "
        f"beyond ±{num(TREND)})."
    )
    return claim, share(cheaper, n), text


def _as_full(table: pd.DataFrame) -> tuple[str, ...]:
    """Each truncated K against full BPTT of its group: not worse (preset_common.better). Only where full
    BPTT solved a majority of seeds: against a reference that did not learn the task, "as well as" would
    hold by both failing, and say nothing about truncation."""
    said, cases, unsolved = [], [], 0
    for _, g in table.groupby(GROUP, sort=False):
        full, trunc = g[g["full"]], g[~g["full"]]
        if full.empty or trunc.empty:
            continue
        f = full.iloc[0]
        if not solves(f):
            unsolved += 1
            continue
        for _, r in trunc.iterrows():
            side = better(r, f)
            what = f"{arm_name(r[CELL_INIT])} {_k(r)} on {r['task_label']}"
            cases.append({"task_label": r["task_label"], "arm": r[CELL_INIT], "K": r["K"], "what": what,
                          "ok": side <= 0, "worse": side > 0, "cuts": bool(r["cuts"])})  # fmt: skip
        said.append(
            f"{arm_name(f[CELL_INIT])} on {f['task_label']}: full BPTT {arm_text(f)}; "
            + ", ".join(f"{_k(r)} {arm_text(r)}" for _, r in trunc.iterrows())
        )
    if not cases:
        if unsolved:
            why = f"full BPTT solved a majority of seeds in no group ({plural(unsolved, 'group')} ran both)"
            return AS_FULL, UNTESTED, why + ": no learnt reference for truncation to match"
        return AS_FULL, UNTESTED, "no group with both full-BPTT and truncated runs"
    skipped = (
        f" Left out: {plural(unsolved, 'group')} where full BPTT solved no majority of seeds."
        if unsolved
        else ""
    )
    c = pd.DataFrame(cases)
    worse, cut = c[c["worse"]], c[c["cuts"]]
    text_ = (
        "; ".join(said) + f". Truncated K worse than full BPTT ({BETTER_RULE}) in {len(worse)} of {len(c)}, "
        f"of them {int(worse['cuts'].sum())} of the {len(cut)} with K <= D (the longest dependency cut)."
        + skipped
    )
    verdict, depends, where = judge(
        c, "ok", {"task_label": "the task", "arm": "the cell", "K": "the truncation length K"}, "what"
    )
    return AS_FULL, verdict, text_, depends, where
