"""Adding problem: output the sum of two marked values seen earlier in a sequence of random values."""

from __future__ import annotations

import math

import torch

from tasks.base import Batch, Task, _check_choice, _check_int, _check_number

VARIANTS = ["modern", "anywhere", "hochreiter"]

# Hochreiter & Schmidhuber 1997: the first marker is among the first 10 steps.
FIRST_WINDOW = 10
# The shortest T for "hochreiter": the sequence end (marker -1) must lie after the first-marker window.
HOCHREITER_MIN_SEQ_LEN = FIRST_WINDOW + 1


class AddingTask(Task):
    """Two input channels: values (channel 0) and markers (channel 1); regress a function of the two marked
    values at the end of the sequence (MSE, one scored step per sequence).

    - modern (Arjovsky et al. 2016; Le, Jaitly, Hinton 2015): L = T, values U[0, 1], exactly two markers
      equal to 1, one uniform in [0, T//2) and one uniform in [T//2, T); target the sum of the two marked
      values, scored at the last step.
    - anywhere (TCN repository, Bai et al. 2018): the two markers at two distinct uniform positions.
    - hochreiter (Hochreiter & Schmidhuber 1997, experiment 4): values U[-1, 1]; each sequence's length n is
      uniform in [T, T + T//10] and L = T + T//10 (shorter sequences are right-padded with zeros in both
      channels and scored at their own last real step, which is exact for a causal model). The first
      marker is one of the first 10 steps (value X1), the second one of the first T//2 - 1 steps not already
      marked (X2): we read the paper's "one of the first T/2-1 still unmarked pairs" literally, so there are
      always T//2 - 1 candidates. All other markers are 0 except at the first and the last real step, whose
      marker is -1 (unless marked). If the first marker lands on step 0, X1 is set to 0 (in the input too).
      Target 0.5 + (X1 + X2) / 4.

    accuracy: the fraction of sequences with |prediction - target| < tolerance (in target units).
    """

    name = "adding"

    def __init__(
        self,
        seq_len: int,
        variant: str = "modern",
        tolerance: float = 0.04,
        solve_accuracy: float = 0.95,
    ) -> None:
        self.variant = _check_choice("variant", variant, VARIANTS)
        if self.variant == "hochreiter":
            self.seq_len = _check_int("seq_len", seq_len, HOCHREITER_MIN_SEQ_LEN)
        else:
            # Both halves of [0, T) must be non-empty (modern) / two distinct positions must exist (anywhere).
            self.seq_len = _check_int("seq_len", seq_len, 2)
        self.tolerance = _check_number("tolerance", tolerance, 0.0, math.inf, True, True)
        self.solve_accuracy = _check_number("solve_accuracy", solve_accuracy, 0.0, 1.0, True, False)

        T, a = self.seq_len, self.tolerance
        self.length = T + T // 10 if self.variant == "hochreiter" else T
        self.input_kind = "float"
        self.input_size = 2
        self.output_size = 1
        self.kind = "regression"
        if self.variant == "hochreiter":
            # Best constant: 0.5 = E[target]. Error = S/4 with S = X1 + X2; S = X2 ~ U[-1, 1] when X1 is
            # zeroed (prob 1/10), else triangular on [-2, 2]. Var: 1/3 and 2/3.
            p0 = 1.0 / FIRST_WINDOW
            self.chance_loss = (p0 / 3 + (1 - p0) * 2 / 3) / 16
            b = 4 * a  # the tolerance in units of S
            uniform_hit = min(b, 1.0)  # P(|X2| < b)
            c = min(b, 2.0)
            triangle_hit = c - c * c / 4  # P(|X1 + X2| < b): 2 * integral_0^b (2 - s) / 4 ds
            self.chance_accuracy = p0 * uniform_hit + (1 - p0) * triangle_hit
        else:
            # Best constant: 1 = E[sum]. Sum of two U[0, 1] is triangular on [0, 2]: Var 1/6,
            # P(|S - 1| < a) = 2a - a^2 for a <= 1.
            self.chance_loss = 1.0 / 6.0
            c = min(a, 1.0)
            self.chance_accuracy = 2 * c - c * c
        # A marker can sit at step 0 (modern, anywhere; hochreiter's second marker) and the score can be at
        # step L-1.
        self.max_distance = self.length - 1

    def params(self) -> dict[str, object]:
        return {
            "name": self.name,
            "seq_len": self.seq_len,
            "variant": self.variant,
            "tolerance": self.tolerance,
            "solve_accuracy": self.solve_accuracy,
        }

    def constant_prediction(self) -> float:
        """The best constant predictor's output (the mean target), behind chance_loss / chance_accuracy."""
        return 0.5 if self.variant == "hochreiter" else 1.0

    def _generate(self, batch_size: int, generator: torch.Generator) -> Batch:
        B, T, L = batch_size, self.seq_len, self.length
        device = generator.device
        rows = torch.arange(B, device=device)  # (B,)
        pos = torch.arange(L, device=device).unsqueeze(0)  # (1, L)

        if self.variant == "hochreiter":
            lengths = torch.randint(T, L + 1, (B,), generator=generator, device=device)  # (B,)
            real = pos < lengths.unsqueeze(1)  # (B, L)
            values = torch.rand(B, L, generator=generator, device=device) * 2 - 1  # (B, L)
            values = torch.where(real, values, 0.0)  # zero padding after the real end
            first = torch.randint(0, FIRST_WINDOW, (B,), generator=generator, device=device)  # (B,)
            # The r-th of the first T//2-1 unmarked steps: skip over the first marker.
            r = torch.randint(0, T // 2 - 1, (B,), generator=generator, device=device)  # (B,)
            second = r + (r >= first).long()
            markers = torch.zeros(B, L, device=device)  # (B, L)
            markers[:, 0] = -1.0
            markers[rows, lengths - 1] = -1.0
            markers[rows, first] = 1.0  # after the -1s: a marked step 0 is marked 1
            markers[rows, second] = 1.0
            values[:, 0] = torch.where(first == 0, 0.0, values[:, 0])  # X1 := 0 when it is step 0
            target = 0.5 + (values[rows, first] + values[rows, second]) / 4  # (B,)
            last = lengths - 1  # (B,)
        else:
            values = torch.rand(B, L, generator=generator, device=device)  # (B, L)
            if self.variant == "modern":
                first = torch.randint(0, T // 2, (B,), generator=generator, device=device)
                second = torch.randint(T // 2, T, (B,), generator=generator, device=device)
            else:  # anywhere: a uniform ordered pair of distinct positions
                first = torch.randint(0, T, (B,), generator=generator, device=device)
                r = torch.randint(0, T - 1, (B,), generator=generator, device=device)
                second = r + (r >= first).long()
            markers = torch.zeros(B, L, device=device)  # (B, L)
            markers[rows, first] = 1.0
            markers[rows, second] = 1.0
            target = values[rows, first] + values[rows, second]  # (B,)
            last = torch.full((B,), L - 1, device=device)  # (B,)

        inputs = torch.stack([values, markers], dim=-1)  # (B, L, 2)
        mask = pos == last.unsqueeze(1)  # (B, L) one scored step per sequence
        targets = torch.where(mask, target.unsqueeze(1), 0.0)  # (B, L) float32
        return Batch(inputs, targets, mask)

    def metrics(self, output: torch.Tensor, batch: Batch) -> dict[str, float]:
        """loss (MSE at the scored steps) and accuracy (fraction of sequences with |error| < tolerance)."""
        self._check_output(output, batch)
        with torch.no_grad():
            error = output[..., 0][batch.mask] - batch.targets[batch.mask]  # (B,)
            return {
                "loss": float(self.loss(output, batch)),
                "accuracy": float((error.abs() < self.tolerance).float().mean()),
            }
