"""The activation preset's verdicts (conf/sweep/activation.yaml: the RNN's tanh vs relu x default vs
identity init x clip none vs norm, SGD at a learning rate that explodes), pure pandas.

Five claims: (1) tanh keeps hidden values in (-1, 1): max |h_t| from the states table; (2) relu lets them
blow up (max |h_t| beyond BLOW_UP, or a non-finite loss); (3) relu diverges where tanh does not (status
diverged, by diverged_reason); (4) norm clipping contains the explosion: fewer diverged runs with it, and
the gradient norms logged before clipping (curves: train / grad_norm); (5) relu helps the RNN learn: each
relu arm against the tanh arm of the same init and clipping (preset_common.better).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import TASK, Prepared, T, sort_frame
from bench.report.doc import NA, integer, num, plural, text
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
    one_seed,
    pairs_of,
    verdict_rows,
    where_text,
)

PRESET = "activation"
GROUP = ["task_label", TASK, T]
ARM = ["variant", "init", "clip"]
KEYS = [*GROUP, *ARM]
# tanh's range: |tanh(x)| < 1, and in float64 tanh(x) rounds to exactly 1 for |x| above about 19, so 1
# itself is still inside the bound. A relu state beyond it is one tanh could never reach: "grown".
TANH_BOUND = 1.0
# "Blows up": max |h_t| above this, a thousand times tanh's bound (relu values of a few units are ordinary,
# three orders of magnitude are not), or the run went non-finite. Judged per run, and an arm blows up when
# a majority of its seeds did: a median of max |h_t| over seeds would mix a non-finite run's last probe
# (often its initialisation) with the others' whole runs.
BLOW_UP = 1e3
NONFINITE = "non-finite"  # how bench/train.py's diverged_reason starts for a non-finite loss or gradient


def run_metrics(runs: pd.DataFrame, states: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: max_h (max |h_t| over every probe step, layer and t; inf where a value is not finite; NaN
    without states), grad_max (the largest gradient norm logged before clipping), nonfinite, blown (non-finite
    or max_h above BLOW_UP), reason (the diverged_reason's kind: its words before the first number)."""
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
    out["blown"] = out["nonfinite"] | (out["max_h"] > BLOW_UP)
    out["reason"] = reason.str.extract(r"^([^\d]*?)\s*(?:\d|$)", expand=False).str.strip().to_numpy()
    return out


def analyse(p: Prepared) -> PresetResult:
    """Per task and arm (activation, init, clip): outcome, diverged, non-finite and blown-up runs, max |h_t|
    and the largest pre-clip gradient norm over seeds; the five verdicts."""
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
        n_blown=("blown", "sum"),
        max_h_median=("max_h", "median"),
        max_h_max=("max_h", "max"),
        n_states=("max_h", "count"),
        grad_max_median=("grad_max", "median"),
        reasons=("reason", lambda s: "; ".join(f"{k} x{v}" for k, v in s[s != NA].value_counts().items())),
    )
    table = arm_stats(r, KEYS, p.curves, common=GROUP).merge(agg.reset_index(), on=KEYS, how="left")
    table = sort_frame(table, extra=ARM)
    rows = [_tanh(m), _relu(table), _diverged(table, m), _clipping(table), _helps(table)]
    return PresetResult(PRESET, len(runs), table, verdict_rows(PRESET, rows), {"runs": m})


# The claims, by which the scorecard finds their verdicts (scorecard_presets.LINKS).
TANH = "tanh keeps |h_t| within 1"
RELU = f"relu lets |h_t| blow up (above {integer(BLOW_UP)}, or to a non-finite loss)"
DIVERGES = "relu diverges where tanh does not (same SGD, same rate)"
CLIPS = "norm clipping contains the explosion (no diverged runs with it)"
HELPS = "relu helps the RNN learn (against tanh at the same init and clipping)"
# What may tell the cases of a claim apart (column -> word), for a 'partly'.
DIMS = {"init": "the init", "clip": "clipping", "task_label": "the task"}


def _tanh(m: pd.DataFrame) -> tuple[str, str, str]:
    claim = TANH
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


