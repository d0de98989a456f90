"""Delayed recall: hold one symbol through a delay and name it at a cue.

"Delayed recall" is this project's name for the latch / delayed-match family: Bengio, Simard, Frasconi
1994 (latch), Hochreiter & Schmidhuber 1997 experiment 2, the lag mode of the state-spaces copying task.
"""

from __future__ import annotations

import math

import torch

from tasks.base import Batch, Task, _check_bool, _check_int, _check_number


class RecallTask(Task):
    """One of V symbols at step 0, a delay of T steps, then a cue; the target is the first symbol, scored at
    the cue only.

    Tokens: symbols 0..V-1, blank = V, cue = V+1 (input_size V+2); classes: the V symbols (output_size V).
    L = T + 2. The delay is blanks, or with distractors=True uniform random symbols from 0..V-1.
    random_delay=True: the delay d is drawn per sequence uniformly in 1..T, the cue is at step d+1 and the
    steps after it are blanks (not scored). Unscored targets hold the filler class 0.

    anticipation=True: the same sequence with the roles of the two ends swapped: the cue at step 0, the
    delay, the symbol at step d+1 (blanks after it), the target (scored at the cue, step 0) the symbol shown
    d+1 steps later. A unidirectional model's output at step 0 has seen only the cue, so it is at chance by
    construction; a bidirectional model's backward direction carries the symbol back to step 0. Chance
    values and max_distance are those of the ordinary task.
    """

    name = "recall"

    def __init__(
        self,
        seq_len: int,
        vocab: int = 8,
        distractors: bool = False,
        random_delay: bool = False,
        solve_accuracy: float = 0.99,
        anticipation: bool = False,
    ) -> None:
        self.seq_len = _check_int("seq_len", seq_len, 1)
        self.vocab = _check_int("vocab", vocab, 2)
        self.distractors = _check_bool("distractors", distractors)
        self.random_delay = _check_bool("random_delay", random_delay)
        self.solve_accuracy = _check_number("solve_accuracy", solve_accuracy, 0.0, 1.0, True, False)
        self.anticipation = _check_bool("anticipation", anticipation)

        self.blank = self.vocab
        self.cue = self.vocab + 1
        self.length = self.seq_len + 2
        self.input_kind = "tokens"
        self.input_size = self.vocab + 2
        self.output_size = self.vocab
        self.kind = "classification"
        self.chance_loss = math.log(self.vocab)  # uniform guess at the cue
        self.chance_accuracy = 1.0 / self.vocab
        self.max_distance = self.seq_len + 1  # step 0 to step T+1 (the cue, or with anticipation the symbol)

    def params(self) -> dict[str, object]:
        return {
            "name": self.name,
            "seq_len": self.seq_len,
            "vocab": self.vocab,
            "distractors": self.distractors,
            "random_delay": self.random_delay,
            "solve_accuracy": self.solve_accuracy,
            "anticipation": self.anticipation,
        }

    def _generate(self, batch_size: int, generator: torch.Generator) -> Batch:
        B, T, V, L = batch_size, self.seq_len, self.vocab, self.length
        device = generator.device
        pos = torch.arange(L, device=device).unsqueeze(0)  # (1, L)
        symbol = torch.randint(0, V, (B, 1), generator=generator, device=device)  # (B, 1)
        if self.random_delay:
            delay = torch.randint(1, T + 1, (B, 1), generator=generator, device=device)  # (B, 1)
        else:
            delay = torch.full((B, 1), T, device=device)  # (B, 1)
        if self.distractors:
            filler = torch.randint(0, V, (B, L), generator=generator, device=device)  # (B, L)
        else:
            filler = torch.full((B, L), self.blank, device=device)  # (B, L)

        end = delay + 1  # (B, 1): the cue's step (anticipation: the symbol's)
        first, last = (self.cue, symbol) if self.anticipation else (symbol, self.cue)
        inputs = torch.where(pos <= delay, filler, self.blank)  # delay steps 1..d; blanks after step d+1
        inputs = torch.where(pos == 0, first, inputs)
        inputs = torch.where(pos == end, last, inputs)  # (B, L)
        mask = (pos == (0 if self.anticipation else end)).expand(B, L)  # (B, L): scored at the cue
        targets = torch.where(mask, symbol, 0)  # (B, L)
        return Batch(inputs, targets, mask.contiguous())

    def metrics(self, output: torch.Tensor, batch: Batch) -> dict[str, float]:
        """loss (cross-entropy at the cue) and accuracy (argmax accuracy at the cue)."""
        self._check_output(output, batch)
        with torch.no_grad():
            correct = output[batch.mask].argmax(-1) == batch.targets[batch.mask]  # (B,)
            return {"loss": float(self.loss(output, batch)), "accuracy": float(correct.float().mean())}
