"""The reading section: a short plain-language reading generated from the report's tables (no
hand-written numbers)."""

from __future__ import annotations

import pandas as pd

from bench.report.ablations import Ablation, best_arms, clearly
from bench.report.data import CELL, CELL_INIT, IMPL, arm_name, cell_name, sort_frame
from bench.report.data import T as LEN
from bench.report.doc import integer, num, ratio
from bench.report.outcomes import COST_APART
from bench.report.profiles import FALLOFF, pascanu

MAX_PER_FACTOR = 3


def names(items: list[str]) -> str:
    """'A', 'A and B', 'A, B and C' ('' for none)."""
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def length_sentence(rows: pd.DataFrame) -> str:
    """How each cell does against chance at one task and length, e.g. 'At T=200 on adding, LSTM and GRU beat
    chance (loss 0.05 and 0.02 of chance) while RNN stays near chance (0.99 of chance).'"""
    task, T = rows["task_label"].iloc[0], integer(rows[LEN].iloc[0])
    parts = []
    for verdict, one, many, tail in (
        ("beats", "beats chance", "beat chance", ""),
        (
            "unclear",
            "is below chance but not reliably",
            "are below chance but not reliably",
            ", the 95% interval reaching chance",
        ),
        ("near", "stays near chance", "stay near chance", ""),
        ("worse", "is worse than chance", "are worse than chance", ""),
        ("none", "has no finite final loss", "have no finite final loss", None),
    ):
        g = rows[rows["verdict"] == verdict]
        if g.empty:
            continue
        who = names([arm_name(c) for c in g[CELL_INIT]])
        if tail is None:
            parts.append(f"{who} {_verb(len(g), one, many)}")
            continue
        ratios = names([ratio(r) for r in g["ratio_mean"]])
        prefix = "loss " if verdict == "beats" else ""
        parts.append(f"{who} {_verb(len(g), one, many)} ({prefix}{ratios} of chance{tail})")
    if len(parts) > 1 and (rows["verdict"] == "beats").any():
        text = parts[0] + " while " + "; ".join(parts[1:])
    else:
        text = "; ".join(parts)
    return f"At T={T} on {task}, {text}."


def task_sentence(rows: pd.DataFrame) -> str:
    """Up to which length each arm beats chance on one task."""
    task = rows["task_label"].iloc[0]
    lengths = sorted(rows[LEN].unique())
    parts = []
    for cell, g in rows.groupby(CELL_INIT, sort=False):
        ran = sorted(g[LEN])
        won = sorted(g.loc[g["verdict"] == "beats", LEN])
        if not won:
            where = "at no length"
        elif won == ran:
            where = "at every length"
        elif won == ran[: len(won)]:
            where = f"up to T={integer(won[-1])} only"
        else:
            where = "at T=" + ", ".join(integer(t) for t in won) + " only"
        if ran != lengths:
            where += " (run at T=" + ", ".join(integer(t) for t in ran) + ")"
        parts.append(f"{arm_name(cell)} beats chance {where}" if not parts else f"{arm_name(cell)} {where}")
    return f"On {task} (T = {', '.join(integer(t) for t in lengths)}): " + "; ".join(parts) + "."


def _falloff_text(r: pd.Series) -> str:
    if not r["ref"] > 0:
        return "already 0 at the scored position"
    if pd.notna(r["horizon"]):
        text = f"{integer(r['horizon'])} steps back"
    else:
        text = f"nowhere within the {integer(r['max_distance'])} steps profiled"
    if pd.notna(r["zero_at"]):
        text += f" (exactly 0, underflow, from {integer(r['zero_at'])} steps back)"
    return text


def gradient_sentences(fall: pd.DataFrame) -> list[str]:
    """Where the median ||dL/dh_t|| falls below FALLOFF of its value at the scored position, per arm, at the
    longest length profiled per task, at initialisation and at the end of training (||dL/dc_t|| for the
    LSTM); then Pascanu et al.'s condition against the RNN's profiles."""
    out = []
    if fall.empty:
        return out
    for task, t in fall.groupby("task_label", sort=False):
        for phase, when in (("init", "at initialisation"), ("end", "at the end of training")):
            p = t[t["phase"] == phase]
            if p.empty:
                continue
            T = p[LEN].max()
            p = p[p[LEN] == T]
            said: dict[str, list[str]] = {}  # same finding -> the arms it holds for
            cell_state = []
            for cell, q in p.groupby(CELL_INIT, sort=False):
                h, c = q[q["state"] == "h"], q[q["state"] == "c"]
                if len(h):
                    said.setdefault(_falloff_text(h.iloc[0]), []).append(arm_name(cell))
                if len(c):
                    cell_state.append(f"; the {arm_name(cell)}'s ||dL/dc_t||: {_falloff_text(c.iloc[0])}")
            parts = [f"{part} for {names(cells)}" for part, cells in said.items()]
            if parts:
                out.append(
                    f"On {task} at T={integer(T)}, {when}, the median ||dL/dh_t|| falls below {FALLOFF:.0e} "
                    f"of its value at the scored position {names(parts)}{''.join(cell_state)}."
                )
    said = pascanu_sentence(fall)
    return out + ([said] if said else [])


