"""`python -m bench sweep [preset] [overrides]`: a Hydra multirun over a grid of runs.

1. Pre-flight: expand the grid exactly as Hydra's BasicSweeper does (the preset's
   hydra.sweeper.params, then the command line; a later value for a key wins), compose and
   validate every job; if any is invalid, list them all and exit 2 before anything trains.
2. Launch through Hydra with `--multirun`, so any Hydra launcher works (the default in-process
   one, hydra/launcher=joblib, hydra/launcher=submitit_local / submitit_slurm). Each job skips
   itself when its run_id is already complete, so rerunning a sweep resumes it.
3. Summarise from the results directory (ok / diverged / failed / skipped) and rebuild the report.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from bench.config import CONF_DIR, ConfigError, RunSpec, compose, validate
from bench.store import COMPLETE, read_complete, run_dir

DEFAULT_PRESET = "default"
SWEEP_STARTED_ENV = "BENCH_SWEEP_STARTED_NS"  # when the running sweep started (for force=true)
# launcher option -> (python module of its Hydra plugin, pyproject extra that installs it)
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
}

_sweep_bar: tqdm | None = None  # the sweep-level bar, for the in-process launcher


@dataclass
class Plan:
    overrides: list[str]  # what goes to Hydra after --multirun
    jobs: list[list[str]]  # one override list per job
    specs: list[RunSpec]
    problems: list[str]
    bad_jobs: int = 0  # how many jobs the problems belong to (one job can have several)


def presets() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "sweep").glob("*.yaml"))


def _normalise(args: list[str]) -> list[str]:
    """Accept a bare preset name as first argument. Without a preset and without any swept key
    (no `a,b` list), the sweep is the default preset with these overrides applied to every job."""
    args = list(args)
    if args and "=" not in args[0] and not args[0].startswith("-") and args[0] in presets():
        args[0] = f"sweep={args[0]}"
    chose_preset = any(a.partition("=")[0].lstrip("+~") == "sweep" for a in args)
    swept = any("," in a.partition("=")[2] for a in args if not _is_hydra_arg(a))
    if not chose_preset and not swept:
        args = [f"sweep={DEFAULT_PRESET}", *args]
    return args


def _launcher_problem(args: list[str]) -> str | None:
    for a in args:
        key, _, value = a.partition("=")
        if key.lstrip("+~") == "hydra/launcher" and value in LAUNCHER_PLUGINS:
            module, extra = LAUNCHER_PLUGINS[value]
            if (
                importlib.util.find_spec(module.split(".")[0]) is None
                or importlib.util.find_spec(module) is None
            ):
                return (
                    f"hydra/launcher={value} needs the '{extra}' extra: "
                    f"pip install -e '.[{extra}]' (or pip install {extra_package(extra)})"
                )
    return None


def extra_package(extra: str) -> str:
    return {"joblib": "hydra-joblib-launcher==1.2.0", "submitit": "hydra-submitit-launcher==1.2.0"}[extra]


def plan(args: list[str]) -> Plan:
    """Expand and validate the whole grid without running anything."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    args = _normalise(args)
    problem = _launcher_problem(args)
    if problem:
        return Plan(args, [], [], [problem])
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(args)
    except HydraException as e:
        return Plan(args, [], [], [str(e).strip().splitlines()[0]])
    # The preset (and any other group choice that is not swept) decides hydra.sweeper.params.
    fixed = [o.input_line for o in parsed if not o.is_sweep_override() and not o.is_hydra_override()]
    try:
        base = compose(fixed, return_hydra=True)
    except ConfigError as e:
        return Plan(args, [], [], e.problems)
    node = base.hydra.sweeper.get("params")
    params = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else {}
    grid = [f"{k}={v}" for k, v in params.items()] + [a for a in args if not _is_hydra_arg(a)]
    try:
        jobs = BasicSweeper.split_arguments(parser.parse_overrides(grid), None)[0]
    except HydraException as e:
        return Plan(args, [], [], [str(e).strip().splitlines()[0]])
    specs, problems, bad = [], [], 0
    for job in jobs:
        try:
            specs.append(validate(compose(job)))
        except ConfigError as e:
            bad += 1
            problems.extend(f"job [{' '.join(job)}]: {p}" for p in e.problems)
    return Plan(args, jobs, specs, problems, bad)


def _is_hydra_arg(a: str) -> bool:
    key = a.partition("=")[0].lstrip("+~")
    return key.startswith("hydra.") or key.startswith("hydra/")


