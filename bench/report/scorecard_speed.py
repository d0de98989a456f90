"""Claim 3 of the scorecard (the GRU has fewer operations and trains a little faster than the LSTM; the RNN
is the cheapest), from the speed tables (speed.py): FLOPs per step, time per step by device and
implementation, time to solve. Pure pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.data import CELL, IMPL, INIT_NAMES, cell_name
from bench.report.doc import integer, num
from bench.report.scorecard import MAIN_PRESET, row, split_text, unmeasured, verdict_of
from bench.report.speed import SAME, Speed, side


def setting(device: object, threads: object) -> str:
    """'cpu, 1 thread' / 'cuda'."""
    t = integer(threads)
    return str(device) + ("" if t == "–" else f", {t} thread{'' if t == '1' else 's'}")


def impl_text(impl: object, kernel: object = None) -> str:
    """'explicit (cpp)', 'fused'."""
    return str(impl) + (f" ({kernel})" if isinstance(kernel, str) and kernel not in ("", str(impl)) else "")


def step_cases(s: Speed, cell: str) -> pd.DataFrame:
    """One row per measurement of `cell`'s time per step against the LSTM's: the main comparison's (per
    setting, implementation and kernel: the median over task / length pairs, at its matched-parameter
    shapes) and the micro-benchmark's (per setting, implementation and shape, at equal hidden size). Columns:
    device, impl, sizing, ratio, what (how the case is written), cheapest (the cell had the lowest time in
    every pair with two or more cells there)."""
    rows = []
    ps = s.per_step
    for _, r in ps[ps[CELL] == cell].iterrows() if len(ps) else ():
        rows.append({
            "device": setting(r["device"], r["threads"]), "impl": str(r[IMPL]),
            "kernel": impl_text(r[IMPL], r["kernel"]), "sizing": "the main comparison's matched parameters",
            "ratio": r["ratio"], "cheapest": r["groups"] > 0 and r["cheapest"] == r["groups"], "n": r["n"],
            "low": f", cheapest in {integer(r['cheapest'])} of {integer(r['groups'])}" if r["groups"] else "",
        })  # fmt: skip
    m = s.micro
    for _, r in m[m["cell"] == cell].iterrows() if len(m) else ():
        here = m[(m["device"] == r["device"]) & (m["impl"] == r["impl"]) & (m["hidden"] == r["hidden"])]
        rows.append({
            "device": setting(r["device"], r["threads"]), "impl": str(r["impl"]), "kernel": str(r["impl"]),
            "sizing": f"equal size H{integer(r['hidden'])} T{integer(r['seq_len'])} B{integer(r['batch'])} "
            f"({r['pass']})", "ratio": r["ratio"], "cheapest": bool(r["ms"] <= here["ms"].min()), "n": 1,
            "low": "",
        })  # fmt: skip
    cols = ["device", "impl", "kernel", "sizing", "ratio", "cheapest", "n", "low"]
    d = pd.DataFrame(rows, columns=cols)
    d = d[np.isfinite(d["ratio"].astype(float))]
    if d.empty:  # no ratio to the LSTM (e.g. no LSTM ran): nothing to compare
        return d.assign(what=pd.Series(dtype=object), told=pd.Series(dtype=object))
    what = d["kernel"] + " on " + d["device"] + ", " + d["sizing"]
    many = d["n"] > 1
    n = d["n"].map(lambda k: f" (median of {integer(k)} task / length pairs")
    told = what + ": " + d["ratio"].map(lambda x: num(x, 3)) + (n + d["low"] + ")").where(many, "")
    return d.assign(what=what, told=told)


DIMS = {"device": "the device", "impl": "the implementation", "sizing": "the sizing"}


def flops_row(s: Speed) -> dict:
    """3a: the GRU's forward FLOPs per step against the LSTM's, at equal hidden size (gate blocks) and at the
    main comparison's matched-parameter shapes."""
    key = (3, "a")
    f = s.flops
    g = f[f[CELL] == "gru"] if len(f) else f
    if g.empty or g["flops_vs_lstm"].isna().all():
        return unmeasured(key, MAIN_PRESET, "no main-comparison run of both the GRU and the LSTM")
    equal, lo, hi = g["equal_hidden"].iloc[0], g["flops_vs_lstm"].min(), g["flops_vs_lstm"].max()
    d = pd.DataFrame({"sizing": ["equal hidden size", "matched parameters"], "ratio": [equal, lo]})
    d = d.assign(ok=d["ratio"] < 1 - SAME, what=d["sizing"])
    sizes = f[f[CELL].isin(["gru", "lstm"])].groupby(CELL)["hidden"]
    sizes = ", ".join(f"{cell_name(c)} {integer(v.min())}-{integer(v.max())}" for c, v in sizes)
    evidence = (
        "forward FLOPs per time step (cell registry: 2 G H (I + H) for G gate blocks), GRU / LSTM: "
        f"{num(equal, 2)} at equal hidden size; {num(lo, 3)}-{num(hi, 3)} at the main comparison's "
        f"matched-parameter shapes (hidden {sizes})"
    )
    cond = split_text(d, "ok", "fewer", "not fewer", key="what", name=str)
    return row(key, verdict_of(d, "ok", {"sizing": "the sizing"}), cond, evidence, ("speed",))


