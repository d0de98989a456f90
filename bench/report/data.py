"""Normalise loaded results for the report: types, labels, configuration keys, and the main comparison.

The report reads the runs table's own columns (the spec's dotted columns, `task.name`, `train.lr`, ...).
"Same configuration" is `config_id`; "same configuration apart from some fields" is `config_without`, a
key generated from the spec's columns. Older schemas may lack columns: every column of `RUN_COLUMNS` is
added (as missing values) so the rest of the report can select by name, and `Prepared.missing` says which
were absent so sections can skip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.cells import CELL_DEFS
from bench.report.doc import NA, is_missing, text
from bench.report.factors import FACTORS, STANDARD_VARIANTS, presets, standard_structure
from bench.results import Results
from bench.schema import RUN_COLUMNS, RUN_TYPES, SPEC_COLUMNS
from bench.spec import TASK_SPECS

TASK, T, CELL, IMPL, VARIANT = "task.name", "task.seq_len", "cell.name", "cell.impl", "cell.variant"
TASK_ORDER = tuple(TASK_SPECS)  # the registries' order: tasks as bench/spec.py lists them
CELL_ORDER = tuple(CELL_DEFS)  # cells as bench/cells/__init__.py registers them
# Read as strings or handled on their own: the id, the error message, the solved flag, the raw config.
OTHER = ("run_id", "error", "solved", "config_json")
TEXT = tuple(c for c in RUN_COLUMNS if RUN_TYPES[c] is str and c not in OTHER)
NUMERIC = tuple(c for c in RUN_COLUMNS if RUN_TYPES[c] in (int, float) and c not in OTHER)
# The arm of the main comparison: cell x initialisation ("lstm", "lstm+chrono", "rnn+orthogonal").
CELL_INIT = "cell_init"
# The axes of the main comparison: task (with its variant where it has several), length, arm (cell x init).
KEYS = ["task_label", T, CELL_INIT]
# The same per cell (arms pooled): the init ablation, whose arms are the inits themselves.
CELL_KEYS = ["task_label", T, CELL]
# Inits within a cell: PyTorch's default first, then the recommended ones; unknown labels after, by name.
INIT_ORDER = ("default", "orthogonal", "fb1", "chrono")
INIT_NAMES = {"fb1": "forget bias 1"}  # how an init label is written where the label is terse
INIT_FIELDS = ("cell.forget_bias", "cell.recurrent_init")
TUNE_SWEEP = "tune"  # tuning runs (bench/tuning.py): the tuning section's, never the main comparison's
REQUIRED = ("run_id", TASK, T, CELL)
# Outcome columns that may be empty in every run without being "missing" (nothing solved, diverged, ...).
MAY_BE_EMPTY = ("steps_to_solve", "wall_s_to_solve", "diverged_at", "error", "sweep")


@dataclass(frozen=True)
class Prepared:
    runs: pd.DataFrame  # every usable run, normalised, sorted
    main: pd.DataFrame  # the main comparison: one configuration per (task, seq_len, cell)
    curves: pd.DataFrame
    profile: pd.DataFrame
    missing: frozenset[str] = frozenset()  # run columns absent (or empty) in every run
    notes: tuple[str, ...] = field(default_factory=tuple)
    weights: pd.DataFrame = field(default_factory=pd.DataFrame)  # Results.weights of these runs
    states: pd.DataFrame = field(default_factory=pd.DataFrame)  # Results.states of these runs

    def lacks(self, *cols: str) -> list[str]:
        """The columns among `cols` that have no value in any run."""
        return [c for c in cols if c in self.missing]


def rank(values: pd.Series, order: tuple[str, ...]) -> pd.Series:
    """Position in a fixed order; unknown values after the known ones."""
    pos = {v: i for i, v in enumerate(order)}
    return values.map(lambda v: pos.get(v, len(order))).astype(int)


def init_of(label: str) -> str:
    """The init part of an arm label: 'lstm+chrono' -> 'chrono', 'lstm' -> 'default'."""
    return label.split("+", 1)[1] if "+" in label else "default"


def arm_order(labels: Iterable[str]) -> list[str]:
    """Arm labels in the fixed order: cells as registered, within a cell default first then the
    recommended inits (INIT_ORDER), unknown ones after by name."""
    cells = {c: i for i, c in enumerate(CELL_ORDER)}
    inits = {v: i for i, v in enumerate(INIT_ORDER)}

    def key(a: str) -> tuple:
        cell, init = a.split("+", 1)[0], init_of(a)
        return (cells.get(cell, len(cells)), cell, inits.get(init, len(inits)), init)

    return sorted(set(labels), key=key)


def sort_frame(df: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    """Sort by task (fixed order), length, cell (fixed order), arm (default init first), then `extra`."""
    tmp = df.copy()
    by: list[str] = []
    if "task_label" in tmp.columns:
        tmp["_t"] = rank(tmp[TASK] if TASK in tmp.columns else tmp["task_label"], TASK_ORDER)
        by += ["_t", "task_label"]
    if T in tmp.columns:
        by.append(T)
    if CELL in tmp.columns:
        tmp["_c"] = rank(tmp[CELL], CELL_ORDER)
        by += ["_c", CELL]
    if CELL_INIT in tmp.columns:
        pos = {a: i for i, a in enumerate(arm_order(tmp[CELL_INIT].astype(str)))}
        tmp["_a"] = tmp[CELL_INIT].astype(str).map(pos)
        by.append("_a")
    by += extra or []
    tmp = tmp.sort_values(by, kind="mergesort") if by else tmp
    return tmp.drop(columns=[c for c in ("_t", "_c", "_a") if c in tmp.columns]).reset_index(drop=True)


def cell_name(cell: str) -> str:
    """How a cell is written in the report (RNN, LSTM, GRU)."""
    return cell.upper() if cell in CELL_ORDER else cell


def arm_name(label: str) -> str:
    """How an arm is written: 'LSTM' (PyTorch's default init), 'LSTM (chrono)', 'LSTM (forget bias 1)'."""
    cell = label.split("+", 1)[0]
    init = init_of(label)
    if init == "default":
        return cell_name(cell)
    return f"{cell_name(cell)} ({' + '.join(INIT_NAMES.get(p, p) for p in init.split('+'))})"


def cell_init(runs: pd.DataFrame) -> pd.Series:
    """Each run's arm: its cell, and '+init' unless the init is PyTorch's default. The init is the label
    the preset recorded (`init`), or derived from cell.forget_bias / cell.recurrent_init without one."""
    from bench.tuning import arm_inits

    init = arm_inits(runs)
    label = text(runs[CELL]) + "+" + init
    return label.where(init != "default", text(runs[CELL])).astype(object)


def first_arms(df: pd.DataFrame) -> pd.DataFrame:
    """Per (task, length, cell), the rows of the cell's first arm in arm order: PyTorch's default init when
    it ran (the setup a paper without an init of its own used), else the first recommended one."""
    if df.empty or CELL_INIT not in df.columns:
        return df
    pos = {a: i for i, a in enumerate(arm_order(df[CELL_INIT].astype(str)))}
    first = df[CELL_INIT].map(pos).groupby([df[k] for k in CELL_KEYS]).transform("min")
    return df[df[CELL_INIT].map(pos) == first]


def config_without(runs: pd.DataFrame, fields: Iterable[str]) -> pd.Series:
    """One string per run naming its values of every spec column but the seed and `fields`: equal strings
    are the same configuration apart from `fields`."""
    skip = {"seed", *fields}
    key = pd.Series([""] * len(runs), index=runs.index, dtype=object)
    for c in SPEC_COLUMNS:
        if c not in skip:
            key = key + c + "=" + text(runs[c]) + ";"
    return key


def _normalise(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    for c in NUMERIC:
        runs[c] = pd.to_numeric(runs[c], errors="coerce").astype(float)
    for c in TEXT:
        runs[c] = text(runs[c])
    runs["run_id"] = text(runs["run_id"])
    runs.loc[runs["status"] == NA, "status"] = "ok"  # a schema without status only stored finished runs
    # A schema without `solved` still says when a run solved its task: steps_to_solve is set.
    recorded = runs["solved"].map(lambda v: None if is_missing(v) else bool(v))
    runs["solved"] = recorded.where(recorded.notna(), runs["steps_to_solve"].notna()).astype(bool)
    loss = runs["final_loss"].replace([np.inf, -np.inf], np.nan)
    runs["loss_ratio"] = (loss / runs["chance_loss"]).replace([np.inf, -np.inf], np.nan)
    # Solved, for the report: the solve criterion reached and the final loss below chance (where known).
    below = (runs["loss_ratio"] < 1) | runs["loss_ratio"].isna() & runs["final_loss"].notna()
    runs["solved_ok"] = runs["solved"] & below & (runs["status"] != "failed")
    runs[T] = runs[T].astype(int)
    return runs


def _task_labels(runs: pd.DataFrame) -> pd.Series:
    # A task run in several variants is several tasks (different chance, different published numbers).
    n_variants = runs.groupby(TASK)["task_variant"].transform("nunique")
    return runs[TASK].where(n_variants <= 1, runs[TASK] + " (" + runs["task_variant"] + ")")


def pick_main(runs: pd.DataFrame, ablation_presets: tuple[str, ...]) -> pd.DataFrame:
    """The main comparison: per (task, seq_len, arm) the configuration (config_id) with the standard
    variant and structure (factors.standard_structure: one direction, one layer, full BPTT), with the most
    runs, fused if there is a choice (ties: by id).
    Tuning runs (their own seeds, several rates per arm) are left out; with nothing else, each arm's tuning
    runs at its selected rate (bench.tuning's rule) stand in. Runs of ablation presets stand in only where the
    results hold no other runs: where the main study cut an arm (its ladder), an ablation's runs of that arm
    at a longer length must not fill the gap (they compute something else: another optimiser, init, ...)."""
    tune = runs["sweep"] == TUNE_SWEEP
    runs = runs[~tune] if (~tune).any() else selected_rates(runs)
    ablation = runs["sweep"].isin(ablation_presets)
    runs = runs[~ablation] if (~ablation).any() else runs
    r = runs.assign(
        cfg=runs["config_id"],
        _std=runs[VARIANT].isin((*STANDARD_VARIANTS, NA)) & standard_structure(runs),
        _fused=runs[IMPL] == "fused",
    )
    c = (
        r.groupby([*KEYS, "cfg"], sort=True)
        .agg(
            n=("run_id", "size"),
            std=("_std", "max"),
            fused=("_fused", "max"),
        )
        .reset_index()
    )
    c = c.sort_values(
        [*KEYS, "std", "n", "fused", "cfg"],
        ascending=[True, True, True, False, False, False, True],
        kind="mergesort",
    )
    best = c.drop_duplicates(KEYS)[[*KEYS, "cfg"]]
    main = r.merge(best, on=[*KEYS, "cfg"], how="inner").drop(columns=["_std", "_fused"])
    # The same config and seed can come from two sweeps: count that seed once.
    main = main.sort_values("run_id", kind="mergesort")
    dup = main.duplicated([*KEYS, "cfg", "seed"]) & main["seed"].notna()
    return sort_frame(main[~dup], extra=["seed", "run_id"])


def selected_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """The tuning runs at each arm's selected rate (bench.tuning.scores, rank 1)."""
    from bench.tuning import ARM, scores

    best = scores(runs)
    best = best[best["rank"] == 1][[*ARM, "train.lr"]]
    return runs.merge(best, on=[*ARM, "train.lr"], how="inner") if len(best) else runs


def _usable(runs: pd.DataFrame, missing: set[str], notes: list[str]) -> pd.DataFrame:
    lacking = [c for c in REQUIRED if c in missing]
    if lacking and len(runs):
        notes.append(f"all {len(runs)} runs: the runs table lacks {', '.join(lacking)}; nothing to compare")
        return runs.iloc[0:0]
    if len(runs):
        bad = runs[list(REQUIRED)].isna().any(axis=1) | pd.to_numeric(runs[T], errors="coerce").isna()
        if bad.any():
            notes.append(f"{int(bad.sum())} runs without task, seq_len or cell: left out")
            return runs[~bad]
    return runs


def prepare(res: Results, ablation_presets: tuple[str, ...] = presets(FACTORS)) -> Prepared:
    """Normalise `res` and select the main comparison set."""
    notes: list[str] = []
    runs = res.runs
    missing = {c for c in RUN_COLUMNS if c not in runs.columns}
    present_all_nan = {c for c in RUN_COLUMNS if c in runs.columns and len(runs) and runs[c].isna().all()}
    runs = runs.reindex(columns=[*runs.columns, *sorted(missing)])
    runs = _normalise(_usable(runs, missing, notes))
    runs["task_label"] = _task_labels(runs) if len(runs) else pd.Series(dtype=object)
    runs[CELL_INIT] = cell_init(runs) if len(runs) else pd.Series(dtype=object)
    runs = sort_frame(runs, extra=["seed", "run_id"])
    # Columns that exist but are empty for every run (e.g. no run wrote peak memory) count as missing too;
    # a spec column never does (an unset optional field, e.g. cell.budget, is a value).
    missing |= {c for c in present_all_nan if c not in MAY_BE_EMPTY and c not in SPEC_COLUMNS}
    ids = set(runs["run_id"])
    curves = res.curves[res.curves["run_id"].isin(ids)] if "run_id" in res.curves.columns else res.curves
    profile = res.grad_profile
    profile = profile[profile["run_id"].isin(ids)] if "run_id" in profile.columns else profile
    weights = res.weights
    weights = weights[weights["run_id"].isin(ids)] if "run_id" in weights.columns else weights
    states = res.states
    states = states[states["run_id"].isin(ids)] if "run_id" in states.columns else states
    main = pick_main(runs, ablation_presets) if len(runs) else runs.assign(cfg=pd.Series(dtype=object))
    return Prepared(runs, main, curves, profile, frozenset(missing), tuple(notes), weights, states)
