"""One instrumented training run: a validated Job in, its tidy tables out (runs, curves, probes).

The hot loop does only what a bare PyTorch loop does (batch, forward, loss, backward, clip, step)
plus one device-side write of the loss and gradient norm; the host reads them back only every
`log_every` steps, so logging never forces a GPU sync per step. Evaluation, gradient profiles and
file writes happen outside the timed training window.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from bench.atomic import StorageError
from bench.claims import ClaimLost, claim
from bench.config import Job, describe
from bench.model import SequenceModel, build_model, count_params
from bench.probes import probe_rows, to_device, weight_rows
from bench.provenance import peak_memory_mb, provenance, reset_peak_memory
from bench.schema import RUN_COLUMNS, SCHEMA_VERSION, TABLES, pandas_dtype
from bench.spec import TrainSpec
from bench.store import begin_run, finish_run, is_complete, run_dir
from bench.tbptt import chunk_length, truncated_backward
from tasks import Batch, Task, make_task

# Held-out and probe data come from seed streams no training step uses (training uses steps >= 1).
EVAL_STREAM, PROBE_STREAM = -1, -2
# Divergence besides a non-finite loss: a final evaluated loss this many times the task's chance loss, or a
# logged training loss this many times the lowest one logged before it (3 orders of magnitude).
DIVERGED_EVAL_RATIO, DIVERGED_TRAIN_RISE = 10.0, 1e3


@dataclass
class RunOutcome:
    run_id: str
    status: str  # ok | diverged | failed | skipped | claimed (another process trains it) | write_error
    row: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Trained:
    """What the loop produced: the model and its optimiser state, the outcome, and the long tables."""

    model: SequenceModel
    task: Task
    status: str = "ok"  # ok | diverged
    steps: int = 0  # optimizer steps taken with finite loss
    solved_at: int | None = None
    solve_wall: float | None = None
    diverged_at: int | None = None  # the first step a divergence criterion held
    diverged_reason: str | None = None
    nonfinite: bool = False  # the loss or gradient norm became inf / nan (training stopped there)
    min_train_loss: float = math.inf
    above_since: int | None = None  # first eval step of the current stretch above 10x chance
    last_eval: dict[str, float] = field(default_factory=dict)
    train_s: float = 0.0  # inside the timed training windows
    timed_steps: int = 1
    wall_s: float = 0.0
    curves: list[tuple] = field(default_factory=list)
    profiles: list[tuple] = field(default_factory=list)
    weights: list[tuple] = field(default_factory=list)
    states: list[tuple] = field(default_factory=list)

    def diverge(self, step: int, reason: str) -> None:
        """Record divergence (the first criterion that held wins: its step and reason)."""
        if self.status != "diverged":
            self.status, self.diverged_at, self.diverged_reason = "diverged", step, reason


def profile_steps(steps: int, points: int, every: int = 1) -> list[int]:
    """Init (0), `points` log-spaced steps in (0, steps) rounded up to the logging cadence `every`
    (the loop only stops to measure at log steps), and the last step."""
    inner = {math.ceil(steps ** (k / (points + 1)) / every) * every for k in range(1, points + 1)}
    return sorted({0, steps} | {s for s in inner if 0 < s < steps})


def _stream(seed: int, stream: int) -> int:
    # A stream id folded into the seed, kept non-negative and apart from training seeds (< 2**31).
    return 2**31 + seed * 16 + (-stream)


def make_optimizer(params, train: TrainSpec) -> torch.optim.Optimizer:
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr)
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=train.lr)
    return torch.optim.SGD(params, lr=train.lr, momentum=train.momentum)


@torch.no_grad()
def evaluate(model: SequenceModel, task: Task, batch: Batch, chunk: int = 512) -> dict[str, float]:
    was_training = model.training
    model.eval()
    outs = [model(batch.inputs[i : i + chunk]) for i in range(0, batch.inputs.shape[0], chunk)]
    model.train(was_training)
    return task.metrics(torch.cat(outs), batch)


def train(job: Job, progress: bool = True, position: int = 0) -> Trained:
    """Train one model. The loop: train up to the next log step (timed), then the untimed bookkeeping:
    divergence checks, curves, evaluation and early stop, probes. Divergence is an outcome: a non-finite
    loss ends the run; a final evaluated loss above 10x chance or a training loss 1000x its minimum marks
    it diverged (the latter when it happens; the run trains on, its curves show whether it recovered)."""
    spec, tr, run_id = job.spec, job.spec.train, job.run_id
    device, dtype = torch.device(spec.device), getattr(torch, spec.dtype)
    task = make_task(spec.task)
    torch.manual_seed(spec.seed)  # model init
    model = build_model(spec.cell, task).to(device, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, tr)
    chunk = chunk_length(tr.tbptt, task.length)  # None: full BPTT
    eval_batch = to_device(task.batch(tr.eval_size, _stream(spec.seed, EVAL_STREAM), 0, "cpu"), device, dtype)
    probe = to_device(task.batch(tr.profile_batch, _stream(spec.seed, PROBE_STREAM), 0, "cpu"), device, dtype)
    probes = set(profile_steps(tr.steps, tr.profile_points, tr.log_every))
    out = Trained(model, task)
    _probe(out, run_id, 0, probe, tr.tbptt)
    window = torch.zeros(tr.log_every, 2, device=device, dtype=torch.float64)  # per-step loss, grad norm
    bar = _bar(job, progress, position)
    t_start = time.perf_counter()
    while out.steps < tr.steps:
        n, t0 = min(tr.log_every, tr.steps - out.steps), time.perf_counter()
        for i in range(n):  # ---- timed training window
            batch = to_device(task.batch(tr.batch_size, spec.seed, out.steps + i + 1, device), device, dtype)
            window[i, 0], window[i, 1] = _step(model, task, batch, opt, params, tr, chunk)
        vals = window[:n].cpu()  # the one host sync per window
        out.train_s += time.perf_counter() - t0
        bar.update(n)
        if _nonfinite(out, vals, n):  # ---- bookkeeping (untimed)
            break
        out.steps += n
        done = _log_and_evaluate(out, job, vals, eval_batch, bar, t_start)
        if out.steps in probes or done:
            _probe(out, run_id, out.steps, probe, tr.tbptt)
        if done:
            break
    bar.close()
    out.wall_s = time.perf_counter() - t_start
    out.timed_steps = max(1, out.timed_steps if out.nonfinite else out.steps)
    return out


def _step(model, task: Task, batch: Batch, opt, params, tr: TrainSpec, chunk: int | None) -> tuple:
    """One optimizer step on `batch`: (loss, gradient norm before clipping), device scalars."""
    if chunk is None:  # full BPTT, exactly as a bare PyTorch loop does it
        loss = task.loss(model(batch.inputs), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
    else:  # truncated BPTT: gradients accumulated over the chunks (bench/tbptt.py)
        opt.zero_grad(set_to_none=True)
        loss = truncated_backward(model, task, batch, chunk)
    norm = torch.nn.utils.clip_grad_norm_(params, tr.clip_value if tr.clip == "norm" else math.inf)
    if tr.clip == "value":  # (the max norm inf above: measure the norm, clip nothing)
        torch.nn.utils.clip_grad_value_(params, tr.clip_value)
    opt.step()
    return loss.detach(), norm


def _nonfinite(out: Trained, vals: torch.Tensor, n: int) -> bool:
    """A window (n, 2) of per-step loss and gradient norm with inf / nan: the run diverged there."""
    bad = ~torch.isfinite(vals).all(1)
    if not bad.any():
        return False
    first_bad = out.steps + int(bad.nonzero()[0]) + 1
    out.diverge(first_bad, "non-finite loss or gradient norm")
    out.nonfinite, out.timed_steps, out.steps = True, out.steps + n, first_bad - 1
    return True


def _log_and_evaluate(out: Trained, job: Job, vals, eval_batch: Batch, bar: tqdm, t_start: float) -> bool:
    """Curves of the window that ended at out.steps, evaluation where due, the finite divergence criteria
    and the solved criterion; True when the run is done (step budget, or solved with early stop)."""
    run_id, tr, n = job.run_id, job.spec.train, vals.shape[0]
    loss = float(vals[:, 0].mean())
    out.curves.append((run_id, out.steps, "train", "loss", loss))
    out.curves.append((run_id, out.steps, "train", "grad_norm", float(vals[-1, 1])))
    if 0 < out.min_train_loss and loss >= DIVERGED_TRAIN_RISE * out.min_train_loss:
        out.diverge(
            out.steps, f"training loss {loss:.3g} rose >= 1000x from its minimum {out.min_train_loss:.3g}"
        )
    out.min_train_loss = min(out.min_train_loss, loss)
    done = out.steps >= tr.steps
    if done or out.steps // tr.eval_every > (out.steps - n) // tr.eval_every:  # crossed an eval point
        out.last_eval = evaluate(out.model, out.task, eval_batch)
        out.curves.extend((run_id, out.steps, "eval", k, float(v)) for k, v in sorted(out.last_eval.items()))
        bar.set_postfix(loss=f"{out.last_eval['loss']:.4g}", acc=f"{out.last_eval['accuracy']:.3f}")
        ratio = out.last_eval["loss"] / out.task.chance_loss
        # Only the end counts: an untrained copy model is ~10-20x the memoryless baseline at long lags, and a
        # run that recovers is not diverged. diverged_at: where the final stretch above the limit began.
        out.above_since = (out.above_since or out.steps) if ratio > DIVERGED_EVAL_RATIO else None
        if done and out.above_since is not None:
            out.diverge(out.above_since, f"eval loss {ratio:.3g}x chance at the end")
        if out.solved_at is None and out.task.solved(out.last_eval):
            out.solved_at, out.solve_wall = out.steps, time.perf_counter() - t_start
            done = done or tr.early_stop
    return done


def _probe(out: Trained, run_id: str, step: int, batch: Batch, tbptt: int | None) -> None:
    """The probe tables' rows at `step`: gradient profile and state statistics (float64), weights."""
    profile, states = probe_rows(run_id, step, out.model, out.task, batch, tbptt)
    out.profiles.extend(profile)
    out.states.extend(states)
    out.weights.extend(weight_rows(run_id, step, out.model))


