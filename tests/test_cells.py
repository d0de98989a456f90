"""Recurrent cores: interface, fused == explicit, what each variant computes, parameter counts, init."""

import math

import pytest
import torch

from bench.cells import (
    CELLS,
    DEFAULT_VARIANT,
    FUSED_VARIANTS,
    IMPLS,
    RECURRENT_INITS,
    VARIANTS,
    core_param_count,
    gate_names,
)
from bench.cells.lstm_fast import FAST_VARIANTS as _FAST_LSTM
from bench.cells.lstm_fast import _LSTMLayerFn
from tests.util import core_of

B, T, I, H = 3, 7, 4, 5  # tiny: these tests are about exactness, not speed


ALL_VARIANTS = [(c, v) for c in CELLS for v in VARIANTS[c]]
FUSED = [(c, v) for c in CELLS for v in FUSED_VARIANTS[c]]


def _pair(cell, variant, layers, dtype):
    """A fused core and an explicit core holding the same weights."""
    fused = core_of(cell, "fused", I, H, layers, variant).to(dtype)
    explicit = core_of(cell, "explicit", I, H, layers, variant).to(dtype)
    explicit.load_state_dict(fused.state_dict())
    return fused, explicit


def _out_and_grads(core, x, w):
    x = x.clone().requires_grad_()
    out = core(x)
    loss = (out * w).sum() + out.pow(2).mean()
    names = [n for n, _ in core.named_parameters()]
    grads = torch.autograd.grad(loss, [x] + [p for _, p in core.named_parameters()])
    return out, dict(zip(["x"] + names, grads, strict=True))


# ---------------------------------------------------------------------------- interface


def test_constants_are_consistent():
    assert set(VARIANTS) == set(CELLS) == set(DEFAULT_VARIANT) == set(FUSED_VARIANTS)
    for c in CELLS:
        assert DEFAULT_VARIANT[c] in FUSED_VARIANTS[c]
        assert set(FUSED_VARIANTS[c]) <= set(VARIANTS[c])
    assert IMPLS == ("fused", "explicit") and RECURRENT_INITS == ("default", "orthogonal", "identity")


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"cell": "lstmx"}, "cell"),
        ({"impl": "cudnn"}, "impl"),
        ({"variant": "bogus"}, "variant"),
        ({"impl": "fused", "variant": "nig"}, "impl=explicit"),
        ({"cell": "gru", "impl": "fused", "variant": "nrg"}, "impl=explicit"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_layers": 0}, "layers"),
        ({"input_size": 0}, "input_size"),
        ({"cell": "rnn", "variant": None, "forget_bias": 1.0}, "forget_bias"),
        ({"cell": "rnn", "variant": None, "forget_bias": "chrono", "chrono_tmax": 10}, "forget_bias"),
        ({"forget_bias": "chrono"}, "chrono_tmax"),
        ({"forget_bias": "chrono", "chrono_tmax": 1.5}, "chrono_tmax"),
        ({"forget_bias": "big"}, "forget_bias"),
        ({"forget_bias": float("nan")}, "forget_bias"),
        ({"variant": "nfg", "forget_bias": 1.0}, "forget_bias"),
        ({"cell": "gru", "variant": "nug", "forget_bias": 1.0}, "forget_bias"),
        ({"recurrent_init": "xavier"}, "recurrent_init"),
    ],
)
def test_make_core_rejects_bad_arguments(kwargs, word):
    args = dict(cell="lstm", impl="explicit", input_size=I, hidden_size=H, variant="vanilla") | kwargs
    with pytest.raises(ValueError) as e:
        core_of(**args)
    msg = str(e.value)
    assert word in msg and "\n" not in msg


def test_make_core_accepts_neutral_options():
    core_of("rnn", "fused", I, H, forget_bias=0.0, chrono_tmax=None)
    core_of("lstm", "fused", I, H, forget_bias=1.0, chrono_tmax=3.0)  # tmax is ignored without chrono
    core_of("lstm", "explicit", I, H, variant="nfg", forget_bias=0)
    core = core_of("gru", "explicit", I, H, 2)
    assert (core.cell, core.impl, core.variant, core.hidden_size, core.num_layers, core.input_size) == (
        "gru",
        "explicit",
        "vanilla",
        H,
        2,
        I,
    )


