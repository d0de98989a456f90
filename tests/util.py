"""Test helpers: build cores and models from loose arguments (the tests' shorthand for a CellSpec)."""

from __future__ import annotations

import pytest

from bench.cells import DEFAULT_VARIANT, RecurrentCore, make_core
from bench.spec import CellSpec

# Overrides for runs that only exercise the pipeline (seconds each): tiny task, model and cadence.
TINY = [
    "task.seq_len=4",
    "cell.hidden_size=8",
    "train.steps=20",
    "train.eval_every=10",
    "train.eval_size=32",
    "train.log_every=10",
    "train.profile_points=1",
    "train.profile_batch=4",
    "progress=false",
]


def cell_spec(
    cell: str = "lstm",
    impl: str = "fused",
    hidden_size: int = 8,
    num_layers: int = 1,
    variant: str | None = None,
    forget_bias: float | str = 0.0,
    recurrent_init: str = "default",
) -> CellSpec:
    variant = DEFAULT_VARIANT.get(cell, "vanilla") if variant is None else variant
    return CellSpec(cell, impl, variant, hidden_size, None, num_layers, forget_bias, recurrent_init)


def core_of(
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
    """make_core(CellSpec(...), input_size, chrono_tmax) with the old positional order."""
    spec = cell_spec(cell, impl, hidden_size, num_layers, variant, forget_bias, recurrent_init)
    return make_core(spec, input_size, chrono_tmax)


def model_of(
    input_size: int,
    output_size: int,
    input_kind: str,
    cell: str,
    hidden_size: int,
    num_layers: int = 1,
    impl: str = "fused",
    variant: str | None = None,
    forget_bias: float | str = 0.0,
    chrono_tmax: float | None = None,
    recurrent_init: str = "default",
):
    """SequenceModel(..., CellSpec(...), chrono_tmax) with the old positional order."""
    from bench.model import SequenceModel

    spec = cell_spec(cell, impl, hidden_size, num_layers, variant, forget_bias, recurrent_init)
    return SequenceModel(input_size, output_size, input_kind, spec, chrono_tmax)


def text_only(mp: pytest.MonkeyPatch) -> None:
    """Make bench.report.main build the report without figures while `mp` is active."""
    import functools

    import bench.report.build as build

    mp.setattr(build, "build_report", functools.partial(build.build_report, figures=False))
