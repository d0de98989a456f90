"""The Hydra application behind `bench sweep hydra/launcher=...` (internal: the sweep starts it).

`python -m bench.hydra_app --multirun [overrides]` is Hydra's own entry point (`@hydra.main`), so any
launcher plugin runs the jobs as it would for any Hydra app. Each job validates its config, picks its
torch threads so that jobs x threads does not oversubscribe the cores, and skips itself when its run
is already complete (force=true reruns it once per sweep).
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

from bench.claims import request_stop, stop_reason, watch_parent
from bench.config import CONF_DIR, Job, validate
from bench.ladder import in_arms
from bench.store import COMPLETE, run_dir


def job_threads(cfg: DictConfig) -> int | None:
    """Torch threads for one job so that jobs x threads does not oversubscribe the cores."""
    if cfg.get("threads"):
        return int(cfg.threads)
    from hydra.core.hydra_config import HydraConfig

    launcher = HydraConfig.get().launcher
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    target = str(launcher.get("_target_", "")).lower()
    if "joblib" in target:
        n_jobs = int(launcher.get("n_jobs", -1) or -1)
        n_jobs = cores if n_jobs < 0 else n_jobs
        return max(1, cores // max(1, n_jobs))
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 1)
    return None


def completed_in_this_sweep(job: Job) -> bool:
    """Whether the run's completion record was written after this sweep started."""
    from bench.launch import SWEEP_STARTED_ENV  # set by bench.launch for this child (force=true)

    started = os.environ.get(SWEEP_STARTED_ENV)
    path = run_dir(job.settings.results_dir, job.run_id) / COMPLETE
    return started is not None and path.exists() and path.stat().st_mtime_ns >= int(started)


def allowed(run_id: str) -> bool:
    """Whether the sweep's current wave may train this run (no allow-list: every run may)."""
    from bench.launch import SWEEP_ALLOWED_ENV

    path = os.environ.get(SWEEP_ALLOWED_ENV)
    return path is None or run_id in set(open(path).read().split())


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def hydra_job(cfg: DictConfig) -> str:
    """One job of the multirun (runs in the launcher's process or worker)."""
    from bench.train import execute

    watch_parent()  # a launcher worker exits when the sweep's main process dies
    threads = job_threads(cfg)
    if threads:
        cfg.threads = threads
    if not in_arms(cfg):  # a cell x init combination the preset does not run (bench/ladder.py)
        return "not an arm"
    job = validate(cfg)
    if not allowed(job.run_id):  # complete, outside preset.arms, or not released by the ladder yet
        return "not in this wave"
    if stop_reason():  # an earlier job could not write its results (disk full, read-only): do not start
        return "stopped"
    if job.settings.force and completed_in_this_sweep(job):
        return "skipped"  # force=true reruns a run once per sweep, not once per grid point that repeats it
    out = execute(job, progress=False)
    if out.status == "write_error":
        request_stop(out.error)
    from bench.sweep import job_line

    print(job_line(job, out), flush=True)  # the launcher runs the wave's jobs in its own order
    return out.status


if __name__ == "__main__":
    watch_parent()  # this launcher process, too, ends when the sweep that started it dies
    hydra_job()
