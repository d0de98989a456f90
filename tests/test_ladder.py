"""Adaptive length ladders and the cell x init arms filter (bench/ladder.py), and the tuning selection."""

from __future__ import annotations

import math

import pandas as pd

from bench.config import compose, validate
from bench.ladder import Ladder, arm_key, in_arms
from bench.results import load_results
from bench.sweep import main as sweep_main
from bench.sweep import plan
from bench.train import execute
from bench.tuning import arm_inits, init_label, select, tuned_yaml
from tests.util import TINY


def jobs(lengths=(3, 4, 5), seeds=(0, 1), cells=("rnn",)):
    return [
        validate(compose(["task=recall", f"cell={c}", *TINY, f"task.seq_len={t}", f"seed={s}"]))
        for c in cells
        for t in lengths
        for s in seeds
    ]


def ids(js):
    return sorted(j.run_id for j in js)


def test_arm_key_ignores_length_and_seed_only():
    js = jobs(cells=("rnn", "gru"))
    assert len({arm_key(j) for j in js}) == 2
    other = validate(compose(["task=recall", "cell=rnn", *TINY, "train.lr=0.01"]))
    assert arm_key(other) not in {arm_key(j) for j in js}


def test_ladder_releases_rung_by_rung_and_cuts_an_arm_that_fails_every_seed():
    js = jobs()
    by_len = {t: [j for j in js if j.spec.task.seq_len == t] for t in (3, 4, 5)}
    lad = Ladder.of(js)
    assert ids(lad.start({})) == ids(by_len[3])  # only the shortest rung
    assert lad.finish(by_len[3][0].run_id, True) == []  # rung not finished yet
    assert ids(lad.finish(by_len[3][1].run_id, False)) == ids(by_len[4])  # one seed solved: go on
    lad.finish(by_len[4][0].run_id, False)
    assert lad.finish(by_len[4][1].run_id, False) == []  # failed on every seed: T=5 never runs
    assert sorted((j.run_id, t) for j, t in lad.cut) == sorted((j.run_id, 4) for j in by_len[5])


def test_a_crashed_run_does_not_cut_its_arm_and_complete_runs_count_on_resume():
    js = jobs(lengths=(3, 4))
    by_len = {t: [j for j in js if j.spec.task.seq_len == t] for t in (3, 4)}
    lad = Ladder.of(js)
    # resume: both T=3 seeds are complete on disk, one failed (None = crashed), one unsolved
    ready = lad.start({by_len[3][0].run_id: None, by_len[3][1].run_id: False})
    assert ids(ready) == ids(by_len[4]) and lad.cut == []


def test_arms_filter_drops_combinations_the_preset_does_not_list():
    base = compose(["task=recall", "cell=rnn", "+preset.arms={rnn: [default], gru: [default, chrono]}"])
    base.init = "default"
    assert in_arms(base)
    base.init = "chrono"
    assert not in_arms(base)  # no forget gate for the vanilla RNN: never composed into a job


def test_a_ladder_sweep_stops_an_arm_after_a_length_failed_on_every_seed(tmp_path, capsys, text_report):
    # 20 steps solve nothing (recall needs 99% accuracy): T=3 fails on both seeds, so T=6 is not run
    args = ["sweep=none", "task=recall", "cell=rnn", *TINY, "task.seq_len=3,6", "seed=0,1", "jobs=1"]
    args += ["+preset.ladder=true", f"results_dir={tmp_path / 'r'}", f"report_dir={tmp_path / 'rep'}"]
    assert sweep_main(args) == 0
    out = capsys.readouterr().out
    assert "2 ok" in out and "2 not run" in out and "ladder: 2 run(s) of 1 arm(s) not run" in out
    trained = {p.name for p in (tmp_path / "r" / "runs").iterdir()}
    t3 = {j.run_id for j in plan(args).specs if j.spec.task.seq_len == 3}
    assert trained == t3


def test_tuning_selects_most_solved_then_fewest_steps_then_lowest_loss():
    rows = []

    def add(lr, seed, solved, steps_to_solve, loss, status="ok"):
        rows.append(
            {
                "sweep": "tune", "status": status, "task.name": "adding", "cell.name": "gru",
                "init": "default", "train.lr": lr, "seed": seed, "solved": solved,
                "steps_to_solve": steps_to_solve, "final_loss": loss, "train.steps": 100,
            }
        )  # fmt: skip

    add(0.01, 0, True, 50, 0.01)
    add(0.01, 1, False, None, 0.2)  # one of two solved
    add(0.003, 0, True, 90, 0.01)
    add(0.003, 1, True, 90, 0.01)  # both solved, slowly: wins on solve count
    add(0.001, 0, True, 10, 0.01)
    add(0.001, 1, False, None, math.nan, status="diverged")
    assert select(pd.DataFrame(rows)) == {"adding": {"gru": {"default": 0.003}}}
    text = tuned_yaml({"adding": {"gru": {"default": 0.003}}}, "results")
    assert "      gru: {default: 0.003}" in text and text.startswith("# @package _global_")


def test_a_run_records_its_init_label_and_rows_without_one_get_it_from_their_cell(tmp_path):
    # the label `init` names the arm in tuning (bench.tuning.select) and in the report; a version of the
    # row builder dropped it, and the tuning runs it wrote were pooled as an arm of their own ('nan')
    args = ["sweep=tune", "task=recall", "cell=gru", "init=chrono", "train.lr=0.1", "seed=100", *TINY]
    execute(validate(compose([*args, f"results_dir={tmp_path}"])), progress=False)
    runs = load_results(tmp_path).runs
    assert list(runs["init"]) == ["chrono"]
    unlabelled = runs.assign(init=None)
    assert list(arm_inits(unlabelled)) == ["chrono"]
    assert select(pd.concat([runs, unlabelled])) == {"recall": {"gru": {"chrono": 0.1}}}
    cells = [(0.0, "default"), (1, "default"), ("1.0", "orthogonal"), ("chrono", "default"), (2, "identity")]
    labels = ["default", "fb1", "fb1+orthogonal", "chrono", "fb2+identity"]
    assert [init_label(fb, rec) for fb, rec in cells] == labels
