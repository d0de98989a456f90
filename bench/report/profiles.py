"""Gradient profiles: median ||dL/dh_t|| (and ||dL/dc_t||) over seeds by distance from the scored position,
at initialisation and at the end of training; per profile its fitted decay rate and its horizon; and the
largest singular value of W_hh at the same two points (Pascanu et al. 2013's condition)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, KEYS, TASK, sort_frame

FALLOFF = 1e-6  # "has vanished": at most this fraction of the norm at the scored position
NEEDED = ("run_id", "step", "layer", "distance", "state", "grad_norm")
PHASES = {"init": "initialisation", "end": "end of training"}  # phase -> how the report writes it
SIGMA = "sigma_max_w_hh"  # the weights table's metric: the largest singular value of W_hh
# Per task (the task registry's names): which loss a profile differentiates, i.e. the positions that test
# the dependency (Task.dependency_mask), and where its distance counts from. The report says it per task.
DEPENDENCY_LOSS = {
    "copy": "the cross-entropy on the recalled symbols only (not on the blanks, whose local terms would "
    "dominate and flatten the profile); distance counts back from the last recalled symbol",
    "adding": "the squared error of the sum, read at the last step; distance counts back from it",
    "recall": "the cross-entropy at the cue, where the first symbol is recalled; distance counts back from "
    "the cue",
}


def _numeric(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.dropna(subset=[c for c in cols if c not in ("grad_norm", "value")])


def _phased(p: pd.DataFrame) -> pd.DataFrame:
    """Top layer only (the readout sees it; with one layer the only one); phase 'init' is step 0, 'end' each
    run's last recorded step (when later than 0); other steps dropped."""
    p = p[p["layer"] == p.groupby("run_id")["layer"].transform("max")]
    last = p.groupby("run_id")["step"].transform("max")
    phase = np.where(p["step"] == 0, "init", np.where((p["step"] == last) & (last > 0), "end", ""))
    p = p.assign(phase=phase)
    return p[p["phase"] != ""]


