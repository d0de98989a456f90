"""The scorecard's claims that sweep presets measure (tanh's bound and relu's blow-up, the remedies relu,
clipping and truncated backpropagation, depth, bidirectional cells): each row is the verdict of one claim
of a preset module (preset_claims.py: Analysis.presets_verdicts), never computed again here, so the
scorecard and the preset's verdicts in the Ablations section cannot disagree. Pure pandas.

The mapping: holds -> supported, does not hold -> not supported, partly -> "depends on" what the preset's
verdict names (its `depends`), not tested (the preset ran, but not what the claim needs) and no runs -> not
measured, with the sweep preset to run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.report import preset_activation, preset_bidirectional, preset_depth, preset_tbptt
from bench.report.doc import plural
from bench.report.preset_common import FAILS, HOLDS, NO_RUNS, PARTLY
from bench.report.scorecard import NOT_MEASURED, row, unmeasured

if TYPE_CHECKING:
    from bench.report.analysis import Analysis

# scorecard claim -> (preset, the preset's claim that decides it)
LINKS: dict[tuple[int, str], tuple[str, str]] = {
    (4, "a"): (preset_activation.PRESET, preset_activation.TANH),
    (4, "b"): (preset_activation.PRESET, preset_activation.RELU),
    (5, "b"): (preset_activation.PRESET, preset_activation.HELPS),
    (5, "c"): (preset_activation.PRESET, preset_activation.CLIPS),
    (5, "d"): (preset_tbptt.PRESET, preset_tbptt.AS_FULL),
    (6, "a"): (preset_depth.PRESET, preset_depth.MEMORY),
    (6, "b"): (preset_bidirectional.PRESET, preset_bidirectional.ANTICIPATION),
}
SOURCE = "presets"  # the source key of these rows: the preset verdicts, in the Ablations section


def card_verdict(verdict: str, depends: str = "") -> str:
    """A preset verdict as the scorecard says it."""
    if verdict == HOLDS:
        return "supported"
    if verdict == FAILS:
        return "not supported"
    if verdict == PARTLY:
        return f"depends on {depends or 'the case'}"
    return NOT_MEASURED


def rows(a: Analysis) -> list[dict]:
    """One row per LINKS claim, from the preset's verdict row."""
    v = a.presets_verdicts
    out = []
    for key, (preset, claim) in LINKS.items():
        mine = v[v["preset"] == preset] if len(v) else v
        hit = mine[mine["claim"] == claim] if len(mine) else mine
        if hit.empty:  # no runs (or the preset's analysis failed): the one row the preset has says why
            why = "" if mine.empty or (mine["verdict"] == NO_RUNS).all() else mine["evidence"].iloc[0]
            out.append(unmeasured(key, preset, why))
            continue
        r = hit.iloc[0]
        verdict = card_verdict(r["verdict"], r["depends"])
        if verdict == NOT_MEASURED:
            out.append(unmeasured(key, preset, r["evidence"]))
            continue
        res = a.presets.get(preset)
        runs = f" ({plural(res.n_runs, 'run')})" if res is not None else ""
        evidence = f"the `{preset}` preset's verdict{runs} on '{claim}': {r['verdict']}"
        out.append(row(key, verdict, r["where"], evidence, (SOURCE,), preset))
    return out
