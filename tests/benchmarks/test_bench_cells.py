"""Forward and forward+backward of every cell in both implementations over the grid.

forward runs under torch.no_grad() (inference); forward_backward is one training pass of the core:
core(x).sum().backward() with the gradients cleared first. Both cores of a cell share one state dict,
so fused and explicit do the same arithmetic. Groups put fused and explicit of all cells side by side
per pass and shape; extra_info carries FLOPs, GFLOP/s and the fraction of the GEMM reference. The
explicit forward_backward benchmarks also time their fused twin between rounds (extra_info twin_min_s):
the explicit / fused gate reads that interleaved pair.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from bench.cells import CELLS, IMPLS
from bench.microbench import pass_flops
from tests.util import core_of as make_core


def _core(cell: str, impl: str, hidden: int, input_size: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    fused = make_core(cell, "fused", input_size, hidden)
    core = fused if impl == "fused" else make_core(cell, impl, input_size, hidden)
    core.load_state_dict(fused.state_dict())
    return core.to(device)


def _info(pass_: str, cell: str, impl: str, hidden: int, seq_len: int, grid) -> dict:
    return {
        "pass": pass_,
        "cell": cell,
        "impl": impl,
        "hidden": hidden,
        "seq_len": seq_len,
        "batch": grid.batch,
        "input_size": grid.input_size,
        "flops": pass_flops(pass_, cell, hidden, grid.input_size, seq_len, grid.batch),
    }


def _gemm(cell: str, hidden: int, seq_len: int, grid, backward: bool) -> dict:
    return {
        "cell": cell,
        "hidden": hidden,
        "input_size": grid.input_size,
        "seq_len": seq_len,
        "batch": grid.batch,
        "backward": backward,
    }


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", CELLS)
def test_forward(measure, grid, device, cell, impl, hidden, seq_len):
    core = _core(cell, impl, hidden, grid.input_size, device)
    x = torch.randn(grid.batch, seq_len, grid.input_size, device=device)

    def fwd() -> None:
        with torch.no_grad():
            core(x)

    measure(
        fwd,
        group=f"forward H{hidden} T{seq_len} B{grid.batch}",
        info=_info("forward", cell, impl, hidden, seq_len, grid),
        gemm=_gemm(cell, hidden, seq_len, grid, backward=False),
    )


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", CELLS)
def test_forward_backward(measure, grid, device, cell, impl, hidden, seq_len):
    core = _core(cell, impl, hidden, grid.input_size, device)
    x = torch.randn(grid.batch, seq_len, grid.input_size, device=device)
    twin = None
    if impl != "fused":
        # the fused core runs before every round of the explicit one (untimed by pytest-benchmark, timed
        # on the side), so the explicit / fused ratio compares calls made under the same load
        fused = _core(cell, "fused", hidden, grid.input_size, device)
        twin = ("fused", _fwd_bwd(fused, x))

    measure(
        _fwd_bwd(core, x),
        group=f"forward_backward H{hidden} T{seq_len} B{grid.batch}",
        info=_info("forward_backward", cell, impl, hidden, seq_len, grid),
        gemm=_gemm(cell, hidden, seq_len, grid, backward=True),
        twin=twin,
    )
    grads = [p.grad for p in core.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _fwd_bwd(core: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def fwd_bwd() -> None:
        core.zero_grad(set_to_none=True)
        core(x).sum().backward()

    return fwd_bwd
