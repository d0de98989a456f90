"""`python -m bench <command> [hydra overrides]`: the harness's command line.

Exit codes: 0 ok, 1 a run or job failed, 2 bad input (nothing was run or written).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.config import CONF_DIR, ConfigError
from bench.verify import main as cmd_verify

USAGE = """\
usage: python -m bench <command> [overrides ...]

commands:
  run     [overrides]          train one model on one task, e.g.
                               python -m bench run cell=gru task=adding task.seq_len=200 seed=3
  sweep   [preset] [overrides] Hydra multirun over a grid (default preset: the default comparison),
                               then regenerate the report, e.g.
                               python -m bench sweep sweep=smoke
                               python -m bench sweep cell=rnn,lstm,gru task.seq_len=50,100 seed=0,1
  report  [results_dir=DIR] [report_dir=DIR]
                               build reports/report.md + report.html from the results tables
  microbench JSON [results_dir=DIR]
                               turn a pytest-benchmark JSON into results_dir/microbench.parquet
  microbench gates JSON [--allow-missing] | table JSON [RESULTS_DIR] | fastpath [--shapes HxTxB,...]
                               the CI ratio gates, the tidy table with its summary, fused vs C++ timings
  verify  [results_dir=DIR] [--repair]
                               check every run's files against the checksums of its completion record;
                               list damaged runs (exit 1); --repair requeues them for the next sweep

config groups (conf/): task={tasks}  cell={cells}  train={trains}
sweep presets (conf/sweep/, use as sweep=NAME): {presets}
overrides use Hydra's grammar: key=value, group=option, a,b,c lists in sweeps, +key=value to add.
"""


def _options(group: str) -> str:
    return ",".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))) or "-"


def usage() -> str:
    return USAGE.format(
        tasks=_options("task"), cells=_options("cell"), trains=_options("train"), presets=_options("sweep")
    )


def _bad(problems: list[str]) -> int:
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 2


def cmd_run(args: list[str]) -> int:
    from bench.config import compose, validate

    try:
        job = validate(compose(args))
    except ConfigError as e:
        return _bad(e.problems)
    from bench.store import unwritable_for_run
    from bench.train import execute

    if problem := unwritable_for_run(job.settings.results_dir, job.run_id, job.settings.force):
        return _bad([problem])
    out = execute(job, progress=job.settings.progress)
    folder = Path(job.settings.results_dir) / "runs" / out.run_id
    if out.status == "skipped":
        print(f"run {out.run_id}: already complete in {folder} (force=true to rerun)")
        return 0
    if out.status in ("claimed", "write_error"):  # another process is training it / results not written
        why = out.error or f"another process is training {folder}"
        print(f"run {out.run_id}: {out.status}: {why}", file=sys.stderr)
        return 1
    if out.status == "failed":
        print(f"run {out.run_id}: failed: {out.error} (recorded in {folder})", file=sys.stderr)
        return 1
    r = out.row
    solved = f"solved at step {r['steps_to_solve']}" if r["solved"] else f"not solved in {r['steps']} steps"
    print(
        f"run {out.run_id}: {r['status']}, {solved}; eval loss {r['final_loss']:.4g} "
        f"(chance {r['chance_loss']:.4g}), accuracy {r['final_accuracy']:.3f} "
        f"(chance {r['chance_accuracy']:.3f}); {r['ms_per_step']:.2f} ms/step, {r['num_params']} params "
        f"-> {folder}"
    )
    return 0


def _kv(args: list[str], allowed: dict[str, str]) -> dict[str, str] | list[str]:
    """Parse key=value args for the non-Hydra commands; return problems on bad input."""
    out, problems = dict(allowed), []
    for a in args:
        key, eq, value = a.partition("=")
        if not eq or key not in allowed or not value:
            problems.append(f"{a!r}: expected one of {[k + '=...' for k in allowed]}")
        else:
            out[key] = value
    return problems or out


def cmd_report(args: list[str]) -> int:
    parsed = _kv(args, {"results_dir": "results", "report_dir": "reports"})
    if isinstance(parsed, list):
        return _bad(parsed)
    from bench.atomic import check_writable

    if problem := check_writable("report_dir", parsed["report_dir"]):
        return _bad([problem])
    from bench.report import main as report_main

    return report_main(parsed["results_dir"], parsed["report_dir"])


def cmd_microbench(args: list[str]) -> int:
    if args and args[0] in ("gates", "table", "fastpath"):  # the micro-benchmark tools (bench/microbench.py)
        from bench.microbench import cli as mb_cli

        return mb_cli(args)
    files = [a for a in args if "=" not in a]
    parsed = _kv([a for a in args if "=" in a], {"results_dir": "results"})
    if isinstance(parsed, list):
        return _bad(parsed)
    if len(files) != 1 or not Path(files[0]).is_file():
        return _bad([f"microbench needs one existing pytest-benchmark JSON file, got {files}"])
    from bench.microbench import main as mb_main

    return mb_main(files[0], parsed["results_dir"])


def cmd_sweep(args: list[str]) -> int:
    from bench.sweep import main as sweep_main

    return sweep_main(args)


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "microbench": cmd_microbench,
    "verify": cmd_verify,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(
            f"error: unknown command {cmd!r}; expected one of {list(COMMANDS)} (see --help)", file=sys.stderr
        )
        return 2
    if rest and rest[0] in ("-h", "--help"):
        print(usage())
        return 0
    return COMMANDS[cmd](rest)
