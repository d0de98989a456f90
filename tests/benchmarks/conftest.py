"""Micro-benchmark suite setup: opt-in collection, the grid switch, the device, calibrated timing.

The suite is collected only when asked for: a path inside tests/benchmarks on the command line,
``--benchmark-only``, or ``RNN_BENCH=1``. A plain ``pytest`` from the repository root (testpaths=tests)
skips this folder at collection, so the unit suite never pays for benchmarks.

Grid: ``--bench-grid=quick|full|tiny`` (or ``BENCH_GRID``; default full). quick is the CI pass (hidden 128,
T 300, few rounds); full is hidden 64/128/256 x T 100/300/1000; tiny exists for the suite's own test.
Device: cuda when present, else cpu (``BENCH_DEVICE`` overrides). ``BENCH_THREADS`` sets torch's CPU threads.

    pytest tests/benchmarks --benchmark-only                       # full grid, grouped table
    pytest tests/benchmarks --benchmark-only --bench-grid=quick --benchmark-json=out.json
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.microbench import FASTPATH_GATE_SHAPES, gemm_reference, sync, time_min

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Grid:
    """Shapes and timing effort of one grid."""

    name: str
    hidden: tuple[int, ...]
    seq_len: tuple[int, ...]
    batch: int = 64
    input_size: int = 10
    budget_s: float = 1.0  # timed seconds to aim for per benchmark (rounds = budget / one call)
    min_rounds: int = 5
    max_rounds: int = 50
    min_round_s: float = 2e-3  # fast calls are repeated (iterations) until a round lasts this long
    # gate (b): bench.train.train vs the bare loop, LSTM on copy, default cadence of conf/train/default.yaml
    harness_steps: int = 400
    harness_rounds: int = 3
    harness_hidden: int = 128
    harness_seq_len: int = 100
    harness_batch: int = 64
    # fast-path benchmarks (test_bench_fastpath.py): (hidden, seq_len, batch) each, the gates' shapes
    fastpath_shapes: tuple[tuple[int, int, int], ...] = FASTPATH_GATE_SHAPES


GRIDS = {
    # quick: 200 harness steps, not 400, to fit CI's 3 minutes; the harness's fixed costs (6 gradient
    # probes, the final eval) weigh twice as much at 200, so passing here implies passing at 400
    "quick": Grid(
        "quick",
        hidden=(128,),
        seq_len=(300,),
        budget_s=0.6,
        min_rounds=5,
        max_rounds=15,
        harness_steps=200,
        harness_rounds=2,
    ),
    "full": Grid("full", hidden=(64, 128, 256), seq_len=(100, 300, 1000)),
    # seconds in all: for tests/test_microbench.py, which runs the suite end to end on it
    "tiny": Grid(
        "tiny",
        hidden=(16,),
        seq_len=(30,),
        batch=8,
        budget_s=0.02,
        min_rounds=2,
        max_rounds=3,
        harness_steps=20,
        harness_rounds=1,
        harness_hidden=16,
        harness_seq_len=10,
        harness_batch=8,
        fastpath_shapes=((16, 30, 8),),
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-grid",
        choices=sorted(GRIDS),
        default=None,
        help="micro-benchmark grid: quick (CI), full (default) or tiny (self-test); env BENCH_GRID",
    )


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("RNN_BENCH", "") not in ("", "0"):
        return True
    if config.getoption("benchmark_only", default=False):
        return True
    # A command-line path at or below this folder (pytest tests/benchmarks[/file.py[::test]]).
    for arg in config.args:
        p = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if p == HERE or HERE in p.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the suite out of collection unless it was asked for (see the module docstring)."""
    if (collection_path == HERE or HERE in collection_path.parents) and not _asked_for(config):
        return True
    return None


