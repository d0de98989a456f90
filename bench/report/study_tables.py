"""The main study's tables as blocks: critical length per task, paired comparisons, the tuning grid and its
verdict. Formatting only: the numbers come from critical.py, paired.py and tuned.py."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bench.report.critical import bracket, cell_text
from bench.report.data import CELL_INIT, T, arm_name
from bench.report.doc import MISSING, Block, Para, Table, integer, num, plural, table
from bench.report.paired import ALPHA
from bench.report.reading import names
from bench.report.stats import min_p

CRITICAL_CAPTION = (
    "critical length per arm and, per length, seeds solved / seeds run (solved: the solve criterion "
    "reached with the final loss below chance; a majority of seeds solved counts the length as held). "
    "'not run: failed at T': the adaptive ladder did not run the arm past T, where it solved no seed."
)
TUNING_CAPTION = (
    "the tuning grid (sweep `tune`, tuning seeds only). Rule (bench.tuning.select): most seeds solved, "
    "then fewest mean steps to solve (an unsolved seed counts as the budget + 1), then the lowest mean log "
    "final loss (every unsolved run ran the full budget, so those losses are at equal steps; a diverged "
    "run's loss counts as infinite)."
)


def critical_tables(crit: pd.DataFrame) -> list[Block]:
    """One table per task: each arm's critical length and its seeds solved per length."""
    out: list[Block] = []
    for task, t in crit.groupby("task_label", sort=False):
        ladder = [e[0] for e in t["lengths"].iloc[0]]
        rows = pd.DataFrame(
            {
                "Arm": t[CELL_INIT].map(arm_name),
                "Critical length": [bracket(r) for _, r in t.iterrows()],
                **{f"T={x}": [cell_text(e[i]) for e in t["lengths"]] for i, x in enumerate(ladder)},
            }
        )
        out.append(
            table(
                rows,
                f"{task}: {CRITICAL_CAPTION}",
            )
        )
    return out


def _p(p: float) -> str:
    return MISSING if pd.isna(p) else f"{p:.3g}"


def _verdict(r: pd.Series) -> str:
    if not r["verdict"]:
        return "no clear difference"
    return f"{arm_name(r[r['verdict']])} clearly better"


def paired_table(pairs: pd.DataFrame) -> Table:
    """The paired comparisons of arms that differ in one factor (same cell, or same init)."""
    rows = pd.DataFrame(
        {
            "Task": pairs["task_label"],
            "T": pairs[T].map(integer),
            "Arm A": pairs["a"].map(arm_name),
            "Arm B": pairs["b"].map(arm_name),
            "Seeds": pairs["n"].map(integer),
            "Solved A / B": [f"{a} / {b}" for a, b in zip(pairs["solved_a"], pairs["solved_b"], strict=True)],
            "Only A / only B solved (sign test p)": [
                f"{a} / {b} ({_p(p)})"
                for a, b, p in zip(pairs["only_a"], pairs["only_b"], pairs["p_sign"], strict=True)
            ],
            "Step S": pairs["step"].map(integer),
            "Loss B / loss A at S, median (Wilcoxon p)": [
                f"{num(v)} ({_p(p)})" for v, p in zip(pairs["loss_b_over_a"], pairs["p_loss"], strict=True)
            ],
            "Median steps to solve A / B": [
                f"{integer(a)} / {integer(b)}"
                for a, b in zip(pairs["steps_a"], pairs["steps_b"], strict=True)
            ],
            "Verdict": [_verdict(r) for _, r in pairs.iterrows()],
        }
    )
    n = int(pairs["n"].max()) if len(pairs) else 0
    return table(
        rows,
        "Paired over the seeds both arms ran (a seed fixes the training batches and the eval and probe sets, "
        "so the two arms saw the same data). Sign test: exact two-sided binomial test on the seeds where "
        "exactly one arm solved. Loss: the per-seed log of loss / chance at S, the largest eval step both "
        "arms' runs reached (equal steps; a diverged run counts as infinitely bad), compared by the exact "
        "two-sided Wilcoxon signed-rank test; the ratio is the median over seeds of loss B / loss A (below "
        f"1: B lower). 'Clearly better': a test favours that arm at p < {ALPHA:g} and neither favours the "
        f"other. With {plural(n, 'seed')} the smallest p either test can give is {_p(min_p(n))}"
        + (", so no difference can be clear at this seed count." if min_p(n) >= ALPHA else "."),
    )


def tuning_tables(grid: pd.DataFrame) -> list[Block]:
    """One table per task: every arm's rates, seeds, solved, mean steps, loss; the selected rate marked."""
    out: list[Block] = []
    for task, t in grid.groupby("task.name", sort=False):
        rows = pd.DataFrame(
            {
                "Arm": t["arm"].map(arm_name),
                "lr": t["train.lr"].map(num),
                "Seeds": t["seeds"].map(integer),
                "Solved": t["solved"].map(integer),
                "Mean steps to solve": t["steps"].map(lambda v: num(v, 4)),
                "Final loss (geometric mean)": t["loss"].map(num),
                "Selected": t["selected"].map(lambda v: "selected" if v else ""),
            }
        )
        out.append(
            table(
                rows,
                f"{task}: {TUNING_CAPTION}",
            )
        )
    return out


def tuning_verdict(check: Mapping[str, object]) -> Para:
    """Whether every main-study run used its arm's selected rate, and the mismatches."""
    mismatch, untuned = list(check.get("mismatch", [])), list(check.get("untuned", []))
    n_runs, n_arms = int(check.get("runs", 0)), int(check.get("arms", 0))
    if not n_runs:
        return Para("No main-study runs to check against the tuning.")
    parts = []
    if not mismatch and not untuned:
        parts.append(
            f"Every main-study run ({plural(n_runs, 'run')} of {plural(n_arms, 'task / arm pair')}) used its "
            "arm's selected learning rate."
        )
    if mismatch:
        bad = sum(m[4] for m in mismatch)
        items = [f"{task} {arm_name(arm)}: {plural(k, 'run')} at {num(lr)}, selected {num(sel)}"
                 for task, arm, lr, sel, k in mismatch]  # fmt: skip
        parts.append(
            f"{bad} of {n_runs} main-study runs did not use their arm's selected rate: {'; '.join(items)}."
        )
    if untuned:
        items = [f"{task} {arm_name(arm)}" for task, arm in untuned]
        parts.append(f"No tuning runs for {plural(len(items), 'task / arm pair')}: {names(items)}.")
    return Para(" ".join(parts))
