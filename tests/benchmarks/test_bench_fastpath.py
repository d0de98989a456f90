"""Forward+backward of the C++ fast path (bench.fastpath, impl "fast") of each cell at the gate shapes.

Each benchmark times fastpath.layer(cell, default variant, x (T, B, I)).sum().backward() and, between its
rounds, its fused twin on the same weights and input (torch.nn.LSTM for the fast LSTM and GRU, torch.nn.RNN
for the fast RNN; time-major on both sides), so the ratio gates of bench.microbench (fastpath_*) compare
calls made under the same load. extra_info carries FLOPs and the GEMM-reference fraction as in
test_bench_cells.py. Skipped where the fast path cannot be built or the device is not the CPU.
"""

from __future__ import annotations

import pytest
import torch

from bench import fastpath
from bench.fastpath_bench import pair
from bench.microbench import FASTPATH_LIMITS, pass_flops


@pytest.mark.parametrize("cell", sorted(FASTPATH_LIMITS))
def test_fastpath_fwd_bwd(measure, grid, device, cell, fp_shape):
    if device.type != "cpu":
        pytest.skip("the fast path is CPU only")
    if not fastpath.available():
        pytest.skip("bench.fastpath could not be built")
    hidden, seq_len, batch = fp_shape
    twin_name, _ = FASTPATH_LIMITS[cell]
    twin_cell = twin_name.removeprefix("fused_")
    _, fast = pair(cell, hidden, seq_len, batch, grid.input_size)
    fused, _ = pair(twin_cell, hidden, seq_len, batch, grid.input_size)
    measure(
        fast,
        group=f"fastpath forward_backward H{hidden} T{seq_len} B{batch}",
        info={
            "pass": "forward_backward",
            "cell": cell,
            "impl": "fast",
            "hidden": hidden,
            "seq_len": seq_len,
            "batch": batch,
            "input_size": grid.input_size,
            "flops": pass_flops("forward_backward", cell, hidden, grid.input_size, seq_len, batch),
        },
        gemm={
            "cell": cell,
            "hidden": hidden,
            "input_size": grid.input_size,
            "seq_len": seq_len,
            "batch": batch,
            "backward": True,
        },
        twin=(twin_name, fused),
    )
    assert torch.get_num_threads() >= 1
