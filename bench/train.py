"""One instrumented training run: a validated RunSpec in, three tidy tables out.

The hot loop does only what a bare PyTorch loop does (batch, forward, loss, backward, clip, step)
plus one device-side write of the loss and gradient norm; the host reads them back only every
`log_every` steps, so logging never forces a GPU sync per step. Evaluation, gradient profiles and
file writes happen outside the timed training window.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from bench.config import RunSpec
from bench.gradients import hidden_grad_profile
from bench.model import SequenceModel, count_params
from bench.provenance import peak_memory_mb, provenance, reset_peak_memory
from bench.schema import CURVE_COLUMNS, PROFILE_COLUMNS, RUN_COLUMNS, SCHEMA_VERSION
from bench.store import begin_run, finish_run, read_complete, run_dir
from tasks import Batch, Task, make_task

# Held-out and probe data come from seed streams no training step uses (training uses steps >= 1).
EVAL_STREAM, PROBE_STREAM = -1, -2


@dataclass
class RunOutcome:
    run_id: str
    status: str  # ok | diverged | failed | skipped
    row: dict[str, Any] | None = None
    error: str | None = None


def profile_steps(steps: int, points: int, every: int = 1) -> list[int]:
    """Init (0), `points` log-spaced steps in (0, steps) rounded up to the logging cadence `every`
    (the loop only stops to measure at log steps), and the last step."""
    inner = {math.ceil(steps ** (k / (points + 1)) / every) * every for k in range(1, points + 1)}
    return sorted({0, steps} | {s for s in inner if 0 < s < steps})


def _stream(seed: int, stream: int) -> int:
    # A stream id folded into the seed, kept non-negative and apart from training seeds (< 2**31).
    return 2**31 + seed * 16 + (-stream)


def _optimizer(params, train: dict[str, Any]) -> torch.optim.Optimizer:
    if train["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=train["lr"])
    if train["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=train["lr"])
    return torch.optim.SGD(params, lr=train["lr"], momentum=train["momentum"])


def _to(batch: Batch, device: torch.device, dtype: torch.dtype) -> Batch:
    """Cast float inputs/targets to the model dtype (token ids stay int64)."""
    f = lambda x: x.to(device, dtype) if x.is_floating_point() else x.to(device)  # noqa: E731
    return Batch(f(batch.inputs), f(batch.targets), batch.mask.to(device))


def build_model(spec: RunSpec, task: Task) -> SequenceModel:
    cell = spec.config["cell"]
    fb = cell["forget_bias"] if cell["forget_bias"] == "chrono" else float(cell["forget_bias"])
    return SequenceModel(
        task.input_size,
        task.output_size,
        task.input_kind,
        cell["name"],
        spec.hidden_size,
        num_layers=cell["layers"],
        impl=cell["impl"],
        variant=cell["variant"],
        forget_bias=fb,
        # Tallec & Ollivier: T_max = 3/2 of the longest dependency the task asks for.
        chrono_tmax=max(2.0, 1.5 * task.max_distance),
        recurrent_init=cell["recurrent_init"],
    )


@torch.no_grad()
def evaluate(model: SequenceModel, task: Task, batch: Batch, chunk: int = 512) -> dict[str, float]:
    was_training = model.training
    model.eval()
    outs = [model(batch.inputs[i : i + chunk]) for i in range(0, batch.inputs.shape[0], chunk)]
    model.train(was_training)
    return task.metrics(torch.cat(outs), batch)


def _profile_rows(run_id: str, step: int, model: SequenceModel, task: Task, probe: Batch) -> list[tuple]:
    probe64 = _to(probe, probe.inputs.device, torch.float64)
    prof = hidden_grad_profile(model, probe64.inputs, lambda out: task.loss(out, probe64))
    # distance counts steps back from the last scored position of the probe batch
    last = int(probe.mask.any(0).nonzero().max())
    rows = []
    for state, norms in prof.items():  # (layers, L)
        for layer in range(norms.shape[0]):
            for t in range(last + 1):
                rows.append((run_id, step, layer, t, last - t, state, float(norms[layer, t])))
    return rows


def train(spec: RunSpec, progress: bool = True, position: int = 0) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Train one model; return (runs row, curves table, grad_profile table). Divergence is an outcome."""
    c, tr = spec.config, spec.config["train"]
    run_id = spec.run_id
    device = torch.device(c["device"])
    dtype = getattr(torch, c["dtype"])
    if c.get("threads"):
        torch.set_num_threads(c["threads"])
    prov = provenance(device)
    reset_peak_memory(device)

    task = make_task(c["task"]["name"], c["task"]["seq_len"], **spec.task_options)
    torch.manual_seed(c["seed"])  # model init
    model = build_model(spec, task).to(device, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(params, tr)
    eval_batch = _to(task.batch(tr["eval_size"], _stream(c["seed"], EVAL_STREAM), 0, "cpu"), device, dtype)
    probe = _to(task.batch(tr["profile_batch"], _stream(c["seed"], PROBE_STREAM), 0, "cpu"), device, dtype)
    steps, log_every, eval_every = tr["steps"], tr["log_every"], tr["eval_every"]
    clip, clip_value = tr["clip"], tr["clip_value"]
    probes = set(profile_steps(steps, tr["profile_points"], log_every))

    curves: list[tuple] = []
    profiles: list[tuple] = _profile_rows(run_id, 0, model, task, probe)
    # Per-step loss and grad norm stay on the device; read back every log_every steps.
    window = torch.zeros(log_every, 2, device=device, dtype=torch.float64)
    last_eval: dict[str, float] = {}
    status, step, diverged_at, solved_at, solve_wall = "ok", 0, None, None, None
    train_s = 0.0
    bar = tqdm(
        total=steps,
        desc=f"{c['cell']['name']} {c['task']['name']} T={c['task']['seq_len']}",
        disable=None if progress else True,
        position=position,
        leave=position == 0,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    t_start = time.perf_counter()
    while step < steps:
        # ---- timed training window: up to the next log step
        n = min(log_every, steps - step)
        t0 = time.perf_counter()
        for i in range(n):
            batch = _to(task.batch(tr["batch_size"], c["seed"], step + i + 1, device), device, dtype)
            loss = task.loss(model(batch.inputs), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, clip_value if clip == "norm" else math.inf)
            if clip == "value":
                torch.nn.utils.clip_grad_value_(params, clip_value)
            window[i, 0] = loss.detach()
            window[i, 1] = gnorm
            opt.step()
        vals = window[:n].cpu()  # the one host sync per window
        train_s += time.perf_counter() - t0
        # ---- bookkeeping (untimed)
        bad = ~torch.isfinite(vals).all(1)
        if bad.any():
            diverged_at = step + int(bad.nonzero()[0]) + 1
            status = "diverged"
            step = diverged_at
            bar.update(n)
            break
        step += n
        bar.update(n)
        curves.append((run_id, step, "train", "loss", float(vals[:, 0].mean())))
        curves.append((run_id, step, "train", "grad_norm", float(vals[-1, 1])))
        done = step >= steps
        if done or step // eval_every > (step - n) // eval_every:  # crossed an eval point
            last_eval = evaluate(model, task, eval_batch)
            curves.extend((run_id, step, "eval", k, float(v)) for k, v in sorted(last_eval.items()))
            bar.set_postfix(
                loss=f"{last_eval['loss']:.4g}", acc=f"{last_eval['accuracy']:.3f}", refresh=False
            )
            if solved_at is None and task.solved(last_eval):
                solved_at, solve_wall = step, time.perf_counter() - t_start
                if tr["early_stop"]:
                    done = True
        if step in probes or done:
            profiles.extend(_profile_rows(run_id, step, model, task, probe))
        if done:
            break
    bar.close()
    wall = time.perf_counter() - t_start
    trained = step if status == "ok" else (diverged_at or 1) - 1

    timed_steps = max(1, trained if status == "ok" else step)
    row = {
        "run_id": run_id,
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "error": None,
        "sweep": c.get("sweep_name"),
        "task": task.name,
        "task_variant": task_variant(task),
        "seq_len": task.seq_len,
        "cell": c["cell"]["name"],
        "impl": c["cell"]["impl"],
        "variant": c["cell"]["variant"],
        "hidden_size": spec.hidden_size,
        "budget": c["cell"]["budget"],
        "num_params": count_params(model),
        "layers": c["cell"]["layers"],
        "forget_bias": str(c["cell"]["forget_bias"]),
        "recurrent_init": c["cell"]["recurrent_init"],
        "optimizer": tr["optimizer"],
        "lr": float(tr["lr"]),
        "clip": clip,
        "clip_value": float(clip_value),
        "batch_size": tr["batch_size"],
        "max_steps": steps,
        "seed": c["seed"],
        "steps": trained,
        "solved": solved_at is not None,
        "steps_to_solve": solved_at,
        "wall_s_to_solve": solve_wall,
        "diverged_at": diverged_at,
        "final_loss": last_eval.get("loss", math.nan),
        "final_accuracy": last_eval.get("accuracy", math.nan),
        "chance_loss": task.chance_loss,
        "chance_accuracy": task.chance_accuracy,
        "ms_per_step": 1000 * train_s / timed_steps,
        "elements_per_s": timed_steps * tr["batch_size"] * task.length / train_s if train_s > 0 else math.nan,
        "peak_mem_mb": peak_memory_mb(device),
        "wall_s": wall,
        **prov,
        "config_json": _json(c),
    }
    return (
        row,
        pd.DataFrame(curves, columns=list(CURVE_COLUMNS)),
        pd.DataFrame(profiles, columns=list(PROFILE_COLUMNS)),
    )


def task_variant(task: Task) -> str:
    """A short label for the task's form: copy/adding variant, or recall's delay filling."""
    p = task.params()
    if "variant" in p:
        return str(p["variant"])
    label = "distractors" if p.get("distractors") else "blanks"
    return label + ("+random_delay" if p.get("random_delay") else "")


def _json(c: dict[str, Any]) -> str:
    import json

    return json.dumps(c, sort_keys=True, default=str)


def runs_frame(row: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame([{k: row.get(k) for k in RUN_COLUMNS}])
    # Nullable integer columns keep their type when some runs have them and some do not.
    for col in ("budget", "steps_to_solve", "diverged_at"):
        df[col] = df[col].astype("Int64")
    for col in ("wall_s_to_solve",):
        df[col] = df[col].astype("float64")
    return df


def execute(spec: RunSpec, progress: bool = True, position: int = 0) -> RunOutcome:
    """Run `spec` unless a complete ok/diverged run with its run_id exists (and force is off).

    Writes results_dir/runs/<run_id>/ atomically, completion record last. A failing run is
    recorded with status `failed` and its error; it never raises (except KeyboardInterrupt).
    """
    c = spec.config
    run_id = spec.run_id
    folder = run_dir(c["results_dir"], run_id)
    rec = read_complete(folder)
    if rec and rec.get("status") in ("ok", "diverged") and not c.get("force"):
        return RunOutcome(run_id, "skipped")
    begin_run(folder, c)
    try:
        row, curves, profile = train(spec, progress=progress, position=position)
    except Exception as e:  # noqa: BLE001 - recorded, so one broken job never stops a sweep
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        row = {k: None for k in RUN_COLUMNS} | {
            "run_id": run_id,
            "schema_version": SCHEMA_VERSION,
            "status": "failed",
            "error": msg,
            "sweep": c.get("sweep_name"),
            "task": c["task"]["name"],
            "seq_len": c["task"]["seq_len"],
            "cell": c["cell"]["name"],
            "impl": c["cell"]["impl"],
            "variant": c["cell"]["variant"],
            "seed": c["seed"],
            "config_json": _json(c),
        }
        finish_run(
            folder,
            {"runs": runs_frame(row)},
            {"run_id": run_id, "status": "failed", "error": msg, "traceback": traceback.format_exc()},
        )
        return RunOutcome(run_id, "failed", row, msg)
    finish_run(
        folder,
        {"runs": runs_frame(row), "curves": curves, "grad_profile": profile},
        {"run_id": run_id, "status": row["status"]},
    )
    return RunOutcome(run_id, row["status"], row)
