"""Gradient profiles and hidden-state statistics: how strongly the loss reaches back to each timestep's
hidden state, and how large those states are.

The quantity behind "the vanilla RNN forgets": ||dL/dh_t|| against t (Pascanu et al. 2013, Arjovsky et al.
2016 plot it). Here dL/dh_t is the TOTAL derivative, through the recurrence (h_t -> h_{t+1} -> ...) and, for
stacked layers, through the layers above, not only the direct path h_t -> output_t. Beside it, from the same
forward: max |h_t| and the mean ||h_t|| ("tanh keeps hidden values in (-1, 1); without it they can blow up").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from bench.model import SequenceModel

STATS = ("max_abs", "mean_norm")  # max |h_t| over batch and units; mean over the batch of ||h_t||


@dataclass
class Probe:
    """One float64 forward and backward of the probe batch. Keys: "h", "c" (LSTM) and, for a
    bidirectional model, "h_reverse" / "c_reverse" (the backward direction); each tensor (layers, L)."""

    grads: dict[str, Tensor]  # ||dL/dh_t||: Frobenius norm over batch and hidden
    stats: dict[str, dict[str, Tensor]]  # key -> stat (STATS) -> value per (layer, t)


def probe(
    model: SequenceModel,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    dtype: torch.dtype = torch.float64,
    tbptt: int | None = None,
) -> Probe:
    """The gradient profile and the state statistics of `model` on `inputs` (see hidden_grad_profile).

    tbptt=K: the truncated objective a run with train.tbptt=K trains: the sequence in chunks of K steps,
    the state carried into the next chunk detached, so dL/dh_t only has the paths inside t's chunk
    (exactly 0 from a scored step K or more steps away)."""
    m = copy.deepcopy(model).to(dtype)
    device = next(m.parameters()).device
    with torch.enable_grad():
        x = m.encode(inputs.to(device))  # (B, L, I) in `dtype`
        states = _chunked_states(m.core, x, tbptt)
        loss = loss_fn(m.head(states["out"]))  # head: (B, L, D*H) -> (B, L, O)
        keys = [k for k in ("h", "c", "h_reverse", "c_reverse") if k in states]
        flat = [s for k in keys for layer in states[k] for s in layer]  # every (B, H) state, in order
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    L, layers = x.shape[1], m.core.num_layers
    zero = x.new_zeros(())  # a state the loss does not depend on (e.g. before a truncation)
    norms = torch.stack([zero if g is None else g.norm() for g in grads]).to("cpu", torch.float64)
    norms = norms.view(len(keys), layers, L)  # (states, layers, L)
    with torch.no_grad():
        h = torch.stack(flat)  # (states * layers * L, B, H)
        stats = {"max_abs": h.abs().amax((1, 2)), "mean_norm": h.norm(dim=2).mean(1)}
        stats = {s: v.to("cpu", torch.float64).view(len(keys), layers, L) for s, v in stats.items()}
    return Probe(
        grads={k: norms[j] for j, k in enumerate(keys)},
        stats={k: {s: v[j] for s, v in stats.items()} for j, k in enumerate(keys)},
    )


def _chunked_states(core, x: Tensor, chunk: int | None) -> dict:
    """core.forward_with_states(x), in chunks of `chunk` steps with the state detached between them."""
    L = x.shape[1]
    if chunk is None or chunk >= L:
        return core.forward_with_states(x)
    parts, state = [], None
    for start in range(0, L, chunk):
        st = core.forward_with_states(x[:, start : start + chunk], state)
        state = {k: v.detach() for k, v in st["final"].items()}  # the truncation
        parts.append(st)
    merged = {"out": torch.cat([p["out"] for p in parts], 1)}  # (B, L, D*H)
    for key in parts[0]:
        if key not in ("out", "final"):  # per-state lists [layer][t]: the chunks' steps joined
            merged[key] = [sum((p[key][layer] for p in parts), []) for layer in range(core.num_layers)]
    return merged


def hidden_grad_profile(
    model: SequenceModel,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    dtype: torch.dtype = torch.float64,
    tbptt: int | None = None,
) -> dict[str, Tensor]:
    """||dL/dh_t|| for every t (and ||dL/dc_t|| for LSTM): the total derivative through the recurrence.

    Works for fused and explicit models: runs on a deep copy of the model cast to `dtype` (float64 by
    default, because at PyTorch's default init these norms fall by ~20 orders of magnitude over 100 steps
    and underflow to exactly 0 in float32), stepping one timestep at a time via core.forward_with_states and
    taking torch.autograd.grad of the loss w.r.t. the per-step states. The norm is the Frobenius norm over
    batch and hidden of dL/dh_t. loss_fn maps the model output (B, L, O) to a scalar.

    For the LSTM, dL/dc_t is the gradient arriving at c_t from everything it feeds: c_{t+1} and h_t. For a
    bidirectional model the backward direction's states are "h_reverse" (and "c_reverse"), indexed by t
    like the forward ones (its recurrence runs from t+1 to t). tbptt: see `probe`.

    Returns {"h": (num_layers, L) float64 CPU tensor, "c": (num_layers, L) for LSTM only, ...}. Does not
    modify the model or its grads.
    """
    return probe(model, inputs, loss_fn, dtype, tbptt).grads
