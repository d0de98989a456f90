"""LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000) and the ablations of
Greff et al. 2017 ("LSTM: A Search Space Odyssey"). Gate order i, f, g, o as in torch.nn.LSTM.

  vanilla   PyTorch's LSTM (no peepholes; this is Greff's "NP" variant)
  nig       no input gate, i = 1
  nfg       no forget gate, f = 1
  nog       no output gate, o = 1
  niaf      no input activation: the block input g is linear (no tanh)
  noaf      no output activation: h = o * c
  cifg      coupled input and forget gate: f = 1 - i
  peephole  diagonal peepholes: i and f see c_{t-1}, o sees c_t (Greff's vanilla LSTM)
  fgr       full gate recurrence: i, f, o also receive i, f, o of the previous step through nine extra
            H x H matrices (gate activations before step 0 are 0)

Variants that remove a gate do not carry that gate's rows, so parameter counts are honest.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.cells.core import CellDef, State
from bench.cells.lstm_fast import FAST_VARIANTS, lstm_layer_fast

VARIANTS = ("vanilla", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "peephole", "fgr")
_DROP = {"nig": "i", "nfg": "f", "nog": "o", "cifg": "f"}  # cifg computes f from i
GATES = {v: tuple(g for g in ("i", "f", "g", "o") if g != _DROP.get(v)) for v in VARIANTS}


def lstm_layer(
    x: Tensor, p: dict[str, Tensor], variant: str, state: State | None = None
) -> dict[str, list[Tensor]]:
    """x (T, B, I) time-major -> per-step h_t and c_t, each (B, H) (fgr: also its gate activations
    "gates" (B, 3H), the state it carries besides h and c); from `state`, zeros by default."""
    T, B, _ = x.shape
    W_hh = p["weight_hh"]
    H = W_hh.shape[1]
    names = GATES[variant]
    G = len(names)
    # input projection for all steps at once, with both biases folded in: (T, B, G*H)
    xp = torch.addmm(p["bias_ih"] + p["bias_hh"], x.reshape(T * B, -1), p["weight_ih"].t()).view(T, B, G * H)
    W = W_hh.t()  # (H, G*H)
    h = c = x.new_zeros(B, H)
    if state is not None:
        h, c = state["h"], state["c"]
    hs, cs = [], []
    if variant == "vanilla":  # the hot path, kept free of branches
        for xt in xp.unbind(0):
            a = torch.addmm(xt, h, W)  # (B, 4H)
            ai, af, ag, ao = a.chunk(4, 1)
            c = torch.addcmul(af.sigmoid() * c, ai.sigmoid(), ag.tanh())
            h = ao.sigmoid() * c.tanh()
            hs.append(h)
            cs.append(c)
        return {"h": hs, "c": cs}

    peep = variant == "peephole"
    fgr = variant == "fgr"
    prev = None if state is None else state.get("gates")  # fgr: (B, 3H) i, f, o of the previous step
    gs = []  # fgr: the gate activations of every step (0 before step 0)
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
            gs.append(prev)
        hs.append(h)
        cs.append(c)
    return {"h": hs, "c": cs, "gates": gs} if fgr else {"h": hs, "c": cs}


def _memory_bias(variant: str, b: Tensor, chrono: bool) -> dict[str, Tensor]:
    # The forget gate gets b; chrono also sets the input gate to -b. cifg has no forget gate: there
    # f = 1 - i = sigmoid(-a_i), so the input gate gets -b.
    out = {}
    if "f" in GATES[variant]:
        out["f"] = b
    if "i" in GATES[variant] and (chrono or variant == "cifg"):
        out["i"] = -b
    return out


def _extra_params(variant: str, H: int) -> dict[str, tuple[int, ...]]:
    if variant == "peephole":
        return {f"weight_c{g}": (H,) for g in "ifo"}
    if variant == "fgr":
        return {"weight_gg": (3 * H, 3 * H)}  # (i, f, o)_{t-1} -> (i, f, o) preactivations
    return {}


def _extra_flops(variant: str, H: int) -> int:
    return 2 * 9 * H * H if variant == "fgr" else 0


DEF = CellDef(
    name="lstm",
    gates=GATES,
    default_variant="vanilla",
    layer=lstm_layer,
    fused=nn.LSTM,
    fused_variants=("vanilla",),
    states=("h", "c"),
    memory_bias=_memory_bias,
    memory_gate_name="forget",
    fast=lstm_layer_fast,
    fast_variants=FAST_VARIANTS,
    extra_params=_extra_params,
    extra_flops=_extra_flops,
)
