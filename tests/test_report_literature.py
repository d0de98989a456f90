"""The literature rows: which runs stand beside each paper's setup or claim (synthetic runs tables)."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from bench.report.data import prepare
from bench.report.doc import num, to_markdown
from bench.report.literature import section
from bench.report.matching import literature
from bench.report.papers import ARJOVSKY, CLAIMS
from bench.results import Results
from bench.schema import RUN_COLUMNS, SCHEMA_VERSION, TABLES
from bench.spec import TASK_SPECS, CellSpec, RunSpec, TrainSpec

CHANCE = {"copy": lambda T: 10 * math.log(8) / (T + 20), "adding": lambda T: 1 / 6}
INITS = {"default": (0.0, "default"), "fb1": (1.0, "default"), "chrono": ("chrono", "default")}


def run_row(
    task: str,
    T: int,
    cell: str,
    seed: int,
    ratio: float,
    *,
    variant: str | None = None,
    init: str = "default",
    hidden: int = 64,
    budget: int | None = None,
    params: int = 10_000,
    optimizer: str = "adam",
    lr: float = 1e-3,
    steps: int = 1000,
    sweep: str = "main",
    solved_at: float | None = None,
) -> dict:
    """One runs-table row (spec columns from a RunSpec, so run_id and config_id are real) whose final loss
    is `ratio` x chance; `solved_at` steps to solve, or unsolved."""
    opts = {"variant": variant} if variant else {}
    fb, rec = INITS[init]
    spec = RunSpec(
        TASK_SPECS[task](seq_len=T, **opts),
        CellSpec(cell, "explicit", "tanh" if cell == "rnn" else "vanilla", hidden, budget, 1, fb, rec),
        replace(TrainSpec(), optimizer=optimizer, lr=lr, steps=steps, batch_size=32),
        seed=seed,
    )
    chance = CHANCE[task](T)
    row = {"run_id": spec.run_id, "config_id": spec.config_id, "schema_version": SCHEMA_VERSION}
    row |= {"status": "ok", "sweep": sweep, "init": init, **spec.columns()}
    row |= {"task_variant": spec.task.variant_label(), "hidden_size": hidden, "num_params": params}
    row |= {"solved": solved_at is not None, "steps_to_solve": solved_at}
    row |= {"final_loss": ratio * chance * (1 + 0.01 * seed), "chance_loss": chance, "final_accuracy": 0.5}
    return row | {"chance_accuracy": 1 / 8 if task == "copy" else float("nan")}


def lit_of(rows: list[dict]) -> pd.DataFrame:
    runs = pd.DataFrame([{c: r.get(c) for c in RUN_COLUMNS} for r in rows])
    empty = {t: pd.DataFrame(columns=list(TABLES[t])) for t in ("curves", "grad_profile")}
    p = prepare(Results(runs, empty["curves"], empty["grad_profile"]))
    return literature(p.runs, p.main, {})


def matched(lit: pd.DataFrame, kind: str) -> pd.DataFrame:
    return lit[(lit["kind"] == kind) & lit["matched"]]


def seeds(*args, **kw) -> list[dict]:
    return [run_row(*args[:3], s, *args[3:], **kw) for s in (0, 1, 2)]


def test_tallec_compares_chrono_with_forget_bias_1_not_with_itself():
    # per-seed ratios are x (1, 1.01, 1.02): their geometric mean (the summary's) is x * 1.0099
    study = {"budget": 15_000, "params": 15_000}
    rows = seeds("copy", 100, "lstm", 0.2, init="chrono", lr=3e-3, solved_at=400.0, **study)
    rows += seeds("copy", 100, "lstm", 0.8, init="fb1", lr=1e-2, solved_at=1200.0, **study)
    rows += seeds("copy", 100, "lstm", 0.95, init="default", **study)
    # a chrono arm in another setting (the init preset: hidden 64, 1500 steps) with no forget bias 1 there
    rows += seeds("copy", 100, "lstm", 0.1, init="chrono", steps=1500, sweep="init")
    t = matched(lit_of(rows), "tallec2018")
    assert len(t) == 1
    o = t.iloc[0]
    assert o["ratio_mean"] == pytest.approx(0.2 * 1.01, rel=1e-3) and o["ref_ratio"] == pytest.approx(
        0.8 * 1.01, rel=1e-3
    )
    assert (o["steps"], o["ref_steps"], o["lr"], o["ref_lr"]) == (400.0, 1200.0, 3e-3, 1e-2)
    assert o["clear"] == -1  # chrono clearly lower
    md = to_markdown(section(lit_of(rows), "section 6"))
    assert (
        "| copy | 100 | budget 15,000 parameters (hidden 64), 1,000 steps, batch 32, adam; each arm at" in md
    )
    assert "LSTM (chrono) 0.003 and LSTM (forget bias 1) 0.01 (sweep main) | 0.202 vs 0.808 |" in md
    assert "400 (3/3 solved) vs 1,200 (3/3 solved) | clearly lower |" in md
    assert "largely outperforms the standard LSTM initialisation (forget bias 1" in CLAIMS["tallec2018"]


def test_tallec_only_on_their_tasks():
    rows = seeds("adding", 100, "lstm", 0.2, init="chrono", variant="hochreiter")
    rows += seeds("adding", 100, "lstm", 0.8, init="fb1", variant="hochreiter")
    assert matched(lit_of(rows), "tallec2018").empty  # their adding problem is the modern form
    assert matched(lit_of(rows + seeds("adding", 100, "lstm", 0.2, init="chrono")), "tallec2018").empty


def test_jozefowicz_only_at_matched_settings():
    # the init preset's LSTM (hidden 64, 1500 steps) and the main study's GRU (budget 15000): not matched
    rows = seeds("copy", 100, "lstm", 0.3, init="fb1", steps=1500, sweep="init")
    rows += seeds("copy", 100, "gru", 0.1, budget=15_000, params=15_000)
    lit = lit_of(rows)
    assert matched(lit, "jozefowicz2015").empty
    assert "the comparisons for Tallec & Ollivier 2018, Greff et al. 2017 and Jozefowicz et al. 2015" in (
        to_markdown(section(lit, "section 6"))
    )
    # the GRU of the init preset is (same hidden size, steps, batch, optimizer; its own rate)
    rows += seeds("copy", 100, "gru", 0.25, steps=1500, sweep="init", lr=3e-3)
    rows += seeds("copy", 100, "lstm", 0.9, steps=1500, sweep="init")  # and the LSTM at its default
    j = matched(lit_of(rows), "jozefowicz2015")
    assert len(j) == 1
    o = j.iloc[0]
    assert o["ratio_mean"] == pytest.approx(0.3 * 1.01, rel=1e-3) and o["ref_ratio"] == pytest.approx(
        0.25 * 1.01, rel=1e-3
    )
    assert o["base_ratio"] == pytest.approx(0.9 * 1.01, rel=1e-3) and o["setting"]["sweeps"] == ["init"]
    md = to_markdown(section(lit_of(rows), "section 6"))
    assert "each arm at its own rate: LSTM (forget bias 1) 0.001, GRU 0.003 and LSTM 0.001" in md
    gap = (
        f"{num(o['base_ratio'] - o['ref_ratio'])} → {num(o['ratio_mean'] - o['ref_ratio'])}"  # 0.656, 0.0505
    )
    # 0.303 vs 0.253 | 0.909
    pair = f"{num(o['ratio_mean'])} vs {num(o['ref_ratio'])} | {num(o['base_ratio'])}"
    assert f"| {pair} | {gap} |" in md


def test_arjovsky_adding_750_lstm_beats_the_baseline_by_half():
    lstm750 = [
        e for e in ARJOVSKY if e.setup.task == "adding" and e.setup.seq_len == 750 and e.cell == "lstm"
    ]
    assert lstm750[0].beats is True and "half of it" in lstm750[0].text and "far from 0" in lstm750[0].text
    assert not [e for e in ARJOVSKY if "slightly" in e.text]
    rows = seeds("adding", 750, "lstm", 0.5, hidden=128)  # MSE 0.083: half the baseline
    rows += seeds("adding", 750, "rnn", 0.5, hidden=64)  # not their size
    lit = lit_of(rows)
    a = matched(lit, "arjovsky")
    assert list(a["cell"]) == ["lstm"] and a.iloc[0]["verdict"] == "beats" and bool(a.iloc[0]["agrees"])
    md = to_markdown(section(lit, "section 6"))
    row = [line for line in md.splitlines() if line.startswith("| adding, T=750 | LSTM |")]
    assert row and "MSE about 0.08-0.09 (half of it), far from 0 |" in row[0] and row[0].endswith("| yes |")
    # every other setup of theirs: one line, naming the preset that produces them
    lines = [line for line in md.splitlines() if line.startswith("*Not in these results: 15 of its setups")]
    assert len(lines) == 1 and "adding (variant modern, 128 hidden units) at T=100, 200, 400, 750" in lines[0]
    assert "the `arjovsky` preset would produce them" in lines[0]


def test_published_numbers_only_beside_runs_in_the_papers_setup():
    rows = seeds("adding", 600, "gru", 0.01, budget=70_000, params=69_000)  # markers in the modern halves
    rows += seeds("copy", 1000, "lstm", 1.0, budget=40_000, params=40_000)  # not ~16K parameters
    rows += seeds("copy", 100, "lstm", 0.5, params=6_600)  # Adam, not RMSProp
    rows += seeds("adding", 100, "lstm", 0.5, variant="hochreiter", params=5_000)  # not ~93 weights
    lit = lit_of(rows)
    assert not lit[lit["kind"].isin(["tcn", "arjovsky", "hochreiter"])]["matched"].any()
    rows += seeds("adding", 600, "gru", 0.02, variant="anywhere", budget=70_000, params=69_000)
    rows += seeds("copy", 100, "lstm", 0.5, params=6_600, optimizer="rmsprop")
    rows += seeds("adding", 100, "lstm", 0.5, variant="hochreiter", budget=93, params=88, solved_at=2000.0)
    lit = lit_of(rows)
    tcn, arj, hs = (matched(lit, k) for k in ("tcn", "arjovsky", "hochreiter"))
    assert list(tcn["cell"]) == ["gru"] and tcn.iloc[0]["ratio_mean"] == pytest.approx(0.02 * 1.01, rel=1e-3)
    assert list(zip(arj["task"], arj["seq_len"], arj["cell"], strict=True)) == [("copy", 100, "lstm")]
    assert list(hs["seq_len"]) == [100] and hs.iloc[0]["seqs_median"] == 2000 * 32
    md = to_markdown(section(lit, "section 6"))
    assert "| Bai et al. 2018 | adding, T=600 | GRU | MSE 5.3e-05 | 0.167 | variant anywhere, ~70,000" in md
    assert "| 100 | 74,000 | LSTM, 88 parameters | 64,000 (solved 3/3) | 0.865 |" in md
