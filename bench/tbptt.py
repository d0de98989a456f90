"""Truncated backpropagation through time (train.tbptt = K): the training step of a run in chunks.

The batch's sequence (length L) is cut into chunks of K steps; the model runs chunk after chunk with the
core's state carried forward (RecurrentCore.scan) and detached between chunks, and each chunk's loss is
back-propagated within its chunk, gradients accumulating over the chunks (one optimizer step per batch,
taken by the caller). A chunk's loss is the task loss on its scored positions weighted by their share of
the batch's scored positions, so the chunk losses sum to the full-sequence loss (the task losses are
means over the scored positions): with one chunk (K >= L) it is the full-BPTT step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.model import SequenceModel
from tasks import Batch, Task


def chunk_length(tbptt: int | None, length: int) -> int | None:
    """The chunk length a run trains with: None (full BPTT) for tbptt null or >= the sequence length L."""
    return tbptt if tbptt is not None and tbptt < length else None


def truncated_backward(model: SequenceModel, task: Task, batch: Batch, chunk: int) -> Tensor:
    """Forward and backward of `batch` in chunks of `chunk` steps (gradients accumulate in .grad; zero them
    before). Returns the batch's loss (detached scalar), equal to the full-sequence loss's value."""
    L = batch.mask.shape[1]
    scored = batch.mask.sum()  # scored positions of the whole batch
    total = torch.zeros((), device=batch.mask.device, dtype=torch.float64)
    state = None
    for start in range(0, L, chunk):
        part = Batch(*(v[:, start : start + chunk] for v in (batch.inputs, batch.targets, batch.mask)))
        out, state = model.scan(part.inputs, state)  # out (B, K, O); state {"h": (layers, B, H), ...}
        n = part.mask.sum()
        if n > 0:  # a chunk without scored positions adds nothing (and its mean would be 0/0)
            loss = task.loss(out, part)
            loss = loss * (n.to(loss.dtype) / scored)  # its share, in the loss's precision
            loss.backward()
            total += loss.detach()
        state = {k: v.detach() for k, v in state.items()}  # the truncation
    return total
