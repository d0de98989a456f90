"""Where a run's files live and how they are written so that a kill at any instant is harmless.

Layout, one folder per run so parallel runs never touch the same file:

    results_dir/runs/<run_id>/config.json          the resolved config (written first)
    results_dir/runs/<run_id>/runs.parquet         one row: outcome, cost, provenance
    results_dir/runs/<run_id>/curves.parquet       learning curves, long format
    results_dir/runs/<run_id>/grad_profile.parquet per-timestep gradient norms, long format
    results_dir/runs/<run_id>/weights.parquet      sigma_max(W_hh) per layer at the probe steps
    results_dir/runs/<run_id>/states.parquet       hidden-state statistics at the probe steps
    results_dir/runs/<run_id>/COMPLETE.json        the completion record, written last

Every file goes to a unique temporary name in the same folder, is fsynced, and is then renamed over
its final name (atomic on POSIX; bench/atomic.py); the folder is fsynced after the renames.

The completion record names every table file with its size and sha256. A run is *finished* when its
record is readable, has a known status (ok / diverged / failed) and every file it names is present
with its recorded size (`completion`; cheap: stat only); it is *complete* (skipped by a sweep) when it
is finished with status ok or diverged (`is_complete`). A failed run is finished but not complete: the
loader reads it as a `failed` row, a sweep reruns it. `bench verify` checks the checksums.
Old records that list the files without sizes are accepted when the files exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.atomic import atomic_write_bytes, check_writable, fsync_dir, storage_error, tmp_owner
from bench.schema import STATUSES

COMPLETE = "COMPLETE.json"
TABLE_FILES = {
    "runs": "runs.parquet",
    "curves": "curves.parquet",
    "grad_profile": "grad_profile.parquet",
    "weights": "weights.parquet",
    "states": "states.parquet",
}


def run_dir(results_dir: str | Path, run_id: str) -> Path:
    return Path(results_dir) / "runs" / run_id


def write_json(path: Path, obj: Any, sync_dir: bool = True) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    atomic_write_bytes(path, text.encode(), sync_dir=sync_dir)


def table_bytes(df: pd.DataFrame) -> bytes:
    """The Parquet file of `df` (as df.to_parquet(index=False) writes it), in memory: its size is known
    before anything touches the disk, and its checksum needs no read-back."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    return sink.getvalue()


def write_table(path: Path, df: pd.DataFrame, sync_dir: bool = True) -> dict[str, Any]:
    """Write one table atomically (fsynced); return its entry for the completion record."""
    data = table_bytes(df)
    atomic_write_bytes(path, data, sync_dir=sync_dir)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_complete(folder: Path) -> dict[str, Any] | None:
    """The completion record of a run folder, or None if the run is incomplete or the record unreadable."""
    try:
        with open(folder / COMPLETE) as f:
            rec = json.load(f)
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


@dataclass(frozen=True)
class Completion:
    """What a run folder's completion record says, checked against the files (existence and size)."""

    status: str | None  # ok | diverged | failed when the record is valid and its files are there; else None
    record: dict[str, Any] | None  # the parsed record (None: absent or unreadable)
    files: dict[str, dict[str, Any]]  # file name -> {"size": int, "sha256": str} ({} for old records)
    problem: str | None = None  # why a record that exists is not valid (None: valid, or no record at all)
    problem_file: str = COMPLETE  # the file the problem is about

    @property
    def exists(self) -> bool:
        return self.status is not None or self.problem is not None


def recorded_files(record: dict[str, Any]) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """(name -> {size, sha256} or {} for an old list-of-names record, problem). Only table file names."""
    files = record.get("files")
    if isinstance(files, list):  # old format: names only
        files = {n: {} for n in files}
    if not isinstance(files, dict) or not files:
        return None, "completion record names no files"
    bad = [n for n in files if n not in TABLE_FILES.values()]
    if bad:
        return None, f"completion record names unknown file(s) {bad}"
    if TABLE_FILES["runs"] not in files:
        return None, f"completion record does not name {TABLE_FILES['runs']}"
    for n, meta in files.items():
        if not isinstance(meta, dict) or ("size" in meta and not isinstance(meta["size"], int)):
            return None, f"completion record entry for {n} is malformed"
    return files, None


def completion(folder: str | Path) -> Completion:
    """The one definition of a finished run (see the module docstring); stat calls only, no checksums."""
    folder = Path(folder)
    path = folder / COMPLETE
    if not path.exists():
        return Completion(None, None, {})
    record = read_complete(folder)
    if record is None:
        return Completion(None, None, {}, "unreadable completion record")
    status = record.get("status")
    if status not in STATUSES:
        return Completion(None, record, {}, f"completion record has no known status ({status!r})")
    files, problem = recorded_files(record)
    if files is None:
        return Completion(None, record, {}, problem)
    for name, meta in sorted(files.items()):
        try:
            size = (folder / name).stat().st_size
        except OSError:
            return Completion(None, record, files, "missing", name)
        if "size" in meta and size != meta["size"]:
            return Completion(None, record, files, f"{size} bytes, recorded {meta['size']}", name)
    return Completion(status, record, files)


def complete_status(folder: str | Path) -> str | None:
    """ok | diverged | failed for a finished run, None for one that is not (absent, damaged or partial)."""
    return completion(folder).status


def is_complete(folder: str | Path) -> bool:
    """A finished ok or diverged run: what a sweep (and `bench run`) skips. A failed run is rerun."""
    return complete_status(folder) in ("ok", "diverged")


def unwritable_for_run(results_dir: str | Path, run_id: str, force: bool = False) -> str | None:
    """Pre-flight of one run: the `results_dir: ...` problem line if the run would train and results_dir
    is not writable; None if it is writable or the run is complete (reading a read-only archive works)."""
    if is_complete(run_dir(results_dir, run_id)) and not force:
        return None
    return check_writable("results_dir", results_dir)


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Remove temporary files other writers left behind (killed mid-write). Called by the run's next
    writer, which holds the run's claim, so no live writer of this run can own them."""
    removed = []
    for p in folder.iterdir() if folder.is_dir() else ():
        owner = tmp_owner(p.name)
        if owner is not None and owner != os.getpid():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def begin_run(folder: Path, config: dict[str, Any]) -> None:
    """Mark a run as in progress: drop any old completion record and stale temp files, write the config."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / COMPLETE).unlink(missing_ok=True)
        remove_stale_tmp(folder)
    except OSError as e:
        raise storage_error(folder / COMPLETE, e) from e
    write_json(folder / "config.json", config)


def finish_run(folder: Path, tables: dict[str, pd.DataFrame], record: dict[str, Any]) -> None:
    """Write the tables (each fsynced), fsync the folder, then the completion record naming each file with
    its size and sha256 (last, so its presence means all are there), then fsync the folder again.

    Raises StorageError (one line) if a file cannot be written; `abandoned()` of bench.claims is asked
    right before the record is written, so a worker whose sweep died or whose claim was taken over never
    marks the run complete (ClaimLost)."""
    from bench.claims import ClaimLost, abandoned

    data = {TABLE_FILES[name]: table_bytes(df) for name, df in tables.items()}
    files = {}
    for i, (name, blob) in enumerate(data.items()):
        try:
            atomic_write_bytes(folder / name, blob, sync_dir=False)
        except OSError as e:
            raise storage_error(folder / name, e, sum(len(b) for b in list(data.values())[i:])) from e
        files[name] = {"size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    fsync_dir(folder)
    why = abandoned(folder)
    if why:
        raise ClaimLost(f"not marking {folder} complete: {why}")
    write_json(folder / COMPLETE, {**record, "files": files})
