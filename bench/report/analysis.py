"""The analysis step: every table the report needs, computed once from the loaded results, pure pandas (no
drawing, no markdown). The sections (sections.py) render from an Analysis and never compute into a shared
state for one another."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TypeVar

import pandas as pd

from bench.report import critical, matching, outcomes, paired, profiles, scorecard, speed, tuned
from bench.report.ablations import Ablation, find_all
from bench.report.data import Prepared, prepare
from bench.report.factors import FACTORS, Factor, presets
from bench.report.preset_claims import decide_all, verdict_frame
from bench.report.preset_common import PresetResult
from bench.results import Results

X = TypeVar("X")


@dataclass(frozen=True)
class Analysis:
    prepared: Prepared  # the normalised runs, the main comparison, curves and profiles
    factors: tuple[Factor, ...]  # the ablation factors looked for
    summary: pd.DataFrame  # outcome statistics of the main comparison per (task, length, cell)
    profile_medians: pd.DataFrame  # median gradient profile per (task, length, cell, phase, state, distance)
    falloff: pd.DataFrame  # per median profile: decay rate, horizon, sigma_max(W_hh) (profiles.falloff)
    curve_medians: pd.DataFrame  # eval loss / chance per (task, length, cell, step)
    cost: pd.DataFrame  # cost medians per (task, length, cell, impl, device, threads)
    ablations: Mapping[str, Ablation]  # factor name -> its ablation, for the factors present
    literature: pd.DataFrame  # one row per comparison with a paper: its setup, our matching numbers, verdict
    microbench: pd.DataFrame | None
    notes: tuple[str, ...]  # what the analysis left out, and why
    critical: pd.DataFrame  # critical length per (task, arm): critical.COLUMNS
    pairs: pd.DataFrame  # paired tests per (task, length, pair of arms differing in one factor)
    seeds: pd.DataFrame  # per-seed values of the main comparison (paired.SEED_COLUMNS)
    tuning: pd.DataFrame  # the learning-rate grid of the tuning runs per (task, arm, rate): tuned.GRID
    tuning_check: Mapping[str, object]  # whether the main runs used their arm's selected rate (tuned.check)
    presets: Mapping[str, PresetResult]  # preset -> its evidence table and verdicts (preset_claims.py)
    presets_verdicts: pd.DataFrame  # every preset's verdict rows: preset_common.VERDICT_COLUMNS
    speed: speed.Speed = field(default_factory=speed.Speed)  # FLOPs, time per step and to solve (speed.py)
    scorecard: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per claim (scorecard.COLUMNS)

    @property
    def runs(self) -> pd.DataFrame:
        return self.prepared.runs

    @property
    def main(self) -> pd.DataFrame:
        return self.prepared.main


def _guard(what: str, fn: Callable[[], X], default: X, notes: list[str]) -> X:
    # A table that cannot be computed on unexpected data becomes a note; the rest of the report still builds.
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        notes.append(f"{what} could not be built: {type(e).__name__}: {e}".replace("\n", " "))
        return default


def analyse(
    res: Results, microbench: pd.DataFrame | None = None, factors: tuple[Factor, ...] = FACTORS
) -> Analysis:
    """Every table of the report for the runs in `res` (and the micro-benchmark table, when there is one)."""
    p = prepare(res, presets(factors))
    notes = list(p.notes)
    empty = pd.DataFrame()
    summary = _guard("summary", lambda: outcomes.summary(p.main, p.curves), empty, notes)
    med = _guard("gradient profiles", lambda: profiles.medians(p.main, p.profile), empty, notes)
    sigma = _guard("sigma_max(W_hh)", lambda: profiles.sigma_max(p.main, p.weights), empty, notes)
    fall = _guard("gradient fall-off", lambda: profiles.falloff(med, sigma), empty, notes)
    cm = _guard("learning curves", lambda: outcomes.curve_medians(p.main, p.curves), empty, notes)
    timed = not p.lacks("ms_per_step", "elements_per_s") and len(p.runs)
    cost = _guard("cost", lambda: outcomes.cost_frame(p.runs, p.main), empty, notes) if timed else empty
    abl, abl_notes = _guard(
        "ablations", lambda: find_all(p.runs, p.main, factors, p.missing, p.curves), ({}, []), notes
    )
    notes += abl_notes
    lit = _guard(
        "literature comparison",
        lambda: matching.literature(p.runs, p.main, abl),
        pd.DataFrame(columns=list(matching.COLUMNS)),
        notes,
    )
    abl = MappingProxyType(abl)
    crit = _guard("critical length", lambda: critical.critical(p.main), pd.DataFrame(), notes)
    pairs = _guard("paired comparisons", lambda: paired.paired(p.main, p.curves), empty, notes)
    seeds = _guard("per-seed table", lambda: paired.per_seed(p.main, p.curves), empty, notes)
    grid = _guard("tuning grid", lambda: tuned.grid(p.runs), empty, notes)
    check = _guard("tuning check", lambda: tuned.check(p.runs, p.main), {}, notes)
    decided = decide_all(p, notes)
    fast = _guard("speed", lambda: speed.speed(p.main, summary, cost, microbench), speed.Speed(), notes)
    a = Analysis(
        p, factors, summary, med, fall, cm, cost, abl, lit, microbench, tuple(notes),
        crit, pairs, seeds, grid, MappingProxyType(check), MappingProxyType(decided), verdict_frame(decided),
        fast,
    )  # fmt: skip
    # the scorecard reads the other tables (never the runs' files), so it comes last
    card = _guard("claims scorecard", lambda: scorecard.scorecard(a), pd.DataFrame(), notes)
    return replace(a, scorecard=card, notes=tuple(notes))
