"""Gradient profiles: how strongly the loss reaches back to each timestep's hidden state.

The quantity behind "the vanilla RNN forgets": ||dL/dh_t|| against t (Pascanu et al. 2013, Arjovsky et al.
2016 plot it). Here dL/dh_t is the TOTAL derivative, through the recurrence (h_t -> h_{t+1} -> ...) and, for
stacked layers, through the layers above, not only the direct path h_t -> output_t.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from bench.model import SequenceModel


def hidden_grad_profile(
    model: SequenceModel,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    dtype: torch.dtype = torch.float64,
) -> dict[str, Tensor]:
    """||dL/dh_t|| for every t (and ||dL/dc_t|| for LSTM): the total derivative through the recurrence.

    Works for fused and explicit models: runs on a deep copy of the model cast to `dtype` (float64 by
    default, because at PyTorch's default init these norms fall by ~20 orders of magnitude over 100 steps
    and underflow to exactly 0 in float32), stepping one timestep at a time via core.forward_with_states and
    taking torch.autograd.grad of the loss w.r.t. the per-step states. The norm is the Frobenius norm over
    batch and hidden of dL/dh_t. loss_fn maps the model output (B, L, O) to a scalar.

    For the LSTM, dL/dc_t is the gradient arriving at c_t from everything it feeds: c_{t+1} and h_t.

    Returns {"h": (num_layers, L) float64 CPU tensor, "c": (num_layers, L) for LSTM only}. Does not modify the
    model or its grads.
    """
    m = copy.deepcopy(model).to(dtype)
    device = next(m.parameters()).device
    with torch.enable_grad():
        x = m.encode(inputs.to(device))  # (B, L, I) in `dtype`
        states = m.core.forward_with_states(x)
        loss = loss_fn(m.head(states["out"]))  # head: (B, L, H) -> (B, L, O)
        keys = [k for k in ("h", "c") if k in states]
        flat = [s for k in keys for layer in states[k] for s in layer]  # every (B, H) state, in order
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
    L = x.shape[1]
    zero = x.new_zeros(())  # a state the loss does not depend on
    norms = torch.stack([zero if g is None else g.norm() for g in grads]).to("cpu", torch.float64)
    norms = norms.view(len(keys), m.core.num_layers, L)  # (states, layers, L)
    return {k: norms[j] for j, k in enumerate(keys)}
