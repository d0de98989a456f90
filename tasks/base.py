"""Shared pieces of every task: the Batch container, seeded generators, the Task interface, validators."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


@dataclass
class Batch:
    """One batch of a task.

    inputs:  (B, L) int64 token ids when the task's input_kind is "tokens";
             (B, L, input_size) float32 when it is "float".
    targets: (B, L) int64 class ids for classification, (B, L) float32 for regression.
             Only meaningful where `mask` is True; elsewhere they hold a filler (a valid class id, or 0.0).
    mask:    (B, L) bool, the positions that are scored.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def to(self, device: str | torch.device) -> Batch:
        """The same batch with every tensor moved to `device`."""
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device))


# ---------------------------------------------------------------------------------------------------------
# Seeding


def _splitmix64(x: int) -> int:
    """SplitMix64 finaliser: a bijection on 64-bit integers; every input bit affects every output bit."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _mix32(x: int) -> int:
    """A bijection on 32-bit integers with good avalanche (Wellons' "lowbias32")."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def stream_seed(seed: int, step: int) -> int:
    """The 64-bit generator seed that `make_generator` uses for (seed, step).

    torch's CPU generator (mt19937) only uses the low 32 bits of its seed, so the low half is a keyed
    32-bit permutation of `step` (key from `seed`): for a fixed seed, steps below 2**32 never share a CPU
    stream. The high half is a bijection of `seed` below 2**32, so the full 64-bit value (used by CUDA's
    Philox) is distinct for all distinct pairs with seed, step < 2**32. Beyond that, values are hashed.
    """
    _check_int("seed", seed, 0, _MASK64)
    _check_int("step", step, 0, _MASK64)
    key = _splitmix64(seed)
    k1, k2 = key & _MASK32, key >> 32
    step_lo, step_hi = step & _MASK32, step >> 32
    # Two rounds of xor-key + bijective mix: a permutation of step_lo for each (seed, step_hi).
    lo = _mix32(_mix32(step_lo ^ k1) ^ k2 ^ _mix32(step_hi))
    hi = _mix32((seed & _MASK32) ^ _mix32(seed >> 32))
    return (hi << 32) | lo


def make_generator(seed: int, step: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on `device` seeded deterministically from (seed, step).

    Distinct pairs give distinct streams: the pair is mixed by `stream_seed`, not added.
    Both must be integers in [0, 2**64).
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(stream_seed(seed, step))
    return generator


# ---------------------------------------------------------------------------------------------------------
# Validation helpers: one-line ValueErrors naming the parameter and the allowed values.


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    # bool is a subclass of int, but True as a length is always a mistake.
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def _check_number(name: str, value: Any, low: float, high: float, low_open: bool, high_open: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_choice(name: str, value: Any, choices: list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------------
# Task interface


class Task(ABC):
    """A synthetic sequence task: samples batches, and scores a model's per-step outputs on them.

    Subclasses set the attributes below in __init__ and implement `_generate` and `metrics`.
    """

    name: ClassVar[str]
    seq_len: int  # T, the task's length parameter
    length: int  # L, the (max) total sequence length of a batch
    input_kind: str  # "tokens" or "float"
    input_size: int  # vocabulary size for tokens (the model one-hot encodes), channels for float
    output_size: int  # number of classes, or 1 for regression
    kind: str  # "classification" or "regression"
    chance_loss: float  # analytic loss of the best memoryless / constant predictor
    chance_accuracy: float  # analytic accuracy of that predictor
    max_distance: int  # longest distance (steps) from an informative input to where it is scored
    solve_accuracy: float

    @abstractmethod
    def _generate(self, batch_size: int, generator: torch.Generator) -> Batch:
        """Sample a batch on generator.device, drawing all randomness from `generator`."""

    @abstractmethod
    def metrics(self, output: torch.Tensor, batch: Batch) -> dict[str, float]:
        """Python-float metrics of `output` (B, L, output_size); always has "loss" and "accuracy"."""

    @abstractmethod
    def params(self) -> dict[str, object]:
        """The constructor parameters, including name and seq_len, as plain JSON-able values."""

    def sample(
        self, batch_size: int, generator: torch.Generator, device: str | torch.device | None = None
    ) -> Batch:
        """`batch_size` sequences drawn from `generator`, on `device` (default: generator.device)."""
        _check_int("batch_size", batch_size, 1)
        batch = self._generate(batch_size, generator)
        if device is not None and torch.device(device) != generator.device:
            # torch samplers need tensors on the generator's device; move afterwards.
            batch = batch.to(device)
        return batch

    def batch(self, batch_size: int, seed: int, step: int, device: str | torch.device = "cpu") -> Batch:
        """The batch for (seed, step): `sample(batch_size, make_generator(seed, step, device))`."""
        return self.sample(batch_size, make_generator(seed, step, device))

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The task's differentiable training loss (scalar) for model output (B, L, output_size).

        Cross-entropy or MSE, averaged over the scored (masked) positions of all sequences.
        """
        self._check_output(output, batch)
        if self.kind == "classification":
            return F.cross_entropy(output[batch.mask], batch.targets[batch.mask])  # (N, C) vs (N,)
        prediction = output[..., 0][batch.mask]  # (N,)
        return F.mse_loss(prediction, batch.targets[batch.mask].to(prediction.dtype))

    def dependency_mask(self, batch: Batch) -> torch.Tensor:
        """(B, L) bool: the positions whose targets test the long-range dependency. The gradient profiles
        differentiate the loss there; by default every scored position (copy: only the recalled ones)."""
        return batch.mask

    def dependency_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The training loss restricted to `dependency_mask` (scalar)."""
        return self.loss(output, Batch(batch.inputs, batch.targets, self.dependency_mask(batch)))

    def solved(self, metrics: dict[str, float]) -> bool:
        """Whether `metrics` (from `metrics`) reach the task's solve_accuracy."""
        return metrics["accuracy"] >= self.solve_accuracy

    def _check_output(self, output: torch.Tensor, batch: Batch) -> None:
        expected = (*batch.mask.shape, self.output_size)
        if tuple(output.shape) != expected:
            raise ValueError(
                f"output must have shape (B, L, output_size) = {expected}, got {tuple(output.shape)}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items() if k != "name")
        return f"{type(self).__name__}({args})"
