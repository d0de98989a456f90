"""Is the GRU faster than the LSTM? The numbers behind claim 3 of the scorecard, pure pandas: per arm of the
main comparison at its own shapes, the forward FLOPs per time step (from the cell registry), the measured
time per training step of the fused and the explicit implementation (the cost table), and the steps and
wall-clock seconds to solve (the summary); then the ratios a verdict reads: time per step against the LSTM
per device and implementation, the micro-benchmark's cells at equal shapes, and the GRU against the LSTM at
the same init on the way to a solve. No formatting here (speed_text.py)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.cells import CELL_DEFS
from bench.report.data import CELL, CELL_INIT, IMPL, KEYS, TASK, VARIANT, first_arms, init_of, sort_frame
from bench.report.data import T as LEN

# Ratios within SAME of 1 count as "the same speed": the medians over seeds and lengths still carry the
# run-to-run timing noise of a shared machine (single timing rounds vary by about 10%, README), so a 5%
# difference is the smallest the report calls faster or slower.
SAME = 0.05
SETTING = ("device", "threads")  # never pooled: times on two devices or thread counts are not comparable
# The micro-benchmark passes that time training, the first one present is read (train_step: forward,
# backward and the optimizer step; forward_backward without the optimizer).
MICRO_PASSES = ("train_step", "forward_backward")
MICRO_SHAPE = ("hidden", "seq_len", "batch")
# a cell's gate blocks in its textbook form, from the registry: FLOPs per step at equal hidden size scale so
GATES = {n: d.gate_blocks(d.default_variant) for n, d in CELL_DEFS.items()}


def side(ratio: float) -> str:
    """'faster' / 'same' / 'slower' for a time ratio against the reference (below 1: faster), '' for NaN."""
    if not np.isfinite(ratio):
        return ""
    return "faster" if ratio < 1 - SAME else "slower" if ratio > 1 + SAME else "same"


@dataclass(frozen=True)
class Speed:
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (task, T, arm, device, threads): TABLE
    flops: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (task, cell): FLOPs at the main shapes
    per_step: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (setting, impl, kernel, cell): vs LSTM
    micro: pd.DataFrame = field(default_factory=pd.DataFrame)  # micro-benchmark: per (setting, impl, shape)
    to_solve: pd.DataFrame = field(default_factory=pd.DataFrame)  # GRU / LSTM per (task, T, init)


@functools.lru_cache(maxsize=256)
def _input_size(task_json: str) -> float:
    """The input size of the task a run's stored config describes (its `task` part), NaN when unreadable."""
    from tasks import make_task

    try:
        task = json.loads(task_json)
        return float(make_task(task.pop("name"), task.pop("seq_len"), **task).input_size)
    except Exception:  # noqa: BLE001 - an older or odd config: no FLOP count for that run, never a failure
        return np.nan


def _task_part(config_json: object) -> str:
    try:
        return json.dumps(json.loads(str(config_json))["task"], sort_keys=True)
    except (TypeError, ValueError, KeyError):
        return ""


def run_flops(runs: pd.DataFrame) -> pd.Series:
    """Forward FLOPs per time step per sequence of each run's core (gate GEMMs and extras, the registry's
    CellDef.step_flops) at its resolved hidden size; NaN where the input size or hidden size is unknown."""

    def one(r: pd.Series) -> float:
        inputs, hidden = _input_size(_task_part(r["config_json"])), r["hidden_size"]
        if r[CELL] not in CELL_DEFS or not (np.isfinite(inputs) and pd.notna(hidden)):
            return np.nan
        d = CELL_DEFS[r[CELL]]
        variant = r[VARIANT] if r[VARIANT] in d.gates else d.default_variant
        layers = int(r["cell.layers"]) if pd.notna(r["cell.layers"]) else 1
        return float(
            d.step_flops(
                variant, int(inputs), int(hidden), layers, 1 + (str(r["cell.bidirectional"]) == "True")
            )
        )

    return runs.apply(one, axis=1).astype(float) if len(runs) else pd.Series(dtype=float)


