"""bench.fastpath: the C++ time loops equal torch.nn's fused cells (vanilla) and bench.cells' Python loops
(every variant), in value and gradient; gradcheck; float32; the fallback when the build fails."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from bench import fastpath
from bench.cells import CELL_DEFS, gate_names

pytestmark = pytest.mark.skipif(not fastpath.available(), reason="bench.fastpath could not be built")

ALL = [(cell, v) for cell, vs in fastpath.VARIANTS.items() for v in vs]
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _params(cell: str, variant: str, I: int, H: int, dtype, scale: float = 0.5, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    G = len(gate_names(cell, variant))
    shapes = {"weight_ih": (G * H, I), "weight_hh": (G * H, H), "bias_ih": (G * H,), "bias_hh": (G * H,)}
    return {
        k: (scale * torch.randn(*s, generator=g, dtype=dtype)).requires_grad_() for k, s in shapes.items()
    }


def _reference(cell: str, variant: str, x: torch.Tensor, p: dict) -> torch.Tensor:
    return torch.stack(CELL_DEFS[cell].layer(x, p, variant)["h"])  # the autograd loop of the registry


def _grads(out: torch.Tensor, w: torch.Tensor, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad((out * w).sum(), inputs)


def test_supports():
    for cell, v in ALL:
        assert fastpath.supports(cell, v)
    assert not fastpath.supports("lstm", "peephole") and not fastpath.supports("lstm", "fgr")
    assert not fastpath.supports("gru", "tanh") and not fastpath.supports("xyz", "vanilla")
    assert fastpath.supports_tensor(torch.zeros(1)) and fastpath.supports_tensor(torch.zeros(1).double())
    assert not fastpath.supports_tensor(torch.zeros(1, dtype=torch.float16))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "rnn-relu"])
def test_vanilla_equals_fused_module_float64(cell):
    cell, _, nl = cell.partition("-")
    kw = {"nonlinearity": nl} if nl else {}
    torch.manual_seed(1)
    T, B, I, H = 13, 4, 5, 7
    fused = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, **kw).double()
    ps = [getattr(fused, f"{n}_l0") for n in PARAM_NAMES]
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    ref = fused(x)[0]
    out = fastpath.layer(cell, nl or "vanilla", x, *ps)
    assert out.shape == (T, B, H) and out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    w = torch.randn_like(ref)
    for a, b in zip(_grads(out, w, [x, *ps]), _grads(ref, w, [x, *ps]), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("cell", "variant"), ALL)
def test_equals_python_loop_float64(cell, variant):
    T, B, I, H = 11, 3, 4, 6
    p = _params(cell, variant, I, H, torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x.requires_grad_()
    ref = _reference(cell, variant, x, p)
    out = fastpath.layer(cell, variant, x, *p.values())
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    w = torch.randn_like(ref)
    inputs = [x, *p.values()]
    for a, b in zip(_grads(out, w, inputs), _grads(ref, w, inputs), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("cell", "variant"), ALL)
def test_gradcheck(cell, variant):
    T, B, I, H = 4, 2, 3, 3
    p = _params(cell, variant, I, H, torch.float64, seed=3)
    x = torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda *a: fastpath.layer(cell, variant, *a), (x, *p.values()), eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(("cell", "variant"), ALL)
def test_float32_close_to_float64(cell, variant):
    T, B, I, H = 50, 8, 10, 32
    p64 = _params(cell, variant, I, H, torch.float64, scale=0.2, seed=5)
    x64 = torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    p32 = {k: v.detach().float().requires_grad_() for k, v in p64.items()}
    x32 = x64.float().requires_grad_()
    x64.requires_grad_()
    out64 = fastpath.layer(cell, variant, x64, *p64.values())
    out32 = fastpath.layer(cell, variant, x32, *p32.values())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5)
    w = torch.randn_like(out64)
    g64 = _grads(out64, w, [x64, *p64.values()])
    g32 = _grads(out32, w.float(), [x32, *p32.values()])
    for a, b in zip(g32, g64, strict=True):
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a.double() / scale, b / scale, rtol=1e-5, atol=2e-5)
    # the Python loop in float32 agrees too
    ref32 = _reference(cell, variant, x32, p32)
    torch.testing.assert_close(out32, ref32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("cell", "variant"), [("lstm", "vanilla"), ("gru", "vanilla"), ("rnn", "tanh")])
def test_edge_shapes_saturation_and_no_input_grad(cell, variant):
    # T = 1, B = 1; huge preactivations (saturated gates stay finite); x without requires_grad
    for T, B, scale in ((1, 1, 0.5), (1, 5, 0.5), (6, 1, 0.5), (5, 3, 40.0)):
        p = _params(cell, variant, 3, 4, torch.float64, scale=scale, seed=T + B)
        x = scale * torch.randn(T, B, 3, dtype=torch.float64)
        out = fastpath.layer(cell, variant, x, *p.values())
        ref = _reference(cell, variant, x, p)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
        ga = torch.autograd.grad(out.sum(), list(p.values()))
        gb = torch.autograd.grad(ref.sum(), list(p.values()))
        for a, b in zip(ga, gb, strict=True):
            assert torch.isfinite(a).all()
            torch.testing.assert_close(a, b, rtol=0, atol=1e-9)


def test_non_contiguous_input_and_rejections():
    p = _params("lstm", "vanilla", 3, 4, torch.float64)
    xb = torch.randn(5, 6, 3, dtype=torch.float64)  # (B, T, I)
    x = xb.transpose(0, 1)  # (T, B, I), not contiguous
    torch.testing.assert_close(
        fastpath.layer("lstm", "vanilla", x, *p.values()),
        _reference("lstm", "vanilla", x, p),
        rtol=0,
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="does not implement"):
        fastpath.layer("lstm", "peephole", x, *p.values())
    with pytest.raises(ValueError, match="float32/float64"):
        fastpath.layer("lstm", "vanilla", x.half(), *p.values())
    with pytest.raises(ValueError, match="share dtype"):
        fastpath.layer("lstm", "vanilla", x.float(), *p.values())


@pytest.mark.parametrize(("cell", "variant"), [("lstm", "vanilla"), ("gru", "vanilla"), ("rnn", "tanh")])
def test_buffer_pool_never_hands_out_live_buffers(cell, variant):
    # big enough for the pool (>= 1 MB buffers); interleaved graphs, retained graphs and held outputs
    fastpath.clear_cache()
    T, B, I, H = 64, 32, 3, 64
    p = _params(cell, variant, I, H, torch.float64, scale=0.1)  # contractive: well-conditioned gradients
    gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
    xs = [torch.randn(T, B, I, dtype=torch.float64, generator=g) for g in gens]
    refs = [_reference(cell, variant, x, p) for x in xs]
    want = [torch.autograd.grad(r.sum(), list(p.values())) for r in refs]
    outs = [fastpath.layer(cell, variant, x, *p.values()) for x in xs]  # two live graphs
    kept = [o.detach().clone() for o in outs]
    for k in (1, 0):  # backward in reverse order, the first twice (retain_graph)
        for _ in range(2 if k == 0 else 1):
            got = torch.autograd.grad(outs[k].sum(), list(p.values()), retain_graph=k == 0)
            for a, b in zip(got, want[k], strict=True):  # sums over 2048 sequences: relative error
                torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8)
            fastpath.layer(cell, variant, xs[1 - k], *p.values()).sum().backward()  # churn the pool
    for o, kp, r in zip(outs, kept, refs, strict=True):
        torch.testing.assert_close(o, kp, rtol=0, atol=0)  # held outputs are never reused
        torch.testing.assert_close(o, r.detach(), rtol=0, atol=1e-10)
    assert fastpath.clear_cache() >= 1


@pytest.fixture
def fresh_state(monkeypatch):
    """A not-yet-built fast path for the duration of the test; the real state afterwards."""
    saved = dict(fastpath._state)
    fastpath._reset_for_tests()
    yield
    fastpath._state.update(saved)


def test_fallback_when_the_build_fails(fresh_state, monkeypatch):
    def broken_build() -> None:
        raise OSError("no compiler here\nsecond line of the log")

    monkeypatch.setattr(fastpath, "_build", broken_build)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fastpath.available() is False
        assert fastpath.available() is False  # no second build attempt, no second warning
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1, msgs
    assert "no compiler here" in msgs[0] and "\n" not in msgs[0] and "Python loops" in msgs[0]
    with pytest.raises(RuntimeError, match="unavailable"):
        fastpath.layer(
            "rnn", "tanh", torch.zeros(2, 1, 1), *_params("rnn", "tanh", 1, 2, torch.float32).values()
        )


def test_env_switch_turns_it_off(fresh_state, monkeypatch):
    monkeypatch.setenv("BENCH_FASTPATH", "0")
    monkeypatch.setattr(fastpath, "_build", lambda: pytest.fail("must not build"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fastpath.available() is False
    assert caught == []
