"""The micro-benchmark ratio gates: two benchmarks of one pytest-benchmark JSON compared (one process, one
machine, minutes apart), never a time against a stored baseline, so they hold on any machine.
Limits and shapes: bench/microbench.py; `python -m bench microbench gates JSON` runs them."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.microbench import (
    EXPLICIT_LSTM_LIMIT,
    FASTPATH_GATE_SHAPES,
    FASTPATH_LIMITS,
    GATE_SHAPE,
    HARNESS_LIMIT,
    to_table,
)


@dataclass(frozen=True)
class GateResult:
    """One ratio gate: numerator / denominator (min times, seconds) against its limit."""

    gate: str
    numerator: str  # benchmark names
    denominator: str
    numerator_s: float
    denominator_s: float
    limit: float
    status: str  # "pass" | "fail" | "missing"
    message: str

    @property
    def ratio(self) -> float:
        return self.numerator_s / self.denominator_s if self.denominator_s > 0 else math.nan

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _pick(df: pd.DataFrame, **where: Any) -> pd.DataFrame:
    m = pd.Series(True, index=df.index)
    for k, v in where.items():
        m &= df[k] == v
    return df[m.fillna(False)]


def _missing(gate: str, what: str, lacking: str, limit: float) -> GateResult:
    msg = f"{gate}: MISSING: no {lacking} benchmark for {what} in this JSON"
    return GateResult(gate, "", "", math.nan, math.nan, limit, "missing", msg)


def _verdict(
    gate: str, what: str, num: tuple[str, float], den: tuple[str, float], limit: float, note: str = ""
) -> GateResult:
    (n_name, n_s), (d_name, d_s) = num, den
    ratio = n_s / d_s
    ok = bool(ratio <= limit)
    msg = (
        f"{gate}: {'PASS' if ok else 'FAIL'}: {what}: {n_name} {n_s * 1e3:.2f} ms / "
        f"{d_name} {d_s * 1e3:.2f} ms = {ratio:.3f} ({'<=' if ok else '>'} {limit:g}){note}"
    )
    return GateResult(gate, n_name, d_name, float(n_s), float(d_s), limit, "pass" if ok else "fail", msg)


def _ratio_gate(gate: str, what: str, num: pd.DataFrame, den: pd.DataFrame, limit: float) -> GateResult:
    """num's best min_s over den's best (the fastest of duplicates, e.g. interleaved rounds)."""
    if num.empty or den.empty:
        return _missing(
            gate,
            what,
            " and ".join(s for s, d in (("numerator", num), ("denominator", den)) if d.empty),
            limit,
        )
    n, d = num.loc[num["min_s"].idxmin()], den.loc[den["min_s"].idxmin()]
    return _verdict(gate, what, (str(n["name"]), n["min_s"]), (str(d["name"]), d["min_s"]), limit)


def check_gates(
    json_path: str | Path,
    explicit_lstm_limit: float = EXPLICIT_LSTM_LIMIT,
    harness_limit: float = HARNESS_LIMIT,
) -> list[GateResult]:
    """The ratio gates on one pytest-benchmark JSON (min times of that run only): explicit_lstm,
    harness_overhead, then the fast-path gates (check_fastpath_gates).

    explicit_lstm prefers the interleaved pair inside the explicit benchmark (its twin_min_s, the fused
    core timed between its rounds); without one it compares the separate fused benchmark.
    harness_overhead compares the best harness_run with the best bare_step of the same step count.
    """
    df = to_table(json_path)
    what = (
        f"explicit / fused LSTM forward+backward at H{GATE_SHAPE['hidden']} T{GATE_SHAPE['seq_len']} "
        f"B{GATE_SHAPE['batch']}"
    )
    fb = _pick(df, cell="lstm", **{"pass": "forward_backward"}, **GATE_SHAPE)
    explicit, fused = _pick(fb, impl="explicit"), _pick(fb, impl="fused")
    paired = explicit[explicit["twin_min_s"] > 0]
    if not paired.empty:
        e = paired.loc[paired["min_s"].idxmin()]
        a = _verdict(
            "explicit_lstm",
            what,
            (str(e["name"]), e["min_s"]),
            ("its fused twin", e["twin_min_s"]),
            explicit_lstm_limit,
            " (fused timed between the explicit rounds)",
        )
        if not fused.empty:  # the separate benchmarks, for the record
            f = fused["min_s"].min()
            a = replace(
                a,
                message=f"{a.message}; separate benchmarks: {e['min_s'] * 1e3:.2f} ms / "
                f"{f * 1e3:.2f} ms = {e['min_s'] / f:.3f}",
            )
    else:
        a = _ratio_gate("explicit_lstm", what, explicit, fused, explicit_lstm_limit)

    harness, bare = _pick(df, **{"pass": "harness_run"}), _pick(df, **{"pass": "bare_step"})
    steps = sorted(set(harness["steps"].dropna()) & set(bare["steps"].dropna()))
    if steps:  # compare runs of the same number of steps
        harness, bare = _pick(harness, steps=steps[-1]), _pick(bare, steps=steps[-1])
    b = _ratio_gate(
        "harness_overhead",
        f"bench.train.train / bare PyTorch loop, {int(steps[-1]) if steps else '?'} steps",
        harness,
        bare,
        harness_limit,
    )
    return [a, b, *check_fastpath_gates(df)]


def check_fastpath_gates(df: pd.DataFrame) -> list[GateResult]:
    """One gate per (shape, cell) of FASTPATH_GATE_SHAPES x FASTPATH_LIMITS: the best fast-path
    forward_backward benchmark's min time over the best time of its interleaved fused twin (twin_min_s)."""
    results = []
    for hidden, seq_len, batch in FASTPATH_GATE_SHAPES:
        shape = {"hidden": hidden, "seq_len": seq_len, "batch": batch}
        for cell, (twin, limit) in FASTPATH_LIMITS.items():
            gate = f"fastpath_{cell}_H{hidden}_T{seq_len}_B{batch}"
            what = f"fast {cell} / {twin.replace('_', ' ')} forward+backward at H{hidden} T{seq_len} B{batch}"
            rows = _pick(df, cell=cell, impl="fast", **{"pass": "forward_backward"}, **shape)
            rows = rows[(rows["twin_min_s"] > 0).fillna(False)]
            if rows.empty:
                results.append(_missing(gate, what, "fast-path (impl 'fast', with a fused twin)", limit))
                continue
            e = rows.loc[rows["min_s"].idxmin()]
            results.append(
                _verdict(
                    gate,
                    what,
                    (str(e["name"]), e["min_s"]),
                    (f"its {twin} twin", e["twin_min_s"]),
                    limit,
                    " (twin timed between the fast rounds)",
                )
            )
    return results


def gates_main(json_path: str, allow_missing: bool = False) -> int:
    """Print every gate's line; 0 when all pass (missing ones too with allow_missing), else 1."""
    try:
        results = check_gates(json_path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bad = False
    for r in results:
        print(r.message)
        bad |= r.status == "fail" or (r.status == "missing" and not allow_missing)
    return 1 if bad else 0
