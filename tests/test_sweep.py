"""`python -m bench sweep`: presets end to end, resume after a kill, pre-flight rejection, failing jobs,
and the joblib / submitit_local launchers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import load_results
from bench.cli import main as cli_main
from bench.config import compose
from bench.store import COMPLETE
from bench.sweep import main as sweep_main
from bench.sweep import plan
from tests.util import TINY


def dirs(tmp_path: Path) -> list[str]:
    return [
        f"results_dir={tmp_path / 'results'}",
        f"report_dir={tmp_path / 'reports'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]


def completed(tmp_path: Path) -> dict[str, int]:
    root = tmp_path / "results" / "runs"
    return {p.parent.name: p.stat().st_mtime_ns for p in root.glob(f"*/{COMPLETE}")} if root.exists() else {}


def test_plan_expands_the_grid_like_hydra():
    p = plan(["sweep=none", "cell=rnn,lstm,gru", "task.seq_len=5,10", "seed=0,1", *TINY[1:]])
    assert not p.problems and len(p.jobs) == 12 == len({s.run_id for s in p.specs})
    # a later value on the command line wins over the preset's grid for the same key
    q = plan(["sweep=smoke", "cell=gru"])
    assert {s.config["cell"]["name"] for s in q.specs} == {"gru"} and len(q.specs) == 3


def test_default_preset_is_the_main_study_grid():
    # 7 arms (cell x init: preset.arms) x 3 tasks x 5 rungs x 6 seeds; each arm at its tuned rate
    # (one seed planned here: composing all 630 jobs takes ~20 s; the seed list is the preset's own)
    assert compose(["sweep=default"], return_hydra=True).hydra.sweeper.params.seed == "0,1,2,3,4,5"
    p = plan(["seed=0"])
    assert not p.problems and len(p.specs) == 7 * 3 * 5 == len({s.run_id for s in p.specs})
    pre = p.specs[0].config["preset"]
    arms = {(s.spec.cell.name, s.settings.init) for s in p.specs}
    assert arms == {(c, i) for c, inits in pre["arms"].items() for i in inits}
    for s in p.specs:
        c, task = s.config, s.spec.task.name
        assert c["train"]["lr"] == pre["lr"][task][s.spec.cell.name][s.settings.init]
        assert c["task"]["seq_len"] == pre["lengths"][task][s.settings.length]
        assert c["cell"]["forget_bias"] == pre["inits"][s.settings.init]["forget_bias"]
        assert s.spec.cell.budget == 15000 and s.spec.train.steps == pre["steps"][task]
    # narrowing to one rung is one override
    q = plan(["length=r5", "seed=0"])
    assert len(q.specs) == 7 * 3
    assert {s.spec.task.seq_len for s in q.specs} == {v["r5"] for v in pre["lengths"].values()}
    # an unknown length is rejected before anything runs, naming the key
    bad = plan(["length=huge"])
    assert bad.problems and "task.seq_len" in bad.problems[0] and "huge" in bad.problems[0]


@pytest.mark.slow  # a sweep and its report (20-40 s): `pytest -m slow`
def test_smoke_preset_end_to_end(tmp_path, monkeypatch, capsys):
    # `bench sweep sweep=smoke` in this process; its runner's workers are real processes (a sweep as a
    # process of its own: test_killed_sweep_resumes_... here, test_parallel_runner_... in test_usability)
    monkeypatch.chdir(tmp_path)
    rc = cli_main(["sweep", "sweep=smoke", *dirs(tmp_path)])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    res = load_results(tmp_path / "results")
    assert len(res.runs) == 9 and set(res.runs.status) == {"ok"}
    assert set(zip(res.runs["task.name"], res.runs["cell.name"], strict=True)) == {
        (t, c) for t in ("copy", "adding", "recall") for c in ("rnn", "lstm", "gru")
    }
    assert set(res.runs.sweep) == {"smoke"}
    assert "sweep done: 9 ok, 0 diverged, 0 failed, 0 skipped" in out.out
    assert (tmp_path / "reports" / "report.md").exists() or "report: not built" in out.out


@pytest.mark.slow  # a process-level sweep (20-40 s): `pytest -m slow`
def test_killed_sweep_resumes_without_duplicates_or_retraining(tmp_path, monkeypatch, capsys):
    grid = [
        "sweep=none",
        "cell=rnn,gru",
        "task=recall",
        "seed=0,1",
        *TINY,
        "train.steps=200",
        "jobs=1",
        "threads=1",  # one run at a time, one thread: no OpenMP spin-waiting on a shared machine
    ]  # long enough to kill
    p = subprocess.Popen(
        [sys.executable, "-m", "bench", "sweep", *grid, *dirs(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    deadline = time.time() + 120
    while len(completed(tmp_path)) < 1 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    before = completed(tmp_path)
    assert 1 <= len(before) < 4, "kill came too late to test resume"
    # the resume is the same command, run in this process (the kill above is the real process's part)
    monkeypatch.chdir(tmp_path)
    rc = cli_main(["sweep", *grid, *dirs(tmp_path)])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    after = completed(tmp_path)
    assert len(after) == 4
    assert all(after[k] == v for k, v in before.items()), "a completed run was retrained"
    assert f"{len(before)} skipped" in out.out
    res = load_results(tmp_path / "results")
    assert len(res.runs) == 4 and res.runs.run_id.is_unique and not res.incomplete


def test_preflight_rejects_the_whole_sweep_before_training(tmp_path, monkeypatch, capsys):
    tiny = [a for a in TINY if not a.startswith("cell.hidden_size")]
    monkeypatch.chdir(tmp_path)
    args = ["sweep=none", "cell=gru,lstm", "train.lr=0.01,0", "cell.hidden_size=8,-1", *tiny, *dirs(tmp_path)]
    assert cli_main(["sweep", *args]) == 2
    err = capsys.readouterr().err
    assert "sweep not started: 6 invalid job(s)" in err  # 2 cells x (lr=0 or hidden=-1) combos
    assert err.count("train.lr must be a number > 0") == 4
    assert err.count("cell.hidden_size must be an integer >= 1") == 4
    assert "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_missing_launcher_plugin_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("hydra_plugins") else real(name, *a),
    )
    p = plan(["hydra/launcher=joblib", *TINY])
    assert p.problems and "pip install -e '.[joblib]'" in p.problems[0]


def test_a_failing_job_does_not_stop_the_others(tmp_path, monkeypatch, capsys, text_report):
    import bench.train as bt

    real = bt.train

    def flaky(spec, **kw):
        if spec.config["cell"]["name"] == "lstm":
            raise RuntimeError("simulated crash")
        return real(spec, **kw)

    monkeypatch.setattr(bt, "train", flaky)
    grid = ["sweep=none", "cell=rnn,lstm,gru", "task=recall", *TINY, "jobs=1", "threads=1"]
    rc = sweep_main([*grid, *dirs(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "2 ok, 0 diverged, 1 failed, 0 skipped" in out
    runs = load_results(tmp_path / "results").runs.set_index("cell.name")
    assert runs.loc["lstm", "status"] == "failed" and "simulated crash" in runs.loc["lstm", "error"]
    assert (runs.loc[["rnn", "gru"], "status"] == "ok").all()


def test_force_retrains_a_repeated_grid_point_once(tmp_path, monkeypatch, capsys, text_report):
    # task.seq_len given while the default preset sweeps `length`: five grid points, one run.
    import bench.train as bt

    calls = []
    real = bt.train

    def counting(spec, **kw):
        calls.append(spec.run_id)
        return real(spec, **kw)

    monkeypatch.setattr(bt, "train", counting)
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
    args += dirs(tmp_path)
    assert sweep_main(args) == 0
    out = capsys.readouterr().out
    assert "5 jobs (1 distinct runs)" in out and "4 grid point(s) repeat a run" in out
    assert len(calls) == 1
    assert sweep_main([*args, "force=true"]) == 0
    assert len(calls) == 2 and len(set(calls)) == 1
    assert "1 ok, 0 diverged, 0 failed, 0 skipped" in capsys.readouterr().out


@pytest.mark.slow  # a process-level sweep (20-40 s): `pytest -m slow`
@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"],
    ],
)
def test_parallel_and_cluster_launchers_write_the_same_layout(tmp_path, launcher, monkeypatch, capsys):
    # the sweep in this process; the launcher (a Hydra multirun child and its workers) runs as it would
    monkeypatch.chdir(tmp_path)
    rc = cli_main(["sweep", "sweep=none", "cell=rnn,gru", "task=recall", *TINY, *launcher, *dirs(tmp_path)])
    assert rc == 0, capsys.readouterr().err[-3000:]
    res = load_results(tmp_path / "results")
    assert len(res.runs) == 2 and set(res.runs.status) == {"ok"}
    if "joblib" in launcher[0]:
        assert set(res.runs.threads) == {max(1, len(os.sched_getaffinity(0)) // 2)}
    # same run ids as the in-process launcher would produce
    assert set(res.runs.run_id) == {
        s.run_id for s in plan(["sweep=none", "cell=rnn,gru", "task=recall", *TINY, *dirs(tmp_path)]).specs
    }


def test_overrides_apply_on_top_of_the_default_preset_unless_sweep_none():
    from bench.sweep import PresetError, _normalise

    assert _normalise([]) == ["sweep=default"]
    assert _normalise(["force=true"]) == ["sweep=default", "force=true"]
    assert _normalise(["smoke", "seed=1"]) == ["sweep=smoke", "seed=1"]
    assert _normalise(["cell=rnn,gru"]) == ["sweep=default", "cell=rnn,gru"]  # was: the base config
    assert _normalise(["sweep=lr", "cell=gru"]) == ["sweep=lr", "cell=gru"]
    assert _normalise(["sweep=none", "cell=rnn,gru"]) == ["sweep=none", "cell=rnn,gru"]
    assert _normalise(["hydra/launcher=joblib"]) == ["sweep=default", "hydra/launcher=joblib"]
    # a swept key on the default preset keeps the preset's grid and setup
    # (one seed: the preset's seed list is checked in test_default_preset_is_the_main_study_grid)
    p = plan(["cell=gru,lstm", "seed=0"])
    assert not p.problems and len(p.specs) == 5 * 3 * 5 and p.preset == "default"  # 5 gated arms
    assert {s.settings.sweep_name for s in p.specs} == {"default"}
    assert {s.spec.cell.impl for s in p.specs} == {"explicit"}
    q = plan(["sweep=none", "cell=gru,lstm"])
    assert not q.problems and len(q.specs) == 2 and q.preset == "none"
    assert plan(["sweep=none", "seed=1"]).problems[0].startswith("sweep=none: no swept key")
    with pytest.raises(PresetError, match="did you mean 'smoke'"):
        _normalise(["smok"])
