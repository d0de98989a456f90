"""GRU (Cho et al. 2014) in PyTorch's convention, gate order r, z, n:
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h = (1 - z) * n + z * h_prev.

  vanilla  PyTorch's GRU
  nrg      no reset gate, r = 1
  nug      no update gate, h = n
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.cells.core import CellDef, State

GATES = {"vanilla": ("r", "z", "n"), "nrg": ("z", "n"), "nug": ("r", "n")}


def gru_layer(
    x: Tensor, p: dict[str, Tensor], variant: str, state: State | None = None
) -> dict[str, list[Tensor]]:
    """x (T, B, I) time-major -> per-step h_t (B, H); from state["h"] (B, H), zeros by default."""
    T, B, _ = x.shape
    W_hh = p["weight_hh"]
    H = W_hh.shape[1]
    names = GATES[variant]
    G = len(names)
    # b_hn sits inside r * (...), so only the input biases are folded into the hoisted projection
    xp = torch.addmm(p["bias_ih"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, G * H)
    W, b_hh = W_hh.t(), p["bias_hh"]
    h = x.new_zeros(B, H) if state is None else state["h"]
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
    return {"h": hs}


def _memory_bias(variant: str, b: Tensor, chrono: bool) -> dict[str, Tensor]:
    # z multiplies h_prev in PyTorch's convention, so a positive bias means remember.
    return {"z": b} if "z" in GATES[variant] else {}


DEF = CellDef(
    name="gru",
    gates=GATES,
    default_variant="vanilla",
    layer=gru_layer,
    fused=nn.GRU,
    fused_variants=("vanilla",),
    memory_bias=_memory_bias,
    memory_gate_name="update",
)