def _bar(job: Job, progress: bool, position: int) -> tqdm:
    s = job.spec
    return tqdm(
        total=s.train.steps,
        desc=f"{s.cell.name} {s.task.name} T={s.task.seq_len}",
        disable=None if progress else True,
        position=position,
        leave=position == 0,
        dynamic_ncols=True,
        mininterval=1.0,
    )


def result_row(job: Job, prov: dict[str, Any], t: Trained | None, error: str | None = None) -> dict[str, Any]:
    """The runs-table row of a run, for every status: ok and diverged (from `t`) and failed (`error`)."""
    spec = job.spec
    row: dict[str, Any] = {k: None for k in RUN_COLUMNS}
    row |= {
        "run_id": job.run_id,
        "config_id": spec.config_id,
        "schema_version": SCHEMA_VERSION,
        "status": "failed" if t is None else t.status,
        "error": error,
        "sweep": job.settings.sweep_name,
        "length": job.settings.length,
        "init": job.settings.init,
        "task_variant": spec.task.variant_label(),
        **spec.columns(),
        **prov,
        "config_json": json.dumps(portable_config(job.config), sort_keys=True, default=str),
    }
    if t is None:
        return row
    tr, task = spec.train, t.task
    return row | {
        "hidden_size": t.model.core.hidden_size,
        "kernel": kernel(t.model, chunk_length(tr.tbptt, task.length)),
        "num_params": count_params(t.model),
        "steps": t.steps,
        "solved": t.solved_at is not None,
        "steps_to_solve": t.solved_at,
        "wall_s_to_solve": t.solve_wall,
        "diverged_at": t.diverged_at,
        "diverged_reason": t.diverged_reason,
        "final_loss": t.last_eval.get("loss", math.nan),
        "final_accuracy": t.last_eval.get("accuracy", math.nan),
        "chance_loss": task.chance_loss,
        "chance_accuracy": task.chance_accuracy,
        "ms_per_step": 1000 * t.train_s / t.timed_steps,
        "elements_per_s": t.timed_steps * tr.batch_size * task.length / t.train_s
        if t.train_s > 0
        else math.nan,
        "peak_mem_mb": peak_memory_mb(torch.device(spec.device)),
        "wall_s": t.wall_s,
    }


