"""Gradient profiles in the report: decay rate, horizon, sigma_max(W_hh) and Pascanu et al.'s condition."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.report.analysis import analyse
from bench.report.data import CELL, CELL_INIT, KEYS, TASK
from bench.report.data import T as LEN
from bench.report.doc import to_markdown
from bench.report.profiles import DEPENDENCY_LOSS, decay_fit, falloff, horizon
from bench.report.reading import pascanu_sentence
from bench.report.sections import Out, gradients
from bench.report.tables import horizon_text, profile_table
from bench.results import load_results
from bench.spec import TASK_SPECS
from tests.test_report import STEPS, write_run

D = np.arange(60)


def test_geometric_profile_exact_rate_and_horizon():
    norm = 10.0 ** (-0.5 * D)
    rate, lo, hi, n = decay_fit(D, norm)
    assert rate == pytest.approx(0.5, abs=1e-12) and (lo, hi, n) == (0, 59, 60)
    assert horizon(D, norm) == 12  # 10^-6 of the value at distance 0, reached exactly at d = 12
    assert horizon(D, 3.0 * norm) == 12  # relative to the value at distance 0, whatever its scale


def test_underflow_zeros_count_as_below_and_are_left_out_of_the_fit():
    norm = 10.0 ** (-0.5 * D)
    norm[D >= 15] = 0.0
    assert decay_fit(D, norm) == (pytest.approx(0.5, abs=1e-12), 0, 14, 15)
    assert horizon(D, norm) == 12
    flat_then_zero = np.array([1.0, 1.0, 1.0, 0.0, 0.0])  # falls only by underflowing
    assert horizon(np.arange(5), flat_then_zero) == 3
    assert decay_fit(np.arange(5), flat_then_zero)[:3] == (pytest.approx(0.0, abs=1e-12), 0, 2)
    inf = np.array([1.0, np.inf, 1e-3, np.nan, 1e-7])  # non-finite points are neither fitted nor below
    assert decay_fit(np.arange(5), inf)[3] == 3 and horizon(np.arange(5), inf) == 4


def test_profiles_that_never_fall_or_start_at_zero():
    assert math.isnan(horizon(D, 0.9**D))  # 0.9^59 = 2e-3: never below 1e-6 within the distances
    assert math.isnan(horizon(D, np.zeros(60))) and math.isnan(decay_fit(D, np.zeros(60))[0])
    med = pd.DataFrame(
        {
            "task_label": "copy",
            LEN: 60,
            CELL_INIT: ["lstm"] * 60 + ["lstm+chrono"] * 60,
            CELL: "lstm",
            TASK: "copy",
            "phase": "init",
            "state": "h",
            "distance": np.tile(D, 2),
            "median": np.concatenate([0.9**D, np.zeros(60)]),
        }
    )
    f = falloff(med)
    assert [horizon_text(r) for _, r in f.iterrows()] == ["> 59", "already 0"]
    assert f["rate"].iloc[0] == pytest.approx(-math.log10(0.9)) and f["sigma_max"].isna().all()


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """Copy T=30: RNN default (0.3 per step, zeros from 15 at init; sigma_max 0.8 then 1.2), RNN orthogonal
    (sigma_max 1.0), LSTM default / forget bias 1 / chrono; 2 seeds."""
    root = tmp_path_factory.mktemp("grad")
    for seed in (0, 1):
        kw = {"task": "copy", "seq_len": 30, "seed": seed, "solved": False, "task_variant": "standard"}
        write_run(root, cell="rnn", sigma=(0.8, 1.2), init="default", **kw)
        write_run(root, cell="rnn", sigma=(1.0, 1.0), init="orthogonal", recurrent_init="orthogonal", **kw)
        for init, fb in (("default", "0.0"), ("fb1", "1.0"), ("chrono", "chrono")):
            write_run(root, cell="lstm", sigma=(0.5, 0.7), init=init, forget_bias=fb, **kw)
    return analyse(load_results(root))


def test_sigma_max_is_carried_into_the_profile_table(analysis):
    assert len(analysis.prepared.weights) == 2 * 5 * 2  # seeds x arms x (init, end)
    f = analysis.falloff.set_index([CELL_INIT, "phase", "state"])
    assert f.loc[("rnn", "init", "h"), "sigma_max"] == 0.8 and f.loc[("rnn", "end", "h"), "sigma_max"] == 1.2
    assert f.loc[("rnn", "init", "h"), "horizon"] == 12 and f.loc[("rnn", "init", "h"), "zero_at"] == 15
    assert f.loc[("rnn", "init", "h"), "fit_hi"] == 14  # the zeros from 15 on are not fitted
    assert f.loc[("rnn", "init", "h"), "rate"] == pytest.approx(-math.log10(0.3))
    assert f.loc[("lstm+chrono", "end", "c"), "sigma_max"] == 0.7
    t = profile_table(analysis.falloff, "lstm")  # inits side by side: default, forget bias 1, chrono
    assert t.header[4:] == tuple(
        f"{i}: {c}"
        for i in ("default", "forget bias 1", "chrono")
        for c in ("decades / step", "horizon", "sigma_max(W_hh)")
    )
    assert t.rows[0][:4] == ("copy", "30", "initialisation", "h") and t.rows[0][6] == "0.5"
    rnn = profile_table(analysis.falloff, "rnn")
    assert rnn.rows[0][4:] == ("0.52 (d 0-14)", "12", "0.8", "0.52 (d 0-14)", "12", "1")


def test_pascanu_sentence_from_the_data(analysis):
    said = pascanu_sentence(analysis.falloff)
    # the RNN's 4 h profiles (2 arms x init / end): sigma_max 0.8 once (< 1), 1.0 or 1.2 otherwise
    # (default at init: 0.3 per step, 0.52 decades against the bound's 0.097; at the end 0.3^0.25 per step)
    assert "against the RNN's 4 median ||dL/dh_t|| profiles" in said and "sigma_max 0.8-1.2)" in said
    assert "with sigma_max < 1, 1 of 1 decays at least that fast (fitted rate) and 1 of 1 falls below" in said
    assert "as the condition predicts;" in said
    assert "with sigma_max >= 1, where the condition predicts nothing, 1 of 3 falls below 1e-06" in said


def test_gradient_section_states_each_tasks_loss_and_the_tables(analysis, tmp_path):
    assert set(DEPENDENCY_LOSS) == set(TASK_SPECS)  # every task says which loss its profile differentiates
    md = to_markdown(gradients(analysis, Out(tmp_path, False, {})).blocks)
    assert f"copy: {DEPENDENCY_LOSS['copy']}" in md and "adding:" not in md  # only the tasks present
    assert "| Task | T | When | State | default: decades / step |" in md
    assert "chrono: sigma_max(W_hh) |" in md and "orthogonal: horizon" in md
    assert pascanu_sentence(analysis.falloff) in md
    assert {"init", "end"} == set(analysis.profile_medians["phase"]) and STEPS > 0
    assert set(analysis.falloff[KEYS[2]]) == {"rnn", "rnn+orthogonal", "lstm", "lstm+fb1", "lstm+chrono"}