def _vs_lstm(df: pd.DataFrame, value: str, on: list[str]) -> pd.Series:
    """`value` over the LSTM's at the same `on` keys (its first arm: PyTorch's default init when it ran)."""
    lstm = first_arms(df[df[CELL] == "lstm"]).drop_duplicates(on)[[*on, value]]
    ref = df[on].merge(lstm.rename(columns={value: "_ref"}), on=on, how="left")["_ref"].to_numpy()
    return df[value] / ref


TIMES = tuple(f"{impl}_{x}" for impl in ("fused", "explicit") for x in ("ms", "vs_lstm", "kernel"))


def _times(cost: pd.DataFrame) -> pd.DataFrame:
    """Per (task, T, arm, device, threads): ms per step of the fused and of the explicit implementation (the
    kernel with the most runs), each with its ratio to the LSTM's (TIMES; missing where not run)."""
    cols = [*KEYS, *SETTING]
    out = pd.DataFrame(columns=cols)
    if cost.empty:
        return out.reindex(columns=[*cols, *TIMES])
    c = cost.sort_values("n", ascending=False, kind="mergesort")
    for impl in ("fused", "explicit"):
        x = c[c[IMPL] == impl].drop_duplicates(cols)[[*cols, "ms_per_step", "vs_lstm", "kernel"]]
        x.columns = [*cols, f"{impl}_ms", f"{impl}_vs_lstm", f"{impl}_kernel"]
        out = x if out.empty else out.merge(x, on=cols, how="outer")
    return out.reindex(columns=[*cols, *TIMES])


def speed_table(main: pd.DataFrame, summary: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, T, arm, device, threads) of the main comparison: hidden size, forward FLOPs per time
    step and their ratio to the LSTM's, ms per step fused and explicit (with ratios to the LSTM's), and the
    median steps and wall-clock seconds to solve over the solved seeds (with the seeds solved / run)."""
    if main.empty:
        return pd.DataFrame()
    m = main.assign(flops=run_flops(main))
    base = m.groupby(KEYS, sort=False).agg(
        **{TASK: (TASK, "first"), CELL: (CELL, "first")},
        hidden=("hidden_size", "median"),
        flops=("flops", "median"),
    )
    base = base.reset_index()
    base["flops_vs_lstm"] = _vs_lstm(base, "flops", ["task_label", LEN])
    out = base.merge(_times(cost), on=KEYS, how="left")
    keep = ["steps_to_solve", "wall_s_to_solve", "n_solved", "n"]
    s = summary[[*KEYS, *keep]] if len(summary) else pd.DataFrame(columns=[*KEYS, *keep])
    return sort_frame(out.merge(s, on=KEYS, how="left"), extra=list(SETTING))


def flop_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per (task, cell), its first arm: hidden size, forward FLOPs per time step and their ratio to the
    LSTM's at the main comparison's shapes, and the ratio at equal hidden size (gate blocks, registry)."""
    if table.empty:
        return pd.DataFrame()
    t = first_arms(table).drop_duplicates(["task_label", CELL])
    t = t[["task_label", TASK, CELL, "hidden", "flops", "flops_vs_lstm"]].reset_index(drop=True)
    t["equal_hidden"] = t[CELL].map(lambda c: GATES.get(c, np.nan) / GATES["lstm"])
    return t


