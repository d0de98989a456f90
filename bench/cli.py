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
  tune    [overrides]          the main study's learning rates: run the `tune` preset (equal grid per
                               arm, tuning seeds), write the selection to conf/sweep/_tuned_lr.yaml
  report  [results_dir=DIR] [report_dir=DIR]
                               build reports/report.md + report.html from the results tables
                               (report_dir defaults to DIR/report when results_dir=DIR is given)
  export  [results_dir=DIR] [out=DIR]
                               the three tables as CSV and the learning curves as TensorBoard event
                               files (extra `tensorboard`), into out (default DIR/export)
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
per command: python -m bench run --help, python -m bench sweep --help (groups, options, keys, defaults)
"""


def _options(group: str) -> str:
    return ",".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if p.stem[0] != "_")) or "-"


def usage() -> str:
    return USAGE.format(
        tasks=_options("task"), cells=_options("cell"), trains=_options("train"), presets=_options("sweep")
    )


def _bad(problems: list[str]) -> int:
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 2


def _cfg_job(args: list[str]) -> tuple[bool, list[str]]:
    """Strip Hydra's `--cfg job` (print the composed config and exit) from the arguments."""
    for i, a in enumerate(args):
        if a == "--cfg" and i + 1 < len(args) and args[i + 1] == "job":
            return True, args[:i] + args[i + 2 :]
        if a == "--cfg=job":
            return True, args[:i] + args[i + 1 :]
    return False, args


def _print_cfg(args: list[str]) -> int:
    from omegaconf import OmegaConf

    from bench.config import compose

    try:
        cfg = compose(args)
    except ConfigError as e:
        return _bad(e.problems)
    print(OmegaConf.to_yaml(cfg), end="")
    return 0


def cmd_run(args: list[str]) -> int:
    from bench.config import compose, validate

    show, args = _cfg_job(args)
    if show:
        return _print_cfg(args)
    try:
        job = validate(compose(args))
    except ConfigError as e:
        problems = [
            f"{p} (a list of values is a grid: use `python -m bench sweep {' '.join(args)}`)"
            if "Ambiguous value" in p
            else p
            for p in e.problems
        ]
        return _bad(problems)
    from bench.store import unwritable_for_run
    from bench.train import execute, start_line

    if problem := unwritable_for_run(job.settings.results_dir, job.run_id, job.settings.force):
        return _bad([problem])
    print(start_line(job), flush=True)
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


def _results_dir_problem(results_dir: str) -> str | None:
    path = Path(results_dir)
    if not path.exists():
        return f"results_dir={results_dir}: no such directory"
    if not path.is_dir():
        return f"results_dir={results_dir}: not a directory"
    return None


def cmd_report(args: list[str]) -> int:
    from bench.spec import report_dir_for

    parsed = _kv(args, {"results_dir": "results", "report_dir": ""})
    if isinstance(parsed, list):
        return _bad(parsed)
    if problem := _results_dir_problem(parsed["results_dir"]):
        return _bad([problem])
    parsed["report_dir"] = report_dir_for(parsed["results_dir"], parsed["report_dir"] or None)
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
    show, args = _cfg_job(args)
    if show:  # the composed config of the grid's base (preset and fixed overrides)
        from bench.sweep import _normalise

        return _print_cfg([a for a in _normalise(args) if "," not in a.partition("=")[2]])
    from bench.sweep import main as sweep_main

    return sweep_main(args)


def cmd_export(args: list[str]) -> int:
    parsed = _kv(args, {"results_dir": "results", "out": ""})
    if isinstance(parsed, list):
        return _bad(parsed)
    if problem := _results_dir_problem(parsed["results_dir"]):
        return _bad([problem])
    from bench.export import main as export_main

    return export_main(parsed["results_dir"], parsed["out"] or str(Path(parsed["results_dir"]) / "export"))


def command_help(cmd: str) -> str:
    """Per-command help: the config groups and their options, and every key with its default (generated
    from the spec dataclasses and conf/)."""
    from dataclasses import MISSING, fields

    from bench.spec import TASK_SPECS, CellSpec, Settings, TrainSpec, _RunScalars

    def keys(prefix: str, cls: type) -> list[str]:
        out = []
        for f in fields(cls):
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            out.append(f"{prefix}{f.name}={'null' if default is None else default}")
        return out

    def wrap(items: list[str], indent: str = "    ") -> str:
        lines, line = [], indent
        for it in items:
            if len(line) + len(it) + 2 > 100 and line.strip():
                lines.append(line.rstrip())
                line = indent
            line += it + "  "
        return "\n".join([*lines, line.rstrip()])

    head = {
        "run": "usage: python -m bench run [overrides] [--cfg job]\n  train one model on one task; "
        "--cfg job prints the composed config and exits",
        "sweep": "usage: python -m bench sweep [preset] [overrides] [--dry-run] [--cfg job]\n"
        "  a grid of runs (the default preset unless sweep=NAME or sweep=none), then the report;\n"
        "  --dry-run lists the jobs with an ETA and trains nothing; --cfg job prints the grid's base config",
    }[cmd]
    parts = [head, "", "config groups (conf/):"]
    for group in ("task", "cell", "train") + (("sweep",) if cmd == "sweep" else ()):
        parts.append(f"  {group}={_options(group).replace(',', ' | ')}")
    parts += ["", "keys (defaults; a group's file may set others, e.g. cell=rnn sets cell.name=rnn):"]
    for name, cls in TASK_SPECS.items():
        parts.append(f"  task={name}:\n" + wrap(keys("task.", cls)))
    parts.append("  cell:\n" + wrap(keys("cell.", CellSpec)))
    parts.append("  train:\n" + wrap(keys("train.", TrainSpec)))
    parts.append("  run and settings:\n" + wrap(keys("", _RunScalars) + keys("", Settings)))
    return "\n".join(parts)


def cmd_tune(args: list[str]) -> int:
    from bench.tuning import main as tune_main

    return tune_main(args)


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "tune": cmd_tune,
    "report": cmd_report,
    "microbench": cmd_microbench,
    "verify": cmd_verify,
    "export": cmd_export,
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
    if any(a in ("-h", "--help") for a in rest):
        print(command_help(cmd) if cmd in ("run", "sweep") else usage())
        return 0
    return COMMANDS[cmd](rest)
