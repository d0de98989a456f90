"""The presets of issue 12 whose runs the report turns into verdicts (bidirectional, depth, tbptt,
activation): which module decides each, and all their verdict rows as one frame (Analysis.presets_verdicts:
one row per claim, VERDICT_COLUMNS; a preset without runs is one row, verdict 'no runs')."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.report import preset_activation, preset_bidirectional, preset_depth, preset_tbptt
from bench.report.data import Prepared
from bench.report.preset_common import VERDICT_COLUMNS, PresetResult, verdict_rows

Decide = Callable[[Prepared], PresetResult]
# preset name (its sweep_name, and the name of its factor in factors.py) -> the function deciding it
PRESET_CLAIMS: dict[str, Decide] = {
    preset_bidirectional.PRESET: preset_bidirectional.analyse,
    preset_depth.PRESET: preset_depth.analyse,
    preset_tbptt.PRESET: preset_tbptt.analyse,
    preset_activation.PRESET: preset_activation.analyse,
}
FAILED = "could not be decided"  # the verdict of a preset whose analysis failed on unexpected data


def decide_all(p: Prepared, notes: list[str]) -> dict[str, PresetResult]:
    """Every preset's result; one that fails on unexpected data becomes a note and one verdict row saying
    so (the rest of the report still builds)."""
    out: dict[str, PresetResult] = {}
    for name, decide in PRESET_CLAIMS.items():
        try:
            out[name] = decide(p)
        except Exception as e:  # noqa: BLE001
            msg = f"preset '{name}' verdicts could not be built: {type(e).__name__}: {e}".replace("\n", " ")
            notes.append(msg)
            n = int((p.runs["sweep"] == name).sum()) if "sweep" in p.runs.columns else 0
            out[name] = PresetResult(name, n, verdicts=verdict_rows(name, [("analysis", FAILED, msg)]))
    return out


def verdict_frame(results: dict[str, PresetResult]) -> pd.DataFrame:
    """All presets' verdict rows, in PRESET_CLAIMS order."""
    frames = [r.verdicts for r in results.values() if len(r.verdicts)]
    if not frames:
        return pd.DataFrame(columns=list(VERDICT_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(VERDICT_COLUMNS)]
