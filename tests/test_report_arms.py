"""The main comparison's axis is cell x init (an arm): labels, order, names, colours, selection."""

from __future__ import annotations

import pandas as pd

from bench.report import build_report
from bench.report.analysis import analyse
from bench.report.critical_text import gates_sentence
from bench.report.data import CELL_INIT, KEYS, arm_name, arm_order, cell_init
from bench.report.doc import to_markdown
from bench.report.plotting import color, hollow
from bench.report.sections import render
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


def test_headline_opens_with_the_critical_length_figure_and_paragraph(tmp_path):
    root = tmp_path / "results"
    for seed in (0, 1, 2):
        for T in (10, 20):
            write_run(root, task="recall", seq_len=T, cell="lstm", seed=seed, solved=T == 10, init="default")
            write_run(root, task="recall", seq_len=T, cell="lstm", seed=seed, solved=True, init="chrono",
                      forget_bias="chrono")  # fmt: skip
            write_run(root, task="recall", seq_len=T, cell="gru", seed=seed, solved=True, init="default")
    res = build_report(root, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    head = md[md.index("## Headline") : md.index("## 1.")]
    assert (
        "](figures/critical_length.png)" in head
        and (tmp_path / "report" / "figures" / "critical_length.png").exists()
    )
    para = [p for p in head.split("\n\n") if p.startswith("Critical length:")]
    assert len(para) == 1
    lstm = "at PyTorch's default init the LSTM holds to T=10 and fails at T=20 on recall, with chrono it"
    assert lstm + " holds to T=20, the longest length it ran" in para[0]
    assert "Chrono is a prior that knows the lag" in para[0]
    assert "the longest critical length, >= 20, needs no recommended init: LSTM (chrono) and GRU." in para[0]
    table = md[md.index("## 1. Critical length") : md.index("## 2.")]
    assert "| LSTM | 10 -> 20 | 3/3 | 0/3 |" in table and "| LSTM (chrono) | >= 20 | 3/3 | 3/3 |" in table
    assert not [n for n in res.notes if "could not be" in n], res.notes


def paired_results(root, seeds):
    for seed in seeds:
        write_run(root, task="recall", seq_len=10, cell="rnn", seed=seed, solved=False, init="default")
        write_run(root, task="recall", seq_len=10, cell="gru", seed=seed, solved=True, init="default")


def test_paired_comparison_is_clear_only_when_significant(tmp_path):
    paired_results(tmp_path / "six", range(6))
    paired_results(tmp_path / "five", range(5))
    six, five = analyse(load_results(tmp_path / "six")), analyse(load_results(tmp_path / "five"))
    p6, p5 = six.pairs.iloc[0], five.pairs.iloc[0]
    assert (p6["a"], p6["b"], p6["only_a"], p6["only_b"]) == ("rnn", "gru", 0, 6)
    assert p6["p_sign"] == 2 / 64 and p6["p_loss"] == 2 / 64 and p6["verdict"] == "b"
    assert p5["p_sign"] == 2 / 32 and p5["verdict"] == ""  # 5 seeds: p >= 0.0625 whatever happens
    md = to_markdown(render(five, tmp_path, draw=False)[0])
    assert "| recall | 10 | RNN | GRU | 5 | 0 / 5 | 0 / 5 (0.0625) | 200 |" in md
    assert "no clear difference" in md and "smallest p either test can give is 0.0625, so no difference" in md
    assert "GRU clearly better" in to_markdown(render(six, tmp_path, draw=False)[0])
    assert set(five.seeds["seed"]) == set(range(5)) and len(five.seeds) == 10


def test_tuning_grid_marks_the_selected_rate_and_lists_mismatches(tmp_path):
    root = tmp_path / "results"
    chrono = {"init": "chrono", "forget_bias": "chrono"}
    for seed in (100, 101):  # tuning: 1e-3 solves, 1e-2 does not
        for lr in (1e-3, 1e-2):
            write_run(root, task="recall", seq_len=10, cell="lstm", seed=seed, solved=lr == 1e-3, lr=lr,
                      sweep="tune", **chrono)  # fmt: skip
    only = analyse(load_results(root))  # tuning runs only: each arm's runs at its selected rate stand in
    assert list(only.main["train.lr"]) == [1e-3, 1e-3] and set(only.main["sweep"]) == {"tune"}
    for seed in (0, 1):  # the main runs used 1e-2 (not the selected rate); the GRU has no tuning runs
        write_run(root, task="recall", seq_len=10, cell="lstm", seed=seed, solved=True, lr=1e-2, **chrono)
        write_run(root, task="recall", seq_len=10, cell="gru", seed=seed, solved=True, init="default")
    # a main run without the init label (the shipped main study's rows) is matched by its cell fields
    write_run(root, task="recall", seq_len=10, cell="lstm", seed=2, solved=True, lr=1e-2,
              forget_bias="chrono")  # fmt: skip
    a = analyse(load_results(root))
    g = a.tuning.set_index("train.lr")
    assert bool(g.loc[1e-3, "selected"]) and not bool(g.loc[1e-2, "selected"]) and g.loc[1e-3, "solved"] == 2
    md = to_markdown(render(a, tmp_path, draw=False)[0])
    section = md[md.index("Learning-rate tuning") :]
    assert "3 of 5 main-study runs did not use their arm's selected rate: recall LSTM (chrono): 3 runs at " \
           "0.01, selected 0.001." in section  # fmt: skip
    assert "without an init label" not in section
    assert "No tuning runs for 1 task / arm pair: recall GRU." in section
    assert "| LSTM (chrono) | 0.001 | 2 | 2 |" in section and "| selected |" in section
    # the selected 1e-3 is the grid's smallest rate: flagged as not settled
    assert "*Tuning not settled for 1 arm:* the selected rate is the grid's own edge (at the bottom edge " \
           "(0.001): recall LSTM (chrono))" in section  # fmt: skip
    write_run(root, task="recall", seq_len=10, cell="lstm", seed=100, solved=False, lr=1e-4, sweep="tune",
              **chrono)  # fmt: skip
    assert "Tuning not settled" not in to_markdown(render(analyse(load_results(root)), tmp_path, False)[0])


def crit_rows(reach: dict[str, dict[str, float]]) -> pd.DataFrame:
    """A critical-length table with only what gates_sentence reads: per arm and task its ladder reach."""
    rows = [{"task_label": t, "cell.name": arm.split("+")[0], CELL_INIT: arm, "reach": r}
            for arm, by_task in reach.items() for t, r in by_task.items()]  # fmt: skip
    return pd.DataFrame(rows)


def test_gates_sentence_compares_default_gated_arms_with_the_rnn():
    crit = crit_rows({
        "rnn": {"copy": 0, "adding": 0, "recall": 2},
        "lstm": {"copy": 0, "adding": 0, "recall": 1},
        "lstm+chrono": {"copy": 2, "adding": 5.5, "recall": 5.5},
        "gru": {"copy": 3, "adding": 5.5, "recall": 4},
    })  # fmt: skip
    said = gates_sentence(crit)
    assert "the LSTM breaks sooner than the RNN on recall; fails its shortest length on copy and adding, " \
           "as the RNN does" in said  # fmt: skip
    assert "the GRU holds longer than the RNN on every task (copy, adding and recall): its gates help " \
           "without a recommended init" in said  # fmt: skip
    crit.loc[(crit[CELL_INIT] == "gru") & (crit["task_label"] == "recall"), "reach"] = 2
    assert "the GRU holds longer than the RNN on copy and adding; holds as long as the RNN on recall" \
           in gates_sentence(crit)  # fmt: skip
    assert gates_sentence(crit[crit[CELL_INIT] != "rnn"]) is None


def test_ablation_runs_never_fill_a_main_study_gap(tmp_path):
    root = tmp_path / "results"
    for seed in (0, 1, 2):  # the main study's RNN failed T=10 (its ladder cut T=30); an ablation ran T=30
        write_run(root, task="recall", seq_len=10, cell="rnn", seed=seed, solved=False, init="default",
                  sweep="default")  # fmt: skip
        write_run(root, task="recall", seq_len=30, cell="rnn", seed=seed, solved=True, sweep="activation",
                  recurrent_init="identity")  # fmt: skip
    a = analyse(load_results(root))
    assert set(a.main["sweep"]) == {"default"} and set(a.main["task.seq_len"]) == {10}
    only = tmp_path / "only"
    for seed in (0, 1):
        write_run(only, task="recall", seq_len=30, cell="rnn", seed=seed, solved=True, sweep="activation")
    assert set(analyse(load_results(only)).main["sweep"]) == {"activation"}  # nothing else: they stand in


def test_an_edge_pick_names_the_rates_it_ties_with():
    from bench.report import tuned

    row = {"task.name": "recall", "arm": "gru"}
    g = pd.DataFrame([
        {**row, "train.lr": 0.01, "seeds": 2, "solved": 1, "steps": 500.0, "loss": 0.1, "selected": False},
        {**row, "train.lr": 0.1, "seeds": 2, "solved": 2, "steps": 100.0, "loss": 0.01, "selected": False},
        {**row, "train.lr": 1.0, "seeds": 2, "solved": 2, "steps": 100.0, "loss": 0.001, "selected": True},
    ])  # fmt: skip
    assert tuned.edges(g) == [("recall", "gru", 1.0, "top", (0.1, 1.0))]
    assert tuned.edges(g.assign(steps=[500.0, 200.0, 100.0])) == [("recall", "gru", 1.0, "top", (1.0,))]


def test_a_failure_by_the_majority_rule_says_how_many_seeds_solved():
    from bench.report.critical import holds

    lengths = ((10, 6, 6), (30, 2, 6), (100, 0, 6))
    assert holds(pd.Series({"kind": "bracket", "crit": 10, "fail": 30, "lengths": lengths})) == (
        "holds to T=10 and fails at T=30 (2 of 6 seeds solved)"
    )
    below = ((10, 0, 6), (30, None, 10))  # solved no seed: a plain failure
    assert holds(pd.Series({"kind": "below", "crit": float("nan"), "fail": 10, "lengths": below})) == (
        "fails already at T=10"
    )