def _job_threads(cfg: DictConfig) -> int | None:
    """Torch threads for one job so that jobs x threads does not oversubscribe the cores."""
    if cfg.get("threads"):
        return int(cfg.threads)
    try:
        from hydra.core.hydra_config import HydraConfig

        launcher = HydraConfig.get().launcher
    except Exception:  # noqa: BLE001 - not under Hydra: leave torch's default
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    target = str(launcher.get("_target_", ""))
    if "joblib" in target.lower():
        n_jobs = int(launcher.get("n_jobs", -1) or -1)
        n_jobs = cores if n_jobs < 0 else n_jobs
        return max(1, cores // max(1, n_jobs))
    if "submitit" in target.lower():
        return int(launcher.get("cpus_per_task") or 1)
    return None


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_job(cfg: DictConfig) -> str:
    """One job of the multirun (runs in the launcher's process or worker)."""
    from bench.train import RunOutcome, execute

    threads = _job_threads(cfg)
    if threads:
        cfg.threads = threads
    spec = validate(cfg)
    if spec.config["force"] and _completed_in_this_sweep(spec):
        # force=true reruns a run once per sweep, not once per grid point that repeats it.
        out = RunOutcome(spec.run_id, "skipped")
    else:
        out = execute(spec, progress=bool(cfg.progress), position=1 if _sweep_bar is not None else 0)
    if _sweep_bar is not None:
        _sweep_bar.update(1)
        _sweep_bar.set_postfix(last=f"{spec.config['cell']['name']}:{out.status}", refresh=False)
    return out.status


def main(args: list[str]) -> int:
    global _sweep_bar
    p = plan(args)
    if p.problems:
        print(f"error: sweep not started: {p.bad_jobs or len(p.problems)} invalid job(s):", file=sys.stderr)
        for line in p.problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    if not p.specs:
        print("error: sweep not started: the grid has no jobs", file=sys.stderr)
        return 2
    results_dir = Path(p.specs[0].config["results_dir"]).resolve()
    report_dir = p.specs[0].config["report_dir"]
    before = {s.run_id: _done(s) for s in p.specs}
    todo = sum(not d for d in before.values())
    force = any(s.config["force"] for s in p.specs)
    print(
        f"sweep: {len(p.specs)} jobs ({len(set(before))} distinct runs), "
        f"{len(p.specs) - todo if not force else 0} already complete -> {results_dir}",
        flush=True,
    )
    if len(before) < len(p.specs):
        print(
            f"note: {len(p.specs) - len(before)} grid point(s) repeat a run of this sweep (e.g. task.seq_len "
            "given while the preset sweeps `length`: fix that too, e.g. length=long); each run trains once",
            flush=True,
        )
    # Absolute results_dir: launchers such as submitit run jobs from other working directories.
    overrides = ["--multirun", *p.overrides, f"results_dir={results_dir}"]
    in_process = not any(_is_hydra_arg(a) and "launcher" in a for a in p.overrides)
    _sweep_bar = (
        tqdm(total=len(p.specs), desc="sweep", unit="run", disable=None, position=0, dynamic_ncols=True)
        if in_process
        else None
    )
    argv, started = sys.argv, os.environ.get(SWEEP_STARTED_ENV)
    sys.argv = [argv[0] if argv else "bench", *overrides]
    os.environ[SWEEP_STARTED_ENV] = str(time.time_ns())
    t0 = time.perf_counter()
    try:
        _hydra_job()
    finally:
        sys.argv = argv
        if started is None:
            os.environ.pop(SWEEP_STARTED_ENV, None)
        else:
            os.environ[SWEEP_STARTED_ENV] = started
        if _sweep_bar is not None:
            _sweep_bar.close()
        _sweep_bar = None
    launch_s = time.perf_counter() - t0  # launching and running the jobs, without set-up and report
    counts = {"ok": 0, "diverged": 0, "failed": 0, "skipped": 0, "incomplete": 0}
    for spec in {s.run_id: s for s in p.specs}.values():
        rec = read_complete(run_dir(results_dir, spec.run_id))
        if before[spec.run_id] and not force:
            counts["skipped"] += 1
        elif rec is None:
            counts["incomplete"] += 1
        else:
            counts[rec.get("status", "failed")] = counts.get(rec.get("status", "failed"), 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k != "incomplete")
    print(f"sweep done: {summary} (runs: {launch_s:.1f} s)", flush=True)
    _report(p.specs[0].config["results_dir"], report_dir)  # as given: report text names it
    return 1 if counts["failed"] or counts["incomplete"] else 0


def _completed_in_this_sweep(spec: RunSpec) -> bool:
    """Whether the run's completion record was written after this sweep started (set by main() in the
    environment, which launcher workers inherit)."""
    started = os.environ.get(SWEEP_STARTED_ENV)
    path = run_dir(spec.config["results_dir"], spec.run_id) / COMPLETE
    return started is not None and path.exists() and path.stat().st_mtime_ns >= int(started)


def _done(spec: RunSpec) -> bool:
    rec = read_complete(run_dir(spec.config["results_dir"], spec.run_id))
    return bool(rec and rec.get("status") in ("ok", "diverged"))


def _report(results_dir: str, report_dir: str) -> None:
    if importlib.util.find_spec("bench.report") is None:
        print("report: not built (the report generator is not part of this version)")
        return
    from bench.report import main as report_main

    report_main(results_dir, report_dir)
