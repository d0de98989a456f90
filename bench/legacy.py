"""Read result folders written by older schemas as if they were written today.

Schema 1 (before the typed spec) stored hand-picked configuration columns (`task`, `seq_len`, `cell`,
`lr`, `max_steps`, ...) and the whole resolved config as `config_json`. The spec columns and `config_id`
of such a row are rebuilt from its `config_json` (keys the spec does not know are dropped, missing ones
read as the spec's defaults); the run keeps its old run_id, since that names its folder.

Schema 2 rows lack the spec fields added since (declared with `bench.spec.added`): their columns read as
the field's default, which computes what those runs computed (cell.bidirectional false, ...).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd

from bench.schema import RUN_COLUMNS, SCHEMA_VERSION, SPEC_COLUMNS
from bench.spec import TASK_SPECS, CellSpec, RunSpec, TaskSpec, TrainSpec

# Schema 1 columns that the spec columns replace.
_V1_ONLY = (
    "task", "seq_len", "cell", "impl", "variant", "budget", "layers", "forget_bias", "recurrent_init",
    "optimizer", "lr", "clip", "clip_value", "batch_size", "max_steps",
)  # fmt: skip


def _known(cls: type, d: Any) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names} if isinstance(d, dict) else {}


def spec_of_config(c: dict[str, Any]) -> RunSpec:
    """The RunSpec of an old resolved config dict (lenient: unknown keys dropped)."""
    task = c.get("task") or {}
    task_cls = TASK_SPECS.get(task.get("name"), TaskSpec)
    top = {k: c[k] for k in ("seed", "device", "dtype") if k in c}
    return RunSpec(
        task_cls(**_known(task_cls, task)),
        CellSpec(**_known(CellSpec, c.get("cell"))),
        TrainSpec(**_known(TrainSpec, c.get("train"))),
        **top,
    )


REBUILT_BELOW = 2  # rows of schemas before this have their spec columns rebuilt from config_json


def upgrade_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table with every row of an older schema given today's columns (rows of the current
    schema are left as they are)."""
    if runs.empty or "schema_version" not in runs.columns:
        return runs
    version = pd.to_numeric(runs["schema_version"], errors="coerce")
    old = version.isna() | (version < REBUILT_BELOW)
    if not old.any():
        return fill_added(runs, version)
    rows = []
    for _, r in runs[old].iterrows():
        row = r.to_dict()
        try:
            c = json.loads(row.get("config_json") or "{}")
            spec = spec_of_config(c)
        except (ValueError, TypeError):
            rows.append(row)  # unreadable config: keep what the row has
            continue
        row.update(spec.columns())
        row["config_id"] = spec.config_id
        row.setdefault("length", c.get("length"))
        if pd.isna(row.get("length")):
            row["length"] = c.get("length")
        rows.append(row)
    upgraded = pd.DataFrame(rows, index=runs.index[old])
    out = pd.concat([runs[~old], upgraded]).loc[runs.index]
    out = out.drop(columns=[c for c in _V1_ONLY if c in out.columns and c not in RUN_COLUMNS])
    out = out.reindex(columns=[c for c in RUN_COLUMNS if c in out.columns or c in SPEC_COLUMNS])
    return fill_added(out, version.where(~old, SCHEMA_VERSION))


def added_fields() -> list[tuple[str, Any, int, str | None]]:
    """(column, default, since, the task that has it, or None for a cell / train field) of every spec field
    declared with bench.spec.added."""
    out = []
    parts = [("cell", CellSpec), ("train", TrainSpec), *(("task", cls) for cls in TASK_SPECS.values())]
    for part, cls in parts:
        task = cls.name if part == "task" else None
        out += [
            (f"{part}.{f.name}", f.default, f.metadata["since"], task)
            for f in fields(cls)
            if "since" in f.metadata
        ]
    return out


def fill_added(runs: pd.DataFrame, version: pd.Series) -> pd.DataFrame:
    """Rows written before a field existed (schema < its `since`) get its default in its column (for a
    task field: rows of that task only); a column no row has is added. Columns in the schema's order."""
    for col, default, since, task in added_fields():
        if col not in runs.columns:
            runs[col] = pd.Series(np.nan, index=runs.index, dtype=object)
        rows = version.isna() | (version < since)
        if task is not None and "task.name" in runs.columns:
            rows &= runs["task.name"] == task
        if default is not None and rows.any():
            filled = runs[col].astype(object).where(~(rows & runs[col].isna()), default)
            runs[col] = filled.infer_objects()
    known = [c for c in RUN_COLUMNS if c in runs.columns]
    return runs[known + [c for c in runs.columns if c not in known]]
