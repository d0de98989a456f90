"""The three tidy tables every run writes, and the columns each must have.

One row per run in `runs`; long format (one number per row) in `curves` and `grad_profile`, so the
report can facet on any column without reshaping. The runs table's configuration columns are generated
from the run spec (bench/spec.py: one dotted column per field, e.g. `task.n_symbols`, `train.lr`), never
listed here. A column added later is fine for readers: they select by name, and the loader fills
columns an older schema lacks (bench/legacy.py upgrades schema 1 folders).
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

from bench.spec import TASK_SPECS, CellSpec, TaskSpec, TrainSpec

SCHEMA_VERSION = 3  # 3: spec fields of issue 12 (bench.spec.added), grad_profile.direction, states table

# Columns computed from a spec column, stored right after it (not part of a configuration's identity:
# the report groups by the spec columns): the forget bias as a number beside its label.
DERIVED_COLUMNS: dict[str, tuple[str, type]] = {"cell.forget_bias_value": ("cell.forget_bias", float)}


def column_types() -> dict[str, type]:
    """Every spec column of the runs table (over all tasks) -> its python type (float, int, str, bool).
    Optional ints are int (stored nullable); the forget bias is its label (str)."""
    out: dict[str, type] = {}
    for part, classes in (
        ("task", (TaskSpec, *TASK_SPECS.values())),
        ("cell", (CellSpec,)),
        ("train", (TrainSpec,)),
    ):
        for cls in classes:
            for name, hint in typing.get_type_hints(cls).items():
                out.setdefault(f"{part}.{name}", _base(hint))
    out["cell.forget_bias"] = str
    return out | {"seed": int, "device": str, "dtype": str}


def _base(hint: Any) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    return str if base is Any else base


# runs: the columns around the spec's. Order here is the column order on disk.
HEAD_COLUMNS: tuple[str, ...] = (
    "run_id",
    "config_id",  # run_id without the seed: the runs that are seeds of one configuration share it
    "schema_version",
    "status",
    "error",
    "sweep",
    "length",  # a preset's length label, when it has one
    "init",  # a preset's initialisation label, when it has one
)
OUTCOME_TYPES: dict[str, type] = {
    # what was built
    "task_variant": str,  # the task's own label of its form (bench.spec.TaskSpec.variant_label)
    "hidden_size": int,  # resolved (from cell.budget when set)
    "kernel": str,  # what ran the cell: fused (torch.nn) | cpp (bench/fastpath.py) | python | autograd
    "num_params": int,
    # outcome
    "steps": int,
    "solved": bool,
    "steps_to_solve": int,
    "wall_s_to_solve": float,
    "diverged_at": int,
    "diverged_reason": str,  # which criterion held first (bench/train.py: non-finite, eval loss, train rise)
    "final_loss": float,
    "final_accuracy": float,
    "chance_loss": float,
    "chance_accuracy": float,
    # cost
    "ms_per_step": float,
    "elements_per_s": float,
    "peak_mem_mb": float,
    "wall_s": float,
    # provenance
    "torch_version": str,
    "python_version": str,
    "device_name": str,
    "threads": int,
    "git_commit": str,
    "hostname": str,
    "started_at": dt.datetime,  # a UTC timestamp
    "config_json": str,
}
HEAD_TYPES: dict[str, type] = {
    "run_id": str,
    "config_id": str,
    "schema_version": int,
    "status": str,
    "error": str,
    "sweep": str,
    "length": str,
    "init": str,
}
SPEC_TYPES: dict[str, type] = column_types()
RUN_TYPES: dict[str, type] = {}
for _name, _typ in (HEAD_TYPES | SPEC_TYPES | OUTCOME_TYPES).items():
    RUN_TYPES[_name] = _typ
    RUN_TYPES |= {d: t for d, (after, t) in DERIVED_COLUMNS.items() if after == _name}
RUN_COLUMNS: tuple[str, ...] = tuple(RUN_TYPES)
SPEC_COLUMNS: tuple[str, ...] = tuple(SPEC_TYPES)

# curves: run_id, step, split (train / eval), metric, value.
CURVE_COLUMNS: tuple[str, ...] = ("run_id", "step", "split", "metric", "value")

# grad_profile: ||dL/dh_t|| (state "h") and ||dL/dc_t|| (state "c", LSTM) on a fixed probe batch, per
# direction (forward; backward for bidirectional cells). distance (bench/probes.py): forward, steps back from
# the last scored position (last - t); backward, steps forward from the first scored position (t - first).
# Layer 0 is the bottom layer. Runs written before directions existed have no direction column: the loader
# reads their rows as "forward".
PROFILE_COLUMNS: tuple[str, ...] = (
    "run_id", "step", "layer", "direction", "t", "distance", "state", "grad_norm",
)  # fmt: skip
PROFILE_ADDED: dict[str, str] = {"direction": "forward"}  # column -> the value of rows written without it

# states: hidden-state statistics at the probe steps, from the same float64 forward of the probe batch as
# grad_profile, for every t: stat max_abs = max |h_t| over batch and units, mean_norm = the batch mean of
# ||h_t||; state h (and c for the LSTM). Runs written before the table existed have none.
STATE_COLUMNS: tuple[str, ...] = ("run_id", "step", "layer", "direction", "t", "state", "stat", "value")

# weights: scalars of the recurrent weights at the same probe steps as grad_profile, per layer; metric
# sigma_max_w_hh = the largest singular value of the layer's whole W_hh (all gate blocks stacked; for the
# vanilla RNN Pascanu et al.'s lambda_1: below 1 / max tanh' = 1, gradients must vanish). Runs written before
# the table existed have none.
WEIGHT_COLUMNS: tuple[str, ...] = ("run_id", "step", "layer", "metric", "value")

TABLES: dict[str, tuple[str, ...]] = {
    "runs": RUN_COLUMNS,
    "curves": CURVE_COLUMNS,
    "grad_profile": PROFILE_COLUMNS,
    "weights": WEIGHT_COLUMNS,
    "states": STATE_COLUMNS,
}

STATUSES = ("ok", "diverged", "failed")

_PANDAS_DTYPE = {
    int: "Int64",
    float: "float64",
    bool: "boolean",
    str: "string",
    dt.datetime: "datetime64[ns, UTC]",
}


def pandas_dtype(column: str) -> str:
    """The pandas dtype of a runs column (nullable ints and bools, so missing values keep the type)."""
    return _PANDAS_DTYPE[RUN_TYPES[column]]
