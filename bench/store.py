"""Where a run's files live and how they are written so that a kill at any instant is harmless.

Layout, one folder per run so parallel runs never touch the same file:

    results_dir/runs/<run_id>/config.json          the resolved config (written first)
    results_dir/runs/<run_id>/runs.parquet         one row: outcome, cost, provenance
    results_dir/runs/<run_id>/curves.parquet       learning curves, long format
    results_dir/runs/<run_id>/grad_profile.parquet per-timestep gradient norms, long format
    results_dir/runs/<run_id>/COMPLETE.json        the completion record, written last

Every file goes to a unique temporary name in the same folder and is then renamed over its final
name (atomic on POSIX). A run without COMPLETE.json is incomplete, whatever else it holds.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

COMPLETE = "COMPLETE.json"
TABLE_FILES = {"runs": "runs.parquet", "curves": "curves.parquet", "grad_profile": "grad_profile.parquet"}


def run_dir(results_dir: str | Path, run_id: str) -> Path:
    return Path(results_dir) / "runs" / run_id


def _atomic(path: Path, write) -> None:
    # Unique temp name per writer: two processes racing on one run never clobber each other's temp.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: Path, obj: Any) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.flush()
            os.fsync(f.fileno())

    _atomic(path, write)


def write_table(path: Path, df: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def read_complete(folder: Path) -> dict[str, Any] | None:
    """The completion record of a run folder, or None if the run is incomplete or the record unreadable."""
    try:
        with open(folder / COMPLETE) as f:
            rec = json.load(f)
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def begin_run(folder: Path, config: dict[str, Any]) -> None:
    """Mark a run as in progress: drop any old completion record first, then write the config."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPLETE).unlink(missing_ok=True)
    write_json(folder / "config.json", config)


def finish_run(folder: Path, tables: dict[str, pd.DataFrame], record: dict[str, Any]) -> None:
    """Write the three tables, then the completion record (last, so its presence means all are there)."""
    for name, df in tables.items():
        write_table(folder / TABLE_FILES[name], df)
    write_json(folder / COMPLETE, {**record, "files": sorted(TABLE_FILES[n] for n in tables)})