def _relu(table: pd.DataFrame) -> tuple[str, ...]:
    relu = table[table["variant"] == "relu"]
    if relu.empty:
        return RELU, UNTESTED, "no relu runs"
    said = [
        f"{_arm(r)}: {num(r['max_h_median'])} ({num(r['max_h_max'])}), "
        f"{integer(r['n_blown'])}/{integer(r['n'])}"
        for _, r in relu.iterrows()
    ]
    cases = relu.assign(ok=relu["n_blown"] > relu["n"] / 2, what=relu.apply(_arm, axis=1))
    grown = int((relu["max_h_median"] > TANH_BOUND).sum())
    text_ = (
        "Per relu arm, median max |h_t| over seeds (largest), runs blown up: "
        + "; ".join(said)
        + f". Blown up (max |h_t| above {integer(BLOW_UP)} or non-finite, on a majority of seeds) in "
        f"{int(cases['ok'].sum())} of {len(relu)} relu arms; beyond tanh's bound (median max |h_t| above "
        f"{num(TANH_BOUND)}) in {grown}. A non-finite run stops at once, so its states are those of its last "
        "probe step before (often only initialisation)."
    )
    verdict, depends, where = judge(cases, "ok", DIMS, "what")
    return RELU, verdict, text_, depends, where


def _arm(r: pd.Series) -> str:
    """'identity init + clip none on adding'."""
    return f"{r['init']} init + clip {r['clip']} on {r['task_label']}"


def _diverged(table: pd.DataFrame, m: pd.DataFrame) -> tuple[str, str, str]:
    claim = DIVERGES
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


def _clipping(table: pd.DataFrame) -> tuple[str, ...]:
    said, cases = [], []
    for a, b in pairs_of(table, [*GROUP, "variant", "init"], "clip", "none", "norm"):
        what = f"{a['variant']} + {a['init']} init on {a['task_label']}"
        if a["n_diverged"] > 0:  # only an arm that diverged without clipping had anything to contain
            gone, fewer = b["n_diverged"] == 0, 0 < b["n_diverged"] < a["n_diverged"]
            cases.append({**{c: a[c] for c in ("variant", "init", "task_label")}, "what": what, "ok": gone,
                          "fewer": fewer})  # fmt: skip
        said.append(
            f"{what}: {integer(a['n_diverged'])}/{integer(a['n'])} vs {integer(b['n_diverged'])}/"
            f"{integer(b['n'])}, {_norm(a['grad_max_median'])} vs {_norm(b['grad_max_median'])}"
        )
    if not said:
        return CLIPS, UNTESTED, "no arm ran both without and with norm clipping"
    c = pd.DataFrame(cases, columns=["variant", "init", "task_label", "what", "ok", "fewer"])
    per_arm = "; ".join(said)
    if c.empty:
        why = "no run diverged without clipping, so there was nothing to contain (diverged / runs without vs"
        return (
            CLIPS,
            UNTESTED,
            f"{why} with norm clipping, largest logged gradient norm without vs with: {per_arm})",
        )
    text_ = (
        "Per arm, diverged runs without vs with norm clipping, and the largest logged gradient norm (median "
        f"over seeds) without vs with: {per_arm}. Of the {plural(len(c), 'arm')} that diverged without "
        f"clipping, none diverged with it in {int(c['ok'].sum())}, fewer did in {int(c['fewer'].sum())}. The "
        "logged norms are before clipping (none logged: non-finite before the first log step); with norm "
        "clipping each update's gradient is scaled to at most train.clip_value."
    )
    dims = {"variant": "the activation", "init": "the init", "task_label": "the task"}
    verdict, depends, where = judge(c, "ok", dims, "what")
    if verdict == FAILS and c["fewer"].any():  # fewer diverged with clipping, never none
        verdict, depends = PARTLY, "the seed (fewer runs diverged with clipping, but never none)"
        where = where_text(c["what"], c["fewer"], "fewer with it", "as many")
    return CLIPS, verdict, text_, depends, where


def _helps(table: pd.DataFrame) -> tuple[str, ...]:
    said, cases = [], []
    for t, r in pairs_of(table, [*GROUP, "init", "clip"], "variant", "tanh", "relu"):
        side = better(r, t)
        cases.append({"init": r["init"], "clip": r["clip"], "task_label": r["task_label"], "what": _arm(r),
                      "ok": side < 0, "worse": side > 0, "rows": (r, t)})  # fmt: skip
        said.append(
            f"{_arm(r)}: relu {arm_text(r)}, {integer(r['n_diverged'])} diverged; tanh {arm_text(t)}, "
            f"{integer(t['n_diverged'])} diverged"
        )
    if not cases:
        return HELPS, UNTESTED, "no relu arm with a tanh arm of the same init and clipping"
    c = pd.DataFrame(cases)
    k, w = int(c["ok"].sum()), int(c["worse"].sum())
    text_ = (
        "Per init and clipping, relu against tanh: " + "; ".join(said) + f". Relu better in {k} of {len(c)} "
        f"({BETTER_RULE}), worse in {w}, no clear difference in {len(c) - k - w}."
        + one_seed([x for pair in c["rows"] for x in pair])
    )
    verdict, depends, where = judge(c, "ok", DIMS, "what")
    return HELPS, verdict, text_, depends, where
