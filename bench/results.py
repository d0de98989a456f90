"""Read a results directory back into the tidy DataFrames (runs, curves, grad_profile, weights, states).

Only finished runs are read (bench.store.completion: a valid completion record whose files are all
there with their recorded sizes; failed runs are read as `failed` rows). A file that cannot be read,
lacks its table's required columns, or names a run_id other than its folder's is skipped with a
warning naming it, and the run it belongs to is left out whole (so the tables never disagree about
which runs exist and no run_id appears twice); everything readable is kept.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.legacy import upgrade_runs
from bench.schema import PROFILE_ADDED, TABLES
from bench.store import TABLE_FILES, completion


@dataclass
class Results:
    runs: pd.DataFrame
    curves: pd.DataFrame
    grad_profile: pd.DataFrame
    weights: pd.DataFrame = field(default_factory=lambda: _empty("weights"))
    states: pd.DataFrame = field(default_factory=lambda: _empty("states"))
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    incomplete: list[str] = field(default_factory=list)  # run folders without a completion record

    def __len__(self) -> int:
        return len(self.runs)


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in TABLES[name]})


# Columns a table must have to be read as that table: all of curves and grad_profile; of runs, what every
# run row (a failed one too) has and the report keys on. Other run columns may be missing (older schemas).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id", "status", "seed"),  # and the task and cell names: see table_problem
    "curves": TABLES["curves"],
    "grad_profile": tuple(c for c in TABLES["grad_profile"] if c not in PROFILE_ADDED),  # filled if absent
    "weights": TABLES["weights"],
    "states": TABLES["states"],
}


def table_problem(name: str, table: pa.Table, run_id: str) -> str | None:
    """Why `table` is not a valid `name` table of run `run_id`, or None."""
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in table.column_names]
    if name == "runs" and not ({"task.name", "cell.name"} <= set(table.column_names)):
        if not {"task", "seq_len", "cell"} <= set(table.column_names):  # schema 1's names (bench/legacy.py)
            missing.append("task.name / cell.name")
    if missing:
        return f"not a {name} table (missing columns {missing})"
    ids = {str(x) for x in pc.unique(table["run_id"]).to_pylist()}
    if ids - {run_id}:
        return f"names run_id {sorted(ids - {run_id})}, not its folder's {run_id}"
    if name == "runs" and table.num_rows != 1:
        return f"{table.num_rows} run rows, expected 1"
    return None


def _read_run(folder: Path) -> tuple[str, dict[str, pa.Table] | list[tuple[str, str]] | None]:
    """One run folder -> ("ok", tables) | ("skipped", [(path, reason)]) | ("incomplete", None)."""
    done = completion(folder)
    if done.status is None:
        if done.problem is None:
            return "incomplete", None
        return "skipped", [(str(folder / done.problem_file), done.problem)]
    tables: dict[str, pa.Table] = {}
    for name in TABLES:
        path = folder / TABLE_FILES[name]
        if TABLE_FILES[name] not in done.files:
            continue  # this run did not write that table (e.g. a failed run has no profile)
        try:
            tables[name] = pq.read_table(path)
        except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, never fatal
            first = str(e).splitlines()[0] if str(e) else ""
            return "skipped", [(str(path), f"{type(e).__name__}: {first}")]
        problem = table_problem(name, tables[name], folder.name)
        if problem:
            return "skipped", [(str(path), problem)]
    return "ok", tables


def _concat(tables: list[pa.Table], name: str) -> pd.DataFrame:
    if not tables:
        return _empty(name)
    if name == "grad_profile":
        tables = [_with_added_columns(t) for t in tables]
    try:  # one conversion to pandas for all runs: far faster than concatenating DataFrames
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # schemas that arrow cannot unify: let pandas do it
        df = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    # Text columns as plain python strings (None when missing), whatever pandas dtype wrote them.
    for c in df.columns:
        if isinstance(df[c].dtype, pd.StringDtype):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _with_added_columns(table: pa.Table) -> pa.Table:
    """A grad_profile table of an older run with the columns added since, at their old meaning (its rows
    are the forward direction: there was no other), in today's column order."""
    for col, value in PROFILE_ADDED.items():
        if col not in table.column_names:
            at = TABLES["grad_profile"].index(col)
            table = table.add_column(min(at, table.num_columns), col, pa.array([value] * table.num_rows))
    return table


def _normalise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Columns that older rows of the current schema wrote differently, in today's form: started_at as a
    UTC timestamp (once an ISO string), the forget bias's number column (added beside its label)."""
    if runs.empty:
        return runs
    if "started_at" in runs.columns:
        runs["started_at"] = pd.to_datetime(runs["started_at"], utc=True, errors="coerce", format="ISO8601")
    if "cell.forget_bias" in runs.columns:
        from bench.spec import forget_bias_value

        value = runs["cell.forget_bias"].map(forget_bias_value).astype("float64")
        if "cell.forget_bias_value" in runs.columns:
            value = pd.to_numeric(runs["cell.forget_bias_value"], errors="coerce").fillna(value)
            runs["cell.forget_bias_value"] = value
        else:
            runs.insert(runs.columns.get_loc("cell.forget_bias") + 1, "cell.forget_bias_value", value)
    return runs


def load_results(results_dir: str | Path, warn: bool = True) -> Results:
    """Load every complete run under `results_dir/runs/`. Missing directory -> empty tables."""
    root = Path(results_dir) / "runs"
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    # Parquet reads release the GIL: a few threads hide the per-file latency of many small files.
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(_read_run, folders))
    parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
    skipped: list[tuple[str, str]] = []
    incomplete: list[str] = []
    for folder, (kind, payload) in zip(folders, outcomes, strict=True):
        if kind == "incomplete":
            incomplete.append(str(folder))
        elif kind == "skipped":
            skipped.extend(payload)
        else:
            for name, table in payload.items():
                if table.num_rows:
                    parts[name].append(table)
    if warn:
        for path, reason in skipped:
            warnings.warn(f"skipped {path}: {reason}", stacklevel=2)
    tables = {name: _concat(parts[name], name) for name in TABLES}
    tables["runs"] = _normalise_runs(upgrade_runs(tables["runs"]))  # older schemas read with today's columns
    return Results(**tables, skipped=skipped, incomplete=incomplete)