def per_step(cost: pd.DataFrame) -> pd.DataFrame:
    """Per (device, threads, impl, kernel, cell): the median over (task, T) of its ms per step over the
    LSTM's (lo / hi: the smallest and largest), the (task, T) pairs counted, and in how many of them with two
    or more cells it has the lowest time of all (`cheapest` of `groups`). First arm per cell."""
    if cost.empty:
        return pd.DataFrame()
    c = first_arms(cost).drop_duplicates(["task_label", LEN, CELL, IMPL, "kernel", *SETTING])
    grp = ["task_label", LEN, IMPL, "kernel", *SETTING]
    n_cells = c.groupby(grp, dropna=False)[CELL].transform("nunique")
    low = c["ms_per_step"] == c.groupby(grp, dropna=False)["ms_per_step"].transform("min")
    c = c.assign(_multi=n_cells > 1, _low=low & (n_cells > 1))
    by = [*SETTING, IMPL, "kernel", CELL]
    out = c.groupby(by, dropna=False, sort=False).agg(
        ratio=("vs_lstm", "median"), lo=("vs_lstm", "min"), hi=("vs_lstm", "max"),
        n=("vs_lstm", "count"), cheapest=("_low", "sum"), groups=("_multi", "sum"),
    )  # fmt: skip
    return sort_frame(out.reset_index(), extra=[*SETTING, IMPL, "kernel"])


def micro_table(mb: pd.DataFrame | None) -> pd.DataFrame:
    """The micro-benchmark's training passes (MICRO_PASSES, the first present per device): per (device,
    threads, impl, pass, shape, cell) the best time in ms and its ratio to the LSTM's with the same impl,
    pass, shape and setting, beside the FLOP ratio at that (equal) hidden size."""
    need = {"cell", "impl", "pass", "min_s", *MICRO_SHAPE, *SETTING}
    if mb is None or mb.empty or not need <= set(mb.columns):
        return pd.DataFrame()
    m = mb[mb["cell"].isin(list(GATES)) & mb["pass"].isin(MICRO_PASSES)].astype(
        {"cell": object, "pass": object}
    )
    if m.empty:
        return pd.DataFrame()
    rank = m["pass"].map({p: i for i, p in enumerate(MICRO_PASSES)})
    m = m[rank == rank.groupby(m["device"]).transform("min")]
    by = [*SETTING, "impl", "pass", *MICRO_SHAPE, "cell"]
    m = m.groupby(by, dropna=False, sort=False)["min_s"].min().rename("ms").reset_index()
    m["ms"] *= 1e3
    ref = m[m["cell"] == "lstm"].drop(columns="cell").rename(columns={"ms": "_ref"})
    m = m.merge(ref, on=[c for c in by if c != "cell"], how="left")
    m["ratio"] = m["ms"] / m.pop("_ref")
    m["flop_ratio"] = m["cell"].map(lambda c: GATES[c] / GATES["lstm"])
    m["_c"] = m["cell"].map({c: i for i, c in enumerate(GATES)})
    return m.sort_values([*SETTING, "impl", "_c"], kind="mergesort").drop(columns="_c").reset_index(drop=True)


def to_solve(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (task, T, init) where the GRU and the LSTM at that init both solved seeds: each one's median steps
    and wall-clock seconds to solve, and the GRU's over the LSTM's."""
    need = {"steps_to_solve", "wall_s_to_solve"}
    if summary.empty or not need <= set(summary.columns):
        return pd.DataFrame()
    s = summary[summary[CELL].isin(["gru", "lstm"]) & summary["steps_to_solve"].notna()]
    s = s.assign(init=s[CELL_INIT].map(init_of))
    cols = ["task_label", TASK, LEN, "init", "steps_to_solve", "wall_s_to_solve"]
    g, lstm = (s[s[CELL] == c][cols] for c in ("gru", "lstm"))
    both = g.merge(lstm, on=["task_label", TASK, LEN, "init"], suffixes=("_gru", "_lstm"))
    both["steps_ratio"] = both["steps_to_solve_gru"] / both["steps_to_solve_lstm"]
    both["wall_ratio"] = both["wall_s_to_solve_gru"] / both["wall_s_to_solve_lstm"]
    return sort_frame(both, extra=["init"])


def speed(main: pd.DataFrame, summary: pd.DataFrame, cost: pd.DataFrame, mb: pd.DataFrame | None) -> Speed:
    """Every speed table (Speed) from the main comparison, its summary and cost, and the micro-benchmarks."""
    table = speed_table(main, summary, cost)
    return Speed(table, flop_table(table), per_step(cost), micro_table(mb), to_solve(summary))
