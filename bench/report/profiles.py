"""Gradient profiles: median ||dL/dh_t|| (and ||dL/dc_t||) over seeds by distance from the scored position,
at initialisation and at the end of training, and where each profile falls off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, KEYS, TASK, sort_frame

FALLOFF = 1e-6  # "has vanished": below this fraction of the norm at the scored position
NEEDED = ("run_id", "step", "layer", "distance", "state", "grad_norm")


def medians(main: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """Median grad_norm over seeds per (task, seq_len, arm, phase, state, distance), top layer only.
    phase 'init' is step 0; 'trained' is each run's last profiled step (when later than 0)."""
    if profile.empty or not set(NEEDED) <= set(profile.columns):
        return pd.DataFrame()
    p = profile[list(NEEDED)].copy()
    for c in ("step", "layer", "distance", "grad_norm"):
        p[c] = pd.to_numeric(p[c], errors="coerce")
    p = p.dropna(subset=["step", "layer", "distance"])
    p = p.merge(main[["run_id", *KEYS, CELL, TASK]], on="run_id", how="inner")
    if p.empty:
        return pd.DataFrame()
    by_run = p.groupby("run_id")
    # The readout sees the top layer; with one layer this is the only one.
    p = p[p["layer"] == by_run["layer"].transform("max")]
    last = p.groupby("run_id")["step"].transform("max")
    p["phase"] = np.where(p["step"] == 0, "init", np.where((p["step"] == last) & (last > 0), "trained", ""))
    p = p[p["phase"] != ""]
    g = p.groupby([*KEYS, CELL, TASK, "phase", "state", "distance"], sort=True)["grad_norm"]
    out = g.agg(median="median", n="count").reset_index()
    out["distance"] = out["distance"].astype(int)
    return sort_frame(out, extra=["phase", "state", "distance"])


def falloff(med: pd.DataFrame) -> pd.DataFrame:
    """Per (task, seq_len, cell, phase, state): the norm at the scored position, the first distance where the
    median falls below FALLOFF of it, the first distance where it is exactly 0, and the distances profiled."""
    if med.empty:
        return pd.DataFrame()
    grp = [*KEYS, CELL, TASK, "phase", "state"]
    m = med.sort_values([*grp, "distance"], kind="mergesort")
    g = m.groupby(grp, sort=True)
    ref = g["median"].transform("first")
    rel = m["median"] / ref.where(ref > 0)
    out = g.agg(ref=("median", "first"), max_distance=("distance", "max"))
    out["falls_at"] = m[rel < FALLOFF].groupby(grp)["distance"].min().reindex(out.index)
    out["zero_at"] = m[m["median"] == 0].groupby(grp)["distance"].min().reindex(out.index)
    out = out.reset_index()
    out["_s"] = out["state"] != "h"  # h before c
    return sort_frame(out, extra=["phase", "_s", "state"]).drop(columns="_s")
