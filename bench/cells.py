"""Recurrent cores: vanilla RNN, LSTM and GRU, fused (torch.nn) or with the gate equations written out.

Two implementations of the same function:

- ``fused``: ``torch.nn.RNN / LSTM / GRU`` (oneDNN / cuDNN kernels). Fast, but only the textbook cells.
- ``explicit``: a Python loop over time with the gate equations spelled out. It uses the same parameter
  names, shapes and gate order as the fused modules (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``; LSTM gates i,f,g,o; GRU gates r,z,n), so ``explicit.load_state_dict(fused.state_dict())``
  works for the vanilla variants and gives the same outputs and gradients. The explicit cells also run the
  ablations of Greff et al. 2017 ("LSTM: A Search Space Odyssey"):

  ====== =====================================================================================
  lstm   vanilla   PyTorch's LSTM (no peepholes; this is Greff's "NP" variant)
         nig       no input gate, i = 1
         nfg       no forget gate, f = 1
         nog       no output gate, o = 1
         niaf      no input activation: the block input g is linear (no tanh)
         noaf      no output activation: h = o * c
         cifg      coupled input and forget gate: f = 1 - i
         peephole  diagonal peepholes: i and f see c_{t-1}, o sees c_t (Greff's vanilla LSTM)
         fgr       full gate recurrence: i, f, o also receive i, f, o of the previous step
                   through nine extra H x H matrices (gate activations before step 0 are 0)
  gru    vanilla   PyTorch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h = (1 - z) * n + z * h_prev
         nrg       no reset gate, r = 1
         nug       no update gate, h = n
  rnn    tanh      h = tanh(W_ih x + b_ih + W_hh h_prev + b_hh)
         relu      the same with relu (IRNN when combined with recurrent_init="identity")
  ====== =====================================================================================

Variants that remove a gate do not carry that gate's rows in the weight matrices, so parameter counts are
honest: an ``nig`` LSTM has 3H rows in ``weight_ih_l{k}`` where the vanilla one has 4H.

Speed: the autograd loops hoist the input projection out of the loop (one matmul for all steps), do one
``addmm`` per step for the recurrent part of all gates, iterate over ``unbind`` (never ``x[:, t]``, which
makes backward quadratic in T) and stack the outputs once. ``RecurrentCore.forward`` of the explicit LSTM
(all variants but peephole and fgr) goes further: a custom autograd.Function runs the loop without autograd
and has a hand-written backward (same function, checked against the autograd loop and by gradcheck; no
double backward). ``forward_with_states`` always uses the autograd loop, since it must expose every state
as a graph node. On 2 CPU threads at B=64, H=128, T=300, I=10, forward+backward of the explicit cells takes
about 1.1x (LSTM, GRU) and 0.8-0.9x (RNN) the time of the fused ones; ``python -m bench.cells`` measures it.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

CELLS = ("rnn", "lstm", "gru")
IMPLS = ("fused", "explicit")
VARIANTS: dict[str, tuple[str, ...]] = {
    "rnn": ("tanh", "relu"),
    "lstm": ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "peephole", "fgr"),
    "gru": ("vanilla", "nrg", "nug"),
}
DEFAULT_VARIANT = {"rnn": "tanh", "lstm": "vanilla", "gru": "vanilla"}
# the other variants need impl="explicit"
FUSED_VARIANTS = {"rnn": ("tanh", "relu"), "lstm": ("vanilla",), "gru": ("vanilla",)}
RECURRENT_INITS = ("default", "orthogonal", "identity")


def gate_names(cell: str, variant: str) -> tuple[str, ...]:
    """The gate blocks stacked (in this order) in weight_ih / weight_hh / biases, each H rows."""
    if cell == "rnn":
        return ("h",)
    if cell == "gru":
        return {"vanilla": ("r", "z", "n"), "nrg": ("z", "n"), "nug": ("r", "n")}[variant]
    drop = {"nig": "i", "nfg": "f", "nog": "o", "cifg": "f"}.get(variant)  # cifg computes f from i
    return tuple(g for g in ("i", "f", "g", "o") if g != drop)


def core_param_count(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, variant: str | None = None
) -> int:
    """Exact number of parameters of make_core(cell, ..., variant) (same for fused and explicit)."""
    variant = variant or DEFAULT_VARIANT[cell]
    G, H = len(gate_names(cell, variant)), hidden_size
    total = 0
    for k in range(num_layers):
        n_in = input_size if k == 0 else H
        total += G * H * (n_in + H) + 2 * G * H  # weight_ih, weight_hh, bias_ih, bias_hh
        if variant == "peephole":
            total += 3 * H  # weight_ci, weight_cf, weight_co
        if variant == "fgr":
            total += 9 * H * H  # weight_gg: (i, f, o)_{t-1} -> (i, f, o) preactivations
    return total


# -----------------------------------------------------------------------------
# the step equations, one layer over a whole sequence


def _lstm_layer(x: Tensor, p: dict[str, Tensor], variant: str) -> tuple[list[Tensor], list[Tensor]]:
    """x (T, B, I) time-major -> per-step h_t and c_t, each (B, H); zero initial state."""
    T, B, _ = x.shape
    W_hh = p["weight_hh"]
    H = W_hh.shape[1]
    names = gate_names("lstm", variant)
    G = len(names)
    # input projection for all steps at once, with both biases folded in: (T, B, G*H)
    xp = torch.addmm(p["bias_ih"] + p["bias_hh"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, G * H)
    W = W_hh.t()  # (H, G*H)
    h = c = x.new_zeros(B, H)
    hs, cs = [], []
    if variant == "vanilla":  # the hot path, kept free of branches
        for xt in xp.unbind(0):
            a = torch.addmm(xt, h, W)  # (B, 4H)
            ai, af, ag, ao = a.chunk(4, 1)
            c = torch.addcmul(af.sigmoid() * c, ai.sigmoid(), ag.tanh())
            h = ao.sigmoid() * c.tanh()
            hs.append(h)
            cs.append(c)
        return hs, cs

    peep = variant == "peephole"
    fgr = variant == "fgr"
    prev = None  # fgr: (B, 3H) gate activations i, f, o of the previous step (0 before step 0)
    for xt in xp.unbind(0):
        a = dict(zip(names, torch.addmm(xt, h, W).chunk(G, 1), strict=True))
        if fgr and prev is not None:
            r = torch.mm(prev, p["weight_gg"].t()).chunk(3, 1)  # (B, 3H) -> 3 x (B, H)
            a["i"], a["f"], a["o"] = a["i"] + r[0], a["f"] + r[1], a["o"] + r[2]
        if peep:
            a["i"] = torch.addcmul(a["i"], p["weight_ci"], c)
            a["f"] = torch.addcmul(a["f"], p["weight_cf"], c)
        i = a["i"].sigmoid() if "i" in a else None  # None stands for a gate fixed at 1
        f = a["f"].sigmoid() if "f" in a else None
        if variant == "cifg":
            f = 1 - i
        g = a["g"] if variant == "niaf" else a["g"].tanh()
        c = (c if f is None else f * c) + (g if i is None else i * g)
        if peep:
            a["o"] = torch.addcmul(a["o"], p["weight_co"], c)  # the output gate peeks at the new cell
        o = a["o"].sigmoid() if "o" in a else None
        y = c if variant == "noaf" else c.tanh()
        h = y if o is None else o * y
        if fgr:
            prev = torch.cat([i, f, o], 1)
        hs.append(h)
        cs.append(c)
    return hs, cs


def _gru_layer(x: Tensor, p: dict[str, Tensor], variant: str) -> list[Tensor]:
    """x (T, B, I) time-major -> per-step h_t (B, H); zero initial state."""
    T, B, _ = x.shape
    W_hh = p["weight_hh"]
    H = W_hh.shape[1]
    names = gate_names("gru", variant)
    G = len(names)
    # b_hn sits inside r * (...), so only the input biases are folded into the hoisted projection
    xp = torch.addmm(p["bias_ih"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, G * H)
    W, b_hh = W_hh.t(), p["bias_hh"]
    h = x.new_zeros(B, H)
    hs = []
    for xt in xp.unbind(0):
        hp = torch.addmm(b_hh, h, W)  # (B, G*H)
        if variant == "vanilla":
            # r and z in one sigmoid: (B, 2H)
            r, z = torch.sigmoid(xt[:, : 2 * H] + hp[:, : 2 * H]).chunk(2, 1)
            n = torch.tanh(torch.addcmul(xt[:, 2 * H :], r, hp[:, 2 * H :]))
            h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
        elif variant == "nrg":
            z = torch.sigmoid(xt[:, :H] + hp[:, :H])
            n = torch.tanh(xt[:, H:] + hp[:, H:])
            h = torch.lerp(n, h, z)
        else:  # nug
            r = torch.sigmoid(xt[:, :H] + hp[:, :H])
            h = torch.tanh(torch.addcmul(xt[:, H:], r, hp[:, H:]))
        hs.append(h)
    return hs


def _rnn_layer(x: Tensor, p: dict[str, Tensor], variant: str) -> list[Tensor]:
    """x (T, B, I) time-major -> per-step h_t (B, H); zero initial state."""
    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    act = torch.tanh if variant == "tanh" else torch.relu
    xp = torch.addmm(p["bias_ih"] + p["bias_hh"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, H)
    W = p["weight_hh"].t()
    h = x.new_zeros(B, H)
    hs = []
    for xt in xp.unbind(0):
        h = act(torch.addmm(xt, h, W))
        hs.append(h)
    return hs


# -----------------------------------------------------------------------------
# fast path for RecurrentCore.forward: the LSTM loop without per-op autograd, with a hand-written backward


_FAST_LSTM = ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg")  # peephole, fgr: the autograd loop
_sigmoid_bw = torch.ops.aten.sigmoid_backward  # grad * s * (1 - s) in one kernel
_tanh_bw = torch.ops.aten.tanh_backward  # grad * (1 - y^2)


def _gate_slices(cell: str, variant: str, H: int) -> dict[str, slice]:
    return {n: slice(j * H, (j + 1) * H) for j, n in enumerate(gate_names(cell, variant))}


def _lstm_activations(variant: str) -> list[tuple[int, int, object]]:
    """In-place activations per run of gate blocks: [(first block, end block, fn)], sigmoids merged."""
    runs: list = []
    for j, n in enumerate(gate_names("lstm", variant)):
        fn = Tensor.tanh_ if n == "g" else Tensor.sigmoid_
        if n == "g" and variant == "niaf":
            continue  # linear block input
        if runs and runs[-1][2] is fn and runs[-1][1] == j:
            runs[-1] = (runs[-1][0], j + 1, fn)
        else:
            runs.append((j, j + 1, fn))
    return runs


_LSTM_ACTIVATIONS = {v: _lstm_activations(v) for v in _FAST_LSTM}


class _LSTMLayerFn(torch.autograd.Function):
    """One LSTM layer over a sequence: (x (T, B, I), W_ih, W_hh, b_ih, b_hh) -> h (T, B, H).

    Computes exactly what _lstm_layer does (the tests check outputs and gradients against it and gradcheck
    it), but the forward loop records no autograd nodes, and the backward is written out per step with
    PyTorch's fused sigmoid/tanh derivative kernels: about half the ops of autograd's backward. Everything
    stays per step (the weight gradients are accumulated in place), so no (T, B, 4H) buffer is ever built:
    at B=64, H=128, T=300 it would be 39 MB, and hoisting the input projection into one made the whole
    forward+backward ~20% slower.
    """

    @staticmethod
    def forward(
        ctx, x: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor, variant: str
    ) -> Tensor:
        T, B, _ = x.shape
        H = W_hh.shape[1]
        sl = _gate_slices("lstm", variant, H)
        Wi, Wh, bias = W_ih.t(), W_hh.t(), b_ih + b_hh  # (I, G*H), (H, G*H), (G*H,)
        h = c = x.new_zeros(B, H)
        acts, cs, ys, hs = [], [c], [], [h]  # cs[t], hs[t] hold c_{t-1}, h_{t-1}
        for xt in x.unbind(0):
            a = torch.addmm(bias, xt, Wi).addmm_(h, Wh)  # (B, G*H) preactivations, then activations in place
            for lo, hi, fn in _LSTM_ACTIVATIONS[variant]:
                fn(a[:, lo * H : hi * H])
            i = a[:, sl["i"]] if "i" in sl else None
            g = a[:, sl["g"]]
            if variant == "cifg":
                c = torch.addcmul(c, i, g - c)  # (1 - i) * c_prev + i * g
            else:
                fc = a[:, sl["f"]] * c if "f" in sl else c
                c = fc + g if i is None else torch.addcmul(fc, i, g)
            y = c if variant == "noaf" else c.tanh()
            h = a[:, sl["o"]] * y if "o" in sl else y
            acts.append(a)
            cs.append(c)
            ys.append(y)
            hs.append(h)
        ctx.save_for_backward(x, W_ih, W_hh)
        ctx.steps = (acts, cs, ys, hs)  # internal tensors nobody else can modify
        ctx.variant = variant
        return torch.stack(hs[1:])  # (T, B, H)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout: Tensor) -> tuple:
        x, W_ih, W_hh = ctx.saved_tensors
        acts, cs, ys, hs = ctx.steps
        variant = ctx.variant
        T, B, H = dout.shape
        sl = _gate_slices("lstm", variant, H)
        GH = len(sl) * H
        need_x, need_w = ctx.needs_input_grad[0], any(ctx.needs_input_grad[1:5])
        dx = x.new_empty(x.shape) if need_x else None
        dW_ih, dW_hh, dsum = torch.zeros_like(W_ih), torch.zeros_like(W_hh), dout.new_zeros(B, GH)
        xs = x.unbind(0)
        dh, dc_next = dout[T - 1], None  # dL/dh_t (total), and dL/dc_t through c_{t+1}
        for t in range(T - 1, -1, -1):
            a, c_prev, y = acts[t], cs[t], ys[t]
            d = dout.new_empty(B, GH)  # dL/d(preactivations) of step t
            i = a[:, sl["i"]] if "i" in sl else None
            g = a[:, sl["g"]]
            if "o" in sl:
                o = a[:, sl["o"]]
                _sigmoid_bw(dh * y, o, grad_input=d[:, sl["o"]])
                dy = dh * o
            else:
                dy = dh
            dc = dy if variant == "noaf" else _tanh_bw(dy, y)  # through h_t
            if dc_next is not None:
                dc = dc + dc_next
            if i is not None:  # cifg: c = c_prev + i * (g - c_prev)
                _sigmoid_bw(dc * (g - c_prev if variant == "cifg" else g), i, grad_input=d[:, sl["i"]])
            if "f" in sl:
                f = a[:, sl["f"]]
                _sigmoid_bw(dc * c_prev, f, grad_input=d[:, sl["f"]])
            dg = dc if i is None else dc * i
            if variant == "niaf":
                d[:, sl["g"]].copy_(dg)
            else:
                _tanh_bw(dg, g, grad_input=d[:, sl["g"]])
            if variant == "cifg":
                dc_next = dc - dg  # dc * (1 - i)
            elif "f" in sl:
                dc_next = dc * f
            else:
                dc_next = dc
            if need_w:
                dW_ih.addmm_(d.t(), xs[t])  # (G*H, B) @ (B, I)
                if t > 0:  # h_{-1} = 0
                    dW_hh.addmm_(d.t(), hs[t])
                dsum.add_(d)  # bias gradient, reduced over the batch once at the end
            if need_x:
                torch.mm(d, W_ih, out=dx[t])
            if t > 0:
                dh = torch.addmm(dout[t - 1], d, W_hh)  # dL/dh_{t-1}: direct + through step t
        db = dsum.sum(0)
        return dx, dW_ih, dW_hh, db, db.clone(), None  # b_ih and b_hh get equal but separate tensors


def _lstm_layer_fast(x: Tensor, p: dict[str, Tensor], variant: str) -> Tensor:
    """x (T, B, I) -> h (T, B, H), same function as _lstm_layer."""
    w = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    return _LSTMLayerFn.apply(x.contiguous(), *w, variant)


# -----------------------------------------------------------------------------


class ExplicitRNN(nn.Module):
    """Parameter container of the explicit cells, laid out exactly like torch.nn.RNN/LSTM/GRU's."""

    def __init__(self, cell: str, variant: str, input_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        G, H = len(gate_names(cell, variant)), hidden_size
        for k in range(num_layers):
            n_in = input_size if k == 0 else H
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G * H, n_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(G * H, H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G * H)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G * H)))
            if variant == "peephole":
                for g in "ifo":
                    self.register_parameter(f"weight_c{g}_l{k}", nn.Parameter(torch.empty(H)))
            if variant == "fgr":
                self.register_parameter(f"weight_gg_l{k}", nn.Parameter(torch.empty(3 * H, 3 * H)))
        self.hidden_size = hidden_size
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's RNN init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        bound = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            nn.init.uniform_(w, -bound, bound)


_FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentCore(nn.Module):
    """Stacked recurrent layers: x (B, T, I) batch_first -> top-layer outputs (B, T, H), zero initial state.

    The parameters live in ``self.rnn`` (a torch.nn.RNN/LSTM/GRU for ``fused``, an ExplicitRNN with the same
    names for ``explicit``), so state dicts of the two implementations are interchangeable. Build it with
    make_core, which also validates the arguments and applies the initialisation options.
    """

    def __init__(
        self,
        cell: str,
        impl: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        variant: str | None = None,
    ):
        super().__init__()
        self.cell, self.impl = cell, impl
        self.variant = variant or DEFAULT_VARIANT[cell]
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        if impl == "fused":
            kw = {"nonlinearity": self.variant} if cell == "rnn" else {}
            self.rnn = _FUSED[cell](input_size, hidden_size, num_layers, batch_first=True, **kw)
        else:
            self.rnn = ExplicitRNN(cell, self.variant, input_size, hidden_size, num_layers)

    def layer_params(self, k: int) -> dict[str, Tensor]:
        """Layer k's parameters keyed without the _l{k} suffix: weight_ih, weight_hh, bias_ih, bias_hh, ..."""
        suffix = f"_l{k}"
        return {n[: -len(suffix)]: w for n, w in self.rnn.named_parameters() if n.endswith(suffix)}

    def forward(self, x: Tensor) -> Tensor:
        """x (B, T, I) -> (B, T, H)."""
        if self.impl == "fused":
            return self.rnn(x)[0]
        if self.cell == "lstm" and self.variant in _FAST_LSTM:
            inp = x.transpose(0, 1)  # (T, B, I)
            for k in range(self.num_layers):
                inp = _lstm_layer_fast(inp, self.layer_params(k), self.variant)  # (T, B, H)
            return inp.transpose(0, 1)
        return self._unroll(x)["out"]

    def forward_with_states(self, x: Tensor) -> dict[str, list[list[Tensor]]]:
        """Step one timestep at a time (the fused core runs the same step equations on its own weights).

        Returns {"out": (B, T, H) top-layer outputs, "h": [layer][t] -> (B, H), "c": same, LSTM only}; the
        states are nodes of the autograd graph, so torch.autograd.grad(loss, h[l][t]) is the total derivative.
        """
        return self._unroll(x)

    def _unroll(self, x: Tensor) -> dict:
        inp = x.transpose(0, 1)  # (T, B, I) time-major: each step's slice is a cheap view
        hs, cs = [], []
        for k in range(self.num_layers):
            p = self.layer_params(k)
            if self.cell == "lstm":
                h, c = _lstm_layer(inp, p, self.variant)
                cs.append(c)
            elif self.cell == "gru":
                h = _gru_layer(inp, p, self.variant)
            else:
                h = _rnn_layer(inp, p, self.variant)
            hs.append(h)
            inp = torch.stack(h)  # (T, B, H), the next layer's input
        out = {"out": inp.transpose(0, 1), "h": hs}  # out: (B, T, H)
        if self.cell == "lstm":
            out["c"] = cs
        return out

    def extra_repr(self) -> str:
        return f"cell={self.cell}, impl={self.impl}, variant={self.variant}"