# Where a run was written is no part of what it is: these keys (absolute paths, often) are not stored.
MACHINE_KEYS = ("results_dir", "report_dir")


def portable_config(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved config as stored with a run: without the machine's paths (results_dir, report_dir)."""
    return {k: v for k, v in config.items() if k not in MACHINE_KEYS}


def run_threads(job: Job) -> int | None:
    """The torch threads a run uses: `threads` when given; else 1 on CPU (safe on a shared machine; a
    sweep sets cores // jobs), and torch's own choice on a GPU."""
    if job.settings.threads:
        return job.settings.threads
    return 1 if job.spec.device == "cpu" else None


def start_line(job: Job) -> str:
    """The line printed when a run starts: what, where, and with how many threads."""
    s, n = job.spec, run_threads(job) or torch.get_num_threads()
    return f"run {job.run_id}: {describe(job)} on {s.device}, " + (f"{n} thread{'s' if n != 1 else ''}")


def kernel(model: SequenceModel, chunk: int | None = None) -> str:
    """What runs the model's cell: fused, or the explicit cell's path (cpp / python / autograd; truncated
    BPTT carries state between chunks, which only the autograd loop takes: RecurrentCore.scan)."""
    core = model.core
    if core.impl == "fused":
        return "fused"
    return "autograd" if chunk is not None else core.explicit_path()


def runs_frame(row: dict[str, Any]) -> pd.DataFrame:
    """One row, every column typed by the schema (nullable ints and bools, strings), so tables of runs
    with and without a value concatenate without changing type."""
    df = pd.DataFrame([{k: row.get(k) for k in RUN_COLUMNS}])
    return df.astype({c: pandas_dtype(c) for c in RUN_COLUMNS})


def curves_frame(t: Trained) -> pd.DataFrame:
    return pd.DataFrame(t.curves, columns=list(TABLES["curves"]))


def profile_frame(t: Trained) -> pd.DataFrame:
    return pd.DataFrame(t.profiles, columns=list(TABLES["grad_profile"]))


def weights_frame(t: Trained) -> pd.DataFrame:
    return pd.DataFrame(t.weights, columns=list(TABLES["weights"]))


def states_frame(t: Trained) -> pd.DataFrame:
    return pd.DataFrame(t.states, columns=list(TABLES["states"]))


def run_tables(job: Job, progress: bool = False) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Train `job` without writing anything: (runs row, curves table, grad_profile table)."""
    prov = provenance(torch.device(job.spec.device))
    t = train(job, progress=progress)
    return result_row(job, prov, t), curves_frame(t), profile_frame(t)


def execute(job: Job, progress: bool = True, position: int = 0) -> RunOutcome:
    """Run `job` unless its run is complete (ok/diverged, files verified by size; and force is off).

    One trainer per run: the run is claimed first (bench/claims.py); a run another live process holds
    is left to it ("claimed"). Writes results_dir/runs/<run_id>/ atomically, completion record last. A
    failing run is recorded with status `failed` and its error; a write that fails (disk full,
    read-only) is "write_error" with one line. It never raises (except KeyboardInterrupt).
    """
    run_id, s = job.run_id, job.settings
    folder = run_dir(s.results_dir, run_id)
    if is_complete(folder) and not s.force:
        return RunOutcome(run_id, "skipped")
    try:
        with claim(folder) as got:
            if not got:
                return RunOutcome(run_id, "claimed")
            if is_complete(folder) and not s.force:  # finished by another process meanwhile
                return RunOutcome(run_id, "skipped")
            return _train_and_record(job, folder, progress, position)
    except StorageError as e:
        return RunOutcome(run_id, "write_error", error=str(e))
    except ClaimLost as e:
        return RunOutcome(run_id, "claimed", error=str(e))


def _train_and_record(job: Job, folder: Path, progress: bool, position: int) -> RunOutcome:
    run_id = job.run_id
    begin_run(folder, portable_config(job.config))
    if threads := run_threads(job):
        torch.set_num_threads(threads)
    device = torch.device(job.spec.device)
    prov = provenance(device)
    reset_peak_memory(device)
    try:
        t = train(job, progress=progress, position=position)
    except Exception as e:  # noqa: BLE001 - recorded, so one broken job never stops a sweep
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        row = result_row(job, prov, None, msg)
        record = {"run_id": run_id, "status": "failed", "error": msg, "traceback": traceback.format_exc()}
        finish_run(folder, {"runs": runs_frame(row)}, record)
        return RunOutcome(run_id, "failed", row, msg)
    row = result_row(job, prov, t)
    tables = {
        "runs": runs_frame(row),
        "curves": curves_frame(t),
        "grad_profile": profile_frame(t),
        "weights": weights_frame(t),
        "states": states_frame(t),
    }
    finish_run(folder, tables, {"run_id": run_id, "status": row["status"]})
    return RunOutcome(run_id, row["status"], row)
