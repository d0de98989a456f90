"""What a run's task is, rebuilt from its runs-table columns: the sequence length L and the longest
dependency (Task.max_distance), which the truncated-BPTT factor and preset compare K with. The task
registry computes them (tasks/), so the report never restates a task's arithmetic."""

from __future__ import annotations

import typing
from dataclasses import fields

import numpy as np
import pandas as pd

from bench.report.doc import NA, is_missing, text
from bench.spec import TASK_SPECS
from tasks import make_task

TASK_COLUMN = "task.name"


def _cast(v: object, hint: object) -> object:
    """A runs-table value (floats for ints, 'True' for booleans) as the spec field's type."""
    base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if base[0] is bool:
        return str(v).lower() == "true" if not isinstance(v, bool | np.bool_) else bool(v)
    if base[0] is int:
        return int(float(v))  # type: ignore[arg-type]
    if base[0] is float:
        return float(v)  # type: ignore[arg-type]
    return str(v)


def _facts(row: pd.Series) -> tuple[float, float]:
    """(L, max_distance) of the task a runs row describes; NaN where it cannot be rebuilt."""
    cls = TASK_SPECS.get(str(row.get(TASK_COLUMN)))
    if cls is None:
        return np.nan, np.nan
    hints = typing.get_type_hints(cls)
    kw = {}
    for f in fields(cls):
        v = row.get(f"task.{f.name}")
        if f.name != "name" and not is_missing(v) and v != NA:
            kw[f.name] = _cast(v, hints[f.name])
    try:
        task = make_task(cls(**kw))
    except (TypeError, ValueError):  # a column an older schema wrote differently: no facts, not a crash
        return np.nan, np.nan
    return float(task.length), float(task.max_distance)


def task_lengths(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run (same index): `length` (L, the sequence length) and `max_distance` (the longest distance
    from an informative input to where it is scored), from the task registry; one task built per distinct
    task configuration."""
    cols = sorted(c for c in runs.columns if c.startswith("task.") and c != "task.name") + [TASK_COLUMN]
    if runs.empty or TASK_COLUMN not in runs.columns:
        return pd.DataFrame({"length": pd.Series(dtype=float), "max_distance": pd.Series(dtype=float)})
    key = pd.Series("", index=runs.index, dtype=object)
    for c in cols:
        key = key + text(runs[c]) + "|"
    first = np.flatnonzero(~key.duplicated().to_numpy())  # one run per distinct task configuration
    facts = {key.iloc[j]: _facts(runs.iloc[j]) for j in first}
    return pd.DataFrame([facts[k] for k in key], index=runs.index, columns=["length", "max_distance"])