def per_step_row(s: Speed) -> dict:
    """3b: the GRU's time per training step against the LSTM's, per device, implementation and sizing."""
    key = (3, "b")
    d = step_cases(s, "gru")
    if d.empty:
        return unmeasured(key, MAIN_PRESET, "no timed runs of both the GRU and the LSTM, no micro-benchmarks")
    d = d.assign(ok=d["ratio"].map(side) == "faster")
    cond = split_text(d, "ok", "faster", "not faster", key="what", name=str)
    evidence = f"GRU time per step / LSTM's (below {num(1 - SAME)}: faster): " + "; ".join(d["told"])
    return row(key, verdict_of(d, "ok", DIMS), cond, evidence, ("speed", "cost", "microbench"))


def to_solve_row(s: Speed, main: pd.DataFrame) -> dict:
    """3c: the GRU's wall-clock time to solve against the LSTM's at the same init, per task."""
    key = (3, "c")
    t = s.to_solve
    if t.empty:
        return unmeasured(
            key, MAIN_PRESET, "no task and length where the GRU and the LSTM at one init both solved"
        )
    t = t.assign(ok=t["wall_ratio"].map(side) == "faster")
    per = t.groupby("task_label", sort=False)[["steps_ratio", "wall_ratio"]].median()
    where = sorted({setting(d, n) for d, n in zip(main["device"], main["threads"], strict=True)})
    evidence = (
        "GRU / LSTM at the same init, medians over their solved seeds, then over "
        f"{len(t)} task / length / init cases: "
        + "; ".join(
            f"{k}: steps {num(r['steps_ratio'], 2)}, wall-clock {num(r['wall_ratio'], 2)}"
            for k, r in per.iterrows()
        )
        + f" (runs on {' / '.join(where)})"
    )
    evidence += _why_faster(per)
    name = lambda i: f"{INIT_NAMES.get(i, i)} init"  # noqa: E731
    cond = split_text(t, "ok", "faster to a solve", "not faster", key="init", name=name)
    dims = {"task_label": "the task", "init": "the init"}
    return row(key, verdict_of(t, "ok", dims), cond, evidence, ("speed", "summary"))


def _why_faster(per: pd.DataFrame) -> str:
    """Where the GRU is faster to a solve, how much of its lead fewer steps make: log wall-clock ratio = log
    steps ratio + log time-per-step ratio, so the share is log(steps ratio) / log(wall-clock ratio)."""
    won = per[per["wall_ratio"].map(side) == "faster"]
    if won.empty:
        return ""
    share = np.log(won["steps_ratio"]) / np.log(won["wall_ratio"])
    said = ", ".join(f"{task} {num(100 * v, 2)}%" for task, v in share.items())
    return f"; of the GRU's lead in log wall-clock time, fewer steps make up {said} (the rest: time per step)"


def cheapest_row(s: Speed) -> dict:
    """3d: the RNN has the lowest time per step of the cells, per device, implementation and sizing."""
    key = (3, "d")
    d = step_cases(s, "rnn")
    if d.empty:
        return unmeasured(
            key, MAIN_PRESET, "no timed runs of the RNN beside a gated cell, no micro-benchmarks"
        )
    cond = split_text(d, "cheapest", "cheapest", "not always", key="what", name=str)
    evidence = "RNN time per step / LSTM's: " + "; ".join(d["told"])
    return row(key, verdict_of(d, "cheapest", DIMS), cond, evidence, ("speed", "cost", "microbench"))


def rows(s: Speed, main: pd.DataFrame) -> list[dict]:
    """Claim 3's rows: 3a FLOPs, 3b time per step, 3c time to solve (on the main comparison's devices), 3d
    the RNN the cheapest."""
    return [flops_row(s), per_step_row(s), to_solve_row(s, main), cheapest_row(s)]
