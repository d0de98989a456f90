"""Issue 13: defaults that are safe and fast, a readable sweep console, one preset rule, errors that say
what to do, per-command help, and tables other tools read (CSV, TensorBoard)."""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench import cli, load_results
from bench.store import COMPLETE
from bench.sweep import main as sweep_main
from tests.util import TINY, text_only

GRID = ["sweep=none", "cell=rnn,gru", "task=recall", "seed=0,1", *TINY]


def bench(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=tmp_path, timeout=timeout
    )


def in_process(args: list[str]) -> tuple[int, str, str]:
    """`bench` with these arguments in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(args)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    """GRID swept in this process (jobs=1, threads=1): (results dir, stdout). Several tests read it; the
    ones that change a results dir work on a copy."""
    root = tmp_path_factory.mktemp("seq")
    with pytest.MonkeyPatch.context() as mp:
        text_only(mp)
        rc, out, err = in_process(["sweep", *GRID, "jobs=1", "threads=1", f"results_dir={root / 'seq'}"])
    assert rc == 0, err[-2000:]
    return root / "seq", out


def copy_runs(src: Path, dst: Path, keep=lambda run: True) -> None:  # noqa: ANN001
    """Copy the run folders of results dir `src` whose runs row passes `keep` into results dir `dst`."""
    runs = load_results(src).runs
    for _, run in runs[runs.apply(keep, axis=1)].iterrows():
        shutil.copytree(src / "runs" / run.run_id, dst / "runs" / run.run_id)


# ----------------------------------------------------------------------------- speed defaults
@pytest.mark.slow  # a process-level sweep (20-40 s): `pytest -m slow`
def test_parallel_runner_gives_the_sequential_results_and_a_clean_console(tmp_path, seq):
    seq_dir, seq_out = seq
    par = bench(tmp_path, "sweep", *GRID, "jobs=2", f"results_dir={tmp_path / 'par'}")
    assert par.returncode == 0, par.stderr[-2000:]
    a, b = (load_results(d).runs.set_index("run_id").sort_index() for d in (seq_dir, tmp_path / "par"))
    assert list(a.index) == list(b.index) and len(a) == 4
    for col in ("final_loss", "final_accuracy", "steps", "num_params"):
        assert list(a[col]) == list(b[col]), col
    assert set(b.threads) == {max(1, len(os.sched_getaffinity(0)) // 2)}
    assert "runner: 2 processes" in par.stdout and "runner: 1 process " in seq_out
    # one line per finished job, a task x cell table, no bar debris without a terminal
    lines = [x for x in par.stdout.splitlines() if x.startswith("[")]
    assert len(lines) == 4 and all(x.startswith(f"[{i}/4] recall T=4 ") for i, x in enumerate(lines, 1))
    assert all(", acc " in x and x.endswith(" s") for x in lines)
    assert "solved / runs" in par.stdout and "recall" in par.stdout.split("solved / runs")[1]
    assert "\r" not in par.stdout + par.stderr and "sweep:" not in par.stderr
    assert "grid: the base config" in par.stdout
    # no report_dir given: the report goes next to the results, never into the checkout's reports/
    assert (tmp_path / "par" / "report" / "report.md").exists() or "report: not built" in par.stdout


def test_bench_run_uses_one_thread_on_cpu_unless_given(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    # as a fresh process on two or more cores starts (torch's default: one thread per core), so that
    # only the harness can bring it down to one
    torch.set_num_threads(2)
    rc, out, err = in_process(["run", "task=recall", *TINY, f"results_dir={tmp_path / 'r'}"])
    assert rc == 0, err
    first = out.splitlines()[0]
    assert first.startswith("run ") and first.endswith(": recall T=4 lstm seed 0 on cpu, 1 thread")
    assert list(load_results(tmp_path / "r").runs.threads) == [1]
    args = ["run", "task=recall", *TINY, "seed=1", "threads=2", f"results_dir={tmp_path / 'r'}"]
    rc, out, _ = in_process(args)
    assert rc == 0 and "on cpu, 2 threads" in out.splitlines()[0]
    assert sorted(load_results(tmp_path / "r").runs.threads) == [1, 2]


def test_a_sweep_of_complete_runs_launches_nothing(tmp_path, monkeypatch, capsys, seq):
    import bench.sweep as bs

    args = [*GRID, "jobs=1", f"results_dir={tmp_path / 'r'}", f"report_dir={tmp_path / 'rep'}"]
    copy_runs(seq[0], tmp_path / "r")  # the four runs of GRID, swept to completion by the fixture

    def boom(*a, **k):
        raise AssertionError("a job was launched although every run is complete")

    monkeypatch.setattr(bs, "_run_here", boom)
    monkeypatch.setattr(bs, "run_waves", boom)
    monkeypatch.setattr(bs, "_report", lambda *a: 0)
    t0 = time.perf_counter()
    assert sweep_main(args) == 0
    took = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "4 jobs (4 distinct runs), 4 already complete" in out and "4 skipped" in out
    print(f"skip-all sweep of 4 runs (plan + skip + table): {took:.2f} s")
    assert took < 30  # generous: the point is that nothing runs


def test_header_counts_with_repeated_grid_points_and_force(tmp_path, capsys, monkeypatch):
    import bench.sweep as bs

    monkeypatch.setattr(bs, "_report", lambda *a: 0)
    # task.seq_len given while the default preset sweeps `length` (5 rungs): five grid points, one run
    args = [
        "sweep=default",
        "task=recall",
        "cell=rnn",
        "init=default",
        "seed=0",
        *TINY,
        "jobs=1",
        "threads=1",
    ]
    args += [f"results_dir={tmp_path / 'r'}", f"report_dir={tmp_path / 'rep'}"]
    assert sweep_main(args) == 0
    assert "5 jobs (1 distinct runs), 0 already complete" in capsys.readouterr().out
    assert sweep_main([*args, "force=true"]) == 0
    assert "5 jobs (1 distinct runs), 1 already complete (force=true: rerun)" in capsys.readouterr().out


def test_the_bar_shows_the_job_that_just_finished():
    from bench.sweep import advance, sweep_bar

    buf = io.StringIO()
    bar = sweep_bar(2, disable=False, file=buf)
    advance(bar, 1, 2, "first job", "rnn:ok")
    assert buf.getvalue().rsplit("\r", 1)[-1].count("last=rnn:ok") == 1
    advance(bar, 2, 2, "second job", "gru:failed")
    assert "last=gru:failed" in buf.getvalue().rsplit("\r", 1)[-1]
    bar.close()


# ----------------------------------------------------------------------------- sweep semantics
def test_dry_run_lists_jobs_with_an_eta_and_trains_nothing(tmp_path, capsys, seq):
    root = [f"results_dir={tmp_path / 'r'}", f"report_dir={tmp_path / 'rep'}", "jobs=1"]
    # stored: recall rnn and gru, seed 0 (GRID's seed-0 runs, swept to completion by the fixture)
    copy_runs(seq[0], tmp_path / "r", keep=lambda run: run.seed == 0)
    before = sorted((tmp_path / "r" / "runs").iterdir())
    assert len(before) == 2
    # seed 1: same config_id as a stored run (its ms_per_step); lstm: same task and cell stored? no estimate
    assert (
        sweep_main(["sweep=none", "cell=rnn,gru,lstm", "task=recall", "seed=0,1", *TINY, *root, "--dry-run"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count(": complete") == 2 and out.count("to train, at most ~") == 2
    assert out.count("no similar stored run") == 2
    assert "dry run: 4 to train, 2 complete; ETA at most" in out and "nothing trained" in out
    assert sorted((tmp_path / "r" / "runs").iterdir()) == before


@pytest.mark.parametrize("key", ["results_dir", "report_dir"])
def test_a_swept_results_or_report_dir_is_rejected(tmp_path, key, capsys):
    assert sweep_main(["sweep=smoke", f"{key}={tmp_path / 'a'},{tmp_path / 'b'}"]) == 2
    err = capsys.readouterr().err
    assert "cannot be swept" in err and len(err.strip().splitlines()) == 2
    assert not (tmp_path / "a").exists()


def _workers_of(pid: int) -> list[int]:
    """Live processes whose environment names sweep `pid` as theirs (its workers)."""
    mark = f"BENCH_SWEEP_PID={os.uname().nodename}:{pid}:".encode()
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != pid:
            try:
                if mark in (p / "environ").read_bytes():
                    out.append(int(p.name))
            except OSError:
                pass
    return out


@pytest.mark.slow  # process-level / figure-heavy (10-20 s): `pytest -m slow`
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupt_is_one_line_and_leaves_no_workers(tmp_path, sig, code):
    grid = [
        *GRID,
        "train.steps=400",
        "jobs=2",
        f"results_dir={tmp_path / 'r'}",
        f"report_dir={tmp_path / 'x'}",
    ]
    p = subprocess.Popen(
        [sys.executable, "-m", "bench", "sweep", *grid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # SIGINT to the group: what Ctrl-C in a terminal does
    )
    deadline = time.time() + 120
    while not _workers_of(p.pid) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the workers are training
    assert _workers_of(p.pid), "no workers started"
    os.killpg(p.pid, sig) if sig == signal.SIGINT else p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err[-2000:]
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[-1].startswith("interrupted: ") and lines[-1].endswith(
        "runs complete; rerun the same command to resume"
    )
    deadline = time.time() + 1.5  # the workers are gone within 1.5 s of the sweep's exit
    while _workers_of(p.pid) and time.time() < deadline:
        time.sleep(0.1)
    assert _workers_of(p.pid) == []
    done = set((tmp_path / "r" / "runs").glob(f"*/{COMPLETE}"))
    time.sleep(1.0)
    assert set((tmp_path / "r" / "runs").glob(f"*/{COMPLETE}")) == done  # nobody writes after the parent died


# ----------------------------------------------------------------------------- errors and help
@pytest.mark.parametrize(
    "cmd, wanted",
    [
        (["run", "task=cpy"], ["Available options in 'task': adding copy recall", "did you mean 'copy'"]),
        (["run", "cel=lstm"], ["did you mean 'cell'"]),
        (["run", "cell.hiden_size=3"], ["did you mean 'hidden_size'"]),
        (["run", "task.seq_len=50,100"], ["Ambiguous value", "python -m bench sweep"]),
        (["run", "=5"], ["bad override"]),
        (["sweep", "smok"], ["not a sweep preset", "did you mean 'smoke'"]),
        (["sweep", "sweep=smok"], ["did you mean 'smoke'"]),
        (["sweep", "hydra/launcher=jobilb"], ["unknown launcher", "did you mean 'joblib'", "basic"]),
        (["sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"], ["n_jobs must not be 0"]),
        (["sweep", "=5"], []),
    ],
)
def test_bad_input_is_one_line_with_a_suggestion_and_exit_2(cmd, wanted, capsys, tmp_path):
    assert cli.main([*cmd, f"results_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([x for x in err.splitlines() if not x.startswith("  ") or "job [" not in x]) <= 2, err
    for w in wanted:
        assert w in err, err
    assert not (tmp_path / "r").exists()


def test_slurm_launcher_without_slurm_is_rejected_before_any_work(monkeypatch):
    import shutil

    import bench.sweep as bs

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    p = bs.plan(["sweep=smoke", "hydra/launcher=submitit_slurm"])
    assert len(p.problems) == 1 and "no `sbatch` on PATH" in p.problems[0]


def test_per_command_help_lists_groups_options_and_keys(capsys):
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "task=adding | copy | recall" in out and "cell=gru | lstm | rnn" in out
    for key in ("cell.hidden_size=128", "train.steps=2000", "task.n_symbols=8", "threads=null", "jobs=null"):
        assert key in out
    assert cli.main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "sweep=activation | arjovsky | bidirectional | budget |" in out
    assert "none" in out and "--dry-run" in out
    assert cli.main(["run", "cell=gru", "--cfg", "job"]) == 0
    out = capsys.readouterr().out
    assert "name: gru" in out and "hidden_size: 128" in out


def test_report_needs_an_existing_results_dir_and_writes_next_to_it(tmp_path, capsys):
    assert cli.main(["report", f"results_dir={tmp_path / 'nonexistent'}"]) == 2
    (tmp_path / "file").write_text("x")
    assert cli.main(["report", f"results_dir={tmp_path / 'file'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such directory" in err[0] and "not a directory" in err[1]
    from bench.spec import report_dir_for

    assert report_dir_for("results", None) == "reports"
    assert report_dir_for("/x/res", None) == "/x/res/report"
    assert report_dir_for("/x/res", "/y") == "/y"


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two tiny stored runs (forget bias a number and chrono), written by `bench run` (in this process)."""
    root = tmp_path_factory.mktemp("stored")
    for extra in (["cell.forget_bias=1"], ["cell.forget_bias=chrono", "seed=1"]):
        rc, _, err = in_process(["run", "task=recall", *TINY, *extra, f"results_dir={root / 'results'}"])
        assert rc == 0, err
    return root / "results"


