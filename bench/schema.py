"""The three tidy tables every run writes, and the columns each must have.

One row per run in `runs`; long format (one number per row) in `curves` and `grad_profile`, so the
report can facet on any column without reshaping. A column added later is fine for readers: they
select by name and tolerate missing optional columns (older schemas).
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# runs: one row per run. Order here is the column order on disk.
RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "schema_version",
    "status",
    "error",
    "sweep",
    # what was trained
    "task",
    "task_variant",
    "seq_len",
    "cell",
    "impl",
    "variant",
    "hidden_size",
    "budget",
    "num_params",
    "layers",
    "forget_bias",
    "recurrent_init",
    # how it was trained
    "optimizer",
    "lr",
    "clip",
    "clip_value",
    "batch_size",
    "max_steps",
    "seed",
    # outcome
    "steps",
    "solved",
    "steps_to_solve",
    "wall_s_to_solve",
    "diverged_at",
    "final_loss",
    "final_accuracy",
    "chance_loss",
    "chance_accuracy",
    # cost
    "ms_per_step",
    "elements_per_s",
    "peak_mem_mb",
    "wall_s",
    # provenance
    "torch_version",
    "python_version",
    "device",
    "device_name",
    "threads",
    "git_commit",
    "hostname",
    "started_at",
    "config_json",
)

# curves: run_id, step, split (train / eval), metric, value.
CURVE_COLUMNS: tuple[str, ...] = ("run_id", "step", "split", "metric", "value")

# grad_profile: ||dL/dh_t|| (state "h") and ||dL/dc_t|| (state "c", LSTM) on a fixed probe batch.
# distance = scored position - t (steps back from the last scored position), layer 0 is the bottom layer.
PROFILE_COLUMNS: tuple[str, ...] = ("run_id", "step", "layer", "t", "distance", "state", "grad_norm")

TABLES: dict[str, tuple[str, ...]] = {
    "runs": RUN_COLUMNS,
    "curves": CURVE_COLUMNS,
    "grad_profile": PROFILE_COLUMNS,
}

STATUSES = ("ok", "diverged", "failed")
