"""`python -m bench tune [overrides]`: the main study's learning rates from an equal tuning budget.

Runs the `tune` preset (every arm of conf/sweep/_study.yaml, the same log grid of rates, tuning seeds the
main runs never use), then picks each arm's rate from its runs and writes them to
conf/sweep/_tuned_lr.yaml, which the study's presets read as `preset.lr.<task>.<cell>.<init>`. The rule
(`select`): most seeds solved, then fewest mean steps to solve (an unsolved seed counts as the budget + 1),
then the lowest mean log final eval loss. Unsolved runs all ran the full step budget, so the losses
compared are at equal steps. The report's tuning section shows the grid and checks the main runs against
this selection.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from bench.config import CONF_DIR

TUNE_PRESET = "tune"
TUNED_FILE = CONF_DIR / "sweep" / "_tuned_lr.yaml"
ARM = ["task.name", "cell.name", "init"]
MISSING = ("", "n/a", "None", "nan", "<NA>")  # how a missing label or field reads once it is text


def init_label(forget_bias: object, recurrent_init: object) -> str:
    """The study's name of a cell's initialisation from its spec fields (conf/sweep/_study.yaml's
    preset.inits): 'default', 'fb1', 'chrono', 'orthogonal', or parts joined as in 'fb2+identity'."""
    parts = []
    if str(forget_bias) == "chrono":
        parts.append("chrono")
    else:
        try:
            v = float(forget_bias)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            v = math.nan
        if not math.isnan(v) and v != 0:
            parts.append(f"fb{v:g}")
    if str(recurrent_init) not in ("default", *MISSING):
        parts.append(str(recurrent_init))
    return "+".join(parts) or "default"


def arm_inits(runs: pd.DataFrame) -> pd.Series:
    """Each run's init label: the one its preset recorded (`init`), else init_label of its cell fields
    (runs written without the label: the main study's, and tuning runs of some versions)."""
    none = pd.Series(None, index=runs.index, dtype=object)
    fields = zip(runs.get("cell.forget_bias", none), runs.get("cell.recurrent_init", none), strict=True)
    derived = pd.Series([init_label(fb, rec) for fb, rec in fields], index=runs.index, dtype=object)
    if "init" not in runs.columns:
        return derived
    recorded = runs["init"].astype(object)
    return recorded.where(recorded.notna() & ~recorded.astype(str).isin(MISSING), derived)


def scores(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (arm, rate) of the tuning runs: seeds, solved, mean steps to solve, mean log loss,
    and `rank` within the arm (1 = selected)."""
    r = runs[(runs["sweep"] == TUNE_PRESET) & runs["status"].isin(["ok", "diverged"])].copy()
    if r.empty:
        return pd.DataFrame(columns=[*ARM, "train.lr", "seeds", "solved", "steps", "log_loss", "rank"])
    r["init"] = arm_inits(r)
    budget = r["train.steps"].astype(float) + 1
    r["steps_or_budget"] = r["steps_to_solve"].astype(float).where(r["solved"].astype(bool), budget)
    # a diverged run's loss is not a loss at the budget: it counts as worse than any finite one
    loss = r["final_loss"].astype(float).where(r["status"] == "ok", math.inf)
    r["log_loss"] = loss.clip(lower=1e-12).map(math.log)
    g = r.groupby([*ARM, "train.lr"], dropna=False)
    out = g.agg(
        seeds=("seed", "size"),
        solved=("solved", "sum"),
        steps=("steps_or_budget", "mean"),
        log_loss=("log_loss", "mean"),
    ).reset_index()
    out = out.sort_values([*ARM, "solved", "steps", "log_loss"], ascending=[True] * 3 + [False, True, True])
    out["rank"] = out.groupby(ARM, dropna=False).cumcount() + 1
    return out.reset_index(drop=True)


def select(runs: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """{task: {cell: {init: lr}}}: each arm's rate by the rule above."""
    best = scores(runs)
    best = best[best["rank"] == 1]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for row in best.itertuples(index=False):
        task, cell, init, lr = row[0], row[1], row[2], row[3]
        table.setdefault(task, {}).setdefault(cell, {})[init] = float(lr)
    return table


def tuned_yaml(table: dict[str, dict[str, dict[str, float]]], source: str) -> str:
    """The _tuned_lr.yaml text for `table`."""
    lines = [
        "# @package _global_",
        "# Written by `python -m bench tune` (bench/tuning.py) from the tuning runs in " + source + ":",
        "# each arm's learning rate (task -> cell -> init), selected on tuning seeds by bench.tuning.select.",
        "# Do not edit by hand: rerun `python -m bench tune` (it resumes) to regenerate it.",
        "preset:",
        "  lr:",
    ]
    for task in sorted(table):
        lines.append(f"    {task}:")
        for cell in sorted(table[task]):
            inner = ", ".join(f"{init}: {lr:g}" for init, lr in sorted(table[task][cell].items()))
            lines.append(f"      {cell}: {{{inner}}}")
    return "\n".join(lines) + "\n"


def main(args: list[str]) -> int:
    from bench.results import load_results
    from bench.sweep import main as sweep_main
    from bench.sweep import plan

    rc = sweep_main([TUNE_PRESET, *args])
    if rc == 2:
        return rc
    p = plan([TUNE_PRESET, *args])
    if p.problems or not p.specs:  # the sweep above planned the same grid: only a change meanwhile does this
        print(f"error: the tuning grid no longer plans: {(p.problems or ['no jobs'])[0]}", file=sys.stderr)
        return 2
    results_dir = p.specs[0].settings.results_dir
    runs = load_results(results_dir, warn=False).runs
    wanted = {j.run_id for j in p.specs}
    runs = runs[runs["run_id"].isin(wanted)]
    table = select(runs)
    arms = {(j.spec.task.name, j.spec.cell.name, j.settings.init) for j in p.specs}
    missing = sorted(a for a in arms if a[2] not in table.get(a[0], {}).get(a[1], {}))
    if missing:
        print(f"error: no complete tuning runs for {len(missing)} arm(s), e.g. {missing[0]}: rerun to resume")
        return 1
    text = tuned_yaml(table, str(results_dir))
    old = TUNED_FILE.read_text() if TUNED_FILE.exists() else ""
    Path(TUNED_FILE).write_text(text)
    print(f"tune: {len(arms)} arms -> {TUNED_FILE} ({'unchanged' if old == text else 'written'})")
    return rc