def test_runs_table_types(stored):
    import pyarrow as pa

    files = sorted((stored / "runs").glob("*/runs.parquet"))
    schema = pq.read_schema(files[0])
    names = schema.names
    assert names[names.index("cell.forget_bias") + 1] == "cell.forget_bias_value"
    assert schema.field("cell.forget_bias_value").type == pa.float64()
    assert schema.field("error").type in (pa.string(), pa.large_string())
    assert pa.types.is_timestamp(schema.field("started_at").type)
    runs = load_results(stored).runs.set_index("cell.forget_bias")
    assert runs.loc["1.0", "cell.forget_bias_value"] == 1.0
    assert math.isnan(runs.loc["chrono", "cell.forget_bias_value"])
    assert str(runs["started_at"].dtype).startswith("datetime64")
    for c in runs["config_json"]:
        assert str(stored) not in c and '"results_dir"' not in c and '"report_dir"' not in c


def test_export_writes_csv_and_tensorboard_curves(stored, tmp_path):
    assert cli.main(["export", f"results_dir={stored}", f"out={tmp_path / 'x'}"]) == 0
    res = load_results(stored)
    import pandas as pd

    for name in ("runs", "curves", "grad_profile", "weights", "states"):
        assert len(pd.read_csv(tmp_path / "x" / f"{name}.csv")) == len(getattr(res, name)) > 0
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders = sorted((tmp_path / "x" / "tensorboard").iterdir())
    assert len(folders) == 2
    for folder in folders:
        run_id = folder.name.rsplit("_", 1)[1]
        acc = EventAccumulator(str(folder))
        acc.Reload()
        assert {"train/loss", "eval/loss", "eval/accuracy"} <= set(acc.Tags()["scalars"])
        want = res.curves[(res.curves.run_id == run_id) & (res.curves.metric == "loss")]
        want = want[want.split == "eval"]
        events = acc.Scalars("eval/loss")
        assert [e.step for e in events] == list(want.step)
        assert [e.value for e in events] == pytest.approx(list(want.value), rel=1e-6)


def test_fast_grid_composition_equals_hydra_per_job():
    from bench.config import compose, compose_many
    from bench.sweep import expand

    # two group axes, a value axis: every job composed by Hydra itself too (~0.5 s each, so 8 of them)
    jobs = expand(["task=copy,recall", "cell=rnn,gru", "length=r5", "seed=0,1", "sweep=default"])
    jobs += [["sweep=smoke", "+train.stpes=3"], ["sweep=smoke", "cell.hiden_size=3"]]
    fast = compose_many(jobs)
    for job, got in zip(jobs[:-2], fast[:-2], strict=True):
        assert got == compose(job), job
    assert "did you mean 'hidden_size'" in fast[-1].problems[0]
    assert fast[-2] == compose(jobs[-2])  # +key goes through Hydra itself (validate then rejects it)
