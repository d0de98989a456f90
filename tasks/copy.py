"""Copy memory task (Arjovsky, Shah, Bengio 2016) and its variable-gap and selective variants."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tasks.base import Batch, Task, _check_choice, _check_int, _check_number

VARIANTS = ["standard", "variable", "selective"]


class CopyTask(Task):
    """Remember `n_copy` data symbols over a gap of T steps, then output them after a delimiter.

    Tokens: data symbols 0..n_symbols-1, blank = n_symbols, delimiter = n_symbols+1 (input_size n_symbols+2).
    Classes: data symbols and blank (output_size n_symbols+1); the delimiter is never a target.
    Every sequence has length L = T + 2*n_copy (K = n_copy below).

    - standard: K data symbols (uniform, with replacement), T-1 blanks, the delimiter, K blanks.
      Targets: T+K blanks, then the K data symbols in order. This is Arjovsky et al.'s convention
      (T-1 blanks before the delimiter); expRNN's code uses T.
    - variable (Henaff, Szlam, LeCun 2016): a gap g is drawn per sequence uniformly in 1..T; the delimiter
      sits at position K+g-1 and the K symbols are targets at positions K+g..2K+g-1; blanks elsewhere in
      inputs and targets. standard is g = T.
    - selective (as used for Mamba): the K data symbols sit at sorted distinct uniform positions in
      0..T+K-2, blanks elsewhere; the delimiter at T+K-1; targets the symbols in order at the last K steps.

    Every position is scored (mask all True): the loss is cross-entropy averaged over all L positions, as
    in the papers. `metrics` also reports accuracy and cross-entropy on the K recalled positions alone.
    """

    name = "copy"

    def __init__(
        self,
        seq_len: int,
        variant: str = "standard",
        n_symbols: int = 8,
        n_copy: int = 10,
        solve_accuracy: float = 0.99,
    ) -> None:
        self.seq_len = _check_int("seq_len", seq_len, 1)
        self.variant = _check_choice("variant", variant, VARIANTS)
        # With one symbol there is nothing to remember.
        self.n_symbols = _check_int("n_symbols", n_symbols, 2)
        self.n_copy = _check_int("n_copy", n_copy, 1)
        self.solve_accuracy = _check_number("solve_accuracy", solve_accuracy, 0.0, 1.0, True, False)

        self.blank = self.n_symbols
        self.delimiter = self.n_symbols + 1
        self.length = self.seq_len + 2 * self.n_copy
        self.input_kind = "tokens"
        self.input_size = self.n_symbols + 2
        self.output_size = self.n_symbols + 1
        self.kind = "classification"
        # The baseline that knows *when* to recall but not *what*: blank with certainty outside the K
        # recall steps, uniform over the data symbols on them. Same for every variant.
        self.chance_loss = self.n_copy * math.log(self.n_symbols) / self.length
        self.chance_accuracy = 1.0 / self.n_symbols
        # In every variant symbol j sits at a position >= j and is scored at (delimiter + 1 + j), and the
        # delimiter is at most at T+K-1: the longest distance is T+K (the first symbol, standard gap).
        self.max_distance = self.seq_len + self.n_copy

    def params(self) -> dict[str, object]:
        return {
            "name": self.name,
            "seq_len": self.seq_len,
            "variant": self.variant,
            "n_symbols": self.n_symbols,
            "n_copy": self.n_copy,
            "solve_accuracy": self.solve_accuracy,
        }

    def _generate(self, batch_size: int, generator: torch.Generator) -> Batch:
        B, T, K, L = batch_size, self.seq_len, self.n_copy, self.length
        device = generator.device
        data = torch.randint(0, self.n_symbols, (B, K), generator=generator, device=device)  # (B, K)
        inputs = torch.full((B, L), self.blank, dtype=torch.long, device=device)  # (B, L)
        targets = torch.full((B, L), self.blank, dtype=torch.long, device=device)  # (B, L)

        if self.variant == "standard":
            inputs[:, :K] = data
            inputs[:, T + K - 1] = self.delimiter
            targets[:, T + K :] = data
        elif self.variant == "variable":
            gap = torch.randint(1, T + 1, (B, 1), generator=generator, device=device)  # (B, 1)
            pos = torch.arange(L, device=device).unsqueeze(0)  # (1, L)
            start = K + gap  # (B, 1) first output position, right after the delimiter
            inputs[:, :K] = data
            inputs = torch.where(pos == start - 1, self.delimiter, inputs)
            in_window = (pos >= start) & (pos < start + K)  # (B, L)
            gathered = data.gather(1, (pos - start).clamp(0, K - 1).expand(B, L))  # (B, L)
            targets = torch.where(in_window, gathered, targets)
        else:  # selective
            # K distinct positions among the T+K-1 before the delimiter: top-K of iid uniforms is a
            # uniform K-subset; sorting keeps the symbols in the order they are shown.
            scores = torch.rand(B, T + K - 1, generator=generator, device=device)  # (B, T+K-1)
            where = scores.topk(K, dim=1).indices.sort(dim=1).values  # (B, K)
            inputs.scatter_(1, where, data)
            inputs[:, T + K - 1] = self.delimiter
            targets[:, T + K :] = data

        mask = torch.ones(B, L, dtype=torch.bool, device=device)  # every step is scored
        return Batch(inputs, targets, mask)

    def recall_mask(self, batch: Batch) -> torch.Tensor:
        """(B, L) bool: the K positions per sequence where data symbols must be output."""
        return batch.targets != self.blank

    def dependency_mask(self, batch: Batch) -> torch.Tensor:
        # The blank targets are local (predictable from the current input alone) and dominate the loss over
        # all L positions: only the recalled positions depend on what was shown T steps earlier.
        return self.recall_mask(batch)

    def metrics(self, output: torch.Tensor, batch: Batch) -> dict[str, float]:
        """loss (CE over all positions), accuracy and recall_loss (argmax accuracy / CE on recalled steps)."""
        self._check_output(output, batch)
        with torch.no_grad():
            recall = self.recall_mask(batch)  # (B, L)
            logits = output[recall]  # (B*K, C)
            wanted = batch.targets[recall]  # (B*K,)
            return {
                "loss": float(self.loss(output, batch)),
                "accuracy": float((logits.argmax(-1) == wanted).float().mean()),
                "recall_loss": float(F.cross_entropy(logits, wanted)),
            }