# ---------------------------------------------------------------------------- fused == explicit


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, variant", FUSED)
def test_explicit_matches_fused(cell, variant, layers, dtype, tol):
    fused, explicit = _pair(cell, variant, layers, dtype)
    assert list(fused.state_dict()) == list(explicit.state_dict())
    x, w = torch.randn(B, T, I, dtype=dtype), torch.randn(B, T, H, dtype=dtype)
    out_f, g_f = _out_and_grads(fused, x, w)
    out_e, g_e = _out_and_grads(explicit, x, w)
    torch.testing.assert_close(out_e, out_f, atol=tol, rtol=tol)
    for name in g_f:
        torch.testing.assert_close(g_e[name], g_f[name], atol=tol, rtol=tol, msg=name)
    # the per-step path (gradient profiles) computes the same function, for the fused core too
    for core in (fused, explicit):
        torch.testing.assert_close(core.forward_with_states(x)["out"], out_f, atol=tol, rtol=tol)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, variant", ALL_VARIANTS)
def test_forward_with_states_matches_forward(cell, variant, layers):
    # explicit LSTM forward() runs a custom autograd.Function; forward_with_states the autograd loop
    core = core_of(cell, "explicit", I, H, layers, variant).double()
    x, w = torch.randn(B, T, I, dtype=torch.float64), torch.randn(B, T, H, dtype=torch.float64)
    out, g = _out_and_grads(core, x, w)
    st = core.forward_with_states(x)
    assert set(st) == ({"out", "h", "c", "final"} if cell == "lstm" else {"out", "h", "final"})
    for key in set(st) - {"out", "final"}:
        assert len(st[key]) == layers and all(len(s) == T for s in st[key])
        assert all(s.shape == (B, H) and s.requires_grad for layer in st[key] for s in layer)
    torch.testing.assert_close(torch.stack(st["h"][-1], 1), st["out"], atol=0, rtol=0)
    torch.testing.assert_close(st["out"], out, atol=1e-12, rtol=1e-12)
    # and the same gradients (for the LSTM this checks the hand-written backward against autograd)
    x_ = x.clone().requires_grad_()
    out2 = core.forward_with_states(x_)["out"]
    g2 = torch.autograd.grad((out2 * w).sum() + out2.pow(2).mean(), [x_] + list(core.parameters()))
    for name, a in zip(g, g2, strict=True):
        torch.testing.assert_close(a, g[name], atol=1e-12, rtol=1e-10, msg=name)


@pytest.mark.parametrize("variant", _FAST_LSTM)
def test_lstm_fast_path_gradcheck(variant):
    G, h = len(gate_names("lstm", variant)), 3
    args = [
        torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        for shape in ((4, 2, 2), (G * h, 2), (G * h, h), (G * h,), (G * h,))
    ]  # x, W_ih, W_hh, b_ih, b_hh
    assert torch.autograd.gradcheck(lambda *a: _LSTMLayerFn.apply(*a, variant), args, fast_mode=True)


def test_explicit_core_handles_one_step_and_no_grad():
    for cell, variant in ALL_VARIANTS:
        core = core_of(cell, "explicit", I, H, 2, variant)
        x = torch.randn(B, 1, I)
        with torch.no_grad():
            assert core(x).shape == (B, 1, H)
        assert core(torch.randn(B, T, I)).shape == (B, T, H)


# ---------------------------------------------------------------------------- what each variant computes


def _sig(a):
    return torch.sigmoid(a)


def _split(w, names):
    return dict(zip(names, w.chunk(len(names)), strict=True))