def _of(k: int, n: int, verb: str) -> str:
    """'1 of 3 decays', '2 of 3 decay'."""
    return f"{k} of {n} {verb}s" if k == 1 else f"{k} of {n} {verb}"


def pascanu_sentence(fall: pd.DataFrame) -> str:
    """One sentence: do the tanh RNN's profiles vanish as Pascanu et al.'s condition predicts?"""
    c = pascanu(fall)
    if not c:
        return ""
    under, over = c["under"], c["over"]
    below = f"below {FALLOFF:.0e} within the steps profiled"
    parts = []
    if under:
        k = c["under_bound"]
        verdict = "as the condition predicts" if k == under else f"not as it predicts for {under - k}"
        parts.append(
            f"with sigma_max < 1, {_of(k, under, 'decay')} at least that fast (fitted rate) and "
            f"{_of(c['under_vanish'], under, 'fall')} {below}, {verdict}"
        )
    if over:
        parts.append(
            "with sigma_max >= 1, where the condition predicts nothing, "
            f"{_of(c['over_vanish'], over, 'fall')} {below} all the same"
        )
    return (
        "Pascanu et al. 2013's condition for the tanh RNN (sigma_max(W_hh) < 1 suffices for vanishing "
        "gradients: the norm then falls at least log10(1/sigma_max) decades per step), against the RNN's "
        f"{c['n']} median ||dL/dh_t|| profiles (task, length, arm, initialisation / end of training; "
        f"sigma_max {num(c['sigma_lo'])}-{num(c['sigma_hi'])}): " + "; ".join(parts) + "."
    )


def _device(runs: pd.DataFrame) -> str:
    names_ = sorted(set(runs["device_name"]) - {"n/a"}) or sorted(set(runs["device"]) - {"n/a"})
    threads = sorted({integer(t) for t in runs["threads"] if pd.notna(t)})
    where = names_[0] if len(names_) == 1 else "mixed devices" if names_ else "an unrecorded device"
    return where + (f" ({threads[0]} thread{'' if threads[0] == '1' else 's'})" if len(threads) == 1 else "")


def _same_setting(df: pd.DataFrame, device: str, threads: float) -> pd.Series:
    same_threads = df["threads"].isna() if pd.isna(threads) else df["threads"] == threads
    return (df["device"] == device) & same_threads


def _one_setting(cost: pd.DataFrame) -> tuple[str, float]:
    """The device and thread count with the most runs in the cost table (medians never mix them)."""
    n = cost.groupby(list(COST_APART), dropna=False, sort=True)["n"].sum()
    return n.index[int(n.to_numpy().argmax())]


