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
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import plancache
from bench.atomic import check_writable
from bench.claims import claim_holder, mark_sweep_process, stop_reason
from bench.config import CONF_DIR, ConfigError, Job, compose, compose_many, validate
from bench.ladder import Ladder, in_arms, is_ladder, ladder_note
from bench.launch import SWEEP_STARTED_ENV, run_waves  # noqa: F401 - SWEEP_STARTED_ENV: tests
from bench.runner import (  # noqa: F401 - advance, sweep_bar, job_line: the console's API, used by tests
    _dry_run,
    _run_here,
    advance,
    cores,
    job_line,
    outcome_table,
    parallelism,
    sweep_bar,
)
from bench.spec import DEFAULT_RESULTS_DIR, Settings, suggest
from bench.store import complete_status, is_complete, run_dir

DEFAULT_PRESET = "default"
NO_PRESET = "none"  # `sweep=none`: the base config (conf/config.yaml), swept over the keys given
# launcher option -> (python module of its Hydra plugin, pyproject extra that installs it)
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "submitit"),
}
LAUNCHERS = ("basic", *LAUNCHER_PLUGINS)
PATH_KEYS = ("results_dir", "report_dir")  # one per sweep: never swept


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) while the sweep runs; `code` is the exit status (128 + signal)."""

    def __init__(self, code: int = 130):
        super().__init__(code)
        self.code = code


@dataclass
class Plan:
    overrides: list[str]  # the command line after preset normalisation
    jobs: list[list[str]]  # one override list per grid point
    specs: list[Job]  # one validated job per grid point
    problems: list[str]
    bad_jobs: int = 0  # how many jobs the problems belong to (one job can have several)
    dropped: int = 0  # grid points outside the preset's `preset.arms` (cell x init combinations)

    @property
    def launcher(self) -> str | None:
        """The Hydra launcher option given on the command line, if any."""
        for a in self.overrides:
            key, _, value = a.partition("=")
            if key.lstrip("+~") == "hydra/launcher":
                return value
        return None

    @property
    def preset(self) -> str:
        """The preset the grid comes from (`none` for the base config)."""
        for a in self.overrides:
            key, _, value = a.partition("=")
            if key.lstrip("+~") == "sweep":
                return value or NO_PRESET
        return DEFAULT_PRESET


def presets() -> list[str]:
    # files starting with "_" are parts that presets include (e.g. _study.yaml), not presets
    return sorted(p.stem for p in (CONF_DIR / "sweep").glob("*.yaml") if not p.stem.startswith("_"))


class PresetError(ValueError):
    pass


def _normalise(args: list[str]) -> list[str]:
    """Accept a bare preset name as first argument; the grid always comes from a preset: the one chosen
    (`sweep=NAME`), or the default preset, with the overrides on top (`sweep=none`: the base config)."""
    args = list(args)
    if args and "=" not in args[0] and not args[0].startswith("-"):
        if args[0] not in presets():
            raise PresetError(
                f"{args[0]!r} is not a sweep preset{suggest(args[0], presets())}; presets: "
                + ", ".join(presets())
            )
        args[0] = f"sweep={args[0]}"
    if not any(a.partition("=")[0].lstrip("+~") == "sweep" for a in args):
        args = [f"sweep={DEFAULT_PRESET}", *args]
    return args


def _launcher_problem(args: list[str]) -> str | None:
    """One line for a launcher that cannot run here (unknown, plugin missing, no Slurm, bad n_jobs)."""
    for a in args:
        key, _, value = a.partition("=")
        key = key.lstrip("+~")
        if key == "hydra/launcher" and value not in LAUNCHERS:
            return (
                f"hydra/launcher={value}: unknown launcher{suggest(value, LAUNCHERS)}; options: "
                + ", ".join(LAUNCHERS)
            )
        if key == "hydra/launcher" and value in LAUNCHER_PLUGINS:
            module, extra = LAUNCHER_PLUGINS[value]
            if (
                importlib.util.find_spec(module.split(".")[0]) is None
                or importlib.util.find_spec(module) is None
            ):
                return (
                    f"hydra/launcher={value} needs the '{extra}' extra: "
                    f"pip install -e '.[{extra}]' (or pip install {extra_package(extra)})"
                )
            if value == "submitit_slurm" and shutil.which("sbatch") is None:
                return (
                    "hydra/launcher=submitit_slurm needs Slurm, but there is no `sbatch` on PATH "
                    "(use hydra/launcher=submitit_local or joblib on this machine)"
                )
        if key == "hydra.launcher.n_jobs":
            try:
                n = int(value)
            except ValueError:
                return f"hydra.launcher.n_jobs must be an integer, got {value!r}"
            if n == 0:
                return "hydra.launcher.n_jobs must not be 0 (N > 0 workers, or -1 for all cores)"
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

    try:
        args = _normalise(args)
    except PresetError as e:
        return Plan(list(args), [], [], [str(e)])
    problem = _launcher_problem(args)
    if problem:
        return Plan(args, [], [], [problem])
    key, where = plancache.plan_key(args), _results_dir_arg(args)
    if cached := plancache.load(where, key):
        return Plan(args, cached["jobs"], plancache.jobs_of(cached["configs"]), [], 0, cached["dropped"])
    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except HydraException as e:
        return Plan(args, [], [], [str(e).strip().splitlines()[0]])
    swept_paths = [o.input_line for o in parsed if o.is_sweep_override() and o.key_or_group in PATH_KEYS]
    if swept_paths:
        return Plan(args, [], [], [f"{swept_paths[0]}: {PATH_KEYS} cannot be swept (one per sweep)"])
    # The preset (and any other group choice that is not swept) decides hydra.sweeper.params.
    fixed = [o.input_line for o in parsed if not o.is_sweep_override() and not o.is_hydra_override()]
    try:
        base = compose(fixed, return_hydra=True)
    except ConfigError as e:
        return Plan(args, [], [], e.problems)
    node = base.hydra.sweeper.get("params")
    params = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else {}
    grid = [f"{k}={v}" for k, v in params.items()] + [a for a in args if not _is_hydra_arg(a)]
    if not any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(grid)):
        what = "sweep=none: no swept key" if not params else "the grid has no swept key"
        return Plan(args, [], [], [f"{what} (give a list, e.g. seed=0,1,2; one run is `bench run`)"])
    try:
        jobs = expand(grid)
    except HydraException as e:
        return Plan(args, [], [], [str(e).strip().splitlines()[0]])
    specs, problems, bad, dropped = [], [], 0, 0
    for job, cfg in zip(jobs, compose_many(jobs), strict=True):
        try:
            if isinstance(cfg, ConfigError):
                raise cfg
            if not in_arms(cfg):  # a cell x init combination the preset's `preset.arms` does not list
                dropped += 1
                continue
            specs.append(validate(cfg))
        except ConfigError as e:
            bad += 1
            problems.extend(f"job [{' '.join(job)}]: {p}" for p in e.problems)
    if not problems and specs:
        plancache.store(where, key, jobs, specs, dropped)
    return Plan(args, jobs, specs, problems, bad, dropped)


def _results_dir_arg(args: list[str]) -> str:
    """results_dir as given on the command line (the plan cache's folder), else the default."""
    for a in args:
        key, _, value = a.partition("=")
        if key.lstrip("+") == "results_dir" and value:
            return value
    return DEFAULT_RESULTS_DIR


def _is_hydra_arg(a: str) -> bool:
    key = a.partition("=")[0].lstrip("+~")
    return key.startswith("hydra.") or key.startswith("hydra/")


def done(job: Job) -> bool:
    """Whether the job's run is complete (ok or diverged, its files there with their recorded sizes)."""
    return is_complete(run_dir(job.settings.results_dir, job.run_id))


def main(args: list[str]) -> int:
    dry_run, t_plan = "--dry-run" in args, time.perf_counter()
    p = plan([a for a in args if a != "--dry-run"])
    if p.problems or not p.specs:
        return _refuse(p)
    first = p.specs[0].settings
    results_dir = Path(first.results_dir).resolve()
    distinct = {s.run_id: s for s in p.specs}  # a grid point that repeats a run trains it once
    force = any(s.settings.force for s in p.specs)
    before = {rid: done(s) for rid, s in distinct.items()}
    todo = [s for rid, s in distinct.items() if force or not before[rid]]
    _header(p, distinct, before, force, results_dir)
    if dry_run:
        return _dry_run(p, distinct, before, todo, results_dir)
    # results_dir must be writable only if something trains (a complete archive may be read-only)
    unwritable = [check_writable("results_dir", results_dir)] if todo else []
    unwritable = [u for u in [*unwritable, check_writable("report_dir", first.report_path)] if u]
    for line in unwritable:
        print(f"error: sweep not started: {line}", file=sys.stderr)
    if unwritable:
        return 2
    ladder = Ladder.of(list(distinct.values())) if is_ladder(p.specs) else None
    t0 = time.perf_counter()
    plan_s = t0 - t_plan  # planning (cached: bench/plancache.py) and finding the complete runs
    try:
        cut, stopped = _run(p, todo, first, ladder, results_dir)
    except Interrupted as e:
        n = sum(done(s) for s in distinct.values())
        print(
            f"interrupted: {n}/{len(distinct)} runs complete; rerun the same command to resume",
            file=sys.stderr,
            flush=True,
        )
        return e.code
    launch_s = time.perf_counter() - t0  # launching and running the jobs, without set-up and report
    counts = _counts(distinct, before, force, results_dir, {j.run_id for j, _ in cut})
    summary = ", ".join(
        f"{v} {k}" for k, v in counts.items() if v or k in ("ok", "diverged", "failed", "skipped")
    )
    print(f"sweep done: {summary} (plan: {plan_s:.1f} s, runs: {launch_s:.1f} s)", flush=True)
    if note := ladder_note(cut):
        print(f"ladder: {note}", flush=True)
    print(outcome_table(results_dir, list(distinct)), flush=True)
    if stopped:
        print(f"error: sweep stopped: {stopped}", file=sys.stderr)
        return 1
    report_rc = _report(first.results_dir, first.report_path)  # as given: report text names it
    return 1 if counts["failed"] or counts["incomplete"] or report_rc else 0


def _refuse(p: Plan) -> int:
    """Exit 2 with every problem of the plan (nothing has run)."""
    if not p.problems:
        print("error: sweep not started: the grid has no jobs", file=sys.stderr)
        return 2
    print(f"error: sweep not started: {p.bad_jobs or len(p.problems)} invalid job(s):", file=sys.stderr)
    for line in p.problems:
        print(f"  {line}", file=sys.stderr)
    return 2


def _run(
    p: Plan, todo: list[Job], first: Settings, ladder: Ladder | None, results_dir: Path
) -> tuple[list, str | None]:
    """Train `todo` (built-in runner, or the Hydra launcher given); (jobs the ladder cut, stop reason).
    Ctrl-C / SIGTERM become Interrupted (exit 130 / 143)."""
    unmark = mark_sweep_process()  # launcher workers watch this process; a job can stop the sweep
    old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    cut: list = []
    try:
        if todo and p.launcher is None:
            cut = _run_here(todo, first, ladder)
        elif todo:
            cut = run_waves(p, todo, ladder, results_dir)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(130) from None
    finally:
        signal.signal(signal.SIGTERM, old_term)
        stopped = stop_reason()
        unmark()
    return cut, stopped


def _header(p: Plan, distinct: dict, before: dict, force: bool, results_dir: Path) -> None:
    """The sweep's first lines: jobs, distinct runs, complete ones, and where the grid comes from."""
    where = "the base config (conf/config.yaml)" if p.preset == NO_PRESET else f"preset {p.preset!r}"
    print(
        f"sweep: {len(p.specs)} jobs ({len(distinct)} distinct runs), "
        f"{sum(before.values())} already complete{' (force=true: rerun)' if force else ''} -> {results_dir}",
        flush=True,
    )
    print(f"grid: {where} (conf/sweep/{p.preset}.yaml) with the overrides given", flush=True)
    if p.dropped:
        print(f"note: {p.dropped} grid point(s) outside the preset's cell x init arms (preset.arms) left out")
    if is_ladder(p.specs):
        print("ladder: each arm's lengths run shortest first; an arm that fails a length on every seed stops")
    if len(distinct) < len(p.specs):
        print(
            f"note: {len(p.specs) - len(distinct)} grid point(s) repeat a run of this sweep (e.g. "
            "task.seq_len given while the preset sweeps `length`: fix that too, e.g. length=long); each run "
            "trains once",
            flush=True,
        )


def _counts(
    distinct: dict, before: dict, force: bool, results_dir: Path, cut: set[str] = frozenset()
) -> dict[str, int]:
    """ok / diverged / failed / skipped / not run (cut by the ladder) / incomplete / claimed over the
    sweep's distinct runs."""
    counts = {"ok": 0, "diverged": 0, "failed": 0, "skipped": 0, "not run": 0, "incomplete": 0, "claimed": 0}
    for rid in distinct:
        folder = run_dir(results_dir, rid)
        status = complete_status(folder)
        if before[rid] and not force:
            counts["skipped"] += 1
        elif rid in cut:
            counts["not run"] += 1
        elif status is None:  # claimed: another process (a concurrent sweep) holds it and trains it
            counts["claimed" if claim_holder(folder) else "incomplete"] += 1
        else:
            counts[status] += 1
    return counts


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001
    raise Interrupted(128 + signum)


def _report(results_dir: str, report_dir: str) -> int:
    from bench.report import main as report_main

    return report_main(results_dir, report_dir)
