"""The headline's paragraph: the critical lengths read in words, each result with its dependence on the
initialisation, generated from the critical-length table (critical.py); no hand-written numbers."""

from __future__ import annotations

import pandas as pd

from bench.report.critical import bracket, holds
from bench.report.data import CELL, CELL_INIT, INIT_NAMES, arm_name, arm_order, cell_name, init_of
from bench.report.reading import names

DEFINITION = (
    "Critical length: the longest T an arm solves on a majority of seeds (the solve criterion reached with "
    "the final loss below chance), bracketed by the first longer length it fails ('30 -> 100'; '>= T': it "
    "never failed up to the longest length it ran; '< T': it fails its shortest)."
)
CHRONO = (
    "Chrono is a prior that knows the lag: its gate biases are drawn from the task's dependency length "
    "(Tallec & Ollivier 2018; in this harness T_max = 1.5 x the task's longest lag, bench/model.py), so "
    "a result that holds only with chrono was told the lag it had to bridge."
)


def _init(arm: str) -> str:
    init = init_of(arm)
    return INIT_NAMES.get(init, init)


def _compare(rows: pd.DataFrame) -> tuple[list, list, list]:
    """One cell's tasks where its best recommended arm beats / matches / trails its default-init arm:
    lists of (task, default row, best recommended row)."""
    better, same, worse = [], [], []
    for task, t in rows.groupby("task_label", sort=False):
        d, rec = t[t[CELL_INIT] == t[CELL]], t[t[CELL_INIT] != t[CELL]]
        if d.empty or rec.empty:
            continue
        best = rec.sort_values("reach", ascending=False, kind="mergesort").iloc[0]
        gain = best["reach"] - d.iloc[0]["reach"]
        (better if gain > 0 else worse if gain < 0 else same).append((task, d.iloc[0], best))
    return better, same, worse


def cell_sentence(rows: pd.DataFrame) -> tuple[str, bool]:
    """One cell's results against its init, and whether any recommended init lengthened a critical length."""
    cell = rows[CELL].iloc[0]
    who = cell_name(cell)
    inits = names([_init(a) for a in arm_order(rows[CELL_INIT]) if a != cell])
    better, same, worse = _compare(rows)
    if not (better or same or worse):
        arms = "; ".join(
            f"{arm_name(r[CELL_INIT])} {bracket(r)} on {r['task_label']}" for _, r in rows.iterrows()
        )
        return f"{who}: {arms} (no default / recommended pair to compare).", False
    parts = [
        f"at PyTorch's default init the {who} {holds(d)} on {task}, with {_init(b[CELL_INIT])} it {holds(b)}"
        for task, d, b in better
    ]
    if worse:
        parts += [
            f"on {task} {_init(b[CELL_INIT])} does worse ({bracket(b)} against {bracket(d)} at the default)"
            for task, d, b in worse
        ]
    if same:
        tasks = names([f"{task} ({bracket(d)})" for task, d, _ in same])
        parts.append(f"the same critical length with and without {inits} on {tasks}")
    head = f"The {who} depends on its init: " if better else f"The {who} does not gain from {inits}: "
    return head + "; ".join(parts) + ".", bool(better)


