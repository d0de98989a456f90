"""Running a sweep's jobs through a Hydra launcher plugin (joblib, submitit_local, submitit_slurm): a Hydra
multirun of the whole grid per wave, started with Hydra's public entry point (`python -m bench.hydra_app
--multirun ...`) in a child process; only the wave's released jobs train, the others skip themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config import Job
from bench.ladder import Ladder, solved_on_disk
from bench.paths import hydra_quote
from bench.runner import _Queue

if TYPE_CHECKING:
    from bench.sweep import Plan

SWEEP_STARTED_ENV = "BENCH_SWEEP_STARTED_NS"  # when the running sweep started (for force=true)
SWEEP_ALLOWED_ENV = "BENCH_SWEEP_ALLOWED"  # a file of the run_ids a launcher wave may train


def run_waves(p: Plan, todo: list[Job], ladder: Ladder | None, results_dir: Path) -> list:
    """Through a Hydra launcher: one multirun of the whole grid per wave, in which only the released jobs
    train (an allow-list file; the others skip themselves). Without a ladder that is one wave of `todo`;
    with one, a wave per rung as the ladder releases them."""
    queue = _Queue(todo, ladder, str(results_dir))
    while wave := queue.take():
        rc = _run_with_hydra(p, results_dir, {j.run_id for j in wave})
        if rc:
            print(f"error: the Hydra launcher exited with status {rc}", file=sys.stderr)
            break
        for job in wave:
            solved = solved_on_disk(results_dir, job.run_id)
            queue.finished(job, _Outcome("ok" if solved is not None else "failed", {"solved": solved}))
    return ladder.cut if ladder else []


@dataclass
class _Outcome:  # what the ladder needs of a run the launcher trained
    status: str
    row: dict


def _run_with_hydra(p: Plan, results_dir: Path, allowed: set[str]) -> int:
    """A Hydra multirun of the whole grid through the chosen launcher, in a child process that starts
    Hydra's own entry point; jobs not in `allowed` (complete, outside preset.arms, or not released by the
    ladder yet) skip themselves. Hydra's own console log is off (hydra/hydra_logging=disabled: its per-job
    lines are in each job's folder under hydra.sweep.dir); each job prints its one line."""
    # Absolute results_dir: launchers such as submitit run jobs from other working directories.
    quoted = f"results_dir={hydra_quote(str(results_dir))}"
    cmd = [
        sys.executable,
        "-m",
        "bench.hydra_app",
        "--multirun",
        *p.overrides,
        quoted,
        "hydra/hydra_logging=disabled",
    ]
    env = dict(os.environ)
    env.setdefault(SWEEP_STARTED_ENV, str(time.time_ns()))
    with tempfile.NamedTemporaryFile("w", suffix=".runs", delete=False) as f:
        f.write("\n".join(sorted(allowed)))
    env[SWEEP_ALLOWED_ENV] = f.name
    child = subprocess.Popen(cmd, env=env)
    try:
        return child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    finally:
        os.unlink(f.name)
