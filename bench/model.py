"""The sequence model every task trains: input encoding -> recurrent core -> linear head at every position."""

from __future__ import annotations

from dataclasses import replace

import torch.nn.functional as F
from torch import Tensor, nn

from bench.cells import RecurrentCore, core_param_count, make_core
from bench.spec import CellSpec

INPUT_KINDS = ("tokens", "float")


class SequenceModel(nn.Module):
    """Input encoding -> recurrent core -> linear head applied at every position.

    input_kind "tokens": inputs are int ids (B, L) in [0, input_size), one-hot encoded (no embedding, so no
    parameters outside the core and the head). "float": inputs (B, L, input_size) are used as they are; a
    (B, L) tensor is accepted when input_size == 1. The core is bench.cells.make_core(cell, ...), with
    hidden size cell.hidden_size (resolve a budget first: build_model does).
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        input_kind: str,
        cell: CellSpec,
        chrono_tmax: float | None = None,
    ):
        super().__init__()
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {list(INPUT_KINDS)}, got {input_kind!r}")
        if not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"output_size must be an integer >= 1, got {output_size!r}")
        self.input_size, self.output_size, self.input_kind = input_size, output_size, input_kind
        self.core: RecurrentCore = make_core(cell, input_size, chrono_tmax)
        self.head = nn.Linear(self.core.output_size, output_size)  # reads D*H: both directions' h_t

    def encode(self, inputs: Tensor) -> Tensor:
        """(B, L) int ids -> (B, L, V) one-hot, or float (B, L, I) passthrough; both in the model's dtype."""
        dtype = self.head.weight.dtype
        if self.input_kind == "tokens":
            if inputs.is_floating_point():
                raise ValueError(f"input_kind='tokens' needs integer ids, got a {inputs.dtype} tensor")
            return F.one_hot(inputs.long(), self.input_size).to(dtype)  # (B, L, V)
        if inputs.dim() == 2 and self.input_size == 1:
            inputs = inputs.unsqueeze(-1)  # (B, L) -> (B, L, 1)
        return inputs.to(dtype)

    def forward(self, inputs: Tensor) -> Tensor:
        """inputs (B, L) or (B, L, I) -> outputs (B, L, output_size)."""
        return self.head(self.core(self.encode(inputs)))  # (B, L, D*H) -> (B, L, O)

    def scan(
        self, inputs: Tensor, state: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """forward from a carried core state (truncated BPTT): -> (outputs (B, L, O), the final core state);
        see RecurrentCore.scan."""
        out, final = self.core.scan(self.encode(inputs), state)
        return self.head(out), final


def build_model(cell: CellSpec, task) -> SequenceModel:
    """The model a run trains on `task` (a tasks.Task): the budget resolved to a hidden size, and chrono's
    horizon T_max = 3/2 of the longest dependency the task asks for (Tallec & Ollivier)."""
    cell = replace(cell, hidden_size=resolve_hidden(cell, task), budget=None)
    tmax = max(2.0, 1.5 * task.max_distance)
    return SequenceModel(task.input_size, task.output_size, task.input_kind, cell, chrono_tmax=tmax)


def resolve_hidden(cell: CellSpec, task) -> int:
    """cell.hidden_size, or the hidden size that lands closest to cell.budget on this task."""
    if cell.budget is None:
        return cell.hidden_size
    return hidden_for_budget(
        cell.budget,
        task.input_size,
        task.output_size,
        cell.name,
        cell.layers,
        cell.variant,
        cell.bidirectional,
    )


def count_params(model: nn.Module) -> int:
    """Number of trainable parameter elements."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_param_count(
    input_size: int,
    output_size: int,
    cell: str,
    hidden_size: int,
    num_layers: int = 1,
    variant: str | None = None,
    bidirectional: bool = False,
) -> int:
    """Exact count_params of the SequenceModel with these sizes (core + head; the one-hot has none)."""
    head = ((1 + bidirectional) * hidden_size + 1) * output_size  # the head reads both directions
    return core_param_count(cell, input_size, hidden_size, num_layers, variant, bidirectional) + head


def hidden_for_budget(
    budget: int,
    input_size: int,
    output_size: int,
    cell: str,
    num_layers: int = 1,
    variant: str | None = None,
    bidirectional: bool = False,
) -> int:
    """The hidden size whose SequenceModel parameter count lands closest to budget (ties: the smaller one).

    Counts with the exact formula of each variant, so e.g. a CIFG LSTM gets a larger H than a vanilla one
    at the same budget. Never returns less than 1.
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget!r}")

    def count(h: int) -> int:
        return model_param_count(input_size, output_size, cell, h, num_layers, variant, bidirectional)

    # count is strictly increasing in H: find the last H with count <= budget, then compare it with H + 1
    lo, hi = 1, 2
    while count(hi) <= budget:
        lo, hi = hi, hi * 2
    if count(lo) > budget:
        return 1
    while hi - lo > 1:  # invariant: count(lo) <= budget < count(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    return lo if budget - count(lo) <= count(hi) - budget else hi