def _top(rows: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The longest-holding arm of `rows` and the names of every arm tied with it."""
    best = rows.sort_values("reach", ascending=False, kind="mergesort").iloc[0]
    tied = rows[rows["reach"] == best["reach"]]
    return best, [arm_name(a) for a in arm_order(tied[CELL_INIT])]


def task_sentence(t: pd.DataFrame) -> str | None:
    """On one task: the longest critical length at PyTorch's default init against the longest overall."""
    task = t["task_label"].iloc[0]
    if (t["kind"] == "below").all():
        shortest = names(sorted({str(int(v)) for v in t["fail"]}, key=float))
        return f"On {task} no arm solves its shortest length (T={shortest})."
    d = t[t[CELL_INIT] == t[CELL]]
    if d.empty:
        return None
    (bd, nd), (ba, na) = _top(d), _top(t)
    if ba["reach"] <= bd["reach"]:
        return (
            f"On {task} the longest critical length, {bracket(bd)}, needs no recommended init: {names(na)}."
        )
    return (
        f"On {task} the longest critical length at PyTorch's default init is {bracket(bd)}, by {names(nd)}; "
        f"with the recommended inits it is {bracket(ba)}, by {names(na)}."
    )


def gates_sentence(crit: pd.DataFrame) -> str | None:
    """Do the gates help by existing? Each gated cell's PyTorch-default arm against the RNN's default arm,
    task by task (ladder reach): longer, the same, shorter. None without an RNN or a gated default arm."""
    rnn = crit[crit[CELL_INIT] == "rnn"].set_index("task_label")["reach"]
    if rnn.empty:
        return None
    said = []
    for cell in arm_order(crit[CELL]):
        d = crit[(crit[CELL_INIT] == cell) & (crit[CELL] != "rnn")].set_index("task_label")["reach"]
        tasks = [t for t in d.index if t in rnn.index]
        if not tasks:
            continue
        by = {k: [t for t in tasks if _side(d[t], rnn[t]) == v] for k, v in SIDES.items()}
        who = cell_name(cell)
        if len(by["longer"]) == len(tasks):
            said.append(f"the {who} holds longer than the RNN on every task ({names(tasks)}): its gates help "
                        "without a recommended init")  # fmt: skip
            continue
        both_fail = [t for t in by["same"] if d[t] == 0]  # reach 0: both fail their shortest length
        by["same"] = [t for t in by["same"] if t not in both_fail]
        parts = [f"{SIDES_TEXT[k]} the RNN on {names(v)}" for k, v in by.items() if v]
        parts += [f"fails its shortest length on {names(both_fail)}, as the RNN does"] if both_fail else []
        said.append(f"the {who} {'; '.join(parts)}")
    if not said:
        return None
    return "At PyTorch's default init for both: " + "; ".join(said) + "."


SIDES = {"longer": 1, "same": 0, "shorter": -1}  # a gated default arm's reach against the RNN's
SIDES_TEXT = {"longer": "holds longer than", "same": "holds as long as", "shorter": "breaks sooner than"}


def _side(a: float, b: float) -> int:
    return int(a > b) - int(a < b)


def rate_sentence(main: pd.DataFrame, edges: int = 0) -> str | None:
    """The learning-rate choice the results depend on: each arm's own tuned rate, its range per cell, and
    how many picks are an edge of the tuning grid (tuned.edges)."""
    if main.empty or "train.lr" not in main.columns:
        return None
    ranges = []
    for cell in arm_order(main[CELL]):
        lr = main.loc[main[CELL] == cell, "train.lr"].astype(float)
        lo, hi = lr.min(), lr.max()
        ranges.append(f"{cell_name(cell)} {lo:g}" + (f"-{hi:g}" if hi > lo else ""))
    edge = f"; {edges} of the picks are an edge of the tuning grid, so not settled" if edges else ""
    return (
        f"Each arm ran at its own tuned Adam learning rate (per task and init: {', '.join(ranges)}{edge}): "
        "each critical length holds at that rate."
    )


def paragraph(crit: pd.DataFrame, main: pd.DataFrame | None = None, edges: int = 0) -> str:
    """The headline's paragraph (one string): definition, per task the best arm with and without a
    recommended init, per cell its dependence on init, the gated cells at default init against the RNN,
    the learning rates the results hold at (with `main`), the chrono caveat."""
    if crit.empty:
        return ""
    out = [DEFINITION]
    out += [s for _, t in crit.groupby("task_label", sort=False) if (s := task_sentence(t))]
    out += [cell_sentence(crit[crit[CELL] == cell])[0] for cell in arm_order(crit[CELL])]
    out += [s for s in (gates_sentence(crit), rate_sentence(main, edges) if main is not None else None) if s]
    if any(init_of(a) == "chrono" for a in crit[CELL_INIT]):
        out.append(CHRONO)
    return " ".join(out)
