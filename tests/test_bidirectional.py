"""Bidirectional cells (cell.bidirectional) and the recall variant that needs them (task.anticipation):
explicit == fused, counts, per-direction gradient profiles, and that a unidirectional model cannot see
the future."""

import pytest
import torch

from bench.cells import CELL_DEFS, CELLS, DEFAULT_VARIANT, core_param_count, make_core
from bench.gradients import hidden_grad_profile
from bench.model import SequenceModel, count_params, hidden_for_budget, model_param_count
from bench.spec import CellSpec
from tasks import RecallTask

B, T, I, H = 3, 6, 4, 5


def _spec(cell, impl="fused", layers=1, bidirectional=True, hidden=H, variant=None):
    return CellSpec(
        cell, impl, variant or DEFAULT_VARIANT[cell], hidden, None, layers, bidirectional=bidirectional
    )


def _pair(cell, layers):
    fused = make_core(_spec(cell, "fused", layers), I).double()
    explicit = make_core(_spec(cell, "explicit", layers), I).double()
    assert list(fused.state_dict()) == list(explicit.state_dict())  # torch's names, _reverse included
    explicit.load_state_dict(fused.state_dict())
    return fused, explicit


def _out_and_grads(core, x, w):
    x = x.clone().requires_grad_()
    out = core(x)
    grads = torch.autograd.grad((out * w).sum() + out.pow(2).mean(), [x, *core.parameters()])
    return out, grads


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_explicit_bidirectional_equals_the_fused_module(cell, layers, monkeypatch):
    from bench import fastpath

    fused, explicit = _pair(cell, layers)
    x, w = torch.randn(B, T, I, dtype=torch.float64), torch.randn(B, T, 2 * H, dtype=torch.float64)
    out_f, g_f = _out_and_grads(fused, x, w)
    assert out_f.shape == (B, T, 2 * H)
    paths = set()
    for fast in (True, False):  # the C++ path (reverse = the forward loop on the flipped steps), and without
        if not fast:
            monkeypatch.setitem(fastpath._state, "ok", False)
        paths.add(explicit.explicit_path(x))
        out_e, g_e = _out_and_grads(explicit, x, w)
        torch.testing.assert_close(out_e, out_f, atol=1e-10, rtol=1e-10)
        for a, b in zip(g_e, g_f, strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    assert paths >= {"python" if cell == "lstm" else "autograd"}
    for core in (fused, explicit):  # the per-step loop of the profiles computes the same function
        torch.testing.assert_close(core.forward_with_states(x)["out"], out_f, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_and_flop_counts_cover_both_directions(cell):
    d = CELL_DEFS[cell]
    v = DEFAULT_VARIANT[cell]
    for layers in (1, 2, 3):
        model = SequenceModel(I, 3, "float", _spec(cell, "explicit", layers))
        assert count_params(model) == model_param_count(I, 3, cell, H, layers, v, bidirectional=True)
        fused = SequenceModel(I, 3, "float", _spec(cell, "fused", layers))
        assert count_params(fused) == count_params(model)
        assert model.head.in_features == 2 * H
    assert core_param_count(cell, I, H, 1, v, True) == 2 * core_param_count(cell, I, H, 1, v)
    G = d.gate_blocks(v)  # layer 2 reads both directions: 2 * (2G H (2H + H)) on top of layer 1's
    assert d.step_flops(v, I, H, 1, 2) == 2 * d.step_flops(v, I, H, 1)
    assert d.step_flops(v, I, H, 2, 2) == 2 * d.step_flops(v, I, H, 1) + 2 * 2 * G * H * (2 * H + H)
    h = hidden_for_budget(5000, I, 3, cell, 1, v, True)
    assert h < hidden_for_budget(5000, I, 3, cell, 1, v)
    count = lambda hh: model_param_count(I, 3, cell, hh, 1, v, True)  # noqa: E731
    assert abs(count(h) - 5000) <= min(abs(count(h - 1) - 5000), abs(count(h + 1) - 5000))


@pytest.mark.parametrize("impl", ["fused", "explicit"])
@pytest.mark.parametrize("cell", CELLS)
def test_anticipation_needs_the_future(cell, impl):
    """The output at the cue (step 0) of a unidirectional model cannot depend on the symbol shown later:
    its gradient w.r.t. that input is exactly 0; a bidirectional model's is not."""
    task = RecallTask(5, vocab=4, anticipation=True)
    batch = task.batch(B, 0, 0)
    at = (batch.inputs != task.blank).long().cumsum(1).argmax(1)  # (B,) the symbol's step (last non-blank)
    for bi in (False, True):
        torch.manual_seed(0)
        model = SequenceModel(task.input_size, task.output_size, "tokens", _spec(cell, impl, 2, bi)).double()
        x = model.encode(batch.inputs).requires_grad_()  # (B, L, V+2)
        out = model.head(model.core(x))  # (B, L, O)
        (g,) = torch.autograd.grad(out[:, 0].pow(2).sum(), x)
        later = g[torch.arange(B), at]  # (B, V+2): d out_0 / d the symbol's one-hot
        assert (later.abs().sum() > 0) == bi
        if not bi:
            assert torch.equal(g[:, 1:], torch.zeros_like(g[:, 1:]))  # nothing after step 0 at all


@pytest.mark.parametrize("cell", CELLS)
def test_backward_direction_profile_is_the_forward_profile_of_the_reversed_sequence(cell):
    """With a loss linear in the output, the backward direction's dL/dh_t is that of a unidirectional
    model holding the reverse weights, run on the time-reversed sequence, with the loss at the mirrored
    step: an independent check of the profile's direction and time indexing."""
    torch.manual_seed(1)
    bi = SequenceModel(I, 3, "float", _spec(cell, "explicit", 1)).double()
    uni = SequenceModel(I, 3, "float", _spec(cell, "explicit", 1, False)).double()
    with torch.no_grad():
        for name, w in bi.core.layer_params(0, 1).items():
            uni.core.layer_params(0)[name].copy_(w)
        uni.head.weight.copy_(bi.head.weight[:, H:])  # the head's backward half
    x, w = torch.randn(B, T, I, dtype=torch.float64), torch.randn(B, 3, dtype=torch.float64)
    prof = hidden_grad_profile(bi, x, lambda out: (out[:, 1] * w).sum())
    ref = hidden_grad_profile(uni, x.flip(1), lambda out: (out[:, T - 2] * w).sum())
    assert set(prof) == ({"h", "c", "h_reverse", "c_reverse"} if cell == "lstm" else {"h", "h_reverse"})
    for key in ref:
        torch.testing.assert_close(prof[f"{key}_reverse"], ref[key].flip(1), rtol=1e-10, atol=0)
    assert (prof["h"][0, 2:] == 0).all() and (prof["h_reverse"][0, :1] == 0).all()  # the other side
    assert (prof["h"][0, :2] > 0).all() and (prof["h_reverse"][0, 1:] > 0).all()


def test_a_bidirectional_run_writes_profiles_per_direction(tmp_path):
    from bench.config import compose, validate
    from bench.train import profile_frame, train
    from tests.util import TINY

    job = validate(
        compose(["task=recall", "task.anticipation=true", "cell=gru", "cell.bidirectional=true", *TINY])
    )
    t = train(job, progress=False)
    prof = profile_frame(t)
    L = t.task.length
    fwd, bwd = prof[prof.direction == "forward"], prof[prof.direction == "backward"]
    assert set(prof.direction) == {"forward", "backward"}
    # scored at step 0: the forward direction has only t = 0; the backward one every t, distance = t
    assert set(fwd.t) == {0} and set(fwd.distance) == {0}
    assert sorted(set(bwd.t)) == list(range(L)) and (bwd.distance == bwd.t).all()
    assert (bwd.grad_norm > 0).all()
