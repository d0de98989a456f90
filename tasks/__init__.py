"""Synthetic long-range-dependency tasks (copy, adding, delayed recall): pure torch, usable on their own.

Typical use: ``task = make_task("copy", 100)``; ``batch = task.batch(32, seed=0, step=0)`` gives a Batch of
inputs / targets / mask, each (B, L) (float inputs are (B, L, C)); ``task.loss(output, batch)`` scores a
model's output (B, L, task.output_size).
"""

from __future__ import annotations

import dataclasses
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


def make_task(name: object, seq_len: int | None = None, **options: object) -> Task:
    """Build a task from its spec, or from a name, length parameter `seq_len` and keyword `options`.

    A spec is any dataclass with fields `name`, `seq_len` and the task's options (bench.spec's task
    specs are). An unknown name or option raises ValueError naming it and listing the allowed ones.
    `make_task(**task.params())` rebuilds an equal task.
    """
    if dataclasses.is_dataclass(name) and not isinstance(name, type):  # a spec
        options = dataclasses.asdict(name)
        name, seq_len = options.pop("name"), options.pop("seq_len")
    elif not isinstance(name, str):
        raise TypeError(f"make_task needs a task spec or a task name, got {name!r}")
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