def grid_of(config: pytest.Config) -> Grid:
    name = config.getoption("--bench-grid", default=None) or os.environ.get("BENCH_GRID") or "full"
    if name not in GRIDS:
        raise pytest.UsageError(f"--bench-grid / BENCH_GRID must be one of {sorted(GRIDS)}, got {name!r}")
    return GRIDS[name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # hidden and seq_len come from the chosen grid, so the test ids name the shape (e.g. lstm-H128-T300)
    grid = grid_of(metafunc.config)
    if "hidden" in metafunc.fixturenames:
        metafunc.parametrize("hidden", grid.hidden, ids=[f"H{h}" for h in grid.hidden])
    if "seq_len" in metafunc.fixturenames:
        metafunc.parametrize("seq_len", grid.seq_len, ids=[f"T{t}" for t in grid.seq_len])
    if "fp_shape" in metafunc.fixturenames:
        shapes = grid.fastpath_shapes
        metafunc.parametrize("fp_shape", shapes, ids=[f"H{h}-T{t}-B{b}" for h, t, b in shapes])
    if "harness_pass" in metafunc.fixturenames:
        # rounds of the gate-(b) pair in ABBA order, so a load that drifts during the run cancels out
        pairs = []
        for r in range(grid.harness_rounds):
            order = ("bare_step", "harness_run") if r % 2 == 0 else ("harness_run", "bare_step")
            pairs += [(r, p) for p in order]
        metafunc.parametrize(("harness_round", "harness_pass"), pairs, ids=[f"r{r}-{p}" for r, p in pairs])


def pytest_report_header(config: pytest.Config) -> str:
    g = grid_of(config)
    return f"bench grid: {g.name} (hidden {list(g.hidden)}, T {list(g.seq_len)}, batch {g.batch})"


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    # what the timings ran on, beside pytest-benchmark's CPU info (threads as set by the device fixture)
    machine_info["torch_version"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["bench_grid"] = grid_of(config).name
    if torch.cuda.is_available():
        machine_info["cuda_device"] = torch.cuda.get_device_name()


@pytest.fixture(scope="session")
def grid(request: pytest.FixtureRequest) -> Grid:
    return grid_of(request.config)


@pytest.fixture(scope="session")
def device() -> torch.device:
    """cuda when present (BENCH_DEVICE overrides); TF32 off, so fused and explicit cells do the same math."""
    dev = torch.device(os.environ.get("BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda":
        # cuDNN RNNs may use TF32 while plain matmuls do not unless told: pin both to full fp32.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    return dev


_GEMM_CACHE: dict[tuple, float] = {}


def gemm_seconds(
    cell: str, hidden: int, input_size: int, seq_len: int, batch: int, device: torch.device, backward: bool
) -> float:
    """Best time of the GEMM reference at these shapes, measured once per session and shape."""
    key = (cell, hidden, input_size, seq_len, batch, str(device), backward)
    if key not in _GEMM_CACHE:
        fn = gemm_reference(cell, hidden, input_size, seq_len, batch, device, backward)
        _GEMM_CACHE[key] = time_min(fn, device)
    return _GEMM_CACHE[key]


class Measure:
    """Runs one benchmark with calibrated rounds and fills its group and extra_info."""

    def __init__(self, benchmark: Any, grid: Grid, device: torch.device):
        self.benchmark, self.grid, self.device = benchmark, grid, device

    def __call__(
        self,
        fn: Callable[[], Any],
        *,
        group: str,
        info: dict[str, Any],
        gemm: dict[str, Any] | None = None,
        rounds: int | None = None,
        warmup_rounds: int = 1,
        twin: tuple[str, Callable[[], Any]] | None = None,
    ) -> Any:
        """Time fn (synchronised on GPU) and record info; gemm: kwargs of gemm_seconds for the fraction.

        Rounds: `rounds` if given (one iteration each, no calibration call: for long calls whose caller
        warms up more cheaply), else enough to fill grid.budget_s within min/max_rounds, estimated from
        one untimed call that doubles as a warm-up; pedantic then adds `warmup_rounds` more.
        twin: (label, fn2), a reference timed before every round (pytest-benchmark's untimed setup), so
        the two alternate call by call and see the same load; its best time goes to extra_info as
        twin_min_s, for a ratio that drifting load from other processes cannot skew.
        """
        device = self.device

        def timed() -> Any:
            out = fn()
            sync(device)  # inside the timed call: on GPU the time covers the kernels, not their launch
            return out

        twin_times: list[float] = []

        def run_twin() -> None:
            t0 = time.perf_counter()
            twin[1]()
            sync(device)
            twin_times.append(time.perf_counter() - t0)

        iterations = 1
        if rounds is None:
            t0 = time.perf_counter()
            timed()
            est = max(time.perf_counter() - t0, 1e-7)
            if twin is None:  # pytest-benchmark allows a setup only with one iteration per round
                iterations = max(1, math.ceil(self.grid.min_round_s / est))
            rounds = math.ceil(self.grid.budget_s / (est * iterations))
            rounds = min(max(rounds, self.grid.min_rounds), self.grid.max_rounds)
        b = self.benchmark
        b.group = group
        b.extra_info.update(
            {"device": device.type, "threads": torch.get_num_threads(), "grid": self.grid.name, **info}
        )
        setup = run_twin if twin is not None else None
        out = b.pedantic(
            timed, setup=setup, rounds=rounds, iterations=iterations, warmup_rounds=warmup_rounds
        )
        if twin is not None and len(twin_times) > warmup_rounds:
            b.extra_info.update(twin=twin[0], twin_min_s=min(twin_times[warmup_rounds:]))
        stats = getattr(getattr(b, "stats", None), "stats", None)  # None under --benchmark-disable
        flops = info.get("flops")
        if stats is not None and flops:
            best = stats.min
            b.extra_info["gflops_per_s"] = flops / best / 1e9
            if gemm is not None:
                steps = info.get("steps") or 1  # multi-step runs repeat the per-step GEMM work
                g = gemm_seconds(device=device, **gemm) * steps
                b.extra_info.update(gemm_s=g, gemm_gflops_per_s=flops / g / 1e9, gemm_fraction=g / best)
        return out


@pytest.fixture
def measure(benchmark: Any, grid: Grid, device: torch.device) -> Measure:
    """measure(fn, group=..., info={...}, gemm={...}): a calibrated, synchronised benchmark of fn."""
    return Measure(benchmark, grid, device)
