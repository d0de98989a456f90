"""Training cost: one harness step per cell, and a whole harness run against a bare PyTorch loop.

- train_step: the body of bench.train.train's hot loop (batch generation, forward, task loss, backward,
  norm clipping, the device-side loss/grad-norm write, Adam step) on the copy task, with the copy gap
  chosen so the sequence length equals the grid's T (copy length = gap + 20).
- bare_step / harness_run (gate b): ``bench.train.train(spec)`` for N steps at its default cadence
  (data generation, logging, eval, gradient probes all included) against a bare loop of the same N
  optimizer steps on the same model and optimizer over the same batches, generated beforehand. Both
  build their model and optimizer inside the timed call; each benchmark times one whole N-step call.
  The two alternate, one round each, in ABBA order (test ids r0-bare_step, r0-harness_run,
  r1-harness_run, r1-bare_step, ...), so load from other processes, which drifts over the tens of
  seconds one run takes, hits both alike; the gate takes the best round of each.
"""

from __future__ import annotations

import math

import pytest
import torch

from bench.cells import CELLS, IMPLS
from bench.config import Job, compose, validate
from bench.microbench import pass_flops
from bench.model import build_model
from bench.train import make_optimizer, run_tables, to_device
from tasks import Batch, make_task


def _spec(device: torch.device, *overrides: str) -> Job:
    base = ["progress=false", f"device={device.type}", "train.early_stop=false"]
    return validate(compose([*base, *overrides]))


class _Setup:
    """Task, model and optimizer built the way bench.train.train builds them."""

    def __init__(self, job: Job):
        s = job.spec
        self.spec, self.tr, self.seed = job, s.train, s.seed
        self.device, self.dtype = torch.device(s.device), getattr(torch, s.dtype)
        self.task = make_task(s.task)
        self.clip_value = self.tr.clip_value if self.tr.clip == "norm" else math.inf

    def model_and_optimizer(self) -> tuple[torch.nn.Module, list[torch.Tensor], torch.optim.Optimizer]:
        torch.manual_seed(self.seed)
        model = build_model(self.spec.spec.cell, self.task).to(self.device, self.dtype)
        params = [p for p in model.parameters() if p.requires_grad]
        return model, params, make_optimizer(params, self.tr)

    def batch(self, step: int) -> Batch:
        return to_device(
            self.task.batch(self.tr.batch_size, self.seed, step, self.device), self.device, self.dtype
        )

    def info(self, pass_: str, steps: int = 1) -> tuple[dict, dict]:
        """extra_info and GEMM-reference shapes of a pass over this setup's model and batch."""
        cs, task = self.spec.spec.cell, self.task
        cell, H, B, L, I = cs.name, cs.hidden_size, self.tr.batch_size, task.length, task.input_size
        info = {
            "pass": pass_,
            "cell": cell,
            "impl": cs.impl,
            "hidden": H,
            "seq_len": L,
            "batch": B,
            "input_size": I,
            "task": task.name,
            "steps": steps,
            "flops": pass_flops(pass_, cell, H, I, L, B, steps=steps),
        }
        gemm = {"cell": cell, "hidden": H, "input_size": I, "seq_len": L, "batch": B, "backward": True}
        return info, gemm


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cell", CELLS)
def test_train_step(measure, grid, device, cell, impl, hidden, seq_len):
    gap = seq_len - 20  # copy: length = gap + 2 * n_copy (10)
    s = _Setup(
        _spec(
            device,
            f"cell={cell}",
            f"cell.impl={impl}",
            f"cell.hidden_size={hidden}",
            "task=copy",
            f"task.seq_len={gap}",
            f"train.batch_size={grid.batch}",
        )
    )
    assert s.task.length == seq_len
    model, params, opt = s.model_and_optimizer()
    window = torch.zeros(1, 2, device=device, dtype=torch.float64)
    step = [0]

    def train_step() -> None:
        # bench.train.train's loop body, step for step
        step[0] += 1
        batch = s.batch(step[0])
        loss = s.task.loss(model(batch.inputs), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, s.clip_value)
        window[0, 0] = loss.detach()
        window[0, 1] = gnorm
        opt.step()

    info, gemm = s.info("train_step")
    measure(train_step, group=f"train_step copy H{hidden} T{seq_len} B{grid.batch}", info=info, gemm=gemm)


class _Harness:
    """Gate (b)'s two contenders over one spec: train(spec) and the bare loop over pre-generated batches."""

    def __init__(self, grid, device: torch.device):
        self.spec = self.spec_for(grid, device, grid.harness_steps)
        self.setup = _Setup(self.spec)
        self.steps = self.spec.spec.train.steps
        # the very batches train() draws (seed, steps 1..N): same data, same updates, same arithmetic.
        # Not a few batches cycled: a model that memorises them trains into other values, and on CPU
        # that alone moved the loop's time by up to 20% here.
        self.batches = [self.setup.batch(i + 1) for i in range(self.steps)]
        # warm-up at the same shapes (eval and probes included), far cheaper than a full-length round
        self.bare(20)
        run_tables(self.spec_for(grid, device, 20))

    @staticmethod
    def spec_for(grid, device: torch.device, steps: int) -> Job:
        return _spec(
            device,
            "cell=lstm",
            "task=copy",
            f"cell.hidden_size={grid.harness_hidden}",
            f"task.seq_len={grid.harness_seq_len}",
            f"train.batch_size={grid.harness_batch}",
            f"train.steps={steps}",
        )

    def bare(self, steps: int | None = None) -> None:
        s = self.setup
        model, params, opt = s.model_and_optimizer()
        for i in range(self.steps if steps is None else steps):
            b = self.batches[i]
            loss = s.task.loss(model(b.inputs), b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, s.clip_value)
            opt.step()

    def harness(self) -> None:
        row, _, _ = run_tables(self.spec)
        assert row["status"] == "ok" and row["steps"] == self.steps, row["status"]


@pytest.fixture(scope="module")
def harness(grid, device) -> _Harness:
    return _Harness(grid, device)


def test_harness_overhead(measure, harness, harness_round, harness_pass):
    fn = harness.bare if harness_pass == "bare_step" else harness.harness
    info, gemm = harness.setup.info(harness_pass, steps=harness.steps)
    tr = harness.spec.spec.train
    info["round"] = harness_round
    info["cadence"] = {
        k: getattr(tr, k) for k in ("log_every", "eval_every", "eval_size", "profile_points", "profile_batch")
    }
    measure(
        fn,
        group=f"harness vs bare loop, {harness.steps} steps",
        info=info,
        gemm=gemm,
        rounds=1,
        warmup_rounds=0,
    )