def _lstm_by_hand(variant, p, x):
    """The Greff et al. equations, written out once more, step by step from a zero state: x (B, T, I)."""
    names = gate_names("lstm", variant)
    Wi, Wh, bi, bh = (_split(p[n], names) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h = c = x.new_zeros(x.shape[0], H)
    prev = None
    hs, cs = [], []
    for t in range(x.shape[1]):
        a = {n: x[:, t] @ Wi[n].T + bi[n] + h @ Wh[n].T + bh[n] for n in names}
        if variant == "fgr" and prev is not None:
            R = p["weight_gg"]  # rows: targets i, f, o; columns: sources i, f, o
            for r, n in enumerate("ifo"):
                a[n] = a[n] + sum(
                    prev[s] @ R[r * H : (r + 1) * H, q * H : (q + 1) * H].T for q, s in enumerate("ifo")
                )
        if variant == "peephole":
            a["i"] = a["i"] + p["weight_ci"] * c
            a["f"] = a["f"] + p["weight_cf"] * c
        i = 1.0 if variant == "nig" else _sig(a["i"])
        f = {"nfg": 1.0, "cifg": 1 - i}.get(variant, None)
        f = _sig(a["f"]) if f is None else f
        g = a["g"] if variant == "niaf" else torch.tanh(a["g"])
        c = f * c + i * g
        if variant == "peephole":
            a["o"] = a["o"] + p["weight_co"] * c
        o = 1.0 if variant == "nog" else _sig(a["o"])
        h = o * (c if variant == "noaf" else torch.tanh(c))
        prev = {"i": i, "f": f, "o": o}
        hs.append(h)
        cs.append(c)
    return torch.stack(hs, 1), torch.stack(cs, 1)


def _gru_by_hand(variant, p, x):
    names = gate_names("gru", variant)
    Wi, Wh, bi, bh = (_split(p[n], names) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h = x.new_zeros(x.shape[0], H)
    hs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = 1.0 if variant == "nrg" else _sig(xt @ Wi["r"].T + bi["r"] + h @ Wh["r"].T + bh["r"])
        n = torch.tanh(xt @ Wi["n"].T + bi["n"] + r * (h @ Wh["n"].T + bh["n"]))
        z = 0.0 if variant == "nug" else _sig(xt @ Wi["z"].T + bi["z"] + h @ Wh["z"].T + bh["z"])
        h = (1 - z) * n + z * h
        hs.append(h)
    return torch.stack(hs, 1)


def _rnn_by_hand(variant, p, x):
    act = torch.tanh if variant == "tanh" else torch.relu
    h = x.new_zeros(x.shape[0], H)
    hs = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"])
        hs.append(h)
    return torch.stack(hs, 1)


@pytest.mark.parametrize("cell, variant", ALL_VARIANTS)
def test_variant_matches_hand_written_equations(cell, variant):
    core = core_of(cell, "explicit", I, H, 1, variant).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    p = {k: v.detach() for k, v in core.layer_params(0).items()}
    st = core.forward_with_states(x)
    if cell == "lstm":
        h_ref, c_ref = _lstm_by_hand(variant, p, x)
        torch.testing.assert_close(torch.stack(st["c"][0], 1), c_ref, atol=1e-12, rtol=0)
    else:
        h_ref = (_gru_by_hand if cell == "gru" else _rnn_by_hand)(variant, p, x)
    torch.testing.assert_close(st["out"], h_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(core(x), h_ref, atol=1e-12, rtol=0)


# A removed gate behaves like the full cell with that gate's preactivation forced to +-inf.
@pytest.mark.parametrize(
    "cell, variant, gate, value",
    [
        ("lstm", "nig", "i", math.inf),
        ("lstm", "nfg", "f", math.inf),
        ("lstm", "nog", "o", math.inf),
        ("gru", "nrg", "r", math.inf),
        ("gru", "nug", "z", -math.inf),  # z = 0: h = n
    ],
)
def test_removed_gate_equals_saturated_gate(cell, variant, gate, value):
    ablated = core_of(cell, "explicit", I, H, 2, variant).double()
    full = core_of(cell, "explicit", I, H, 2, "vanilla").double()
    kept, all_ = gate_names(cell, variant), gate_names(cell, "vanilla")
    with torch.no_grad():
        for k in range(2):
            pa, pf = ablated.layer_params(k), full.layer_params(k)
            for name in pa:
                src, dst = _split(pa[name], kept), _split(pf[name], all_)
                for g in all_:
                    if g in src:
                        dst[g].copy_(src[g])
                    else:  # weights 0, input bias +-inf
                        dst[g].fill_(value if name == "bias_ih" else 0.0)
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.testing.assert_close(ablated(x), full(x), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        ablated.forward_with_states(x)["out"], full.forward_with_states(x)["out"], atol=1e-12, rtol=0
    )


@pytest.mark.parametrize(
    "variant, extra", [("peephole", ("weight_ci", "weight_cf", "weight_co")), ("fgr", ("weight_gg",))]
)
def test_added_connections_at_zero_give_vanilla(variant, extra):
    core = core_of("lstm", "explicit", I, H, 2, variant).double()
    vanilla = core_of("lstm", "explicit", I, H, 2, "vanilla").double()
    with torch.no_grad():
        for k in range(2):
            for name, w in core.layer_params(k).items():
                w.zero_() if name in extra else vanilla.layer_params(k)[name].copy_(w)
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.testing.assert_close(core(x), vanilla(x), atol=1e-12, rtol=0)


def test_cifg_forget_gate_is_one_minus_input_gate():
    # with W_hh = 0 and zero input, every step has the same i; then c_t = sum_k (1-i)^k * i * g
    core = core_of("lstm", "explicit", I, H, 1, "cifg").double()
    with torch.no_grad():
        core.layer_params(0)["weight_hh"].zero_()
    st = core.forward_with_states(torch.zeros(1, T, I, dtype=torch.float64))
    p = core.layer_params(0)
    b = _split((p["bias_ih"] + p["bias_hh"]).detach(), "igo")
    i, g = torch.sigmoid(b["i"]), torch.tanh(b["g"])
    c_ref = sum((1 - i) ** k * i * g for k in range(T))
    torch.testing.assert_close(st["c"][0][-1][0], c_ref, atol=1e-12, rtol=0)


def test_rnn_activations():
    x = 3 * torch.randn(B, T, I)
    assert (core_of("rnn", "explicit", I, H, 1, "relu")(x) >= 0).all()
    out = core_of("rnn", "explicit", I, H, 1, "tanh")(x)
    assert (out.abs() < 1).all() and (out < 0).any()


@pytest.mark.parametrize("cell, variant", ALL_VARIANTS)
def test_every_parameter_gets_a_gradient(cell, variant):
    core = core_of(cell, "explicit", I, H, 2, variant)
    core(torch.randn(B, T, I)).pow(2).sum().backward()
    for name, w in core.named_parameters():
        assert w.grad is not None and w.grad.abs().sum() > 0, name


# ---------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, variant", ALL_VARIANTS)
def test_param_count_formula(cell, variant, layers):
    impls = IMPLS if variant in FUSED_VARIANTS[cell] else ("explicit",)
    for impl in impls:
        core = core_of(cell, impl, I, H, layers, variant)
        assert sum(w.numel() for w in core.parameters()) == core_param_count(cell, I, H, layers, variant)


def test_param_counts_are_honest():
    def n(variant):
        return core_param_count("lstm", I, H, 1, variant)

    full = n("vanilla")
    assert full == 4 * H * (I + H) + 8 * H
    for v in ("nig", "nfg", "nog", "cifg"):  # one gate fewer: 3/4 of the parameters
        assert n(v) * 4 == full * 3
        assert core_of("lstm", "explicit", I, H, 1, v).layer_params(0)["weight_ih"].shape == (3 * H, I)
    assert n("niaf") == n("noaf") == full
    assert n("peephole") == full + 3 * H and n("fgr") == full + 9 * H * H
    assert core_param_count("gru", I, H, 1, "nrg") * 3 == core_param_count("gru", I, H, 1, "vanilla") * 2
    assert core_param_count("gru", I, H, 1, "nug") * 3 == core_param_count("gru", I, H, 1, "vanilla") * 2
    assert core_param_count("rnn", I, H, 2) == (H * (I + H) + 2 * H) + (H * 2 * H + 2 * H)


# ---------------------------------------------------------------------------- initialisation


def _blocks(core, k, name):
    return _split(core.layer_params(k)[name].detach(), gate_names(core.cell, core.variant))


def _impls(cases):
    """(impl, *case) for both impls where the variant is fused-capable, else explicit only."""
    return [(impl, *c) for c in cases for impl in IMPLS if impl == "explicit" or c[1] in FUSED_VARIANTS[c[0]]]


@pytest.mark.parametrize(
    "impl, cell, variant, gate, sign",
    _impls(
        [
            ("lstm", "vanilla", "f", 1),
            ("lstm", "nig", "f", 1),
            ("lstm", "cifg", "i", -1),
            ("gru", "vanilla", "z", 1),
            ("gru", "nrg", "z", 1),
        ]
    ),
)
def test_forget_bias_number(impl, cell, variant, gate, sign):
    torch.manual_seed(1)
    ref = core_of(cell, impl, I, H, 2, variant)
    torch.manual_seed(1)
    core = core_of(cell, impl, I, H, 2, variant, forget_bias=1.5)
    for k in range(2):
        b_ih, b_hh = _blocks(core, k, "bias_ih"), _blocks(core, k, "bias_hh")
        assert torch.equal(b_ih[gate], torch.full((H,), sign * 1.5))
        assert torch.equal(b_hh[gate], torch.zeros(H))
        for g in b_ih.keys() - {gate}:  # the other gates keep PyTorch's init
            assert torch.equal(b_ih[g], _blocks(ref, k, "bias_ih")[g])
            assert torch.equal(b_hh[g], _blocks(ref, k, "bias_hh")[g])
    # 0 (the default) leaves PyTorch's init untouched
    torch.manual_seed(1)
    zero = core_of(cell, impl, I, H, 2, variant, forget_bias=0.0)
    for a, b in zip(zero.state_dict().values(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_positive_update_bias_makes_gru_remember():
    # z ~ 1 keeps h at its initial 0 whatever the input; z ~ 0 (negative bias) lets the input in
    x = torch.randn(B, T, I)
    assert core_of("gru", "explicit", I, H, forget_bias=30.0)(x).abs().max() < 1e-6
    assert core_of("gru", "explicit", I, H, forget_bias=-30.0)(x).abs().max() > 1e-2


def test_large_forget_bias_keeps_lstm_cell():
    # f ~ 1: c_t is the running sum of i * g, so it never decays
    core = core_of("lstm", "explicit", I, H, forget_bias=40.0).double()
    with torch.no_grad():
        core.layer_params(0)["weight_hh"].zero_()
    st = core.forward_with_states(torch.zeros(1, T, I, dtype=torch.float64))
    c = torch.stack(st["c"][0], 1)[0]  # (T, H)
    torch.testing.assert_close(c, c[:1] * torch.arange(1, T + 1, dtype=torch.float64)[:, None])


@pytest.mark.parametrize(
    "impl, cell, variant",
    _impls([("lstm", "vanilla"), ("lstm", "nig"), ("lstm", "cifg"), ("gru", "vanilla")]),
)
def test_chrono_init(impl, cell, variant):
    tmax, Hc = 50.0, 64
    core = core_of(cell, impl, I, Hc, 2, variant, forget_bias="chrono", chrono_tmax=tmax)
    for k in range(2):
        b_ih, b_hh = _blocks(core, k, "bias_ih"), _blocks(core, k, "bias_hh")
        gate = {"lstm": "f", "gru": "z"}[cell] if variant != "cifg" else "i"
        b = b_ih[gate] * (-1 if variant == "cifg" else 1)  # log U[1, tmax - 1]
        assert (b >= 0).all() and (b <= math.log(tmax - 1) + 1e-6).all() and b.std() > 0.3
        assert torch.equal(b_hh[gate], torch.zeros(Hc))
        if cell == "lstm" and variant == "vanilla":
            assert torch.equal(b_ih["i"], -b_ih["f"]) and torch.equal(b_hh["i"], torch.zeros(Hc))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", CELLS)
def test_orthogonal_and_identity_init(impl, cell):
    torch.manual_seed(2)
    ref = core_of(cell, impl, I, H, 2)
    eye = torch.eye(H)
    torch.manual_seed(2)
    orth = core_of(cell, impl, I, H, 2, recurrent_init="orthogonal")
    ident = core_of(cell, impl, I, H, 2, recurrent_init="identity")
    for k in range(2):
        for block in _blocks(orth, k, "weight_hh").values():
            torch.testing.assert_close(block @ block.T, eye, atol=1e-5, rtol=0)
        blocks = list(_blocks(orth, k, "weight_hh").values())
        assert all(not torch.equal(blocks[0], b) for b in blocks[1:])  # one draw per gate
        torch.testing.assert_close(orth.layer_params(k)["bias_hh"], ref.layer_params(k)["bias_hh"])
        for block in _blocks(ident, k, "weight_hh").values():
            assert torch.equal(block, eye)
        assert not ident.layer_params(k)["bias_hh"].any()
    # the default is PyTorch's: everything ~ U(-1/sqrt(H), 1/sqrt(H)), for explicit cores too
    bound = 1 / math.sqrt(H)
    assert all((w.abs() <= bound).all() for w in ref.parameters())


def test_irnn_identity_relu_copies_state():
    # IRNN with zero input weights and biases: h_t = relu(h_{t-1}) keeps the first step's state forever
    core = core_of("rnn", "explicit", I, H, 1, "relu", recurrent_init="identity")
    x = torch.zeros(1, T, I)
    x[0, 0] = torch.randn(I)
    with torch.no_grad():
        core.layer_params(0)["bias_ih"].zero_()
    out = core(x)[0]  # (T, H)
    torch.testing.assert_close(out, out[:1].expand(T, H))


def test_explicit_forward_names_its_path_and_every_path_computes_the_same(monkeypatch):
    from bench import fastpath

    x = torch.randn(B, T, I, dtype=torch.float64)
    for cell in CELLS:
        core = core_of(cell, "explicit", I, H, 2).double()
        want = core.forward_with_states(x)["out"]  # the autograd loop
        expected = "cpp" if fastpath.available() else ("python" if cell == "lstm" else "autograd")
        assert core.explicit_path(x) == expected
        torch.testing.assert_close(core(x), want, atol=1e-12, rtol=1e-10)
    monkeypatch.setitem(fastpath._state, "ok", False)  # as where no compiler is
    lstm, gru = core_of("lstm", "explicit", I, H).double(), core_of("gru", "explicit", I, H).double()
    assert (lstm.explicit_path(x), gru.explicit_path(x)) == ("python", "autograd")
    torch.testing.assert_close(lstm(x), lstm.forward_with_states(x)["out"], atol=1e-12, rtol=1e-10)