def cost_sentences(cost: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """Time per step relative to the LSTM at the longest length where the LSTM and another cell ran; and
    the explicit implementation against the fused one at the longest length where both ran (both on the
    device and thread count with the most runs)."""
    out: list[str] = []
    if cost.empty:
        return out
    device, threads = _one_setting(cost)
    cost = cost[_same_setting(cost, device, threads)]
    impl = "fused" if (cost[IMPL] == "fused").any() else sorted(cost[IMPL])[0]
    c = cost[(cost[IMPL] == impl) & cost["vs_lstm"].notna()]
    groups = c.groupby(["task_label", LEN], sort=False)[CELL].nunique()
    groups = groups[groups > 1]
    if len(groups):
        task, T = max(groups.index, key=lambda k: k[1])  # the first task in report order among the longest
        g = c[(c["task_label"] == task) & (c[LEN] == T) & (c[CELL] != "lstm")]
        g = g.drop_duplicates(CELL)  # the init does not change the cost: one arm per cell (default first)
        here = (runs["task_label"] == task) & (runs[LEN] == T) & _same_setting(runs, device, threads)
        parts = [f"{cell_name(r[CELL])} takes {num(r['vs_lstm'], 2)}x" for _, r in g.iterrows()]
        kernels = sorted({k for k in g["kernel"] if k and k != impl} | {k for k in c["kernel"] if k != impl})
        how = f"{impl} implementation" + (f", run by {', '.join(kernels)}" if kernels else "")
        out.append(
            f"Time per training step at T={integer(T)} on {task} ({how}, median over seeds, "
            f"on {_device(runs[here])}): {names(parts)} the LSTM's."
        )
    both = cost.pivot_table(
        index=["task_label", LEN, CELL_INIT], columns=IMPL, values="ms_per_step", aggfunc="first", sort=False
    )
    if {"fused", "explicit"} <= set(both.columns):
        r = (both["explicit"] / both["fused"]).dropna()
        if len(r):
            T = max(t for _, t, _ in r.index)
            task = next(k for k, t, _ in r.index if t == T)
            r = r[[k == task and t == T for k, t, _ in r.index]]
            parts = [f"{num(v, 2)}x for {arm_name(cell)}" for (_, _, cell), v in r.items()]
            out.append(
                f"At T={integer(T)} on {task}, the explicit implementation's time per step "
                f"is {names(parts)} the fused one's."
            )
    return out


def _arms(rows: pd.DataFrame, most: int = 4) -> str:
    items = [f"{r['arm']} ({ratio(r['cmp_mean'])})" for _, r in rows.head(most).iterrows()]
    if len(rows) > most:
        items.append(f"{len(rows) - most} more")
    return names(items)


def _step(step: float) -> str:
    return "" if pd.isna(step) else f" at step {integer(step)}"


def best_arm_sentences(a: Ablation) -> list[str]:
    """The best arm at the longest length the factor ran per task."""
    b = best_arms(a)
    b = b[b[LEN] == b["task_label"].map(b.groupby("task_label")[LEN].max())]
    out = []
    for (task, T), g in b.groupby(["task_label", LEN], sort=False):
        parts = [
            f"{arm_name(r[a.key])} {r['arm']} ({ratio(r['cmp_mean'])} of chance{_step(r['cmp_step'])}"
            + (f", tied with {r['tied']})" if r["tied"] else ")")
            for _, r in g.iterrows()
        ]
        out.append(
            f"Best {a.factor.title.lower()} by loss / chance at equal steps on {task} at T={integer(T)}: "
            f"{names(parts)}."
        )
    return out


def _clear_groups(a: Ablation) -> tuple[list[str], int]:
    """Per group: the arms clearly better / worse than the standard arm; and the groups with none."""
    s = sort_frame(a.stats.dropna(subset=["cmp_mean"]), extra=["cmp_mean", "arm"])
    clear, quiet = [], 0
    for (task, T, cell), g in s.groupby(["task_label", LEN, a.key], sort=False):
        std = g[g["standard"]]
        if std.empty or len(g) < 2:
            continue
        st = std.iloc[0]
        others = g[~g["standard"]]
        side = others.apply(lambda r, st=st: clearly(r, st), axis=1)
        better, worse = others[side == -1], others[side == 1].iloc[::-1]
        if better.empty and worse.empty:
            quiet += 1
            continue
        text = f"on {task} at T={integer(T)}, {arm_name(cell)} (standard {st['arm']}: "
        text += f"{ratio(st['cmp_mean'])}) does better with {_arms(better)}" if len(better) else ""
        if len(worse):
            text += "; " if len(better) else f"{ratio(st['cmp_mean'])}) does "
            text += f"worse with {_arms(worse)}"
        clear.append(text)
    return clear, quiet


def ablation_sentences(abl: dict[str, Ablation]) -> list[str]:
    """Per ablation factor: for factors that name a best arm, the best arm at the longest length per task
    (first); for the others, the arms clearly better or worse than the standard arm (95% intervals of final
    loss / chance apart) in the first few groups that have any."""
    out = [line for a in abl.values() if a.factor.best for line in best_arm_sentences(a)]
    for a in abl.values():
        if a.factor.best:
            continue
        clear, quiet = _clear_groups(a)
        title = a.factor.title
        if not clear:
            out.append(
                f"{title}: no arm is clearly better or worse than the standard arm in any of the "
                f"{quiet} task / length / arm groups (clearly: 95% intervals of loss / chance at equal steps "
                "apart)."
            )
            continue
        more = len(clear) - MAX_PER_FACTOR
        text = "; ".join(clear[:MAX_PER_FACTOR]) + (f"; and {more} more groups like this" if more > 0 else "")
        if quiet:
            text += f"; no clear difference in {quiet} other groups"
        out.append(f"{title} (loss / chance at equal steps; clearly = 95% intervals apart): {text}.")
    return out


def sentences(
    summary: pd.DataFrame,
    fall: pd.DataFrame,
    cost: pd.DataFrame,
    runs: pd.DataFrame,
    abl: dict[str, Ablation],
) -> list[str]:
    """All reading sentences, in report order: chance per task, the longest length, gradients, cost,
    ablations."""
    out = []
    for _, t in summary.groupby("task_label", sort=False):
        out.append(task_sentence(t))
        out.append(length_sentence(t[t[LEN] == t[LEN].max()]))
    return out + gradient_sentences(fall) + cost_sentences(cost, runs) + ablation_sentences(abl)
