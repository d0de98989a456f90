"""`python -m bench sweep [preset] [overrides]`: a grid of runs, then the report.

1. Plan: expand the grid exactly as Hydra's basic sweeper does (the preset's hydra.sweeper.params, then
   the command line; a later value for a key wins; the product in that key order), compose and validate
   every job with Hydra's compose API; if any is invalid, list them all and exit 2 before anything runs.
   Jobs whose run is already complete are filtered out here, so a rerun resumes at once.
2. Run: in this process, one job after the other (the default), or through a Hydra launcher plugin
   when `hydra/launcher=...` is given (joblib, submitit_local, submitit_slurm): then a Hydra multirun
   is started with Hydra's public entry point (`python -m bench.hydra_app --multirun ...`) in a child
   process, and each job skips itself when its run is complete.
3. Summarise from the results directory (ok / diverged / failed / skipped) and rebuild the report.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from bench.atomic import check_writable
from bench.claims import claim_holder, mark_sweep_process, request_stop, stop_reason
from bench.config import CONF_DIR, ConfigError, Job, compose, validate
from bench.paths import hydra_quote
from bench.store import complete_status, is_complete, run_dir

DEFAULT_PRESET = "default"
SWEEP_STARTED_ENV = "BENCH_SWEEP_STARTED_NS"  # when the running sweep started (for force=true)
# launcher option -> (python module of its Hydra plugin, pyproject extra that installs it)
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
}


@dataclass
class Plan:
    overrides: list[str]  # the command line after preset normalisation
    jobs: list[list[str]]  # one override list per grid point
    specs: list[Job]  # one validated job per grid point
    problems: list[str]
    bad_jobs: int = 0  # how many jobs the problems belong to (one job can have several)

    @property
    def launcher(self) -> str | None:
        """The Hydra launcher option given on the command line, if any."""
        for a in self.overrides:
            key, _, value = a.partition("=")
            if key.lstrip("+~") == "hydra/launcher":
                return value
        return None


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


def expand(grid: list[str]) -> list[list[str]]:
    """The jobs of a grid of overrides, as Hydra's basic sweeper forms them: one list of values per key
    (a sweep `a,b` gives several, a later override of a key replaces the earlier), then the product."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    per_key: dict[str, list[str]] = {}
    for o in OverridesParser.create().parse_overrides(grid):
        key = o.get_key_element()
        if o.is_sweep_override():
            per_key[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            per_key[key] = [f"{key}={o.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*per_key.values())]


def plan(args: list[str]) -> Plan:
    """Expand and validate the whole grid without running anything."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    args = _normalise(args)
    problem = _launcher_problem(args)
    if problem:
        return Plan(args, [], [], [problem])
    try:
        parsed = OverridesParser.create().parse_overrides(args)
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
        jobs = expand(grid)
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


def done(job: Job) -> bool:
    """Whether the job's run is complete (ok or diverged, its files there with their recorded sizes)."""
    return is_complete(run_dir(job.settings.results_dir, job.run_id))


def main(args: list[str]) -> int:
    p = plan(args)
    if p.problems:
        print(f"error: sweep not started: {p.bad_jobs or len(p.problems)} invalid job(s):", file=sys.stderr)
        for line in p.problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    if not p.specs:
        print("error: sweep not started: the grid has no jobs", file=sys.stderr)
        return 2
    first = p.specs[0].settings
    results_dir = Path(first.results_dir).resolve()
    distinct = {s.run_id: s for s in p.specs}  # a grid point that repeats a run trains it once
    force = any(s.settings.force for s in p.specs)
    before = {rid: done(s) for rid, s in distinct.items()}
    todo = [s for rid, s in distinct.items() if force or not before[rid]]
    # results_dir must be writable only if something trains (a complete archive may be read-only)
    unwritable = [check_writable("results_dir", results_dir)] if todo else []
    unwritable = [u for u in [*unwritable, check_writable("report_dir", first.report_dir)] if u]
    if unwritable:
        for line in unwritable:
            print(f"error: sweep not started: {line}", file=sys.stderr)
        return 2
    print(
        f"sweep: {len(p.specs)} jobs ({len(distinct)} distinct runs), "
        f"{len(distinct) - len(todo)} already complete -> {results_dir}",
        flush=True,
    )
    if len(distinct) < len(p.specs):
        print(
            f"note: {len(p.specs) - len(distinct)} grid point(s) repeat a run of this sweep (e.g. "
            "task.seq_len given while the preset sweeps `length`: fix that too, e.g. length=long); each run "
            "trains once",
            flush=True,
        )
    t0 = time.perf_counter()
    unmark = mark_sweep_process()  # launcher workers watch this process; a job can stop the sweep
    try:
        if todo and p.launcher is None:
            _run_here(todo)
        elif todo:
            rc = _run_with_hydra(p, results_dir)
            if rc:
                print(f"error: the Hydra launcher exited with status {rc}", file=sys.stderr)
    finally:
        stopped = stop_reason()
        unmark()
    launch_s = time.perf_counter() - t0  # launching and running the jobs, without set-up and report
    counts = {"ok": 0, "diverged": 0, "failed": 0, "skipped": 0, "incomplete": 0, "claimed": 0}
    for rid in distinct:
        folder = run_dir(results_dir, rid)
        status = complete_status(folder)
        if before[rid] and not force:
            counts["skipped"] += 1
        elif status is None:  # claimed: another process (a concurrent sweep) holds it and trains it
            counts["claimed" if claim_holder(folder) else "incomplete"] += 1
        else:
            counts[status] += 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k not in ("incomplete", "claimed"))
    print(f"sweep done: {summary} (runs: {launch_s:.1f} s)", flush=True)
    if stopped:
        print(f"error: sweep stopped: {stopped}", file=sys.stderr)
        return 1
    report_rc = _report(first.results_dir, first.report_dir)  # as given: report text names it
    return 1 if counts["failed"] or counts["incomplete"] or report_rc else 0


def _run_here(todo: list[Job]) -> None:
    """Run the jobs in this process, one after the other, under one sweep bar."""
    from bench.train import execute

    bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=None, position=0, dynamic_ncols=True)
    try:
        for job in todo:
            if stop_reason():  # an earlier job could not write its results (disk full, read-only)
                break
            out = execute(job, progress=job.settings.progress, position=1 if not bar.disable else 0)
            if out.status == "write_error":
                request_stop(out.error)
            bar.set_postfix(last=f"{job.spec.cell.name}:{out.status}", refresh=False)
            bar.update(1)
    finally:
        bar.close()


def _run_with_hydra(p: Plan, results_dir: Path) -> int:
    """A Hydra multirun of the whole grid through the chosen launcher, in a child process that starts
    Hydra's own entry point (each job skips itself when its run is complete)."""
    # Absolute results_dir: launchers such as submitit run jobs from other working directories.
    quoted = f"results_dir={hydra_quote(str(results_dir))}"
    cmd = [sys.executable, "-m", "bench.hydra_app", "--multirun", *p.overrides, quoted]
    env = dict(os.environ)
    env.setdefault(SWEEP_STARTED_ENV, str(time.time_ns()))
    return subprocess.call(cmd, env=env)


def _report(results_dir: str, report_dir: str) -> int:
    from bench.report import main as report_main

    return report_main(results_dir, report_dir)