# -----------------------------------------------------------------------------
# initialisation options


def _blocks(w: Tensor, names: tuple[str, ...]) -> dict[str, Tensor]:
    """Views of the per-gate row blocks of a stacked (G*H, ...) weight or (G*H,) bias."""
    return dict(zip(names, w.chunk(len(names), 0), strict=True))


@torch.no_grad()
def init_recurrent_(core: RecurrentCore, scheme: str) -> None:
    """default: keep PyTorch's; orthogonal: each gate's H x H block of W_hh orthogonal;
    identity: each block = I and the recurrent biases 0 (IRNN, Le et al. 2015)."""
    if scheme == "default":
        return
    names = gate_names(core.cell, core.variant)
    for k in range(core.num_layers):
        p = core.layer_params(k)
        for block in _blocks(p["weight_hh"], names).values():
            if scheme == "orthogonal":
                block.copy_(nn.init.orthogonal_(torch.empty_like(block)))
            else:
                block.copy_(torch.eye(core.hidden_size, dtype=block.dtype, device=block.device))
        if scheme == "identity":
            p["bias_hh"].zero_()


@torch.no_grad()
def init_forget_bias_(
    core: RecurrentCore, forget_bias: float | str, chrono_tmax: float | None = None
) -> None:
    """Set the gate bias that controls remembering (bias_ih = b, bias_hh = 0, so the total is b).

    LSTM: the forget gate (cifg: the input gate gets -b, since there f = 1 - i = sigmoid(-a_i)).
    GRU: the update gate z, which multiplies h_prev in PyTorch's convention, so positive = remember.
    "chrono" (Tallec & Ollivier 2018): b_f ~ log U[1, chrono_tmax - 1] per unit and the LSTM input gate bias
    -b_f (GRU: z bias ~ log U[1, chrono_tmax - 1]). A number 0 leaves PyTorch's default init untouched.
    """
    if forget_bias == 0:
        return
    names = gate_names(core.cell, core.variant)
    for k in range(core.num_layers):
        p = core.layer_params(k)
        b_ih, b_hh = _blocks(p["bias_ih"], names), _blocks(p["bias_hh"], names)
        if forget_bias == "chrono":
            u = torch.empty_like(p["bias_ih"][: core.hidden_size]).uniform_(1.0, chrono_tmax - 1.0)
            b = torch.log(u)  # (H,)
        else:
            b = torch.full_like(p["bias_ih"][: core.hidden_size], float(forget_bias))
        if core.cell == "gru":
            b_ih["z"].copy_(b)
            b_hh["z"].zero_()
            continue
        if "f" in b_ih:
            b_ih["f"].copy_(b)
            b_hh["f"].zero_()
        if "i" in b_ih and (forget_bias == "chrono" or core.variant == "cifg"):
            b_ih["i"].copy_(-b)
            b_hh["i"].zero_()


