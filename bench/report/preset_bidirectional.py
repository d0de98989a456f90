"""The bidirectional preset's verdicts (conf/sweep/bidirectional.yaml), pure pandas.

Three claims: (1) on the anticipation variant of recall (the cue first, the symbol after the delay) a
unidirectional model is at chance by construction and a bidirectional one can solve it; (2) the backward
direction's gradient profile on anticipation vanishes as the forward direction's does on ordinary recall
(the same recurrence, run the other way: their decay rates match); (3) on ordinary tasks a bidirectional
model gains nothing over the unidirectional one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL_INIT, TASK, Prepared, T, arm_name, sort_frame
from bench.report.doc import integer, num
from bench.report.factors import flag
from bench.report.preset_common import (
    BETTER_RULE,
    FLAT_RATE,
    RATE_FACTOR,
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
    profile_rates,
    rate_text,
    rates_match,
    share,
    solves,
    verdict_rows,
)

PRESET = "bidirectional"
GROUP = ["anticipation", "task_label", TASK, T, CELL_INIT]  # an arm pair: unidirectional / bidirectional
KEYS = [*GROUP, "bi"]


def analyse(p: Prepared) -> PresetResult:
    """The preset's evidence table (per task, length, cell and direction count: outcome and decay rate per
    direction) and its three verdicts."""
    runs = of_preset(p.runs, PRESET)
    if runs.empty:
        return missing(PRESET)
    r = runs.assign(anticipation=flag(runs["task.anticipation"]), bi=flag(runs["cell.bidirectional"]))
    s = arm_stats(r, KEYS, p.curves)
    rates = profile_rates(p.profile, r, KEYS)
    rates = rates[rates["layer"] == rates.groupby(KEYS, dropna=False)["layer"].transform("max")]  # top layer
    wide = rates.pivot_table(index=KEYS, columns=["direction", "phase"], values="rate", aggfunc="first")
    wide.columns = [f"rate_{d}_{ph}" for d, ph in wide.columns]
    table = s.merge(wide.reset_index(), on=KEYS, how="left") if len(wide) else s
    for c in ("rate_forward_init", "rate_backward_init", "rate_forward_end", "rate_backward_end"):
        table[c] = table[c] if c in table.columns else np.nan
    table = sort_frame(table, extra=["anticipation", "bi"])
    rows = [_anticipation(table), _profiles(table), _ordinary(table)]
    return PresetResult(PRESET, len(runs), table, verdict_rows(PRESET, rows))


# The claims, by which the scorecard finds their verdicts (scorecard_presets.LINKS).
ANTICIPATION = "anticipation: unidirectional at chance, bidirectional solves"
PROFILES = "backward direction on anticipation vanishes like the forward one on ordinary recall"
ORDINARY = "bidirectional gains nothing on ordinary tasks"


def _pairs(table: pd.DataFrame, anticipation: bool) -> list[tuple[pd.Series, ...]]:
    """(unidirectional row, bidirectional row) per group with both arms, on anticipation or not."""
    return pairs_of(table[table["anticipation"] == anticipation], GROUP, "bi", False, True)


def _where(r: pd.Series) -> str:
    return f"{r['task_label']} T={integer(r[T])}"


def _anticipation(table: pd.DataFrame) -> tuple[str, ...]:
    pairs = _pairs(table, True)
    if not pairs:
        why = "no anticipation runs with both a unidirectional and a bidirectional arm"
        return ANTICIPATION, UNTESTED, why
    said, cases = [], []
    for uni, bi in pairs:
        at_chance = uni["verdict"] != "beats" and uni["n_solved"] == 0  # the summary's chance rule
        what = f"{arm_name(uni[CELL_INIT])} T={integer(uni[T])}"
        cases.append({"arm": uni[CELL_INIT], T: uni[T], "what": what, "chance": at_chance,
                      "solved": solves(bi), "ok": at_chance and solves(bi)})  # fmt: skip
        said.append(f"{arm_name(uni[CELL_INIT])} on {_where(uni)}: unidirectional {arm_text(uni)}, "
                    f"bidirectional {arm_text(bi)}")  # fmt: skip
    c = pd.DataFrame(cases)
    n = len(c)
    text = (
        "; ".join(said) + f". Unidirectional at chance (no seed solved, not beating chance) in "
        f"{int(c['chance'].sum())} of {n}; bidirectional solving (a majority of seeds) in "
        f"{int(c['solved'].sum())} of {n}."
    )
    verdict, depends, where = judge(c, "ok", {"arm": "the cell", T: "the length"}, "what")
    return ANTICIPATION, verdict, text, depends, where


def _profiles(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = PROFILES
    ordinary = {
        (r[TASK], r[T], r[CELL_INIT]): r for _, r in table[~table["anticipation"] & table["bi"]].iterrows()
    }
    said, checked, held = [], 0, 0
    for _, back in table[table["anticipation"] & table["bi"]].iterrows():
        fwd = ordinary.get((back[TASK], back[T], back[CELL_INIT]))
        if fwd is None:
            continue
        match = rates_match(back["rate_backward_init"], fwd["rate_forward_init"])
        end = rates_match(back["rate_backward_end"], fwd["rate_forward_end"])
        checked, held = checked + (match is not None), held + bool(match)
        said.append(
            f"{arm_name(back[CELL_INIT])} T={integer(back[T])}: backward on anticipation "
            f"{rate_text(back['rate_backward_init'])}, forward on ordinary recall "
            f"{rate_text(fwd['rate_forward_init'])} at initialisation ({_same(match)}); at the end of "
            f"training {num(back['rate_backward_end'], 2)} vs {num(fwd['rate_forward_end'], 2)} "
            f"({_same(end)})"
        )
    if not checked:
        return claim, UNTESTED, "no bidirectional runs with gradient profiles on both recall variants"
    text = "; ".join(said) + (
        f". The same vanishing (rates within a factor of {num(RATE_FACTOR)}, or both below "
        f"{num(FLAT_RATE)} in magnitude) at initialisation in {held} of {checked} cells."
    )
    return claim, share(held, checked), text


def _same(match: bool | None) -> str:
    return "no profile to compare" if match is None else "the same" if match else "different"


def _ordinary(table: pd.DataFrame) -> tuple[str, str, str]:
    claim = ORDINARY
    pairs = _pairs(table, False)
    if not pairs:
        return claim, UNTESTED, "no ordinary-task runs with both a unidirectional and a bidirectional arm"
    said, gains, worse = [], 0, 0
    for uni, bi in pairs:
        b = better(bi, uni)
        gains, worse = gains + (b < 0), worse + (b > 0)
        steps = f"; median steps to solve {integer(uni['steps_to_solve'])} vs {integer(bi['steps_to_solve'])}"
        said.append(
            f"{arm_name(uni[CELL_INIT])} on {_where(uni)}: unidirectional {arm_text(uni)}, bidirectional "
            f"{arm_text(bi)}" + (steps if uni["n_solved"] and bi["n_solved"] else "")
        )
    n = len(pairs)
    text = (
        "; ".join(said)
        + (
            f". Bidirectional better in {gains} of {n} ({BETTER_RULE}), worse in {worse}, no clear "
            f"difference in {n - gains - worse}."
        )
        + one_seed([r for pair in pairs for r in pair])
    )
    return claim, share(n - gains, n), text
