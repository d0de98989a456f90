"""The activation preset's verdicts (conf/sweep/activation.yaml: the RNN's tanh vs relu x default vs
identity init x clip none vs norm, SGD at a learning rate that explodes), pure pandas.

Four claims: (1) tanh keeps hidden values in (-1, 1): max |h_t| from the states table; (2) relu lets them
grow (beyond tanh's bound, or to a non-finite loss); (3) relu diverges where tanh does not (status
diverged, by diverged_reason); (4) norm clipping contains the explosion: fewer diverged runs with it, and
the gradient norms logged before clipping (curves: train / grad_norm).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import TASK, Prepared, T, sort_frame
from bench.report.doc import NA, integer, num, plural, text
from bench.report.preset_common import (
    FAILS,
    HOLDS,
    PARTLY,
    UNTESTED,
    PresetResult,
    arm_stats,
    missing,
    of_preset,
    share,
    verdict_rows,
)

PRESET = "activation"
GROUP = ["task_label", TASK, T]
ARM = ["variant", "init", "clip"]
KEYS = [*GROUP, *ARM]
# tanh's range: |tanh(x)| < 1, and in float64 tanh(x) rounds to exactly 1 for |x| above about 19, so 1
# itself is still inside the bound. A relu state beyond it is one tanh could never reach: "grown".
TANH_BOUND = 1.0
NONFINITE = "non-finite"  # how bench/train.py's diverged_reason starts for a non-finite loss or gradient


def run_metrics(runs: pd.DataFrame, states: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: max_h (max |h_t| over every probe step, layer and t; inf where a value is not finite; NaN
    without states), grad_max (the largest gradient norm logged before clipping), nonfinite, reason (the
    diverged_reason's kind: its words before the first number)."""
    out = runs[["run_id"]].copy()
    h = states[(states["stat"] == "max_abs") & (states["state"] == "h")] if len(states) else states
    if len(h):
        v = pd.to_numeric(h["value"], errors="coerce").abs()
        v = v.where(np.isfinite(v), np.inf)
        out["max_h"] = out["run_id"].map(v.groupby(h["run_id"]).max())
    else:
        out["max_h"] = np.nan
    need = {"run_id", "split", "metric", "value"}
    g = (
        curves[(curves["split"] == "train") & (curves["metric"] == "grad_norm")]
        if need <= set(curves)
        else None
    )
    if g is not None and len(g):
        gv = pd.to_numeric(g["value"], errors="coerce")
        out["grad_max"] = out["run_id"].map(gv[np.isfinite(gv)].groupby(g["run_id"]).max())
    else:
        out["grad_max"] = np.nan
    reason = text(runs["diverged_reason"]).where(runs["status"] == "diverged", NA)
    out["nonfinite"] = reason.str.startswith(NONFINITE).to_numpy()
    out["reason"] = reason.str.extract(r"^([^\d]*?)\s*(?:\d|$)", expand=False).str.strip().to_numpy()
    return out


def analyse(p: Prepared) -> PresetResult:
    """Per task and arm (activation, init, clip): outcome, diverged and non-finite runs, max |h_t| and the
    largest pre-clip gradient norm over seeds; the four verdicts."""
    runs = of_preset(p.runs, PRESET)
    if runs.empty:
        return missing(PRESET)
    r = runs.assign(
        variant=text(runs["cell.variant"]),
        init=text(runs["cell.recurrent_init"]),
        clip=text(runs["train.clip"]),
    )
    m = r[[*KEYS, "run_id"]].merge(run_metrics(r, p.states, p.curves), on="run_id")
    agg = m.groupby(KEYS, sort=False).agg(
        n_nonfinite=("nonfinite", "sum"),
        max_h_median=("max_h", "median"),
        max_h_max=("max_h", "max"),
        n_states=("max_h", "count"),
        grad_max_median=("grad_max", "median"),
        reasons=("reason", lambda s: "; ".join(f"{k} x{v}" for k, v in s[s != NA].value_counts().items())),
    )
    table = arm_stats(r, KEYS, p.curves, common=GROUP).merge(agg.reset_index(), on=KEYS, how="left")
    table = sort_frame(table, extra=ARM)
    rows = [_tanh(m), _relu(table), _diverged(table, m), _clipping(table)]
    return PresetResult(PRESET, len(runs), table, verdict_rows(PRESET, rows), {"runs": m})


