"""Truncated BPTT (train.tbptt): the carried state, the loss weighting (K >= L is full BPTT), gradients
across implementations, and gradient profiles of the truncated objective."""

import pytest
import torch

from bench.cells import CELLS, DEFAULT_VARIANT, VARIANTS
from bench.config import compose, validate
from bench.gradients import hidden_grad_profile
from bench.model import SequenceModel
from bench.spec import CellSpec
from bench.tbptt import chunk_length, truncated_backward
from bench.train import _step, profile_frame, train
from tasks import make_task
from tests.util import TINY

B, H = 4, 6


def _model(cell, impl, task, variant=None, layers=2, seed=0):
    torch.manual_seed(seed)
    spec = CellSpec(cell, impl, variant or DEFAULT_VARIANT[cell], H, None, layers)
    return SequenceModel(task.input_size, task.output_size, task.input_kind, spec).double()


def _batch(task):
    b = task.batch(B, 0, 1)
    return type(b)(b.inputs.double() if b.inputs.is_floating_point() else b.inputs, b.targets, b.mask)


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def _full(model, task, batch):
    model.zero_grad(set_to_none=True)
    loss = task.loss(model(batch.inputs), batch)
    loss.backward()
    return loss.detach(), _grads(model)


def _truncated(model, task, batch, k):
    model.zero_grad(set_to_none=True)
    return truncated_backward(model, task, batch, k), _grads(model)


@pytest.mark.parametrize("variant", [v for c in CELLS for v in VARIANTS[c] if c == "lstm"] + ["nrg", "relu"])
def test_the_state_is_carried_across_chunks(variant):
    # chunk by chunk from the carried state computes the whole sequence's outputs, every variant (fgr
    # carries its previous gate activations too)
    cell = next(c for c in CELLS if variant in VARIANTS[c])
    task = make_task("adding", 9)
    model = _model(cell, "explicit", task, variant)
    x = _batch(task).inputs
    state, parts = None, []
    for start in range(0, 9, 4):
        out, state = model.scan(x[:, start : start + 4], state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), model(x), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("impl", ["fused", "explicit"])
@pytest.mark.parametrize("cell", CELLS)
def test_one_chunk_is_full_bptt_and_shorter_chunks_keep_the_loss(cell, impl):
    task = make_task("copy", 3, n_copy=2, n_symbols=3)  # scored everywhere: every chunk has a loss
    L, batch = task.length, _batch(task)
    model = _model(cell, impl, task)
    loss, full = _full(model, task, batch)
    assert chunk_length(L, L) is None and chunk_length(L + 5, L) is None and chunk_length(None, L) is None
    one_loss, one = _truncated(model, task, batch, L)  # the chunked code with a single chunk
    torch.testing.assert_close(one_loss, loss.double(), atol=1e-12, rtol=1e-12)
    for a, b in zip(one, full, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    k_loss, k = _truncated(model, task, batch, 3)
    torch.testing.assert_close(k_loss, loss.double(), atol=1e-12, rtol=1e-10)  # the weighting: same value
    assert any(not torch.allclose(a, b) for a, b in zip(k, full, strict=True))  # a truncated gradient


@pytest.mark.parametrize("cell", CELLS)
def test_the_training_step_with_tbptt_at_the_sequence_length_is_exactly_full_bptt(cell):
    task = make_task("recall", 5)
    batch = _batch(task)
    tr = validate(compose(["task=recall", "task.seq_len=5", f"train.tbptt={task.length}"])).spec.train
    grads = []
    for chunk in (None, chunk_length(tr.tbptt, task.length)):
        model = _model(cell, "explicit", task)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        _step(model, task, batch, opt, list(model.parameters()), tr, chunk)
        grads.append(_grads(model))
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_gradients_agree_across_implementations(cell):
    # the fused module takes (h0, c0); the explicit cells the autograd loop from the carried state
    task = make_task("adding", 10)
    batch = _batch(task)
    fused, explicit = _model(cell, "fused", task), _model(cell, "explicit", task)
    explicit.load_state_dict(fused.state_dict())
    _, gf = _truncated(fused, task, batch, 4)
    _, ge = _truncated(explicit, task, batch, 4)
    for a, b in zip(ge, gf, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_profile_of_the_truncated_objective_is_zero_beyond_k(cell):
    task, K = make_task("adding", 13), 5
    model = _model(cell, "explicit", task, layers=1)
    batch = _batch(task)
    prof = hidden_grad_profile(model, batch.inputs, lambda out: task.loss(out, batch), tbptt=K)
    full = hidden_grad_profile(model, batch.inputs, lambda out: task.loss(out, batch))
    L = task.length
    distance = L - 1 - torch.arange(L)  # scored at the last step
    last_chunk = distance <= (L - 1) % K  # the scored step's chunk: t >= 10
    for key in prof:
        assert (prof[key][0, ~last_chunk] == 0).all() and (prof[key][0, distance >= K] == 0).all()
        torch.testing.assert_close(prof[key][0, last_chunk], full[key][0, last_chunk], rtol=1e-10, atol=0)
        assert (full[key][0] > 0).all()


@pytest.mark.parametrize("cell, impl", [("lstm", "explicit"), ("gru", "fused"), ("rnn", "explicit")])
def test_a_truncated_run_trains_and_profiles_its_objective(cell, impl):
    K = 3
    job = validate(compose([f"cell={cell}", f"cell.impl={impl}", "task=adding", f"train.tbptt={K}", *TINY]))
    t = train(job, progress=False)
    assert t.status == "ok" and t.steps == 20
    prof = profile_frame(t)
    assert (prof.loc[prof.distance >= K, "grad_norm"] == 0).all()
    assert (prof.loc[prof.distance == 0, "grad_norm"] > 0).all()
    from bench.train import kernel

    assert kernel(t.model, K) == ("fused" if impl == "fused" else "autograd")
