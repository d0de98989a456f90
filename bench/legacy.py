"""Read result folders written by older schemas as if they were written today.

Schema 1 (before the typed spec) stored hand-picked configuration columns (`task`, `seq_len`, `cell`,
`lr`, `max_steps`, ...) and the whole resolved config as `config_json`. The spec columns and `config_id`
of such a row are rebuilt from its `config_json` (keys the spec does not know are dropped, missing ones
read as the spec's defaults); the run keeps its old run_id, since that names its folder.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

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


def upgrade_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table with every row of an older schema given today's columns (rows of the current
    schema are left as they are)."""
    if runs.empty or "schema_version" not in runs.columns:
        return runs
    version = pd.to_numeric(runs["schema_version"], errors="coerce")
    old = version.isna() | (version < SCHEMA_VERSION)
    if not old.any():
        return runs
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
    return out.reindex(columns=[c for c in RUN_COLUMNS if c in out.columns or c in SPEC_COLUMNS])
