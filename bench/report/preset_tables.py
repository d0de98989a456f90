"""The preset verdicts as report blocks: per preset its evidence table and one bullet per claim (its
verdict and the numbers it was decided from), or, without runs, the one line saying how to run it.
Formatting only: the numbers come from the preset modules (preset_claims.py)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.report.data import CELL_INIT, T, arm_name
from bench.report.doc import MISSING, Block, Bullets, Para, integer, num, plural, table
from bench.report.preset_activation import BLOW_UP
from bench.report.preset_common import NO_RUNS, PresetResult
from bench.report.tables import VERDICT_TEXT, solve_rate


def _rate(x: object) -> str:
    return num(x, 2)


def _keys(t: pd.DataFrame) -> dict[str, list[str]]:
    """The columns every preset table starts with: task and length."""
    return {"Task": list(t["task_label"]), "T": list(t[T].map(integer))}


def _bidirectional(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **_keys(t),
            "Arm": t[CELL_INIT].map(arm_name),
            "Directions": ["bidirectional" if b else "unidirectional" for b in t["bi"]],
            "Solved": [solve_rate(k, n) for k, n in zip(t["n_solved"], t["n"], strict=True)],
            "Beats chance (final)": t["verdict"].map(VERDICT_TEXT),
            "Forward: decades / step (init -> end)": _pair(t["rate_forward_init"], t["rate_forward_end"]),
            "Backward: decades / step (init -> end)": _pair(t["rate_backward_init"], t["rate_backward_end"]),
        }
    )


def _pair(a: pd.Series, b: pd.Series) -> list[str]:
    return [
        MISSING if pd.isna(x) and pd.isna(y) else f"{_rate(x)} -> {_rate(y)}"
        for x, y in zip(a, b, strict=True)
    ]


def _layers(rates: object) -> str:
    return " / ".join(_rate(r) for r in rates) if isinstance(rates, tuple) and rates else MISSING


def _depth(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **_keys(t),
            "Arm": t[CELL_INIT].map(arm_name),
            "Layers": t["layers"].map(integer),
            "Hidden": t["hidden"].map(integer),
            "Parameters": t["params"].map(integer),
            "Decades / step per layer, init (bottom / top)": t["rates_init"].map(_layers),
            "Decades / step per layer, end": t["rates_end"].map(_layers),
        }
    )


def _tbptt(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **_keys(t),
            "L": t["L"].map(integer),
            "D": t["D"].map(integer),
            "Arm": t[CELL_INIT].map(arm_name),
            "K": [integer(k) + (" (full)" if f else "") for k, f in zip(t["K"], t["full"], strict=True)],
            "K cuts D": ["yes" if x else "no" for x in t["cuts"]],
            "Solved": [solve_rate(k, n) for k, n in zip(t["n_solved"], t["n"], strict=True)],
            "ms / step": t["ms"].map(num),
            "Profile 0 from distance": t["zero_at"].map(lambda z: "never" if pd.isna(z) else integer(z)),
        }
    )


def _activation(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **_keys(t),
            "Activation": t["variant"],
            "Init": t["init"],
            "Clip": t["clip"],
            "Diverged (non-finite) / runs": [
                f"{integer(d)} ({integer(x)}) / {integer(n)}"
                for d, x, n in zip(t["n_diverged"], t["n_nonfinite"], t["n"], strict=True)
            ],
            "Why diverged": [s if s else MISSING for s in t["reasons"].fillna("")],
            "Blown up / runs": [
                f"{integer(b)} / {integer(n)}" for b, n in zip(t["n_blown"], t["n"], strict=True)
            ],
            "max |h_t|: median [largest]": [
                f"{num(m)} [{num(x)}]" if k else MISSING
                for m, x, k in zip(t["max_h_median"], t["max_h_max"], t["n_states"], strict=True)
            ],
            "Largest gradient norm before clipping (median)": t["grad_max_median"].map(num),
        }
    )


SEE_ABOVE = "Solve rates and loss / chance at equal steps per arm: the ablation table above."
CAPTION = {
    "bidirectional": "Bidirectional preset: each cell with one and with two directions, on recall and its "
    "anticipation variant. Decades / step: the fitted decay rate of the median ||dL/dh_t|| over seeds "
    "(top layer) per direction, at initialisation and at the end of training (–: no profile or fewer than "
    "two positive points: on anticipation the forward direction's only row is the scored step itself).",
    "depth": "Depth preset: 1, 2 and 3 layers at a matched parameter count (cell.budget). Decades / step: "
    "the fitted decay rate of the median ||dL/dh_t|| over seeds of each layer, bottom first.",
    "tbptt": "Truncated-BPTT preset: K steps per chunk; L: the sequence length; D: the task's longest "
    "dependency (steps from an informative input to where it is scored); K cuts D when K <= D. ms / step: "
    "median over seeds. Profile 0 from distance: where the end-of-training median profile first is exactly "
    "0 (the truncated objective has no gradient from distance K on).",
    "activation": "Activation preset: the RNN's activation x recurrent init x clipping under SGD. max |h_t|: "
    "over every probe step, layer and t of a run, median and largest over seeds (a non-finite run's "
    f"last probe is the one before it stopped). Blown up: max |h_t| above {integer(BLOW_UP)} or non-finite. "
    "Gradient norms: logged every log_every steps, before clipping.",
}
FORMAT: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "bidirectional": _bidirectional,
    "depth": _depth,
    "tbptt": _tbptt,
    "activation": _activation,
}


def verdict_lines(r: PresetResult) -> tuple[str, ...]:
    """One line per claim: the claim, its verdict in bold, the evidence."""
    return tuple(
        f"{v['claim']}: **{v['verdict']}**. {_sentence(v['evidence'])}" for _, v in r.verdicts.iterrows()
    )


def _sentence(s: str) -> str:
    """Evidence as a sentence: capitalised, ending in a full stop."""
    s = str(s).strip()
    return s[:1].upper() + s[1:] + ("" if s.endswith(".") else ".")


def missing_line(r: PresetResult) -> Para:
    """The one line of a preset without runs."""
    return Para(f"*{_sentence(r.verdicts['evidence'].iloc[0])}*")


def preset_blocks(r: PresetResult) -> list[Block]:
    """A preset's blocks: without runs one line; else its evidence table and its verdicts."""
    if not r.n_runs or (r.verdicts["verdict"] == NO_RUNS).all():
        return [missing_line(r)]
    blocks: list[Block] = []
    fmt = FORMAT.get(r.preset)
    if fmt is not None and len(r.table):
        caption = CAPTION.get(r.preset, "") + " " + SEE_ABOVE
        blocks.append(table(fmt(r.table), caption))
    runs = plural(r.n_runs, "run")
    lead = f"Verdicts on the `{r.preset}` preset's {runs} (loss / chance at each comparison's common step S):"
    blocks.append(Para(lead))
    blocks.append(Bullets(verdict_lines(r)))
    return blocks
