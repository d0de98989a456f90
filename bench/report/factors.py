"""Ablation factors as data: which spec columns make the arms, how an arm is labelled, how its axis is
drawn, which sweep preset runs it. The ablation code and figures have one generic path; everything that
differs between factors is a field here. A factor added to FACTORS (or passed to `analyse`) is found,
tabled, drawn and read without other code changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.cells import CELL_DEFS
from bench.report.doc import NA, integer, num, text

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
    Factor("clip", "Gradient clipping", ("train.clip", "train.clip_value"), _clip_label, preset="clip"),
    Factor("lr", "Learning rate", ("train.lr",), _lr_label, axis="log", preset="lr", best=True),
    Factor("budget", "Parameter-matched vs hidden-matched", ("cell.budget",), _budget_label, preset="budget"),
)


def presets(factors: tuple[Factor, ...]) -> tuple[str, ...]:
    """The sweep presets that exist to vary one factor (their runs are not preferred for the main
    comparison)."""
    return tuple(f.preset for f in factors if f.preset)
