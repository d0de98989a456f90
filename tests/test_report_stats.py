"""The report's statistics: exact numbers for Wilson's interval and the exact paired tests, intervals that
never leave their variable's range, equal-step losses, critical length on a synthetic ladder."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.report.analysis import analyse
from bench.report.build import banner
from bench.report.critical import bracket, cell_text, critical, missing
from bench.report.data import CELL, CELL_INIT, TASK
from bench.report.data import T as LEN
from bench.report.doc import to_markdown
from bench.report.equal import equal_steps
from bench.report.stats import log_ci, min_p, sign_test, wilcoxon, wilson, wilson_mean
from bench.results import load_results
from tests.test_report import write_run


def test_wilson_exact_numbers():
    assert [round(v, 3) for v in wilson(3, 5)] == [0.231, 0.882]
    assert [round(v, 3) for v in wilson(0, 5)] == [0.0, 0.434]
    assert [round(v, 3) for v in wilson(5, 5)] == [0.566, 1.0]
    assert [round(v, 3) for v in wilson(1, 10)] == [0.018, 0.404]
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_sign_test_exact_p_values():
    assert sign_test(5, 0) == sign_test(0, 5) == 2 / 32  # 0.0625: 5 seeds can never reach 5%
    assert sign_test(6, 0) == 2 / 64
    assert math.isclose(sign_test(9, 1), 2 * 11 / 1024)  # 0.0215
    assert sign_test(3, 2) == 1.0 and sign_test(0, 0) == 1.0
    assert min_p(5) == 0.0625 and min_p(6) == 0.03125


def test_wilcoxon_exact_p_values():
    assert wilcoxon([1, 2, 3, 4, 5]) == (15.0, 5, 0.0625)
    w, n, p = wilcoxon([-1, 2, 3, 4, 5, 6, 7, 8])
    assert (w, n) == (35.0, 8) and p == 4 / 256  # W- = 1: P(W- <= 1) = 2/256, two-sided
    assert wilcoxon([1, 1, -1, 2]) == (8.0, 4, 0.5)  # tied |d|: average ranks, exact over the 16 signs
    assert wilcoxon([0, 0, 3, -1, float("nan")])[1] == 2  # zeros and NaN dropped
    assert wilcoxon([])[2] == 1.0
    assert wilcoxon([math.inf, 1, 2, 3, 4, 5])[2] == 2 / 64  # an infinite difference ranks last


positive = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(positive, min_size=2, max_size=8), st.lists(unit, min_size=2, max_size=8))
def test_intervals_never_leave_the_range(losses, accs):
    df = pd.DataFrame({"g": 0, "loss": losses})
    r = log_ci(df, ["g"], "loss").iloc[0]
    assert 0 < r["lo"] <= r["mean"] * (1 + 1e-9) and r["mean"] <= r["hi"] * (1 + 1e-9)
    a = wilson_mean(pd.DataFrame({"g": 0, "acc": accs}), ["g"], "acc").iloc[0]
    assert 0.0 <= a["lo"] <= a["mean"] + 1e-12 and a["mean"] - 1e-12 <= a["hi"] <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.data())
def test_wilson_inside_unit_interval(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_losses_compared_at_the_common_step():
    # two runs of one group: one solved and stopped at step 40, one ran to 100; a diverged third stopped at
    # 20 and does not hold the common step back
    curves = pd.DataFrame(
        [(rid, s, "eval", m, v) for rid, last, base in (("a", 40, 1.0), ("b", 100, 2.0), ("c", 20, 3.0))
         for s in range(20, last + 1, 20) for m, v in (("loss", base / s), ("accuracy", s / 100))],
        columns=["run_id", "step", "split", "metric", "value"],
    )  # fmt: skip
    runs = pd.DataFrame(
        {"run_id": ["a", "b", "c"], "status": ["ok", "ok", "diverged"], "chance_loss": 0.5, "g": 0}
    )
    eq = equal_steps(runs, curves, ["g"]).set_index("run_id")
    assert (eq["eq_step"] == 40).all()
    assert eq.loc["a", "eq_loss"] == 1.0 / 40 and eq.loc["b", "eq_loss"] == 2.0 / 40
    assert eq.loc["b", "eq_ratio"] == 0.1 and eq.loc["b", "eq_acc"] == 0.4
    assert eq.loc["c", "eq_loss"] == math.inf  # stopped before S: infinitely bad


def ladder_runs() -> pd.DataFrame:
    """A synthetic ladder (T = 10, 30, 100, 3 seeds) with a known critical length per arm."""
    solved = {  # arm -> seeds solved per length (None: not run)
        "lstm": (3, 2, 0),  # 30 -> 100
        "lstm+chrono": (3, 3, 3),  # >= 100
        "rnn": (0, None, None),  # < 10; 30, 100 not run: failed at 10
        "rnn+orthogonal": (2, 0, None),  # 10 -> 30; 100 not run: failed at 30
        "gru": (3, 1, None),  # 10 -> 30; 100 not run (one seed solved at 30: the ladder went on)
        "gru+chrono": (3, 1, 2),  # 100 solved, 30 not: '>= 100 (fails at 30)'
    }
    rows = []
    for arm, ks in solved.items():
        for T, k in zip((10, 30, 100), ks, strict=True):
            for seed in range(3 if k is not None else 0):
                rows.append({"run_id": f"{arm}-{T}-{seed}", "task_label": "recall", TASK: "recall",
                             CELL: arm.split("+")[0], CELL_INIT: arm, LEN: T, "seed": seed, "status": "ok",
                             "solved_ok": seed < k, "config_json": "{}"})  # fmt: skip
    return pd.DataFrame(rows)


def test_critical_length_and_not_run_wording():
    c = critical(ladder_runs()).set_index(CELL_INIT)
    text = {a: bracket(r) for a, r in c.iterrows()}
    assert text == {
        "rnn": "< 10",
        "rnn+orthogonal": "10 -> 30",
        "lstm": "30 -> 100",
        "lstm+chrono": ">= 100",
        "gru": "10 -> 30",
        "gru+chrono": ">= 100 (fails at 30)",
    }
    cells = {a: [cell_text(e) for e in r["lengths"]] for a, r in c.iterrows()}
    assert cells["rnn"] == ["0/3", "not run: failed at 10", "not run: failed at 10"]
    assert cells["rnn+orthogonal"] == ["2/3", "0/3", "not run: failed at 30"]
    assert cells["gru"] == ["3/3", "1/3", "not run"]
    assert list(c.index) == ["rnn", "rnn+orthogonal", "lstm", "lstm+chrono", "gru", "gru+chrono"]


def test_critical_length_names_the_presets_ladder():
    # every arm failed the shortest rung, so no run has the longer lengths: the stored preset names them
    r = ladder_runs()
    ladder = {"r1": 10, "r2": 30, "r3": 100, "r4": 300}
    preset = json.dumps({"preset": {"ladder": True, "lengths": {"recall": ladder}}})
    r = r[(r[CELL_INIT] == "rnn")].assign(config_json=preset)
    c = critical(r).iloc[0]
    assert [cell_text(e) for e in c["lengths"]] == ["0/3"] + ["not run: failed at 10"] * 3
    assert np.isnan(c["crit"]) and bracket(c) == "< 10"


def test_unfinished_study_counted():
    # ladder_runs: gru's 100 never ran though no failure cut it (1 rung), every run has 3 seeds
    c = critical(ladder_runs())
    assert missing(c) == (1, 0)
    short = ladder_runs()
    short = short[~((short[CELL_INIT] == "lstm") & (short[LEN] == 10) & (short["seed"] == 2))]
    assert missing(critical(short)) == (1, 1)  # lstm at T=10 has 2 seeds, the others 3
    done = ladder_runs()
    done = done[done[CELL_INIT] != "gru"]
    assert missing(critical(done)) == (0, 0)


def test_unfinished_study_banner(tmp_path):
    root = tmp_path / "results"

    def said() -> str:
        return to_markdown(banner(analyse(load_results(root)), 0, 0))

    for seed in (0, 1, 2):
        write_run(root, task="recall", seq_len=10, cell="gru", seed=seed, solved=True, init="default")
        write_run(root, task="recall", seq_len=10, cell="rnn", seed=seed, solved=True, init="default")
        write_run(root, task="recall", seq_len=30, cell="gru", seed=seed, solved=True, init="default")
    assert "**Study incomplete:** 1 ladder length of an arm not run yet" in said()  # rnn at 30
    write_run(root, task="recall", seq_len=30, cell="rnn", seed=0, solved=True, init="default")
    assert "**Study incomplete:** 1 length run on fewer seeds than the others" in said()
    for seed in (1, 2):
        write_run(root, task="recall", seq_len=30, cell="rnn", seed=seed, solved=False, init="default")
    assert "Study incomplete" not in said()
