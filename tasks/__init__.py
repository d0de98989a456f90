"""Synthetic long-range-dependency tasks (copy, adding, delayed recall): pure torch, usable on their own.

Typical use: ``task = make_task("copy", 100)``; ``batch = task.batch(32, seed=0, step=0)`` gives a Batch of
inputs / targets / mask, each (B, L) (float inputs are (B, L, C)); ``task.loss(output, batch)`` scores a
model's output (B, L, task.output_size).
"""

from __future__ import annotations

import inspect

from tasks.adding import AddingTask
from tasks.base import Batch, Task, make_generator, stream_seed
from tasks.copy import CopyTask
from tasks.recall import RecallTask

TASKS: dict[str, type[Task]] = {"copy": CopyTask, "adding": AddingTask, "recall": RecallTask}


def task_options(name: str) -> list[str]:
    """The keyword options (besides seq_len) that task `name` accepts."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed: {sorted(TASKS)}")
    signature = inspect.signature(TASKS[name].__init__)
    return [p for p in signature.parameters if p not in ("self", "seq_len")]


def make_task(name: str, seq_len: int, **options: object) -> Task:
    """Build task `name` with length parameter `seq_len` and keyword `options`.

    An unknown name or option raises ValueError naming it and listing the allowed ones.
    `make_task(**task.params())` rebuilds an equal task.
    """
    allowed = task_options(name)
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} for task {name!r}; allowed: {allowed}")
    return TASKS[name](seq_len, **options)


__all__ = [
    "TASKS",
    "AddingTask",
    "Batch",
    "CopyTask",
    "RecallTask",
    "Task",
    "make_generator",
    "make_task",
    "stream_seed",
    "task_options",
]
