"""The main comparison's axis is cell x init (an arm): labels, order, names, colours, selection."""

from __future__ import annotations

import pandas as pd

from bench.report.analysis import analyse
from bench.report.data import CELL_INIT, KEYS, arm_name, arm_order, cell_init
from bench.report.plotting import color, hollow
from bench.results import load_results
from tests.test_report import write_run


def test_arm_labels_from_the_init_column_or_the_fields():
    runs = pd.DataFrame(
        {
            "cell.name": ["lstm", "lstm", "lstm", "rnn", "gru", "lstm"],
            "init": ["default", "chrono", None, None, None, None],
            "cell.forget_bias": ["0.0", "chrono", "1.0", "0.0", "chrono", "2.5"],
            "cell.recurrent_init": ["default", "default", "default", "orthogonal", "default", "identity"],
        }
    )
    assert list(cell_init(runs)) == [
        "lstm",
        "lstm+chrono",
        "lstm+fb1",
        "rnn+orthogonal",
        "gru+chrono",
        "lstm+fb2.5+identity",
    ]
    arms = ["gru+chrono", "lstm+chrono", "rnn", "lstm", "gru", "lstm+fb1", "rnn+orthogonal", "lstm+zzz"]
    assert arm_order(arms) == [
        "rnn",
        "rnn+orthogonal",
        "lstm",
        "lstm+fb1",
        "lstm+chrono",
        "lstm+zzz",
        "gru",
        "gru+chrono",
    ]
    assert [arm_name(a) for a in ("lstm", "lstm+chrono", "lstm+fb1", "rnn+orthogonal")] == [
        "LSTM",
        "LSTM (chrono)",
        "LSTM (forget bias 1)",
        "RNN (orthogonal)",
    ]
    # one hue per cell, a shade per init; default hollow, recommended filled
    assert len({color(a) for a in arms}) == len(arms)
    assert hollow("lstm") and not hollow("lstm+chrono")


def test_one_configuration_per_arm_and_tuning_runs_stay_out(tmp_path):
    root = tmp_path / "results"
    for seed in (0, 1):
        write_run(root, task="recall", seq_len=10, cell="lstm", seed=seed, solved=True, init="default")
        write_run(root, task="recall", seq_len=10, cell="lstm", seed=seed, solved=True, init="chrono",
                  forget_bias="chrono")  # fmt: skip
        write_run(root, task="recall", seq_len=10, cell="gru", seed=seed, solved=False, init="default")
        for lr in (1e-3, 1e-2):  # tuning runs: same arms, other seeds, several rates
            write_run(root, task="recall", seq_len=10, cell="lstm", seed=100 + seed, solved=False,
                      init="chrono", forget_bias="chrono", lr=lr, sweep="tune")  # fmt: skip
    a = analyse(load_results(root))
    assert KEYS[2] == CELL_INIT
    assert list(a.summary[CELL_INIT]) == ["lstm", "lstm+chrono", "gru"]
    assert set(a.main["sweep"]) == {"main"} and len(a.main) == 6
    assert list(a.summary["n"]) == [2, 2, 2]
