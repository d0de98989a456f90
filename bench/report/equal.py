"""Equal steps: the eval loss and accuracy of every run in a compared group at one common training step.

Runs stop early at the solve criterion, so their final losses are at different steps and never compared.
A group's common step is the largest eval step that every run of the group reached (from the curves
table); each run's loss / chance and accuracy are read there. A diverged run does not hold the common step
back: where its curve stops before it, its loss there counts as infinite (worse than any; left out of
means, ranked last in paired tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("run_id", "eq_step", "eq_loss", "eq_ratio", "eq_acc")


def _eval_points(curves: pd.DataFrame, ids: set[str]) -> pd.DataFrame:
    """(run_id, step) -> eval loss and accuracy, numeric."""
    need = {"run_id", "step", "split", "metric", "value"}
    if curves.empty or not need <= set(curves.columns):
        return pd.DataFrame(columns=["run_id", "step", "loss", "accuracy"])
    c = curves[(curves["split"] == "eval") & curves["metric"].isin(["loss", "accuracy"])]
    c = c[c["run_id"].isin(ids)].assign(
        step=pd.to_numeric(c["step"], errors="coerce"), value=pd.to_numeric(c["value"], errors="coerce")
    )
    wide = c.pivot_table(index=["run_id", "step"], columns="metric", values="value", aggfunc="first")
    wide = wide.reindex(columns=["loss", "accuracy"]).reset_index()
    return wide[wide["loss"].notna()]


def equal_steps(runs: pd.DataFrame, curves: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """One row per run (failed runs left out): the common step of its `group` and its eval loss,
    loss / chance and accuracy there (NaN where the run has no eval curve)."""
    r = runs[runs["status"] != "failed"][["run_id", "status", "chance_loss", *group]]
    pts = _eval_points(curves, set(r["run_id"]))
    if r.empty or pts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "run_id" else float) for c in COLUMNS})
    pts = pts.merge(r, on="run_id", how="inner")
    has = r[r["run_id"].isin(set(pts["run_id"]))]
    # the runs that hold the step back: those that did not diverge (all of them if every one diverged)
    holds = has.assign(_h=has["status"] != "diverged")
    holds["_h"] |= ~holds.groupby(group, dropna=False)["_h"].transform("any")
    held = pts[pts["run_id"].isin(set(holds.loc[holds["_h"], "run_id"]))]
    n_hold = holds[holds["_h"]].groupby(group, dropna=False).size().rename("_need")
    at = held.groupby([*group, "step"], dropna=False)["run_id"].nunique().rename("_have").reset_index()
    at = at.merge(n_hold.reset_index(), on=group, how="left")
    common = at[at["_have"] == at["_need"]].groupby(group, dropna=False)["step"].max().rename("eq_step")
    out = r.merge(common.reset_index(), on=group, how="left")
    out = out.merge(pts[["run_id", "step", "loss", "accuracy"]], left_on=["run_id", "eq_step"],
                    right_on=["run_id", "step"], how="left")  # fmt: skip
    stopped = out["loss"].isna() & (out["status"] == "diverged") & out["eq_step"].notna()
    out["eq_loss"] = out["loss"].where(~stopped, np.inf)
    out["eq_ratio"] = out["eq_loss"] / out["chance_loss"]
    out["eq_acc"] = out["accuracy"]
    return out[list(COLUMNS)]
