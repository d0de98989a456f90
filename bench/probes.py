"""What a run measures at its probe steps (init, log-spaced steps, the end), as rows of three long tables:

- grad_profile: ||dL/dh_t|| (and ||dL/dc_t||) per layer, direction and t, of the loss at the positions that
  test the dependency (Task.dependency_mask), on the fixed probe batch, in float64;
- states: max |h_t| and the mean ||h_t|| per layer, direction and t, from the same forward;
- weights: sigma_max(W_hh) per layer.

`distance` in grad_profile: for the forward direction, steps back in time from the LAST scored position
of the probe batch (rows t <= that position: later states cannot reach it); for the backward direction of a
bidirectional model, whose recurrence runs from the future to the past, steps forward in time from the
FIRST scored position (rows t >= it). Either way distance 0 is the scored step and distance d is a state d
recurrent steps away from it. A run with train.tbptt = K differentiates its truncated objective, so its
norms are exactly 0 at distance >= K.
"""

from __future__ import annotations

import torch

from bench.cells.core import DIRECTIONS, SUFFIXES
from bench.gradients import STATS, probe
from bench.model import SequenceModel
from bench.tbptt import chunk_length
from tasks import Batch, Task


def to_device(batch: Batch, device: torch.device, dtype: torch.dtype) -> Batch:
    """Cast float inputs/targets to the model dtype (token ids stay int64)."""
    f = lambda x: x.to(device, dtype) if x.is_floating_point() else x.to(device)  # noqa: E731
    return Batch(f(batch.inputs), f(batch.targets), batch.mask.to(device))


@torch.no_grad()
def weight_rows(run_id: str, step: int, model: SequenceModel) -> list[tuple]:
    """sigma_max(W_hh) per layer (float64 SVD: exact enough to compare with 1); forward direction."""
    rows = []
    for layer in range(model.core.num_layers):
        w = model.core.layer_params(layer)["weight_hh"].detach().to("cpu", torch.float64)  # (G*H, H)
        rows.append((run_id, step, layer, "sigma_max_w_hh", float(torch.linalg.matrix_norm(w, ord=2))))
    return rows


def probe_rows(
    run_id: str, step: int, model: SequenceModel, task: Task, batch: Batch, tbptt: int | None = None
) -> tuple[list[tuple], list[tuple]]:
    """(grad_profile rows, states rows) of `model` at training step `step` on the probe batch."""
    b64 = to_device(batch, batch.inputs.device, torch.float64)
    chunk = chunk_length(tbptt, batch.mask.shape[1])
    # The loss at the positions that test the dependency (copy: the recalled symbols, not the blanks).
    p = probe(model, b64.inputs, lambda out: task.dependency_loss(out, b64), tbptt=chunk)
    scored = task.dependency_mask(batch).any(0).nonzero()
    first, last = int(scored.min()), int(scored.max())
    profile, states = [], []
    for key, norms in p.grads.items():  # key "h", "c", "h_reverse", "c_reverse"; norms (layers, L)
        state, direction = _split(key)
        L = norms.shape[1]
        ts = range(last + 1) if direction == "forward" else range(first, L)
        for layer in range(norms.shape[0]):
            for t in ts:
                dist = last - t if direction == "forward" else t - first
                profile.append((run_id, step, layer, direction, t, dist, state, float(norms[layer, t])))
            for stat in STATS:
                vals = p.stats[key][stat][layer].tolist()  # (L,)
                states.extend((run_id, step, layer, direction, t, state, stat, v) for t, v in enumerate(vals))
    return profile, states


def _split(key: str) -> tuple[str, str]:
    """ "c_reverse" -> ("c", "backward"); "h" -> ("h", "forward")."""
    for suffix, direction in zip(SUFFIXES[::-1], DIRECTIONS[::-1], strict=True):
        if suffix and key.endswith(suffix):
            return key[: -len(suffix)], direction
    return key, DIRECTIONS[0]
