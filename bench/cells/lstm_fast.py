"""The explicit LSTM's fast path: the loop over time without per-op autograd, with a hand-written backward
(same function as the autograd loop in lstm.py; the tests check outputs and gradients and gradcheck it;
no double backward)."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

FAST_VARIANTS = ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg")  # peephole, fgr: the autograd loop
_sigmoid_bw = torch.ops.aten.sigmoid_backward  # grad * s * (1 - s) in one kernel
_tanh_bw = torch.ops.aten.tanh_backward  # grad * (1 - y^2)


def _gate_slices(variant: str, H: int) -> dict[str, slice]:
    return {n: slice(j * H, (j + 1) * H) for j, n in enumerate(_gates(variant))}


def _gates(variant: str) -> tuple[str, ...]:
    from bench.cells.lstm import GATES  # lstm.py imports this module

    return GATES[variant]


@functools.cache
def _lstm_activations(variant: str) -> list[tuple[int, int, object]]:
    """In-place activations per run of gate blocks: [(first block, end block, fn)], sigmoids merged."""
    runs: list = []
    for j, n in enumerate(_gates(variant)):
        fn = Tensor.tanh_ if n == "g" else Tensor.sigmoid_
        if n == "g" and variant == "niaf":
            continue  # linear block input
        if runs and runs[-1][2] is fn and runs[-1][1] == j:
            runs[-1] = (runs[-1][0], j + 1, fn)
        else:
            runs.append((j, j + 1, fn))
    return runs


class _LSTMLayerFn(torch.autograd.Function):
    """One LSTM layer over a sequence: (x (T, B, I), W_ih, W_hh, b_ih, b_hh) -> h (T, B, H).

    Computes exactly what lstm.lstm_layer does (the tests check outputs and gradients against it and gradcheck
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
        sl = _gate_slices(variant, H)
        Wi, Wh, bias = W_ih.t(), W_hh.t(), b_ih + b_hh  # (I, G*H), (H, G*H), (G*H,)
        h = c = x.new_zeros(B, H)
        acts, cs, ys, hs = [], [c], [], [h]  # cs[t], hs[t] hold c_{t-1}, h_{t-1}
        for xt in x.unbind(0):
            a = torch.addmm(bias, xt, Wi).addmm_(h, Wh)  # (B, G*H) preactivations, then activations in place
            for lo, hi, fn in _lstm_activations(variant):
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
        sl = _gate_slices(variant, H)
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


def lstm_layer_fast(x: Tensor, p: dict[str, Tensor], variant: str) -> Tensor:
    """x (T, B, I) -> h (T, B, H), same function as lstm.lstm_layer."""
    w = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    return _LSTMLayerFn.apply(x.contiguous(), *w, variant)
