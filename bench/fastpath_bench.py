"""Fused torch.nn cells vs the C++ fast path of the explicit cells: forward+backward time, one process.

    python -m bench microbench fastpath [--threads 1] [--shapes 64x100x32,64x1000x32] [--budget 0.5]

Per shape (H x T x B, input 10): fused LSTM / GRU / RNN and fast explicit LSTM / GRU / RNN (vanilla, tanh),
each timed as forward + backward of out.sum() with the gradients cleared, best of repeats, the six
interleaved over --rounds rounds so that drifting load hits all alike. Ratios are to the fused LSTM (and,
for the fast RNN, to the fused RNN). Then the GEMM fraction of each fast cell: the time of
bench.microbench.gemm_reference (exactly the GEMMs of the FLOP count, nothing else) over the cell's time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from torch import nn

from bench import fastpath
from bench.microbench import gemm_reference, time_min

FUSED = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
DEFAULT_VARIANT = {"lstm": "vanilla", "gru": "vanilla", "rnn": "tanh"}


def pair(cell: str, hidden: int, seq_len: int, batch: int, input_size: int = 10, dtype=torch.float32):
    """(fused fwd+bwd closure, fast fwd+bwd closure) on the same weights and input (T, B, I)."""
    torch.manual_seed(0)
    fused = FUSED[cell](input_size, hidden).to(dtype)
    x = torch.randn(seq_len, batch, input_size, dtype=dtype)
    ps = [p.detach().clone().requires_grad_() for p in fused.all_weights[0]]  # w_ih, w_hh, b_ih, b_hh

    def run_fused() -> None:
        fused.zero_grad(set_to_none=True)
        fused(x)[0].sum().backward()

    def run_fast() -> None:
        for p in ps:
            p.grad = None
        fastpath.layer(cell, DEFAULT_VARIANT[cell], x, *ps).sum().backward()

    return run_fused, run_fast


def measure(
    shapes: list[tuple[int, int, int]], budget_s: float = 0.5, rounds: int = 3, input_size: int = 10
) -> list[dict]:
    rows = []
    for H, T, B in shapes:
        fns: dict[str, Callable[[], None]] = {}
        for cell in FUSED:
            fns[f"fused_{cell}"], fns[f"fast_{cell}"] = pair(cell, H, T, B, input_size)
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(rounds):
            for k, fn in fns.items():
                best[k] = min(best[k], time_min(fn, budget_s=budget_s / rounds, min_repeats=2))
        gemm = {
            cell: time_min(gemm_reference(cell, H, input_size, T, B, backward=True), budget_s=budget_s / 2)
            for cell in FUSED
        }
        rows.append({"H": H, "T": T, "B": B, **best, **{f"gemm_{c}": s for c, s in gemm.items()}})
    return rows


def format_table(rows: list[dict]) -> str:
    cols = ["fused_lstm", "fast_lstm", "fused_gru", "fast_gru", "fused_rnn", "fast_rnn"]
    out = [
        "forward+backward, ms (ratio to fused LSTM); fast RNN also / fused RNN",
        f"{'H, T, B':>12} | " + " | ".join(f"{c:>16}" for c in cols),
    ]
    for r in rows:
        ref = r["fused_lstm"]
        cells = []
        for c in cols:
            s = f"{r[c] * 1e3:.2f} ({r[c] / ref:.2f}x)"
            if c == "fast_rnn":
                s = f"{r[c] * 1e3:.2f} ({r[c] / ref:.2f}x, {r[c] / r['fused_rnn']:.2f}r)"
            cells.append(f"{s:>16}")
        out.append(f"{r['H']:>4}, {r['T']:>4}, {r['B']:>2} | " + " | ".join(cells))
    out.append("")
    out.append("GEMM fraction (GEMM-reference time / cell time, forward+backward):")
    for r in rows:
        parts = [
            f"{c}: fast {r[f'gemm_{c}'] / r[f'fast_{c}']:.2f}, fused {r[f'gemm_{c}'] / r[f'fused_{c}']:.2f}"
            for c in FUSED
        ]
        out.append(f"  H{r['H']} T{r['T']} B{r['B']}: " + "; ".join(parts))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench microbench fastpath", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shapes", default="64x100x32,64x1000x32,128x300x64", help="HxTxB,...")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per benchmark (about)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not fastpath.available():
        print("fastpath unavailable")
        return 1
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    print(format_table(measure(shapes, args.budget, args.rounds)))
    return 0