def _tanh(m: pd.DataFrame) -> tuple[str, str, str]:
    claim = "tanh keeps |h_t| below 1"
    t = m[(m["variant"] == "tanh") & m["max_h"].notna()]
    if t.empty:
        return claim, UNTESTED, "no tanh run with a states table"
    over = int((t["max_h"] > TANH_BOUND).sum())
    saturated = int((t["max_h"] == TANH_BOUND).sum())
    text_ = (
        f"max |h_t| over every probe step of the {plural(len(t), 'tanh run')}: at most "
        f"{num(t['max_h'].max(), 6)} (median {num(t['max_h'].median())}); above {num(TANH_BOUND)} in {over}"
        + (f"; exactly 1 in float64 (tanh saturated) in {saturated}" if saturated else "")
        + "."
    )
    return claim, HOLDS if over == 0 else FAILS, text_


def _relu(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = "relu lets |h_t| grow (beyond 1, or to a non-finite loss)"
    relu = table[table["variant"] == "relu"]
    if relu.empty:
        return claim, UNTESTED, "no relu runs"
    said, grows = [], 0
    for _, r in relu.iterrows():
        grows += bool(r["max_h_median"] > TANH_BOUND or r["n_nonfinite"] > r["n"] / 2)
        said.append(
            f"{r['init']} init, clip {r['clip']} on {r['task_label']}: {num(r['max_h_median'])} "
            f"({num(r['max_h_max'])}), {integer(r['n_nonfinite'])}/{integer(r['n'])}"
        )
    text_ = (
        "Per relu arm, median max |h_t| over seeds (largest), non-finite runs: "
        + "; ".join(said)
        + f". Grown (median max |h_t| above {num(TANH_BOUND)}, or a majority of seeds non-finite) in {grows} "
        f"of {len(relu)} relu arms. A non-finite run stops at once, so its states are those of its last "
        "probe step before (often only initialisation)."
    )
    return claim, share(grows, len(relu)), text_


def _diverged(table: pd.DataFrame, m: pd.DataFrame) -> tuple[str, str, str]:
    claim = "relu diverges where tanh does not (same SGD, same rate)"
    tanh, relu = table[table["variant"] == "tanh"], table[table["variant"] == "relu"]
    if tanh.empty or relu.empty:
        return claim, UNTESTED, "the preset's runs lack tanh or relu arms"
    per_task = []
    for task, g in table.groupby("task_label", sort=False):
        counts = g.groupby("variant")[["n_diverged", "n"]].sum()
        per_task.append(
            f"{task}: "
            + ", ".join(f"{v} {integer(c['n_diverged'])}/{integer(c['n'])}" for v, c in counts.iterrows())
        )
    dt, dr = int(tanh["n_diverged"].sum()), int(relu["n_diverged"].sum())
    reasons = m.loc[m["reason"] != NA, "reason"].value_counts()
    why = "; ".join(f"{k} x{v}" for k, v in reasons.items())
    text_ = (
        f"Diverged / runs: {'; '.join(per_task)}. In all: tanh {dt} of {integer(tanh['n'].sum())}, relu {dr} "
        f"of {integer(relu['n'].sum())}" + (f" (why: {why})." if why else ".")
    )
    verdict = FAILS if dr <= dt else HOLDS if dt == 0 else PARTLY
    return claim, verdict, text_


def _norm(x: float) -> str:
    return num(x) if np.isfinite(x) else "none logged"


def _clipping(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = "norm clipping contains the explosion (no diverged runs with it)"
    said, pairs, gone, fewer = [], 0, 0, 0
    for _, g in table.groupby([*GROUP, "variant", "init"], sort=False):
        none, norm = g[g["clip"] == "none"], g[g["clip"] == "norm"]
        if none.empty or norm.empty:
            continue
        a, b = none.iloc[0], norm.iloc[0]
        if a["n_diverged"] > 0:
            pairs, gone = pairs + 1, gone + bool(b["n_diverged"] == 0)
            fewer += bool(0 < b["n_diverged"] < a["n_diverged"])
        said.append(
            f"{a['variant']}, {a['init']} init on {a['task_label']}: {integer(a['n_diverged'])}/"
            f"{integer(a['n'])} vs {integer(b['n_diverged'])}/{integer(b['n'])}, "
            f"{_norm(a['grad_max_median'])} vs {_norm(b['grad_max_median'])}"
        )
    if not said:
        return claim, UNTESTED, "no arm ran both without and with norm clipping"
    text_ = (
        "Per arm, diverged runs without vs with norm clipping, and the largest logged gradient norm (median "
        "over seeds) without vs with: " + "; ".join(said)
    ) + (
        f". Of the {plural(pairs, 'arm')} that diverged without clipping, none diverged with it in {gone}, "
        f"fewer did in {fewer}. The logged norms are before clipping (none logged: non-finite before the "
        "first log step); with norm clipping each update's gradient is scaled to at most train.clip_value."
    )
    if pairs == 0:
        return claim, UNTESTED, "no run diverged without clipping, so there was nothing to contain: " + text_
    verdict = share(gone, pairs) if gone else PARTLY if fewer else FAILS
    return claim, verdict, text_
