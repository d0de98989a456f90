"""The speed section (is the GRU faster than the LSTM?): the table of FLOPs, time per step and time to solve
per arm, and its reading in sentences generated from the speed tables (speed.py); the verdicts are the
scorecard's claim 3 (scorecard_speed.py). Formatting only."""

from __future__ import annotations

import pandas as pd

from bench.report.analysis import Analysis
from bench.report.data import CELL, CELL_INIT, arm_name, cell_name
from bench.report.data import T as LEN
from bench.report.doc import MISSING, Block, Bullets, Para, Table, integer, num, table
from bench.report.part import Part, skip
from bench.report.scorecard_speed import impl_text, setting
from bench.report.speed import GATES, SAME, Speed, side

INTRO = (
    "Does the GRU's smaller cell (3 gate blocks to the LSTM's 4) make it faster? Per arm of the main "
    "comparison at its own shapes: the forward FLOPs of one time step of the core per sequence (the cell "
    "registry's count, 2 G H (I + H) for G gate blocks, input size I, hidden size H; training costs about "
    "3x), the measured time per training step of the fused (torch.nn) and of the explicit implementation "
    "where runs of each exist, and the median steps and wall-clock seconds to solve over the solved seeds. "
    "Times are medians over seeds and never pool devices or thread counts."
)
RATIO_GRU, RATIO_RNN = (GATES[c] / GATES["lstm"] for c in ("gru", "rnn"))  # FLOPs at equal hidden size


def _ms(ms: object, vs: object, kernel: object = None) -> str:
    """'6.61 (1x)', '5.1 (0.77x) [cpp]'."""
    if pd.isna(ms):
        return MISSING
    return f"{num(ms)} ({num(vs, 2)}x)" + (
        f" [{kernel}]" if isinstance(kernel, str) and kernel != "explicit" else ""
    )


def _col(t: pd.DataFrame, fn, *cols: str) -> list[str]:  # noqa: ANN001 - a formatter of one row's values
    return [fn(*v) for v in zip(*(t[c] for c in cols), strict=True)]


def speed_table(t: pd.DataFrame) -> Table:
    """One row per arm, task, length and device."""
    rows = pd.DataFrame(
        {
            "Task": t["task_label"],
            "T": t[LEN].map(integer),
            "Arm": t[CELL_INIT].map(arm_name),
            "Device": _col(
                t, lambda d, n: setting(d, n) if isinstance(d, str) else MISSING, "device", "threads"
            ),
            "Hidden": t["hidden"].map(integer),
            "FLOPs / step (× LSTM)": _col(
                t, lambda f, v: f"{integer(f)} ({num(v, 3)}x)", "flops", "flops_vs_lstm"
            ),
            "Fused ms / step (× LSTM)": _col(t, _ms, "fused_ms", "fused_vs_lstm"),
            "Explicit ms / step (× LSTM)": _col(t, _ms, "explicit_ms", "explicit_vs_lstm", "explicit_kernel"),
            "Solved": _col(t, lambda k, n: f"{integer(k)}/{integer(n)}", "n_solved", "n"),
            "Steps to solve": t["steps_to_solve"].map(integer),
            "Wall s to solve": t["wall_s_to_solve"].map(num),
        }
    )
    return table(
        rows,
        "FLOPs / step: forward FLOPs of one time step of the core per sequence (gate GEMMs, cell registry). "
        "× LSTM: against the LSTM at the same task and length (its default init where it ran; the init does "
        "not change the cost); in brackets the code that ran the explicit cell (cpp: the C++ fast path). "
        "Steps and wall s to solve: median over the solved seeds.",
    )


def flop_sentence(s: Speed) -> str:
    """The FLOP ratios at equal hidden size and at the main comparison's shapes."""
    f = s.flops
    parts = [
        f"{cell_name(c)} {num(d['flops_vs_lstm'].min(), 3)}-{num(d['flops_vs_lstm'].max(), 3)}x"
        for c in ("gru", "rnn")
        if len(d := f[f[CELL] == c])
    ]
    g = f.loc[f[CELL] == "gru", "flops_vs_lstm"]
    same = len(g) and (g.map(side) == "same").all()
    return (
        f"FLOPs: at equal hidden size a GRU step does {num(RATIO_GRU, 2)}x the LSTM's gate FLOPs and an RNN "
        f"step {num(RATIO_RNN, 2)}x; at the main comparison's matched parameter count the hidden sizes "
        f"differ and the ratios are {', '.join(parts)} (over the tasks)"
        + (": matched parameters make matched FLOPs." if same else ".")
    )


def _main_step(g: pd.DataFrame, impl: str, kernel: object, where: str) -> str:
    """One sentence on the main comparison's time per step against the LSTM's on one setting."""
    parts = [
        f"{cell_name(r[CELL])} {num(r['ratio'], 2)}x ({num(r['lo'], 2)}-{num(r['hi'], 2)})"
        for _, r in g[g[CELL] != "lstm"].iterrows()
    ]
    rnn = g[g[CELL] == "rnn"]
    low = ""
    if len(rnn):
        k, n = integer(rnn["cheapest"].iloc[0]), integer(rnn["groups"].iloc[0])
        low = f"; the RNN is the cheapest cell in {k} of {n} task / length pairs"
    return (
        f"Time per training step in the main comparison ({impl_text(impl, kernel)} on {where}; median over "
        f"task / length pairs, range in brackets) against the LSTM's: {', '.join(parts)}{low}."
    )