def _check_choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def make_core(
    cell: str,
    impl: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    variant: str | None = None,
    forget_bias: float | str = 0.0,
    chrono_tmax: float | None = None,
    recurrent_init: str = "default",
) -> RecurrentCore:
    """Validate the arguments, build the core and apply the initialisation options.

    forget_bias: a number b (LSTM forget gate / GRU update gate bias total = b; 0 keeps PyTorch's init) or
    "chrono", which needs chrono_tmax >= 2 (chrono_tmax is ignored otherwise). recurrent_init: "default",
    "orthogonal" or "identity". Every bad argument raises ValueError with a one-line message.
    """
    _check_choice("cell", cell, CELLS)
    _check_choice("impl", impl, IMPLS)
    variant = DEFAULT_VARIANT[cell] if variant is None else variant
    _check_choice(f"variant (for cell={cell})", variant, VARIANTS[cell])
    if impl == "fused" and variant not in FUSED_VARIANTS[cell]:
        raise ValueError(
            f"variant {variant!r} needs impl='explicit' (fused {cell} supports {list(FUSED_VARIANTS[cell])})"
        )
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if isinstance(forget_bias, str):
        if forget_bias != "chrono":
            raise ValueError(f"forget_bias must be a number or 'chrono', got {forget_bias!r}")
        if chrono_tmax is None or not chrono_tmax >= 2:
            raise ValueError(
                f"forget_bias='chrono' needs chrono_tmax >= 2 (the longest dependency to "
                f"remember, Tallec & Ollivier use 3/2 of it), got chrono_tmax={chrono_tmax!r}"
            )
    elif (
        not isinstance(forget_bias, int | float)
        or isinstance(forget_bias, bool)
        or not math.isfinite(forget_bias)
    ):
        raise ValueError(f"forget_bias must be a finite number or 'chrono', got {forget_bias!r}")
    if forget_bias != 0:
        if cell == "rnn":
            raise ValueError(f"forget_bias must be 0 for cell='rnn' (it has no gates), got {forget_bias!r}")
        if (cell, variant) in (("lstm", "nfg"), ("gru", "nug")):
            raise ValueError(
                f"forget_bias must be 0 for {cell} variant {variant!r} (it has no "
                f"{'forget' if cell == 'lstm' else 'update'} gate), got {forget_bias!r}"
            )
    _check_choice("recurrent_init", recurrent_init, RECURRENT_INITS)

    core = RecurrentCore(cell, impl, input_size, hidden_size, num_layers, variant)
    init_recurrent_(core, recurrent_init)
    init_forget_bias_(core, forget_bias, chrono_tmax)
    return core


# -----------------------------------------------------------------------------
# speed check: python -m bench.cells [--threads 2] [--T 300]


def time_fwd_bwd(core: nn.Module, x: Tensor, repeats: int = 5) -> float:
    """Min over repeats of the wall time (s) of one forward + backward of core(x).sum()."""
    best = float("inf")
    for _ in range(repeats + 1):  # the first run warms up
        core.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        core(x).sum().backward()
        best = min(best, time.perf_counter() - t0)
    return best


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="explicit vs fused forward+backward time")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--T", type=int, default=300)
    ap.add_argument("--input", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="alternate fused/explicit this many times")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.T, args.input)
    for cell in CELLS:
        fused = make_core(cell, "fused", args.input, args.hidden)
        explicit = make_core(cell, "explicit", args.input, args.hidden)
        explicit.load_state_dict(fused.state_dict())
        tf = te = float("inf")
        for _ in range(args.rounds):  # interleave, so load from other processes hits both alike
            tf = min(tf, time_fwd_bwd(fused, x, args.repeats))
            te = min(te, time_fwd_bwd(explicit, x, args.repeats))
        print(f"{cell:5s} fused {tf * 1e3:7.1f} ms  explicit {te * 1e3:7.1f} ms  ratio {te / tf:.2f}")
