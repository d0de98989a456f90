"""Batch generation of the three tasks, as the training loop calls it: task.batch(B, seed, step, device).

Each call seeds a fresh generator from (seed, step) and samples a whole batch on the device, so the
time includes generator creation; the step advances every call, as in training.
"""

from __future__ import annotations

import itertools

import pytest

from tasks import make_task


@pytest.mark.parametrize("task_name", ["copy", "adding", "recall"])
def test_generate(measure, grid, device, task_name, seq_len):
    task = make_task(task_name, seq_len)
    steps = itertools.count(1)

    def generate() -> None:
        task.batch(grid.batch, 0, next(steps), device)

    measure(
        generate,
        group=f"generate B{grid.batch}",
        info={
            "pass": "generate",
            "task": task_name,
            "seq_len": seq_len,
            "batch": grid.batch,
            "length": task.length,
        },
    )
