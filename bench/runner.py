"""The built-in sweep runner and its console: run the jobs in this process or in worker processes, one
line per finished job under one sweep bar, the outcome table, and the dry run's listing and ETA."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from bench.claims import request_stop, stop_reason, watch_parent
from bench.config import Job, describe
from bench.ladder import Ladder, solved_on_disk
from bench.spec import Settings
from bench.store import run_dir

if TYPE_CHECKING:
    from bench.sweep import Plan


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallelism(settings: Settings, todo: int) -> tuple[int, int]:
    """(worker processes, torch threads per run) of the built-in runner: `jobs` (all cores when null), at
    most one per run to train, and `threads` or cores // jobs threads each."""
    jobs = max(1, min(settings.jobs or cores(), max(todo, 1)))
    return jobs, settings.threads or max(1, cores() // jobs)


# ----------------------------------------------------------------------------- console
def job_line(job: Job, out) -> str:  # noqa: ANN001 - a bench.train.RunOutcome
    """`adding T=100 gru seed 1: solved at 700, acc 0.98, 7.1 s`: one finished job."""
    head = describe(job)
    r = out.row or {}
    if out.status in ("ok", "diverged") and r:
        what = (
            f"solved at {r['steps_to_solve']}"
            if r.get("solved")
            else (
                f"diverged at {r['diverged_at']}"
                if out.status == "diverged"
                else f"not solved in {r['steps']}"
            )
        )
        acc = r.get("final_accuracy")
        acc_text = f", acc {acc:.2f}" if acc is not None and acc == acc else ""
        return f"{head}: {what}{acc_text}, {r.get('wall_s') or 0:.1f} s"
    if out.status == "skipped":
        return f"{head}: already complete"
    if out.status == "claimed":
        return f"{head}: claimed by another process ({out.error or 'it trains it'})"
    return f"{head}: {out.status}: {out.error}"


def sweep_bar(total: int, disable: bool | None = None, file=None) -> tqdm:  # noqa: ANN001
    """The one sweep bar (with an ETA); off without a terminal (disable=None), job lines still print."""
    return tqdm(
        total=total, desc="sweep", unit="run", disable=disable, position=0, dynamic_ncols=True, file=file
    )


def advance(bar: tqdm, index: int, total: int, line: str, last: str) -> None:
    """One job finished: its line above the bar, then the bar moved on with this job as `last=`."""
    tqdm.write(f"[{index}/{total}] {line}", file=bar.fp if not bar.disable else None)
    bar.update(1)
    bar.set_postfix(last=last)  # after update, refreshed: shows this job, not the one before


def outcome_table(results_dir: Path, run_ids: list[str]) -> str:
    """A task x cell table of the sweep's runs: solved / complete runs per cell."""
    import pyarrow.parquet as pq

    cells: dict[tuple[str, str], list[int]] = {}
    for rid in run_ids:
        path = run_dir(results_dir, rid) / "runs.parquet"
        try:
            table = pq.read_table(path)
            row = table.to_pylist()[0]
            row.setdefault("task.name", row.get("task"))  # schema 1's names (bench/legacy.py)
            row.setdefault("cell.name", row.get("cell"))
        except Exception:  # noqa: BLE001 - a run without its table (incomplete, failed early) is left out
            continue
        c = cells.setdefault((row["task.name"], row["cell.name"]), [0, 0])
        c[0] += bool(row["solved"])
        c[1] += 1
    if not cells:
        return "solved: no complete runs"
    tasks = sorted({t for t, _ in cells}, key=lambda t: (["copy", "adding", "recall"] + [t]).index(t))
    names = sorted({c for _, c in cells}, key=lambda c: (["rnn", "lstm", "gru"] + [c]).index(c))
    w = max(len("solved / runs") + 1, *(len(t) + 1 for t in tasks))
    lines = ["solved / runs".ljust(w) + "".join(f"{c:>9}" for c in names)]
    for t in tasks:
        row = "".join(f"{'/'.join(map(str, cells[(t, c)])) if (t, c) in cells else '-':>9}" for c in names)
        lines.append(t.ljust(w) + row)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- runners
def _with_threads(job: Job, threads: int) -> Job:
    if job.settings.threads:
        return job
    return replace(job, settings=replace(job.settings, threads=threads))


def _run_here(todo: list[Job], settings: Settings, ladder: Ladder | None = None) -> list[tuple[Job, int]]:
    """The built-in runner: `jobs` worker processes (all cores by default), or in this process one job
    after the other (jobs=1, or a single run), under one sweep bar with one line per finished job.
    With a `ladder` (bench/ladder.py) jobs are released rung by rung; returns the jobs it cut."""
    jobs, threads = parallelism(settings, len(todo))
    todo = [_with_threads(j, threads) for j in todo]
    print(f"runner: {jobs} process{'es' if jobs > 1 else ''} x {threads} torch thread(s)", flush=True)
    queue = _Queue(todo, ladder, settings.results_dir)
    bar = sweep_bar(len(todo))
    try:
        if jobs == 1:
            _sequential(queue, bar)
        else:
            _parallel(queue, bar, jobs, threads)
    finally:
        bar.close()
    return ladder.cut if ladder else []


class _Queue:
    """The jobs to hand out: all at once, or as the ladder releases them (keyed by run_id, so the ladder,
    built from the sweep's jobs, hands out this runner's copies with their threads set)."""

    def __init__(self, todo: list[Job], ladder: Ladder | None, results_dir: str) -> None:
        self.by_id = {j.run_id: j for j in todo}
        self.ladder = ladder
        if ladder is None:
            self.ready = list(todo)
        else:
            done = {
                rid: solved_on_disk(results_dir, rid)
                for arm in ladder.rungs.values()
                for r in arm
                for rid in (j.run_id for j in r)
                if rid not in self.by_id
            }
            self.ready = self._mine(ladder.start(done))
        self.total = len(todo)

    def _mine(self, jobs: list[Job]) -> list[Job]:
        return [self.by_id[j.run_id] for j in jobs if j.run_id in self.by_id]

    def take(self) -> list[Job]:
        out, self.ready = self.ready, []
        return out

    def finished(self, job: Job, out) -> None:  # noqa: ANN001 - a bench.train.RunOutcome
        if self.ladder is None:
            return
        if out.status == "skipped":
            solved = solved_on_disk(job.settings.results_dir, job.run_id)
        elif out.status in ("ok", "diverged") and out.row:
            solved = bool(out.row.get("solved"))
        else:  # failed, claimed, stopped: unknown, so the arm is not cut on it
            solved = None
        self.ready += self._mine(self.ladder.finish(job.run_id, solved))
        self.total = len(self.by_id) - sum(j.run_id in self.by_id for j, _ in self.ladder.cut)


def _finish(queue: _Queue, bar: tqdm, index: int, job: Job, out) -> None:  # noqa: ANN001
    if out.status == "write_error":
        request_stop(out.error)
    queue.finished(job, out)
    bar.total = queue.total
    advance(bar, index, queue.total, job_line(job, out), f"{job.spec.cell.name}:{out.status}")


def _sequential(queue: _Queue, bar: tqdm) -> None:
    from bench.train import execute

    i = 0
    while ready := queue.take():
        for job in ready:
            if stop_reason():  # an earlier job could not write its results (disk full, read-only)
                return
            out = execute(job, progress=job.settings.progress and not bar.disable, position=1)
            i += 1
            _finish(queue, bar, i, job, out)


def _worker_init(threads: int) -> None:
    """A worker of the built-in runner: leaves Ctrl-C to the sweep (which ends it), exits when the sweep
    dies (watch_parent; and never marks a run complete after that: claims.abandoned), uses `threads`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    watch_parent()
    import torch

    torch.set_num_threads(threads)


def _worker_job(job: Job):  # noqa: ANN202 - a bench.train.RunOutcome
    from bench.train import RunOutcome, execute

    if stop_reason():
        return RunOutcome(job.run_id, "stopped", error=stop_reason())
    return execute(job, progress=False)


def _parallel(queue: _Queue, bar: tqdm, jobs: int, threads: int) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from bench.train import RunOutcome

    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,))
    futures: dict = {}

    def submit() -> None:
        # Workers start ignoring Ctrl-C (inherited, so also while they import): the sweep ends them.
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            futures.update({pool.submit(_worker_job, job): job for job in queue.take()})
        finally:
            signal.signal(signal.SIGINT, sigint)

    try:
        submit()
        i = 0
        while futures:
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in finished:
                job = futures.pop(fut)
                try:
                    out = fut.result()
                except BrokenProcessPool as e:
                    out = RunOutcome(job.run_id, "failed", error=f"worker died: {e}")
                i += 1
                _finish(queue, bar, i, job, out)
            submit()
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):  # no worker outlives an interrupt
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _dry_run(
    p: Plan, distinct: dict[str, Job], before: dict[str, bool], todo: list[Job], results_dir: Path
) -> int:
    """List the jobs (complete or to train) and an ETA from stored ms_per_step of similar runs."""
    stored = _stored_speeds(results_dir)
    jobs, _ = parallelism(p.specs[0].settings, len(todo))
    total, unknown = 0.0, 0
    todo_ids = {j.run_id for j in todo}
    for i, (rid, job) in enumerate(distinct.items(), 1):
        s = job.spec
        head = f"  [{i}/{len(distinct)}] {rid} {describe(job)}"
        if rid not in todo_ids:
            print(f"{head}: complete")
            continue
        ms = stored.get(("config", s.config_id)) or _scaled(stored, s.task.name, s.cell.name, s.task.seq_len)
        if ms is None:
            unknown += 1
            print(f"{head}: to train (no similar stored run)")
            continue
        est = ms * s.train.steps / 1000
        total += est
        print(f"{head}: to train, at most ~{est:.0f} s ({ms:.1f} ms/step x {s.train.steps} steps)")
    eta = total / jobs if todo else 0.0
    note = f"; {unknown} without an estimate" if unknown else ""
    print(
        f"dry run: {len(todo)} to train, {len(distinct) - len(todo)} complete; ETA at most "
        f"~{eta / 60:.1f} min with {jobs} process(es) (stored ms_per_step of similar runs x step budget, "
        f"no early stop{note}); nothing trained"
    )
    return 0


def _stored_speeds(results_dir: Path) -> dict[tuple, float]:
    """Median ms_per_step of the stored runs (any schema: bench.load_results), by config_id and by
    (task, cell, seq_len)."""
    from bench.results import load_results

    runs = load_results(results_dir, warn=False).runs
    if runs.empty or "ms_per_step" not in runs.columns:
        return {}
    runs = runs[runs["ms_per_step"].notna()]
    out: dict[tuple, float] = {}
    for cid, ms in runs.groupby("config_id")["ms_per_step"].median().items():
        out[("config", cid)] = float(ms)
    by = ["task.name", "cell.name", "task.seq_len"]
    for (task, cell, t), ms in runs.groupby(by)["ms_per_step"].median().items():
        out[("cell", task, cell, int(t))] = float(ms)
    return out


def _scaled(stored: dict[tuple, float], task: str, cell: str, seq_len: int) -> float | None:
    """ms/step of the stored (task, cell) run nearest in length, scaled linearly to `seq_len` (a step
    costs about one cell step per timestep)."""
    lengths = [k[3] for k in stored if k[0] == "cell" and k[1:3] == (task, cell)]
    if not lengths:
        return None
    near = min(lengths, key=lambda t: abs(t - seq_len))
    return stored[("cell", task, cell, near)] * seq_len / max(near, 1)
