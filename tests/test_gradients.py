"""hidden_grad_profile against a brute-force reference that never differentiates w.r.t. an intermediate."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.cells import CELLS
from bench.gradients import hidden_grad_profile
from tests.util import model_of

V, O, H, B, L = 5, 3, 4, 2, 6
_TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _torch_layers(model):
    """One single-layer torch.nn module per layer, float64, holding that layer's weights."""
    core = model.core
    mods = []
    for k in range(core.num_layers):
        n_in = core.input_size if k == 0 else core.hidden_size
        kw = {"nonlinearity": core.variant} if core.cell == "rnn" else {}
        mod = _TORCH[core.cell](n_in, core.hidden_size, batch_first=True, **kw).double()
        mod.load_state_dict({f"{n}_l0": w.detach().double() for n, w in core.layer_params(k).items()})
        mods.append(mod)
    return mods


def brute_force_profile(model, inputs, loss_fn):
    """For each (layer, t): restart the recurrence at step t from a fresh leaf h_t (or c_t), with every
    state before t fixed from a plain forward, and differentiate the loss w.r.t. that leaf.

    The layer-l state at t feeds layer l at t+1 and layer l+1 at t; both are rerun from the leaf.
    For c_t the leaf also feeds h_t = o_t * tanh(c_t) (o_t fixed), so dL/dc_t counts the path through h_t.
    """
    m = copy.deepcopy(model).double()
    mods, head = _torch_layers(m), m.head
    lstm = m.core.cell == "lstm"
    with torch.no_grad():  # the fixed states: layer inputs and per-step (h, c), stepping torch's own modules
        seqs, states = [m.encode(inputs)], []  # seqs[l]: input of layer l, (B, L, n_in)
        for mod in mods:
            st, s = [], None
            for t in range(L):
                _, s = mod(seqs[-1][:, t : t + 1], s)
                st.append(s)
            states.append(st)
            seqs.append(torch.cat([(s[0] if lstm else s)[0][:, None] for s in st], 1))  # (B, L, H)

    def rerun(l, t, h, c):
        """The loss with layer l's state at step t replaced by (h, c) (each (B, H))."""
        parts = [seqs[l + 1][:, :t], h[:, None]]
        if t + 1 < L:
            s0 = (h[None], c[None]) if lstm else h[None]
            parts.append(mods[l](seqs[l][:, t + 1 :], s0)[0])
        cur = torch.cat(parts, 1)  # layer l output (B, L, H)
        for k in range(l + 1, len(mods)):
            s0 = states[k][t - 1] if t > 0 else None
            cur = torch.cat([seqs[k + 1][:, :t], mods[k](cur[:, t:], s0)[0]], 1)
        return loss_fn(head(cur))

    out = {"h": torch.zeros(len(mods), L, dtype=torch.float64)}
    if lstm:
        out["c"] = torch.zeros(len(mods), L, dtype=torch.float64)
    for l in range(len(mods)):
        for t in range(L):
            s = states[l][t]
            h = (s[0] if lstm else s)[0].clone().requires_grad_()
            c = s[1][0] if lstm else None
            (g,) = torch.autograd.grad(rerun(l, t, h, c), h)
            out["h"][l, t] = g.norm()
            if lstm:
                # o_t by hand from this layer's input at t and h_{t-1}
                p = {n: w.detach()[3 * H :] for n, w in m.core.layer_params(l).items()}  # output gate rows
                W_ih, W_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
                h_prev = states[l][t - 1][0][0] if t > 0 else torch.zeros(B, H, dtype=torch.float64)
                o = torch.sigmoid(seqs[l][:, t] @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)
                c_leaf = c.clone().requires_grad_()
                (g,) = torch.autograd.grad(rerun(l, t, o * torch.tanh(c_leaf), c_leaf), c_leaf)
                out["c"][l, t] = g.norm()
    return out


def _loss(targets):
    def loss_fn(out):  # (B, L, O): cross-entropy at every position plus a nonlinear extra term
        return F.cross_entropy(out.reshape(-1, O), targets.reshape(-1)) + out[:, -1].pow(2).sum()

    return loss_fn


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("impl", ["fused", "explicit"])
@pytest.mark.parametrize("cell", CELLS)
def test_profile_matches_brute_force(cell, impl, layers):
    model = model_of(V, O, "tokens", cell, H, num_layers=layers, impl=impl)
    inputs, targets = torch.randint(0, V, (B, L)), torch.randint(0, O, (B, L))
    prof = hidden_grad_profile(model, inputs, _loss(targets))
    ref = brute_force_profile(model, inputs, _loss(targets))
    assert set(prof) == set(ref) == ({"h", "c"} if cell == "lstm" else {"h"})
    for key in ref:
        assert prof[key].shape == (layers, L) and prof[key].dtype == torch.float64
        assert (ref[key] > 0).all()
        torch.testing.assert_close(prof[key], ref[key], rtol=1e-10, atol=0)


@pytest.mark.parametrize("variant", ["peephole", "fgr", "cifg"])
def test_profile_runs_on_explicit_variants(variant):
    model = model_of(V, O, "tokens", "lstm", H, num_layers=2, impl="explicit", variant=variant)
    inputs, targets = torch.randint(0, V, (B, L)), torch.randint(0, O, (B, L))
    prof = hidden_grad_profile(model, inputs, _loss(targets))
    assert prof["h"].shape == prof["c"].shape == (2, L) and (prof["h"] > 0).all()


def test_profile_leaves_the_model_alone():
    model = model_of(3, 2, "float", "gru", H)
    before = copy.deepcopy(model.state_dict())
    x = torch.rand(B, L, 3)
    prof = hidden_grad_profile(model, x, lambda out: out.pow(2).sum())
    assert prof["h"].shape == (1, L) and prof["h"].dtype == torch.float64
    assert all(p.grad is None and p.dtype == torch.float32 for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    # float32 on request: same profile to float32 precision
    prof32 = hidden_grad_profile(model, x, lambda out: out.pow(2).sum(), dtype=torch.float32)
    torch.testing.assert_close(prof32["h"], prof["h"], rtol=1e-4, atol=0)


def test_tanh_rnn_profile_decays_with_distance_from_the_scored_step():
    # default init, loss on the last step only: ||dL/dh_t|| shrinks geometrically going back in time
    T = 60
    model = model_of(2, 1, "float", "rnn", 32)
    prof = hidden_grad_profile(model, torch.rand(8, T, 2), lambda out: out[:, -1].pow(2).sum())["h"][0]
    assert (prof > 0).all()  # float64: no underflow to 0
    logs = prof.log10()
    assert logs[-1] - logs[0] > 8  # more than 8 decades over 60 steps
    window = logs.unfold(0, 10, 10).mean(1)  # averages over blocks of 10 steps
    assert (window[1:] > window[:-1]).all()
