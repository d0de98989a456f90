"""The vanilla (Elman) RNN: h = act(W_ih x + b_ih + W_hh h_prev + b_hh), act tanh or relu (IRNN when
combined with recurrent_init="identity", Le et al. 2015). No gates, so no forget bias.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.cells.core import CellDef, State

GATES = {"tanh": ("h",), "relu": ("h",)}


def rnn_layer(
    x: Tensor, p: dict[str, Tensor], variant: str, state: State | None = None
) -> dict[str, list[Tensor]]:
    """x (T, B, I) time-major -> per-step h_t (B, H); from state["h"] (B, H), zeros by default."""
    T, B, _ = x.shape
    H = p["weight_hh"].shape[1]
    act = torch.tanh if variant == "tanh" else torch.relu
    xp = torch.addmm(p["bias_ih"] + p["bias_hh"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, H)
    W = p["weight_hh"].t()
    h = x.new_zeros(B, H) if state is None else state["h"]
    hs = []
    for xt in xp.unbind(0):
        h = act(torch.addmm(xt, h, W))
        hs.append(h)
    return {"h": hs}


DEF = CellDef(
    name="rnn",
    gates=GATES,
    default_variant="tanh",
    layer=rnn_layer,
    fused=nn.RNN,
    fused_variants=("tanh", "relu"),
    fused_kwargs=lambda variant: {"nonlinearity": variant},
)