def medians(main: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """Median grad_norm over seeds per (task, seq_len, arm, phase, state, distance), top layer only."""
    if profile.empty or not set(NEEDED) <= set(profile.columns):
        return pd.DataFrame()
    p = _numeric(profile[list(NEEDED)], ("step", "layer", "distance", "grad_norm"))
    p = p.merge(main[["run_id", *KEYS, CELL, TASK]], on="run_id", how="inner")
    if p.empty:
        return pd.DataFrame()
    p = _phased(p)
    g = p.groupby([*KEYS, CELL, TASK, "phase", "state", "distance"], sort=True)["grad_norm"]
    out = g.agg(median="median", n="count").reset_index()
    out["distance"] = out["distance"].astype(int)
    return sort_frame(out, extra=["phase", "state", "distance"])


def sigma_max(main: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Median sigma_max(W_hh) of the top layer over seeds per (task, seq_len, arm, phase), with the seed
    count: `sigma_max`, `sigma_n`. Empty without a weights table (runs written before it existed)."""
    need = {"run_id", "step", "layer", "metric", "value"}
    if weights is None or weights.empty or not need <= set(weights.columns):
        return pd.DataFrame(columns=[*KEYS, "phase", "sigma_max", "sigma_n"])
    w = weights[weights["metric"] == SIGMA][list(need)]
    w = _numeric(w, ("step", "layer", "value")).merge(main[["run_id", *KEYS]], on="run_id", how="inner")
    if w.empty:
        return pd.DataFrame(columns=[*KEYS, "phase", "sigma_max", "sigma_n"])
    g = _phased(w).groupby([*KEYS, "phase"], sort=True)["value"]
    return g.agg(sigma_max="median", sigma_n="count").reset_index()


def decay_fit(distance: np.ndarray, norm: np.ndarray) -> tuple[float, float, float, int]:
    """Least squares of log10(norm) against distance over the points where the norm is > 0 and finite:
    (decay rate in decades per step, i.e. minus the slope; the first and last distance fitted; the number of
    points). NaN rate with fewer than two such points."""
    d, v = np.asarray(distance, dtype=float), np.asarray(norm, dtype=float)
    ok = np.isfinite(v) & (v > 0) & np.isfinite(d)
    n = int(ok.sum())
    if n < 2 or np.ptp(d[ok]) == 0:
        lo, hi = (float(d[ok].min()), float(d[ok].max())) if n else (np.nan, np.nan)
        return np.nan, lo, hi, n
    slope = np.polyfit(d[ok], np.log10(v[ok]), 1)[0]
    return float(-slope), float(d[ok].min()), float(d[ok].max()), n


def horizon(distance: np.ndarray, norm: np.ndarray) -> float:
    """The smallest distance at which the norm is at most FALLOFF of its value at the smallest distance
    (exact zeros, i.e. underflow, count as below; relative tolerance 1e-9 so 10^-6 itself counts). NaN when it
    never falls that far within the distances given, or when there is no positive finite value to start from
    (see `ref`)."""
    order = np.argsort(np.asarray(distance, dtype=float), kind="mergesort")
    d, v = np.asarray(distance, dtype=float)[order], np.asarray(norm, dtype=float)[order]
    if not len(v) or not (np.isfinite(v[0]) and v[0] > 0):
        return np.nan
    below = np.isfinite(v) & (v <= FALLOFF * v[0] * (1 + 1e-9))
    return float(d[below.argmax()]) if below.any() else np.nan


def _one(m: pd.DataFrame) -> pd.Series:
    d, v = m["distance"].to_numpy(), m["median"].to_numpy()
    rate, lo, hi, n = decay_fit(d, v)
    zero = m.loc[m["median"] == 0, "distance"]
    return pd.Series(
        {
            "ref": v[np.argmin(d)],
            "max_distance": d.max(),
            "horizon": horizon(d, v),
            "zero_at": zero.min() if len(zero) else np.nan,
            "rate": rate,
            "fit_lo": lo,
            "fit_hi": hi,
            "fit_n": n,
        }
    )


def falloff(med: pd.DataFrame, sigma: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (task, seq_len, arm, phase, state): the norm at the scored position (`ref`), the horizon (first
    distance at most FALLOFF of it; NaN: not within `max_distance`), the first distance where the median is
    exactly 0, the fitted decay rate (decades per step) with the distances fitted, and the arm's median
    sigma_max(W_hh) at that phase (NaN without a weights table)."""
    if med.empty:
        return pd.DataFrame()
    grp = [*KEYS, CELL, TASK, "phase", "state"]
    rows = [(*key, *_one(m)) for key, m in med.groupby(grp, sort=True)]
    cols = ["ref", "max_distance", "horizon", "zero_at", "rate", "fit_lo", "fit_hi", "fit_n"]
    out = pd.DataFrame(rows, columns=[*grp, *cols])
    sigma = sigma if sigma is not None and len(sigma) else pd.DataFrame(columns=[*KEYS, "phase"])
    out = out.merge(sigma, on=[*KEYS, "phase"], how="left")
    for c in ("sigma_max", "sigma_n"):
        out[c] = pd.to_numeric(out[c], errors="coerce") if c in out.columns else np.nan
    out["_p"] = out["phase"] != "init"  # init before end
    out["_s"] = out["state"] != "h"  # h before c
    return sort_frame(out, extra=["_p", "_s", "state"]).drop(columns=["_p", "_s"])


def pascanu(fall: pd.DataFrame) -> dict[str, object]:
    """Pascanu et al. 2013's sufficient condition for the tanh RNN: sigma_max(W_hh) < 1 (tanh' <= 1) makes
    ||dL/dh_t|| vanish, at least log10(1/sigma_max) decades per step. Over the RNN's h profiles with a
    sigma_max: how many have sigma_max < 1, how many of those vanish (a horizon within the distances
    profiled) and decay at least as fast as the bound; how many with sigma_max >= 1 vanish all the same."""
    if fall.empty or "sigma_max" not in fall.columns:
        return {}
    r = fall[(fall[CELL] == "rnn") & (fall["state"] == "h") & fall["sigma_max"].notna()]
    if r.empty:
        return {}
    below_one = r["sigma_max"] < 1 - 1e-9  # an orthogonal W_hh's 1 (to rounding) is not below 1
    under, over = r[below_one], r[~below_one]
    bound = -np.log10(under["sigma_max"])
    return {
        "n": len(r),
        "under": len(under),
        "under_vanish": int(under["horizon"].notna().sum()),
        "under_bound": int((under["rate"] >= bound).sum()),
        "over": len(over),
        "over_vanish": int(over["horizon"].notna().sum()),
        "sigma_lo": float(r["sigma_max"].min()),
        "sigma_hi": float(r["sigma_max"].max()),
    }
