"""The depth preset's verdicts (conf/sweep/depth.yaml: 1 / 2 / 3 layers at a matched parameter count),
pure pandas.

Two claims: (1) does depth buy memory, or only capacity? At a matched parameter count the capacity is held
fixed, so a deeper stack that solves more seeds (or reaches a clearly lower loss) than one layer bought
memory; one that does not shows that what stacking adds is parameters. (2) Per-layer gradient profiles:
whether a deeper stack's gradient falls through time at the one-layer rate (bottom and top layer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL_INIT, TASK, Prepared, T, arm_name, sort_frame
from bench.report.doc import integer, num
from bench.report.preset_common import (
    BETTER_RULE,
    FLAT_RATE,
    RATE_FACTOR,
    UNTESTED,
    PresetResult,
    arm_stats,
    better,
    judge,
    missing,
    of_preset,
    one_seed,
    profile_rates,
    rates_match,
    share,
    verdict_rows,
)

PRESET = "depth"
GROUP = ["task_label", TASK, T, CELL_INIT]  # one comparison of depths
KEYS = [*GROUP, "layers"]


def analyse(p: Prepared) -> PresetResult:
    """Per task, length, arm and depth: outcome, hidden size and parameters, decay rate per layer (bottom to
    top, at initialisation and at the end); the two verdicts."""
    runs = of_preset(p.runs, PRESET)
    if runs.empty:
        return missing(PRESET)
    r = runs.assign(layers=pd.to_numeric(runs["cell.layers"], errors="coerce"))
    s = arm_stats(r, KEYS, p.curves)
    size = r.groupby(KEYS, sort=False).agg(hidden=("hidden_size", "median"), params=("num_params", "median"))
    rates = profile_rates(p.profile, r, KEYS)
    rates = rates[rates["direction"] == "forward"].sort_values("layer")
    per_layer = {(*k, ph): tuple(g["rate"]) for (*k, ph), g in rates.groupby([*KEYS, "phase"], sort=False)}
    table = sort_frame(s.merge(size.reset_index(), on=KEYS, how="left"), extra=["layers"])
    for ph in ("init", "end"):
        key = zip(*(table[k] for k in KEYS), strict=True)
        table[f"rates_{ph}"] = [per_layer.get((*k, ph), ()) for k in key]
    rows = [_memory(table), _gradient(table)]
    return PresetResult(PRESET, len(runs), table, verdict_rows(PRESET, rows), {"layer_rates": rates})


# The claims, by which the scorecard finds their verdicts (scorecard_presets.LINKS).
MEMORY = "depth buys memory at a matched parameter count (not only capacity)"
GRADIENT = "a deeper stack's gradient falls through time at the one-layer rate (per-layer profiles)"


def _groups(table: pd.DataFrame) -> list[tuple[pd.Series, list[pd.Series]]]:
    """(one-layer row, deeper rows) per group that ran one layer and at least one deeper stack."""
    out = []
    for _, g in table.groupby(GROUP, sort=False):
        base, deeper = g[g["layers"] == 1], g[g["layers"] > 1]
        if len(base) and len(deeper):
            out.append((base.iloc[0], [d for _, d in deeper.iterrows()]))
    return out


def _outcomes(rows: list[pd.Series]) -> str:
    """'layers 1 / 2 / 3: solved 0/3, 1/3, 3/3; loss / chance at step 300 0.98, 0.5, 0.01'."""
    solved = ", ".join(f"{integer(r['n_solved'])}/{integer(r['n'])}" for r in rows)
    loss = ", ".join(num(r["cmp_mean"], 2) for r in rows)
    at = f"at step {integer(rows[0]['cmp_step'])}" if np.isfinite(rows[0]["cmp_step"]) else "(final)"
    return (
        f"layers {' / '.join(integer(r['layers']) for r in rows)}: solved {solved}; loss / chance {at} {loss}"
    )


def _memory(table: pd.DataFrame) -> tuple[str, ...]:
    groups = _groups(table)
    if not groups:
        return MEMORY, UNTESTED, "no group ran one layer and a deeper stack"
    said, cases, ceiling = [], [], 0
    for base, deeper in groups:
        for d in deeper:
            side = better(d, base)
            what = f"{arm_name(d[CELL_INIT])} {integer(d['layers'])} layers on {d['task_label']}"
            cases.append({"arm": d[CELL_INIT], "task_label": d["task_label"], "layers": d["layers"],
                          "what": what, "ok": side < 0, "worse": side > 0})  # fmt: skip
        ceiling += bool(base["n"] and base["n_solved"] == base["n"])
        where = f"{arm_name(base[CELL_INIT])} on {base['task_label']} T={integer(base[T])}"
        said.append(f"{where}, {_outcomes([base, *deeper])}")
    c = pd.DataFrame(cases)
    n, gains, losses = len(c), int(c["ok"].sum()), int(c["worse"].sum())
    params = table["params"].dropna()
    spread = (params.max() - params.min()) / params.median() if len(params) else np.nan
    counts = (
        f"Deeper than one layer: better in {gains} of {n} comparisons ({BETTER_RULE}), worse in {losses}, no "
        f"clear difference in {n - gains - losses}; parameters {integer(params.min())}-"
        f"{integer(params.max())} (within {num(100 * spread, 2)}% of each other)."
    )
    if gains == 0:
        why = (
            f" One layer already solved every seed in {ceiling} of {len(groups)} groups (there, depth could "
            "only show as a lower loss)."
            if ceiling
            else ""
        )
        word = (
            " So at a matched parameter count depth bought no memory here: what stacking adds is capacity "
            "(parameters), and this preset holds the parameters fixed." + why
        )
    elif gains == n:
        word = " So depth bought memory: at the same parameter count every deeper stack did better."
    else:
        word = f" So depth bought memory in {gains} of {n} comparisons and not in the rest."
    caveat = one_seed([r for base, deeper in groups for r in (base, *deeper)])
    dims = {"arm": "the cell", "task_label": "the task", "layers": "the depth"}
    verdict, depends, where = judge(c, "ok", dims, "what")
    return MEMORY, verdict, "; ".join(said) + ". " + counts + word + caveat, depends, where


def _gradient(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = GRADIENT
    said, checked, held = [], 0, 0
    for base, deeper in _groups(table):
        one = base["rates_init"][-1] if base["rates_init"] else np.nan
        parts = [f"1: {num(one, 2)}"]
        for d in deeper:
            rs = d["rates_init"]
            for rate in (rs[0], rs[-1]) if rs else ():  # bottom and top layer
                m = rates_match(rate, one)
                checked, held = checked + (m is not None), held + bool(m)
            parts.append(f"{integer(d['layers'])}: " + " / ".join(num(x, 2) for x in rs) if rs else "–")
        said.append(
            f"{arm_name(base[CELL_INIT])} on {base['task_label']} T={integer(base[T])}, " + "; ".join(parts)
        )
    if not checked:
        return claim, UNTESTED, "no gradient profiles of one layer and a deeper stack in the same group"
    text = (
        "Decades / step at initialisation per depth (bottom / ... / top layer): "
        + "; ".join(said)
        + f". Bottom and top layers of the deeper stacks at the one-layer rate (within a factor of "
        f"{num(RATE_FACTOR)}, or both below {num(FLAT_RATE)} in magnitude) in {held} of {checked} "
        "comparisons."
    )
    return claim, share(held, checked), text
