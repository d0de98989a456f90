"""Critical length: per task and arm, the longest T it solves on a majority of seeds (solved: the solve
criterion reached with the final loss below chance, `solved_ok`), bracketed by the first longer length it
fails. Pure pandas; the wording of one result is `bracket` ("30 -> 100", ">= 1000", "< 10").

A length an arm did not run is "not run: failed at T" when the arm solved no seed at its longest length run
T (the adaptive ladder stops an arm there, bench/ladder.py), else plain "not run" (results incomplete).
"""

from __future__ import annotations

import json

import pandas as pd

from bench.report.data import CELL, CELL_INIT, TASK, arm_order, sort_frame
from bench.report.data import T as LEN

# kind of a critical length: "bracket" (solved up to crit, fails at fail), "at_least" (never failed up to
# crit, the longest length it ran), "below" (fails its shortest length), "none" (no finished run)
COLUMNS = (
    "task_label",
    TASK,
    CELL,
    CELL_INIT,
    "kind",
    "crit",  # the critical length (NaN for below / none)
    "fail",  # the first failing length above it (NaN for at_least); for below: the shortest run
    "gaps",  # failing lengths below crit (a non-monotone ladder), ascending
    "reach",  # a rank to compare arms on one task: ladder position of crit (+0.5 when never failed)
    "lengths",  # per task length: (T, k solved, n seeds) or (T, None, failed_at / None) when not run
)


def per_length(main: pd.DataFrame) -> pd.DataFrame:
    """Per (task, arm, length): seeds run (failed runs left out), seeds solved, majority solved."""
    r = main[main["status"] != "failed"]
    g = r.groupby(["task_label", CELL_INIT, LEN], sort=True)
    out = g.agg(
        **{TASK: (TASK, "first"), CELL: (CELL, "first")}, n=("run_id", "size"), k=("solved_ok", "sum")
    )
    out = out.reset_index()
    out["majority"] = out["k"] > out["n"] / 2
    return out


def _one(d: pd.DataFrame, ladder: list[int]) -> dict:
    """The critical length of one arm on one task from its per-length rows `d` (ascending T)."""
    ran = dict(zip(d[LEN].astype(int), zip(d["k"].astype(int), d["n"].astype(int), strict=True), strict=True))
    ok = [t for t in ran if ran[t][1] and ran[t][0] > ran[t][1] / 2]
    bad = [t for t in ran if ran[t][1] and t not in ok]
    crit = max(ok) if ok else None
    above = [t for t in bad if crit is None or t > crit]
    longest = max(ran) if ran else None
    failed_at = longest if longest is not None and ran[longest][0] == 0 else None
    lengths = [
        (t, *ran[t]) if t in ran else (t, None, failed_at if t > (longest or 0) else None) for t in ladder
    ]
    if not ran:
        kind, fail = "none", None
    elif crit is None:
        kind, fail = "below", min(ran)
    else:
        kind, fail = ("bracket", min(above)) if above else ("at_least", None)
    pos = ladder.index(crit) + 1 if crit is not None else 0
    return {
        "kind": kind,
        "crit": float("nan") if crit is None else crit,
        "fail": float("nan") if fail is None else fail,
        "gaps": tuple(t for t in bad if crit is not None and t < crit),
        "reach": pos + (0.5 if kind == "at_least" else 0.0),
        "lengths": tuple(lengths),
    }


def preset_ladder(runs: pd.DataFrame) -> set[int]:
    """The lengths of the adaptive ladder the runs' preset defined for their task (preset.lengths, when
    preset.ladder is on; read from the stored config), so lengths no arm reached are still named."""
    out: set[int] = set()
    for text, task in runs[["config_json", TASK]].drop_duplicates().itertuples(index=False):
        try:
            preset = json.loads(text).get("preset") or {}
        except (TypeError, ValueError, AttributeError):
            continue
        lengths = (preset.get("lengths") or {}).get(task) if isinstance(preset, dict) else None
        if isinstance(lengths, dict) and preset.get("ladder"):
            out |= {int(v) for v in lengths.values()}
    return out


