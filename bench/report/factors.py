"""Ablation factors as data: which spec columns make the arms, how an arm is labelled, how its axis is
drawn, which sweep preset runs it (a factor tables that preset's runs only: ablations.factor_runs). The
ablation code and figures have one generic path; everything that differs between factors is a field
here. A factor added to FACTORS (or passed to `analyse`) is found, tabled, drawn and read without other
code changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.cells import CELL_DEFS
from bench.report.doc import NA, integer, num, text
from bench.report.lengths import task_lengths

# the textbook variants of the cells, from the cell registry (rnn: tanh, lstm / gru: vanilla)
STANDARD_VARIANTS = tuple(sorted({d.default_variant for d in CELL_DEFS.values()}))
Label = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Factor:
    name: str  # short name: table column, figure file name (ablation_<name>.png)
    title: str
    fields: tuple[str, ...]  # the spec columns whose values make the arms
    label: Label | None = None  # runs -> arm label per run; None: the fields' values, " / " between
    axis: str = "category"  # "category": one tick per arm; "log": arms at fields[0]'s value, log scale
    preset: str | None = None  # the sweep preset that runs this ablation
    standard: tuple[str, ...] | None = None  # arm labels that are standard; None: the main comparison's arm
    best: bool = False  # name the best arm per group (table bullets, reading, figure star)

    def arms(self, runs: pd.DataFrame) -> pd.Series:
        """A readable label of each run's arm."""
        if self.label is not None:
            return self.label(runs).astype(object)
        out = _values(runs[self.fields[0]])
        for f in self.fields[1:]:
            out = out + " / " + _values(runs[f])
        return out


def _values(col: pd.Series) -> pd.Series:
    """A column's values as labels: numbers as the report writes them (16, 0.001), the rest as text."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.map(num).astype(object)
    return text(col)


def _init_label(runs: pd.DataFrame) -> pd.Series:
    return "b_f " + text(runs["cell.forget_bias"]) + " / " + text(runs["cell.recurrent_init"])


def _clip_label(runs: pd.DataFrame) -> pd.Series:
    clip, value = text(runs["train.clip"]), runs["train.clip_value"].map(num)
    return pd.Series(np.where(clip.isin(["none", NA]), clip, clip + " " + value), index=runs.index)


def _lr_label(runs: pd.DataFrame) -> pd.Series:
    return runs["train.lr"].map(num)


def _budget_label(runs: pd.DataFrame) -> pd.Series:
    b = runs["cell.budget"]
    return pd.Series(
        np.where(b.isna(), "hidden-matched", "param-matched " + b.map(integer)), index=runs.index
    )


def flag(col: pd.Series) -> pd.Series:
    """A boolean runs column (nullable, or 'True' / 'False' text in older tables) as plain bools; missing
    is False (a field added later defaults to False: bench.spec.added)."""
    return text(col).str.lower().eq("true")


def _bidirectional_label(runs: pd.DataFrame) -> pd.Series:
    bi = flag(runs["cell.bidirectional"])
    return pd.Series(np.where(bi, "bidirectional", "unidirectional"), index=runs.index)


def _layers_label(runs: pd.DataFrame) -> pd.Series:
    n = runs["cell.layers"].map(integer)
    return n + np.where(n == "1", " layer", " layers")


FULL_BPTT = "full BPTT"


def _tbptt_label(runs: pd.DataFrame) -> pd.Series:
    """'K=8', or 'full BPTT' for train.tbptt null or K >= L (one chunk: the same step, bench/tbptt.py)."""
    k = pd.to_numeric(runs["train.tbptt"], errors="coerce")
    full = k.isna() | (k >= task_lengths(runs)["length"])
    return ("K=" + k.map(integer)).where(~full, FULL_BPTT)


def _activation_label(runs: pd.DataFrame) -> pd.Series:
    return (
        text(runs["cell.variant"])
        + ", "
        + text(runs["cell.recurrent_init"])
        + " init, clip "
        + text(runs["train.clip"])
    )


FACTORS: tuple[Factor, ...] = (
    Factor(
        "variant",
        "Cell variants (LSTM / GRU gates, RNN activation)",
        ("cell.variant",),
        preset="lstm_variants",
        standard=STANDARD_VARIANTS,
    ),
    Factor(
        "init",
        "Initialisation (forget-gate bias b_f / recurrent weights)",
        ("cell.forget_bias", "cell.recurrent_init"),
        _init_label,
        preset="init",
    ),
    # The RNN's recurrent inits (IRNN: relu + identity) have a preset of their own (conf/sweep/rnn_init.yaml)
    # that varies the activation too: its own factor, so its runs never stand in the init or variant tables.
    Factor(
        "rnn_init",
        "The RNN's activation x recurrent init (IRNN among them)",
        ("cell.variant", "cell.recurrent_init"),
        preset="rnn_init",
        standard=("tanh / default",),
    ),
    Factor("clip", "Gradient clipping", ("train.clip", "train.clip_value"), _clip_label, preset="clip"),
    Factor("lr", "Learning rate", ("train.lr",), _lr_label, axis="log", preset="lr", best=True),
    Factor("budget", "Parameter-matched vs hidden-matched", ("cell.budget",), _budget_label, preset="budget"),
    # The presets of issue 12; their verdicts: bench/report/preset_claims.py.
    Factor(
        "bidirectional",
        "Bidirectional cells",
        ("cell.bidirectional",),
        _bidirectional_label,
        preset="bidirectional",
        standard=("unidirectional",),
    ),
    Factor(
        "depth",
        "Stacked layers at a matched parameter count",
        ("cell.layers",),
        _layers_label,
        preset="depth",
        standard=("1 layer",),
    ),
    Factor(
        "tbptt",
        "Truncated backpropagation through time (K steps)",
        ("train.tbptt",),
        _tbptt_label,
        axis="log",
        preset="tbptt",
        standard=(FULL_BPTT,),
    ),
    Factor(
        "activation",
        "RNN activation x recurrent init x clipping under SGD",
        ("cell.variant", "cell.recurrent_init", "train.clip"),
        _activation_label,
        preset="activation",
        standard=("tanh, default init, clip norm",),
    ),
)


# Factors whose standard arm every cell has (one direction, one layer, full BPTT): the main comparison
# prefers runs at it, so a preset that varies the structure never stands in for the textbook cell.
STRUCTURE = ("bidirectional", "depth", "tbptt")


def standard_structure(runs: pd.DataFrame, factors: tuple[Factor, ...] = FACTORS) -> pd.Series:
    """Per run: whether it is at the standard arm of every STRUCTURE factor in `factors`."""
    ok = pd.Series(True, index=runs.index)
    for f in factors:
        if f.name in STRUCTURE and f.standard is not None and set(f.fields) <= set(runs.columns):
            ok &= f.arms(runs).isin(f.standard).to_numpy()
    return ok


def presets(factors: tuple[Factor, ...]) -> tuple[str, ...]:
    """The sweep presets that exist to vary one factor (their runs are not preferred for the main
    comparison)."""
    return tuple(f.preset for f in factors if f.preset)
