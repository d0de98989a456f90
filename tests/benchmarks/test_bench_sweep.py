"""Sweep throughput: the built-in runner with 2 worker processes (`jobs=2`, the default on 2 cores)
against the same runner sequential in-process (`jobs=1`).

Both sweep the same grid of small runs (`python -m bench sweep ...` in a subprocess), side by side: one
after the other in this process, each with its own default threads (cores // jobs). Throughput is runs
per minute while the runner runs the jobs (the sweep's own "runs: X s" figure: worker start-up included;
process start, pre-flight and the report, the same for both, left out), so the ratio of those times is
the ratio of throughputs. Target: jobs=2 >= 1.8x sequential on 2 cores, with identical results. Full grid
only (about three minutes); the CI quick pass skips it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import load_results

GRID = [
    "sweep=none",
    "task=recall",
    "cell=rnn,gru",
    "seed=0,1,2,3",
    "task.seq_len=30",
    "cell.hidden_size=64",
    "train.steps=1200",
    "train.early_stop=false",
    "train.eval_size=128",
    "progress=false",
]
TARGET = 1.8


def _sweep(root: Path, *extra: str) -> float:
    args = [
        sys.executable,
        "-m",
        "bench",
        "sweep",
        *GRID,
        *extra,
        f"results_dir={root / 'results'}",
        f"report_dir={root / 'reports'}",
        f"hydra.sweep.dir={root / 'multirun'}",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(load_results(root / "results")) == 8
    return float(re.search(r"sweep done: 8 ok.*\(runs: ([0-9.]+) s\)", proc.stdout).group(1))


def test_parallel_sweep_throughput(grid, tmp_path, benchmark):
    if grid.name != "full":
        pytest.skip("sweep throughput runs on the full grid only")
    (tmp_path / "seq").mkdir()
    (tmp_path / "par").mkdir()
    seq = _sweep(tmp_path / "seq", "jobs=1")
    par = _sweep(tmp_path / "par", "jobs=2")
    a, b = (
        load_results(tmp_path / d / "results").runs.set_index("run_id").sort_index() for d in ("seq", "par")
    )
    assert list(a.index) == list(b.index) and list(a.steps) == list(b.steps)
    ratio = seq / par
    benchmark.extra_info.update(sequential_s=seq, parallel_s=par, throughput_ratio=ratio, runs=8)
    benchmark.pedantic(lambda: None, rounds=1)  # the numbers above are the measurement
    print(f"\nsweep of 8 runs: sequential {seq:.1f} s, jobs=2 {par:.1f} s, throughput ratio {ratio:.2f}")
    assert ratio >= TARGET, (
        f"jobs=2 {par:.1f} s vs sequential {seq:.1f} s: throughput ratio {ratio:.2f} < {TARGET}"
    )
