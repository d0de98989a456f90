"""Normalise loaded results for the report: types, labels, and the main comparison set.

Older schemas may lack columns: every column of `RUN_COLUMNS` is added (as missing values) so the rest of
the report can select by name, and `Prepared.missing` says which were absent so sections can skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.results import Results
from bench.schema import RUN_COLUMNS, RUN_TYPES, SPEC_COLUMNS

TASK_ORDER = ("copy", "adding", "recall")
CELL_ORDER = ("rnn", "lstm", "gru")
STANDARD_VARIANTS = ("tanh", "vanilla")
# Sweep presets that exist to vary one factor; their runs are not preferred for the main comparison.
ABLATION_PRESETS = ("lstm_variants", "init", "clip", "lr", "budget")
# TEMPORARY: the report's short names for spec columns (being replaced by direct use of the spec columns).
ALIASES = {
    "task.name": "task",
    "task.seq_len": "seq_len",
    "cell.name": "cell",
    "cell.impl": "impl",
    "cell.variant": "variant",
    "cell.budget": "budget",
    "cell.layers": "layers",
    "cell.forget_bias": "forget_bias",
    "cell.recurrent_init": "recurrent_init",
    "train.optimizer": "optimizer",
    "train.lr": "lr",
    "train.clip": "clip",
    "train.clip_value": "clip_value",
    "train.batch_size": "batch_size",
    "train.steps": "max_steps",
}
# The columns that identify a configuration (the spec's, without the seed), under the report's names.
CONFIG_FIELDS = tuple(ALIASES.get(c, c) for c in SPEC_COLUMNS if c != "seed")
TEXT = (
    "status",
    "sweep",
    "task",
    "task_variant",
    "cell",
    "impl",
    "variant",
    "forget_bias",
    "recurrent_init",
    "optimizer",
    "clip",
    "torch_version",
    "python_version",
    "device",
    "device_name",
    "git_commit",
    "hostname",
    "started_at",
)
# Read as strings or handled on their own: the id, the error message, the solved flag, the raw config.
OTHER = ("run_id", "error", "solved", "config_json")
NUMERIC = tuple(
    ALIASES.get(c, c) for c in RUN_COLUMNS if RUN_TYPES[c] in (int, float) and c not in OTHER
)  # every run column the schema types as a number
KEYS = ["task_label", "seq_len", "cell"]
REQUIRED = ("run_id", "task", "seq_len", "cell")
NA = "n/a"


@dataclass
class Prepared:
    runs: pd.DataFrame  # every usable run, normalised, sorted
    main: pd.DataFrame  # the main comparison: one configuration per (task, seq_len, cell)
    curves: pd.DataFrame
    profile: pd.DataFrame
    microbench: pd.DataFrame | None
    missing: set[str] = field(default_factory=set)  # run columns absent (or empty) in every run
    notes: list[str] = field(default_factory=list)

    def lacks(self, *cols: str) -> list[str]:
        """The columns among `cols` that have no value in any run."""
        return [c for c in cols if c in self.missing]


def _is_missing(v: object) -> bool:
    return v is None or (not isinstance(v, (list, tuple, dict)) and bool(pd.isna(v)))


def text(s: pd.Series) -> pd.Series:
    """Values as strings, missing as 'n/a' (stable across pandas string dtypes)."""
    return pd.Series([NA if _is_missing(v) else str(v) for v in s], index=s.index, dtype=object)


def rank(values: pd.Series, order: tuple[str, ...]) -> pd.Series:
    """Position in a fixed order; unknown values after the known ones."""
    pos = {v: i for i, v in enumerate(order)}
    return values.map(lambda v: pos.get(v, len(order))).astype(int)


def sort_frame(df: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    """Sort by task (fixed order), length, cell (fixed order), then `extra` columns."""
    tmp = df.copy()
    by: list[str] = []
    if "task_label" in tmp.columns:
        tmp["_t"] = rank(tmp["task"] if "task" in tmp.columns else tmp["task_label"], TASK_ORDER)
        by += ["_t", "task_label"]
    if "seq_len" in tmp.columns:
        by.append("seq_len")
    if "cell" in tmp.columns:
        tmp["_c"] = rank(tmp["cell"], CELL_ORDER)
        by += ["_c", "cell"]
    by += extra or []
    tmp = tmp.sort_values(by, kind="mergesort") if by else tmp
    return tmp.drop(columns=[c for c in ("_t", "_c") if c in tmp.columns]).reset_index(drop=True)


def cell_name(cell: str) -> str:
    """How a cell is written in the report (RNN, LSTM, GRU)."""
    return cell.upper() if cell in CELL_ORDER else cell


def _normalise(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    for c in NUMERIC:
        runs[c] = pd.to_numeric(runs[c], errors="coerce").astype(float)
    for c in TEXT:
        runs[c] = text(runs[c])
    runs["run_id"] = text(runs["run_id"])
    runs.loc[runs["status"] == NA, "status"] = "ok"  # a schema without status only stored finished runs
    # A schema without `solved` still says when a run solved its task: steps_to_solve is set.
    recorded = runs["solved"].map(lambda v: None if _is_missing(v) else bool(v))
    runs["solved"] = recorded.where(recorded.notna(), runs["steps_to_solve"].notna()).astype(bool)
    loss = runs["final_loss"].replace([np.inf, -np.inf], np.nan)
    runs["loss_ratio"] = (loss / runs["chance_loss"]).replace([np.inf, -np.inf], np.nan)
    runs["seq_len"] = runs["seq_len"].astype(int)
    return runs


def _task_labels(runs: pd.DataFrame) -> pd.Series:
    # A task run in several variants is several tasks (different chance, different published numbers).
    n_variants = runs.groupby("task")["task_variant"].transform("nunique")
    return runs["task"].where(n_variants <= 1, runs["task"] + " (" + runs["task_variant"] + ")")


def config_key(runs: pd.DataFrame, cols: list[str]) -> pd.Series:
    """One string per run naming its values of `cols` (equal strings = equal configurations)."""
    key = pd.Series([""] * len(runs), index=runs.index, dtype=object)
    for c in cols:
        key = key + c + "=" + text(runs[c]) + ";"
    return key


def pick_main(runs: pd.DataFrame) -> pd.DataFrame:
    """The main comparison: per (task, seq_len, cell) the configuration with the standard variant, run
    outside an ablation preset, with the most runs, fused if there is a choice (ties: by name)."""
    r = runs.assign(
        cfg=runs["config_id"],
        _std=runs["variant"].isin((*STANDARD_VARIANTS, NA)),
        _main_sweep=~runs["sweep"].isin(ABLATION_PRESETS),
        _fused=runs["impl"] == "fused",
    )
    c = (
        r.groupby([*KEYS, "cfg"], sort=True)
        .agg(
            n=("run_id", "size"),
            std=("_std", "max"),
            main_sweep=("_main_sweep", "max"),
            fused=("_fused", "max"),
        )
        .reset_index()
    )
    c = c.sort_values(
        [*KEYS, "std", "main_sweep", "n", "fused", "cfg"],
        ascending=[True, True, True, False, False, False, False, True],
        kind="mergesort",
    )
    best = c.drop_duplicates(KEYS)[[*KEYS, "cfg"]]
    main = r.merge(best, on=[*KEYS, "cfg"], how="inner").drop(columns=["_std", "_main_sweep", "_fused"])
    # The same config and seed can come from two sweeps: count that seed once.
    main = main.sort_values("run_id", kind="mergesort")
    dup = main.duplicated([*KEYS, "cfg", "seed"]) & main["seed"].notna()
    return sort_frame(main[~dup], extra=["seed", "run_id"])


def _read_microbench(results_dir: Path, notes: list[str]) -> pd.DataFrame | None:
    path = results_dir / "microbench.parquet"
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - an unreadable optional table is a note, never fatal
        notes.append(f"microbench.parquet: unreadable ({type(e).__name__}), micro-benchmark table left out")
        return None


def prepare(res: Results, results_dir: str | Path) -> Prepared:
    """Normalise `res` and select the main comparison set."""
    notes: list[str] = []
    runs = res.runs.copy()
    for long, short in ALIASES.items():
        if long in runs.columns:
            runs[short] = runs[long]
    columns = [ALIASES.get(c, c) for c in RUN_COLUMNS]
    missing = {c for c in columns if c not in runs.columns}
    present_all_nan = {c for c in columns if c in runs.columns and len(runs) and runs[c].isna().all()}
    runs = runs.reindex(columns=[*runs.columns, *sorted(missing)])
    lacking = [c for c in REQUIRED if c in missing]
    if lacking and len(runs):
        notes.append(f"all {len(runs)} runs: the runs table lacks {', '.join(lacking)}; nothing to compare")
        runs = runs.iloc[0:0]
    if len(runs):
        bad = runs[list(REQUIRED)].isna().any(axis=1) | pd.to_numeric(runs["seq_len"], errors="coerce").isna()
        if bad.any():
            notes.append(f"{int(bad.sum())} runs without task, seq_len or cell: left out")
            runs = runs[~bad]
    runs = _normalise(runs)
    runs["task_label"] = _task_labels(runs) if len(runs) else pd.Series(dtype=object)
    runs = sort_frame(runs, extra=["seed", "run_id"])
    # Columns that exist but are empty for every run (e.g. no run wrote peak memory) count as missing too.
    missing |= {
        c
        for c in present_all_nan
        if c
        not in ("budget", "steps_to_solve", "wall_s_to_solve", "diverged_at", "error", "sweep", "clip_value")
    }
    ids = set(runs["run_id"])
    curves = res.curves[res.curves["run_id"].isin(ids)] if "run_id" in res.curves.columns else res.curves
    profile = res.grad_profile
    profile = profile[profile["run_id"].isin(ids)] if "run_id" in profile.columns else profile
    main = pick_main(runs) if len(runs) else runs.assign(cfg=pd.Series(dtype=object))
    return Prepared(runs, main, curves, profile, _read_microbench(Path(results_dir), notes), missing, notes)
