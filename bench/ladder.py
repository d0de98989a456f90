"""Adaptive length ladders: a preset with `preset.ladder: true` runs each arm's lengths shortest first and
stops an arm once it failed at a length on every seed (its longer lengths are "not run").

An arm is a configuration without its length and seed (task, cell, init, training: `arm_key`); its rungs
are its distinct `task.seq_len` values, ascending. A rung is released when every run of the rung below is
complete and at least one of them solved the task. The report reads what was run; a longer length that an
arm never reached is stated there as "not run: failed at T".

The same rule filters a grid by `preset.arms` (cell name -> the init labels that apply to it), so a
cell x init product keeps only the combinations that exist (no forget gate for the vanilla RNN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import Job
from bench.spec import _digest
from bench.store import complete_status, run_dir


def arm_key(job: Job) -> str:
    """The job's configuration without task.seq_len and the seed."""
    d = job.spec.identity(seed=False)
    d["task"] = {k: v for k, v in d["task"].items() if k != "seq_len"}
    return _digest(d)


def in_arms(cfg: Any) -> bool:
    """Whether a composed config's (cell, init) is one its preset's `preset.arms` lists (no table: all
    are). Checked before validation: a combination that does not exist need not be valid."""
    arms = (cfg.get("preset") or {}).get("arms")
    if not arms:
        return True
    return cfg.get("init") in (arms.get(cfg["cell"]["name"]) or ())


def is_ladder(jobs: Iterable[Job]) -> bool:
    return any(bool((j.config.get("preset") or {}).get("ladder")) for j in jobs)


def solved_on_disk(results_dir: str | Path, run_id: str) -> bool | None:
    """Whether a complete run solved its task (None: not complete)."""
    import pyarrow.parquet as pq

    folder = run_dir(results_dir, run_id)
    if complete_status(folder) is None:
        return None
    try:
        return bool(pq.read_table(folder / "runs.parquet", columns=["solved"])["solved"][0].as_py())
    except Exception:  # noqa: BLE001 - unreadable: counts as not solved (the loader reports it)
        return False


@dataclass
class Ladder:
    """Which jobs may run now. `finish(run_id, solved)` records an outcome and returns the jobs it
    releases; `cut` lists the jobs an arm will never run (failed at a shorter length on every seed)."""

    rungs: dict[str, list[list[Job]]]  # arm -> its jobs per rung, shortest first
    results: dict[str, bool | None] = field(default_factory=dict)  # run_id -> solved (None: failed run)
    level: dict[str, int] = field(default_factory=dict)  # arm -> index of its current rung
    cut: list[tuple[Job, int]] = field(default_factory=list)  # (job, the length its arm failed at)
    released: set[str] = field(default_factory=set)  # run_ids handed out to run

    @classmethod
    def of(cls, jobs: list[Job]) -> Ladder:
        by_arm: dict[str, dict[int, list[Job]]] = {}
        for j in jobs:
            by_arm.setdefault(arm_key(j), {}).setdefault(j.spec.task.seq_len, []).append(j)
        rungs = {a: [r[t] for t in sorted(r)] for a, r in by_arm.items()}
        return cls(rungs, level={a: 0 for a in rungs})

    def start(self, done: dict[str, bool | None]) -> list[Job]:
        """The first jobs to run, given the outcomes of runs already complete (run_id -> solved)."""
        self.results.update(done)
        ready: list[Job] = []
        for arm in self.rungs:
            ready += self._advance(arm)
        return ready

    def finish(self, run_id: str, solved: bool | None) -> list[Job]:
        self.results[run_id] = solved
        arm = next(a for a, rs in self.rungs.items() if any(j.run_id == run_id for r in rs for j in r))
        return self._advance(arm)

    def _advance(self, arm: str) -> list[Job]:
        """Move `arm` up while its current rung is complete and solved somewhere; return what to run."""
        rungs = self.rungs[arm]
        while True:
            k = self.level[arm]
            if k >= len(rungs):
                return []
            rung = rungs[k]
            todo = [j for j in rung if j.run_id not in self.results]
            if todo:  # the rung is running: hand out (once) what is not yet running
                new = [j for j in todo if j.run_id not in self.released]
                self.released.update(j.run_id for j in new)
                return new
            if not any(self.results[j.run_id] for j in rung) and all(
                self.results[j.run_id] is not None for j in rung
            ):
                failed_at = rung[0].spec.task.seq_len
                self.cut += [(j, failed_at) for r in rungs[k + 1 :] for j in r]
                self.level[arm] = len(rungs)
                return []
            self.level[arm] = k + 1


def ladder_note(cut: list[tuple[Job, int]]) -> str | None:
    """One line for the jobs the ladder did not run."""
    if not cut:
        return None
    arms = {arm_key(j) for j, _ in cut}
    return (
        f"{len(cut)} run(s) of {len(arms)} arm(s) not run: the arm failed at a shorter length on every seed "
        "(preset.ladder)"
    )
