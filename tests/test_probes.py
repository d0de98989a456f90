"""The probe tables of issue 12: hidden-state statistics (states), grad_profile's direction column, and
how runs written before them load."""

import shutil
from pathlib import Path

import pytest
import torch

from bench import load_results
from bench.config import compose, validate
from bench.schema import PROFILE_COLUMNS, STATE_COLUMNS
from bench.train import PROBE_STREAM, _stream, execute, states_frame, train
from tests.util import TINY

LEGACY = Path(__file__).parent / "data" / "legacy_v1"


def _job(*overrides, results_dir=None):
    extra = [f"results_dir={results_dir}"] if results_dir else []
    return validate(compose([*TINY, *overrides, *extra]))


@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("gru", True)])
def test_states_are_the_statistics_of_a_float64_forward_of_the_probe_batch(cell, bidirectional):
    job = _job(f"cell={cell}", "task=recall", f"cell.bidirectional={str(bidirectional).lower()}")
    t = train(job, progress=False)
    df = states_frame(t)
    assert list(df.columns) == list(STATE_COLUMNS)
    steps = sorted({row[1] for row in t.profiles})
    assert sorted(df.step.unique()) == steps  # the probe steps of grad_profile
    L, dirs = t.task.length, ["forward", "backward"] if bidirectional else ["forward"]
    assert sorted(df.direction.unique()) == sorted(dirs)
    assert set(df.state) == ({"h", "c"} if cell == "lstm" else {"h"}) and set(df.stat) == {
        "max_abs",
        "mean_norm",
    }
    assert len(df) == len(steps) * len(dirs) * len(set(df.state)) * 2 * L
    # recompute the last step's statistics from the trained model
    probe = t.task.batch(job.spec.train.profile_batch, _stream(job.spec.seed, PROBE_STREAM), 0, "cpu")
    m = t.model.double()
    with torch.no_grad():
        st = m.core.forward_with_states(m.encode(probe.inputs))
    last = df[df.step == steps[-1]].set_index(["direction", "state", "stat", "t"]).value
    for key, direction in (("h", "forward"), ("h_reverse", "backward")):
        if key not in st:
            continue
        h = torch.stack(st[key][0])  # (L, B, H)
        want_max = h.abs().amax((1, 2)).tolist()
        want_norm = h.norm(dim=2).mean(1).tolist()
        assert [last[(direction, "h", "max_abs", i)] for i in range(L)] == pytest.approx(want_max, rel=1e-12)
        assert [last[(direction, "h", "mean_norm", i)] for i in range(L)] == pytest.approx(
            want_norm, rel=1e-12
        )
    if cell == "gru":
        assert (df.loc[(df.stat == "max_abs") & (df.state == "h"), "value"] <= 1).all()  # tanh-bounded


def test_the_loader_reads_states_and_fills_direction_for_old_profiles(tmp_path):
    execute(_job("cell=rnn", "task=adding", results_dir=tmp_path / "r"), progress=False)
    shutil.copytree(LEGACY / "runs", tmp_path / "r" / "runs", dirs_exist_ok=True)  # written before both
    res = load_results(tmp_path / "r")
    assert len(res.runs) == 3
    assert list(res.grad_profile.columns) == list(PROFILE_COLUMNS)
    new = res.runs.run_id[res.runs.schema_version == 3].item()
    assert set(res.grad_profile.direction) == {"forward"}
    old = res.grad_profile[res.grad_profile.run_id != new]
    assert len(old) > 0 and old.direction.notna().all()
    assert set(res.states.run_id) == {new} and list(res.states.columns) == list(STATE_COLUMNS)
    # the spec fields added since read as their defaults on old rows (the task field: recall rows only)
    assert res.runs["cell.bidirectional"].tolist() == [False] * 3
    assert res.runs["train.tbptt"].isna().all()
    recall = res.runs["task.name"] == "recall"
    assert res.runs.loc[recall, "task.anticipation"].tolist() == [False] * int(recall.sum())
    assert res.runs.loc[~recall, "task.anticipation"].isna().all()
