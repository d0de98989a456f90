"""Recurrent cores: vanilla RNN, LSTM and GRU, fused (torch.nn) or with the gate equations written out.

The registry: one CellDef per cell, in the report's order. Adding a cell = one module that builds a
CellDef (see bench/cells/gru.py), one line here, one yaml in conf/cell/.

Two implementations of each cell compute the same function:

- ``fused``: ``torch.nn.RNN / LSTM / GRU`` (oneDNN / cuDNN kernels). Fast, but only the textbook cells.
- ``explicit``: a loop over time with the gate equations spelled out, with the same parameter names,
  shapes and gate order as the fused module (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``), so ``explicit.load_state_dict(fused.state_dict())`` gives the same outputs and
  gradients. The explicit cells also run the ablations (Greff et al. 2017 for the LSTM).

Speed: the autograd loops hoist the input projection out of the loop, do one ``addmm`` per step for the
recurrent part of all gates and iterate over ``unbind`` (never ``x[:, t]``, which makes backward
quadratic in T). A cell's ``fast`` path (the LSTM's: a custom autograd.Function with a hand-written
backward) serves ``RecurrentCore.forward``; ``forward_with_states`` always uses the autograd loop, since
it must expose every state as a graph node.

Bidirectional cores (``cell.bidirectional``): fused, torch.nn's own; explicit, the same layer loop (and fast
path) a second time on the time-reversed sequence, outputs concatenated to (B, T, 2H), with torch.nn's
parameter names (``weight_ih_l{k}_reverse``, ...), so the state dicts are interchangeable here too.
"""

from __future__ import annotations

import math

from bench.cells import gru, lstm, rnn
from bench.cells.core import CellDef, RecurrentCore, init_forget_bias_, init_recurrent_
from bench.spec import IMPLS, RECURRENT_INITS, CellSpec, suggest

CELL_DEFS: dict[str, CellDef] = {d.name: d for d in (rnn.DEF, lstm.DEF, gru.DEF)}

# Derived views of the registry, for validation messages, tests and the report.
CELLS = tuple(CELL_DEFS)
VARIANTS = {n: d.variants for n, d in CELL_DEFS.items()}
FUSED_VARIANTS = {n: d.fused_variants for n, d in CELL_DEFS.items()}
DEFAULT_VARIANT = {n: d.default_variant for n, d in CELL_DEFS.items()}


def gate_names(cell: str, variant: str) -> tuple[str, ...]:
    """The gate blocks stacked (in this order) in weight_ih / weight_hh / biases, each H rows."""
    return CELL_DEFS[cell].gates[variant]


def core_param_count(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    variant: str | None = None,
    bidirectional: bool = False,
) -> int:
    """Exact number of parameters of a core (same for fused and explicit; both directions)."""
    d = CELL_DEFS[cell]
    return d.param_count(input_size, hidden_size, num_layers, variant or d.default_variant, 1 + bidirectional)


def check_cell(spec: CellSpec) -> list[str]:
    """What the registry says about a cell spec: one line per problem (empty when it can be built)."""
    if spec.name not in CELL_DEFS:
        return [f"cell.name must be one of {list(CELLS)}, got {spec.name!r}{suggest(spec.name, CELLS)}"]
    d, p = CELL_DEFS[spec.name], []
    if spec.variant not in d.gates:
        p.append(
            f"cell.variant (for {spec.name}) must be one of {list(d.variants)}, got {spec.variant!r}"
            + suggest(spec.variant, d.variants)
        )
    elif spec.impl == "fused" and spec.variant not in d.fused_variants:
        p.append(
            f"cell.variant {spec.variant!r} needs cell.impl=explicit "
            f"(fused {spec.name} supports {list(d.fused_variants)})"
        )
    if spec.forget_bias != 0 and spec.variant in d.gates:
        probe = d.memory_bias(spec.variant, _Zero(), False)  # is there a memory gate at all?
        if not probe:
            what = f"{d.memory_gate_name} gate" if d.memory_gate_name else "gates"
            p.append(
                f"cell.forget_bias must be 0 for {spec.name}"
                + (f" variant {spec.variant!r}" if d.memory_gate_name else "")
                + f" (it has no {what}), got {spec.forget_bias!r}"
            )
    return p


class _Zero:
    """Stands in for a bias tensor when only asking which gates a cell's memory_bias would set."""

    def __neg__(self) -> _Zero:
        return self


def make_core(spec: CellSpec, input_size: int, chrono_tmax: float | None = None) -> RecurrentCore:
    """Validate the cell spec, build the core (hidden size spec.hidden_size) and apply its init options.

    forget_bias "chrono" needs chrono_tmax >= 2, the longest dependency to remember times 3/2 (Tallec &
    Ollivier); it is ignored otherwise. Every bad argument raises ValueError with a one-line message.
    """
    problems = spec.problems() + check_cell(spec)
    if not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < 1:
        problems.append(f"input_size must be an integer >= 1, got {input_size!r}")
    if spec.forget_bias == "chrono" and (chrono_tmax is None or not chrono_tmax >= 2):
        problems.append(
            "forget_bias='chrono' needs chrono_tmax >= 2 (the longest dependency to remember, Tallec & "
            f"Ollivier use 3/2 of it), got chrono_tmax={chrono_tmax!r}"
        )
    if isinstance(spec.forget_bias, float) and not math.isfinite(spec.forget_bias):
        problems.append(f"forget_bias must be a finite number or 'chrono', got {spec.forget_bias!r}")
    if problems:
        raise ValueError(problems[0])
    d = CELL_DEFS[spec.name]
    core = RecurrentCore(
        d, spec.impl, input_size, spec.hidden_size, spec.layers, spec.variant, spec.bidirectional
    )
    init_recurrent_(core, spec.recurrent_init)
    init_forget_bias_(core, spec.forget_bias, chrono_tmax)
    return core


__all__ = [
    "CELLS",
    "CELL_DEFS",
    "DEFAULT_VARIANT",
    "FUSED_VARIANTS",
    "IMPLS",
    "RECURRENT_INITS",
    "VARIANTS",
    "CellDef",
    "RecurrentCore",
    "check_cell",
    "core_param_count",
    "gate_names",
    "make_core",
]
