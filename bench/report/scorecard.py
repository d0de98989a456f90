"""The claims scorecard, pure pandas: one row per claim of the textbook account of RNN / LSTM / GRU that the
harness tests (or per part of a claim, where its parts rest on different data), with a verdict computed
from the Analysis' tables, the condition under which it holds, the numbers behind it and the tables they
come from. A claim without runs behind it is "not measured", naming the sweep preset that measures it.

Verdicts: "supported" (holds in every case measured), "not supported" (in none), "depends on X" (it holds in
some cases and not in others, X naming what tells them apart: `verdict_of`), "not measured". This module
holds the helpers and the main study's claims (gradient profiles, critical lengths, inits); claim 3 is in
scorecard_speed.py; the claims measured by sweep presets are the preset modules' verdicts, repeated by
scorecard_presets.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from bench.report.critical import bracket
from bench.report.data import CELL, CELL_INIT, arm_name, arm_order, init_of, sort_frame
from bench.report.data import T as LEN
from bench.report.doc import num
from bench.report.preset_common import flips
from bench.report.profiles import FALLOFF

if TYPE_CHECKING:
    from bench.report.analysis import Analysis

COLUMNS = ("claim", "part", "text", "verdict", "condition", "evidence", "sources", "preset")
NOT_MEASURED = "not measured"
MAIN_PRESET = "default"  # the main study (conf/sweep/default.yaml): arms x tasks x the length ladder
# The claims, in the order of the reference list (claim number, part) -> the claim in plain words.
CLAIMS: dict[tuple[int, str], str] = {
    (1, "a"): "A vanilla (tanh) RNN's gradient vanishes back through time",
    (1, "b"): "so the RNN does not learn long dependencies",
    (2, "a"): "LSTM and GRU gates keep the gradient over long spans",
    (2, "b"): "so LSTM and GRU learn longer dependencies than the RNN",
    (3, "a"): "The GRU has fewer operations per step than the LSTM",
    (3, "b"): "The GRU takes less time per training step than the LSTM",
    (3, "c"): "The GRU trains a little faster than the LSTM (wall-clock time to solve)",
    (3, "d"): "The RNN is the cheapest cell per step",
    (4, "a"): "tanh keeps the hidden values in (-1, 1)",
    (4, "b"): "without tanh (ReLU) the hidden values blow up",
    (5, "a"): "Remedy: careful initialisation lets a cell learn longer dependencies",
    (5, "b"): "Remedy: a non-saturating activation (ReLU) helps the RNN",
    (5, "c"): "Remedy: gradient clipping contains exploding gradients (no run diverges with it)",
    (5, "d"): "Remedy: truncated backpropagation trains as well as full backpropagation",
    (6, "a"): "Stacked layers buy memory, not only parameters (better at a matched parameter count)",
    (
        6,
        "b",
    ): "A bidirectional cell solves what needs later inputs, which one direction cannot (anticipation)",
}
UNDECIDED = (
    "every comparison is undecided: both arms hold to the longest length they ran, or both fail their "
    "shortest; longer (or shorter) lengths decide"
)
# How a dimension that tells cases apart is named in "depends on ...".
DIM_WORDS = {"task_label": "the task", LEN: "the length", CELL: "the cell", "init": "the init"}


def dims_of(*cols: str) -> dict[str, str]:
    """The dimensions `cols` with their words (DIM_WORDS), for verdict_of."""
    return {c: DIM_WORDS[c] for c in cols}


def row(
    key: tuple[int, str],
    verdict: str,
    condition: str = "",
    evidence: str = "",
    sources: tuple[str, ...] = (),
    preset: str = "",
) -> dict:
    """One scorecard row (COLUMNS); `preset` names the sweep preset that measures the claim."""
    return {
        "claim": key[0], "part": key[1], "text": CLAIMS[key], "verdict": verdict, "condition": condition,
        "evidence": evidence, "sources": tuple(sources), "preset": preset,
    }  # fmt: skip


def unmeasured(key: tuple[int, str], preset: str, why: str = "") -> dict:
    """A claim without the runs it needs: `why` says what is missing (empty: no runs at all)."""
    return row(key, NOT_MEASURED, evidence=why, preset=preset)


def verdict_of(df: pd.DataFrame, ok: str, dims: dict[str, str]) -> str:
    """'supported' when `ok` holds in every row, 'not supported' in none; otherwise 'depends on' the
    dimensions (column -> word) it flips with (preset_common.flips, the preset verdicts' rule)."""
    d = df[ok].astype(bool)
    if d.all():
        return "supported"
    if not d.any():
        return "not supported"
    return "depends on " + (flips(df, ok, dims) or "the case")


def cases(df: pd.DataFrame) -> str:
    """The task / length cases of `df`: 'copy T=10, 20; adding T=10' (lengths where the frame has them)."""
    parts = []
    for task, g in df.groupby("task_label", sort=False):
        ts = sorted({int(t) for t in g[LEN]}) if LEN in g.columns else []
        parts.append(f"{task} T={', '.join(map(str, ts))}" if ts else str(task))
    return "; ".join(parts)


def split_text(
    df: pd.DataFrame,
    ok: str,
    yes: str,
    no: str,
    key: str = CELL_INIT,
    name: Callable[[str], str] = arm_name,
    always: bool = False,
) -> str:
    """Which cases hold and which do not, by `key` (an arm unless said): 'yes: RNN (copy T=50), LSTM; no:
    RNN (copy T=10, 20)' (an entry without cases: all of its cases, unless `always` names them anyway)."""
    out = []
    keys = arm_order(df[key]) if key == CELL_INIT else list(dict.fromkeys(df[key]))
    for flag, label in ((True, yes), (False, no)):
        items = []
        for k in keys:
            d = df[df[key] == k]
            hit = d[d[ok].astype(bool) == flag]
            if len(hit):
                items.append(name(k) if len(hit) == len(d) and not always else f"{name(k)} ({cases(hit)})")
        if items:
            out.append(f"{label}: {', '.join(items)}")
    return "; ".join(out)


def with_init(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its arm's init as a column (`init`: 'default', 'chrono', ...)."""
    return df.assign(init=df[CELL_INIT].map(init_of))


# --- gradient profiles (claims 1a, 2a)


def held(fall: pd.DataFrame) -> pd.DataFrame:
    """Per (task, T, arm) profiled at initialisation: whether the gradient vanishes within the sequence
    (`vanishes`: every state's median norm falls to FALLOFF of its value at the scored position within the
    distances profiled, i.e. before it reaches the sequence's first steps; the LSTM keeps it when either
    ||dL/dh_t|| or ||dL/dc_t|| does), and the slowest state's decay rate (decades / step)."""
    if fall.empty:
        return pd.DataFrame()
    f = fall[(fall["phase"] == "init") & (fall["ref"] > 0)]
    if f.empty:
        return pd.DataFrame()
    f = f.assign(_v=f["horizon"].notna())
    out = f.groupby(["task_label", LEN, CELL_INIT], sort=False).agg(
        **{CELL: (CELL, "first")}, vanishes=("_v", "all"), rate=("rate", "min"), span=("max_distance", "max")
    )
    return with_init(sort_frame(out.reset_index())).assign(keeps=lambda d: ~d["vanishes"])


def _rates(h: pd.DataFrame) -> str:
    """'RNN 0.19, RNN (orthogonal) 0.0093 decades / step' (median over the arm's profiles)."""
    med = h.groupby(CELL_INIT)["rate"].median()
    return ", ".join(f"{arm_name(a)} {num(med[a], 2)}" for a in arm_order(h[CELL_INIT])) + " decades / step"


def gradient_rows(fall: pd.DataFrame) -> list[dict]:
    """Claims 1a (the RNN's gradient vanishes) and 2a (the gated cells' does not) from the profiles at
    initialisation."""
    h = held(fall)
    out = []
    for key, sel, ok, yes, no in (
        ((1, "a"), lambda d: d[CELL] == "rnn", "vanishes", "vanishes within the sequence", "does not"),
        ((2, "a"), lambda d: d[CELL] != "rnn", "keeps", "kept over the whole sequence", "vanishes within it"),
    ):
        d = h[sel(h)] if len(h) else h
        if d.empty:
            out.append(unmeasured(key, MAIN_PRESET))
            continue
        dims = dims_of(*([CELL] if key[0] == 2 else []), "task_label", LEN, "init")
        k = int(d["vanishes"].sum())
        evidence = (
            f"median ||dL/dh_t||{' (LSTM: or ||dL/dc_t||)' if key[0] == 2 else ''} at initialisation falls "
            f"below {FALLOFF:.0e} of its "
            f"value at the scored position within the sequence in {k} of {len(d)} task / length / arm "
            f"profiles ({cases(d)}); slowest decay: {_rates(d)}"
        )
        out.append(row(key, verdict_of(d, ok, dims), split_text(d, ok, yes, no), evidence, ("gradients",)))
    return out


# --- critical lengths (claims 1b, 2b, 5a)


def reach_cmp(a: pd.Series, b: pd.Series) -> int | None:
    """+1 when arm `a` surely holds a longer dependency than `b` (critical.reach), -1 surely shorter, 0 the
    same; None when it is undecided: an arm that never failed ('>= T') may hold longer lengths it has not
    run, so its reach is only a lower bound; and two arms that both fail their shortest length ('< T') say
    nothing about long dependencies."""
    lo_a, lo_b = a["reach"], b["reach"]
    hi_a, hi_b = (r["reach"] if r["kind"] != "at_least" else float("inf") for r in (a, b))
    if a["kind"] == b["kind"] == "below":
        return None
    if lo_a > hi_b:
        return 1
    if hi_a < lo_b:
        return -1
    return 0 if lo_a == hi_a == lo_b == hi_b else None


def _against_best(c: pd.DataFrame, mine: pd.Series, ok: int) -> tuple[list[dict], list[str], list[str]]:
    """Per task, each of the arms `mine` against the best other arm there (critical.reach): rows with `ok`
    (reach_cmp == ok), the undecided ones ('LSTM (adding)'), and the critical lengths said per task."""
    rows, undecided, said = [], [], []
    for task, t in c.groupby("task_label", sort=False):
        m, o = t[mine[t.index]], t[~mine[t.index]]
        if m.empty or o.empty:
            continue
        best = o.sort_values("reach", ascending=False, kind="mergesort").iloc[0]
        text = [f"{arm_name(r[CELL_INIT])} {bracket(r, False)}" for _, r in m.iterrows()]
        said.append(
            f"{task}: {', '.join(text)}; best other {arm_name(best[CELL_INIT])} {bracket(best, False)}"
        )
        for _, r in m.iterrows():
            side = reach_cmp(r, best)
            if side is None:
                undecided.append(f"{arm_name(r[CELL_INIT])} ({task})")
            else:
                rows.append({**r.to_dict(), "ok": side == ok})
    return rows, undecided, said


def reach_rows(crit: pd.DataFrame) -> list[dict]:
    """Claims 1b (each RNN arm's critical length is shorter than the best gated arm's on the task) and 2b
    (each gated arm's is longer than the best RNN arm's)."""
    c = crit[crit["kind"] != "none"] if len(crit) else crit
    out = []
    for key, ok, yes in (
        ((1, "b"), -1, "shorter than the best gated arm's"),
        ((2, "b"), 1, "longer than the best RNN arm's"),
    ):
        mine = (c[CELL] == "rnn") if key[0] == 1 else (c[CELL] != "rnn")
        rows, undecided, said = _against_best(c, mine, ok) if len(c) else ([], [], [])
        if not rows:
            why = UNDECIDED if said else "no task ran both"
            out.append(unmeasured(key, MAIN_PRESET, why + (f" ({'; '.join(said)})" if said else "")))
            continue
        d = with_init(pd.DataFrame(rows))
        dims = dims_of("task_label", "init", *([CELL] if key[0] == 2 else []))
        cond = split_text(d, "ok", yes, "not", always=True)
        cond += f"; undecided: {', '.join(undecided)}" if undecided else ""
        evidence = "critical lengths: " + " | ".join(said)
        out.append(row(key, verdict_of(d, "ok", dims), cond, evidence, ("critical",)))
    return out


def _paired_inits(pairs: pd.DataFrame) -> str:
    """'; paired comparisons: the init clearly better in 3 of 8 task / length cases, clearly worse in 0':
    the pairs of a cell's default init (arm a) and another init of the same cell (arm b)."""
    if pairs.empty:
        return ""
    cell_a, cell_b = (pairs[x].str.split("+").str[0] for x in ("a", "b"))
    p = pairs[(pairs["a"].map(init_of) == "default") & (cell_a == cell_b)]
    if p.empty:
        return ""
    k, w = int((p["verdict"] == "b").sum()), int((p["verdict"] == "a").sum())
    return (
        f"; paired comparisons: the init clearly better in {k} of {len(p)} task / length / init cases, "
        f"clearly worse in {w}"
    )


def init_rows(crit: pd.DataFrame, pairs: pd.DataFrame, has_ablation: bool) -> list[dict]:
    """Claim 5a: each recommended init against its cell's default init, per task: a longer critical length;
    the paired comparisons (clearly better / worse at the same task and length) as further evidence."""
    key = (5, "a")
    c = with_init(crit[crit["kind"] != "none"]) if len(crit) else pd.DataFrame()
    rows, undecided, said = [], [], []
    for (task, _), t in c.groupby(["task_label", CELL], sort=False) if len(c) else ():
        base = t[t["init"] == "default"]
        if base.empty or len(t) < 2:
            continue
        b = base.iloc[0]
        for _, r in t[t["init"] != "default"].iterrows():
            side = reach_cmp(r, b)
            said.append(f"{arm_name(r[CELL_INIT])} {bracket(r, False)} vs {bracket(b, False)} ({task})")
            if side is None:
                undecided.append(f"{arm_name(r[CELL_INIT])} ({task})")
            else:
                rows.append({**r.to_dict(), "ok": side == 1})
    if not rows:
        why = f"{UNDECIDED} ({'; '.join(said)})" if said else "no cell ran two inits"
        return [unmeasured(key, f"{MAIN_PRESET},init", why)]
    d = pd.DataFrame(rows)
    cond = split_text(d, "ok", "longer critical length", "not longer", always=True)
    cond += f"; undecided: {', '.join(undecided)}" if undecided else ""
    evidence = "critical length with the init vs PyTorch's default: " + "; ".join(said)
    evidence += _paired_inits(pairs)
    sources = ("critical", "paired", *(("ablations",) if has_ablation else ()))
    dims = dims_of("task_label", CELL, "init")
    return [row(key, verdict_of(d, "ok", dims), cond, evidence, sources)]


def scorecard(a: Analysis) -> pd.DataFrame:
    """Every claim's row (COLUMNS), in claim order."""
    from bench.report import scorecard_presets, scorecard_speed

    rows = gradient_rows(a.falloff) + reach_rows(a.critical)
    rows += scorecard_speed.rows(a.speed, a.main)
    rows += scorecard_presets.rows(a)
    rows += init_rows(a.critical, a.pairs, "init" in a.ablations)
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(["claim", "part"], kind="mergesort").reset_index(drop=True)