def step_sentences(s: Speed) -> list[str]:
    """Time per step against the LSTM's: the main comparison per device and implementation, then the
    micro-benchmark at equal size; and what the fused cells on CPU show against the FLOPs."""
    out = []
    p, m = s.per_step, s.micro
    by = ["device", "threads", "cell.impl", "kernel"]
    for (dev, th, impl, kernel), g in p.groupby(by, sort=False, dropna=False) if len(p) else ():
        out.append(_main_step(g, impl, kernel, setting(dev, th)))
    by = ["device", "threads", "pass", "hidden", "seq_len", "batch"]
    for (dev, th, pass_, h, t, b), g in m.groupby(by, sort=False) if len(m) else ():
        parts = [
            f"{r['impl']} {cell_name(r['cell'])} {num(r['ratio'], 3)}x ({num(r['ms'])} ms)"
            for _, r in g[g["cell"] != "lstm"].iterrows()
        ]
        out.append(
            f"Micro-benchmark at equal size (hidden {integer(h)}, T {integer(t)}, batch {integer(b)}, "
            f"{pass_}, {setting(dev, th)}) against the LSTM of the same implementation: {', '.join(parts)}; "
            f"the FLOPs say GRU {num(RATIO_GRU, 2)}x, RNN {num(RATIO_RNN, 2)}x."
        )
        out += _fused_cpu(g, dev)
    return out


def _fused_cpu(g: pd.DataFrame, device: str) -> list[str]:
    """Whether the fused GRU on CPU gets the speed its FLOPs promise (said from the micro-benchmark)."""
    fused = g[(g["impl"] == "fused") & (g["cell"] == "gru")]
    if str(device) != "cpu" or fused.empty:
        return []
    r = fused.iloc[0]
    told = f"{num(r['ratio'], 3)}x the LSTM's time for {num(r['flop_ratio'], 2)}x its FLOPs"
    if r["ratio"] <= r["flop_ratio"] * (1 + SAME):
        return [f"On CPU the fused GRU's time follows its FLOPs ({told})."]
    how = "no faster per step" if side(r["ratio"]) != "faster" else "faster per step, by less than its FLOPs"
    return [
        f"So on CPU the fused GRU's fewer FLOPs do not buy their speed: {how} ({told}). PyTorch runs the "
        "fused fp32 nn.LSTM on CPU through oneDNN, nn.GRU as its own per-step loop."
    ]


def solve_sentence(s: Speed) -> str:
    """The GRU against the LSTM at the same init on the way to a solve, per task."""
    t = s.to_solve
    if t.empty:
        return "To a solve: no task and length where the GRU and the LSTM at one init both solved seeds."
    per = t.groupby("task_label", sort=False).agg(
        steps=("steps_ratio", "median"), wall=("wall_ratio", "median"), n=("wall_ratio", "size")
    )
    parts = [
        f"on {k} {num(r['steps'], 2)}x the steps, {num(r['wall'], 2)}x the wall-clock ({integer(r['n'])})"
        for k, r in per.iterrows()
    ]
    return (
        "To a solve (the GRU against the LSTM at the same init, each the median over its solved seeds; in "
        f"brackets the task / length / init cases where both solved): {'; '.join(parts)}."
    )


def gpu_sentence(runs: pd.DataFrame, mb: pd.DataFrame | None) -> str:
    """What the GPU shows, or that the results hold no GPU run."""
    devices = {str(d) for d in runs["device"]}
    if mb is not None and "device" in mb.columns:
        devices |= {str(d) for d in mb["device"].dropna()}
    gpu = sorted(d for d in devices if d.startswith("cuda"))
    if not gpu:
        return "No GPU runs (device cuda) in these results or micro-benchmarks: the GPU is not measured here."
    return f"GPU runs ({', '.join(gpu)}): the sentences and rows above that name that device."


def speed_part(a: Analysis, scorecard_ref: str) -> Part:
    """GRU vs LSTM speed: the table, its reading, and the scorecard's verdicts on claim 3 (the scorecard is
    `scorecard_ref`, e.g. 'section 2'; empty when the report has no scorecard section)."""
    notes: list[str] = []
    s = a.speed
    if s.table.empty:
        return Part([skip("speed comparison", "no runs in the main comparison", notes)], notes)
    said = [flop_sentence(s), *step_sentences(s), solve_sentence(s), gpu_sentence(a.runs, a.microbench)]
    blocks: list[Block] = [Para(INTRO), speed_table(s.table), Bullets(tuple(said))]
    card = a.scorecard
    c3 = card[card["claim"] == 3] if len(card) else card
    if len(c3):
        told = [
            f"3{r['part']}. {r['text']}: **{r['verdict']}**"
            + (f" ({r['condition']})" if r["condition"] else "")
            for _, r in c3.iterrows()
        ]
        where = f", {scorecard_ref}" if scorecard_ref else ""
        blocks += [Para(f"Verdicts (the claims scorecard{where}, claim 3):"), Bullets(tuple(told))]
    return Part(blocks, notes)