def critical(main: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, arm) of the main comparison: its critical length (COLUMNS), sorted. The lengths
    are those any arm ran on the task and those of its preset's ladder."""
    if main.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    pl = per_length(main)
    rows = []
    for task, t in pl.groupby("task_label", sort=False):
        here = main[main["task_label"] == task]
        ladder = sorted({int(x) for x in here[LEN].unique()} | preset_ladder(here))
        for arm in arm_order(t[CELL_INIT]):
            d = t[t[CELL_INIT] == arm].sort_values(LEN)
            head = {"task_label": task, TASK: d[TASK].iloc[0], CELL: d[CELL].iloc[0], CELL_INIT: arm}
            rows.append(head | _one(d, ladder))
    return sort_frame(pd.DataFrame(rows, columns=list(COLUMNS)))


def missing(crit: pd.DataFrame) -> tuple[int, int]:
    """How unfinished the study behind `crit` is: (rungs never run that no failure cut, rungs run on fewer
    seeds than the most any rung has). Both 0 for a finished study."""
    entries = [e for lengths in crit["lengths"] for e in lengths] if len(crit) else []
    seeds = max((n for _, k, n in entries if k is not None), default=0)
    unrun = sum(1 for _, k, n in entries if k is None and n is None)
    short = sum(1 for _, k, n in entries if k is not None and n < seeds)
    return unrun, short


def _t(x: object) -> str:
    """A length as the critical-length texts write it: 1000, not 1,000."""
    return str(int(float(x)))  # type: ignore[arg-type]


def bracket(r: pd.Series, detail: bool = True) -> str:
    """'30 -> 100', '>= 1000', '< 10'; with `detail`, failing lengths in between ('100 -> 300 (fails at
    30)') and lengths above an open end that were not run ('>= 100 (300, 1000 not run)') are named."""
    if r["kind"] == "none":
        return "no finished run"
    if r["kind"] == "below":
        return f"< {_t(r['fail'])}"
    if r["kind"] == "at_least":
        text = f">= {_t(r['crit'])}" + (_unrun(r) if detail else "")
    else:
        text = f"{_t(r['crit'])} -> {_t(r['fail'])}"
    if r["gaps"] and detail:
        text += f" (fails at {', '.join(_t(t) for t in r['gaps'])})"
    return text


def _unrun(r: pd.Series) -> str:
    """' (300, 1000 not run)': the lengths above an arm's critical length that it did not run."""
    later = [t for t, k, _ in r["lengths"] if k is None and t > r["crit"]]
    return f" ({', '.join(_t(t) for t in later)} not run)" if later else ""


def cell_text(entry: tuple) -> str:
    """One length of the table: '3/5' (solved / seeds), 'not run: failed at 30', 'not run'."""
    t, k, n = entry
    if k is not None:
        return f"{k}/{n}"
    return f"not run: failed at {_t(n)}" if n is not None else "not run"


def _partly(r: pd.Series) -> str:
    """' (2 of 6 seeds solved)' when the failing length was solved on some seeds, not a majority: a
    failure by the majority rule, not a total one."""
    k, n = next(((k, n) for t, k, n in r["lengths"] if t == r["fail"] and k is not None), (0, 0))
    return f" ({k} of {n} seeds solved)" if k else ""


def holds(r: pd.Series) -> str:
    """How far one arm holds the dependency, in words: 'holds to T=30 and fails at T=100'."""
    if r["kind"] == "below":
        return f"fails already at T={_t(r['fail'])}{_partly(r)}"
    if r["kind"] == "at_least":
        return f"holds to T={_t(r['crit'])}, the longest length it ran"
    if r["kind"] == "bracket":
        return f"holds to T={_t(r['crit'])} and fails at T={_t(r['fail'])}{_partly(r)}"
    return "has no finished run"
