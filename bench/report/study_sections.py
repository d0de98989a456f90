"""The main study's sections: critical length, paired comparisons, tuning. Each renders from the Analysis
(see sections.py, which lists every section once in SECTIONS)."""

from __future__ import annotations

import pandas as pd

from bench.report import study_tables, tuned
from bench.report.analysis import Analysis
from bench.report.critical_text import DEFINITION
from bench.report.data import arm_name
from bench.report.doc import Block, Para, num, plural
from bench.report.part import Out, Part, skip

PER_SEED_CSV = "per_seed.csv"  # written beside report.md by build.py
PAIRS_CSV = "paired.csv"


def critical_section(a: Analysis, out: Out) -> Part:
    """Critical length per task and arm, with the seeds solved at every length."""
    notes: list[str] = []
    if a.critical.empty:
        return Part([skip("critical length", "no runs in the main comparison", notes)], notes)
    intro = Para(
        DEFINITION + " The figure at the top of the report draws these; the tables give the seeds solved at "
        "every length, and say which lengths were not run."
    )
    return Part([intro, *study_tables.critical_tables(a.critical)])


def paired_section(a: Analysis, out: Out) -> Part:
    """Arms compared seed by seed: exact sign and Wilcoxon signed-rank tests; the per-seed values."""
    notes: list[str] = []
    blocks: list[Block] = [
        Para(
            "Each pair of arms that differ in one factor (two inits of one cell, or two cells at the same "
            "init) is compared at every task and length on the seeds both ran. Every pair, and every "
            "run's per-seed values (solved, steps to solve, final loss / chance, loss / chance and accuracy "
            f"at the summary's common step S), are in `{PAIRS_CSV}` and `{PER_SEED_CSV}` beside this report."
        )
    ]
    if a.pairs.empty:
        return Part([*blocks, skip("paired comparisons", "no two arms ran on common seeds", notes)], notes)
    return Part([*blocks, study_tables.paired_table(a.pairs)])


def tuning_section(a: Analysis, out: Out) -> Part:
    """Each arm's learning-rate grid with the selected rate, and whether the main runs used it."""
    notes: list[str] = []
    if a.tuning.empty:
        return Part([skip("tuning grid", "no tuning runs (sweep `tune`) in these results", notes)], notes)
    blocks: list[Block] = [
        Para(
            "Each arm's learning rate was chosen on tuning seeds the main study never uses, by one rule for "
            "every arm (`python -m bench tune`, bench/tuning.py). The tables are its grid, recomputed here "
            "from the tuning runs with the same rule."
        ),
        study_tables.tuning_verdict(a.tuning_check),
        *_edge_note(a.tuning),
        *study_tables.tuning_tables(a.tuning),
    ]
    return Part(blocks)


def _edge_note(grid: pd.DataFrame) -> list[Block]:
    """One paragraph naming the arms whose selected rate is at an edge of their grid (tuned.edges)."""
    found = tuned.edges(grid)
    if not found:
        return []
    by_side: dict[str, list[str]] = {}
    ties = []
    for task, arm, lr, side, tied in found:
        by_side.setdefault(f"{side} edge ({num(lr)})", []).append(f"{task} {arm_name(arm)}")
        if len(tied) > 1:  # the rule's last criterion, the loss, alone picked the edge
            ties.append(f"{task} {arm_name(arm)}: {', '.join(num(x) for x in tied)}")
    said = "; ".join(f"at the {side}: {', '.join(arms)}" for side, arms in by_side.items())
    tie = (
        f" Rates that tie with the pick on seeds solved and steps to solve ({'; '.join(ties)}): the lowest "
        "final loss alone chose the edge among them, and results at other lengths may differ between them."
        if ties
        else ""
    )
    return [
        Para(
            f"*Tuning not settled for {plural(len(found), 'arm')}:* the selected rate is the grid's own "
            f"edge ({said}), so a better rate may lie outside the grid, and these arms' results hold for "
            f"the grid as tuned, not for their best rate.{tie}"
        )
    ]
