"""The claims scorecard as blocks: how the verdicts are reached, the table of the claims measured, and one
line per claim with no data naming the sweep preset that measures it. Formatting only: the rows come from
scorecard.py."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bench.report.doc import Block, Bullets, Para, integer, table
from bench.report.preset_activation import BLOW_UP
from bench.report.preset_common import BETTER_RULE
from bench.report.profiles import FALLOFF
from bench.report.scorecard import NOT_MEASURED
from bench.report.scorecard_presets import LINKS
from bench.report.speed import SAME

# source key (scorecard.py) -> how the "From" column names the table; a key that is no section: as it is
SOURCE_NAMES = {
    "critical": "critical-length tables",
    "gradients": "gradient-profile tables",
    "paired": "paired comparisons",
    "summary": "summary",
    "cost": "cost table",
    "microbench": "micro-benchmarks",
    "speed": "speed comparison",
    "ablations": "ablation tables",
    "presets": "the preset's table and verdicts",
}
RULES = (
    "One row per claim of the textbook account of RNN, LSTM and GRU (or per part of a claim, where its parts "
    "rest on different data); every verdict is computed from the numbers in its row or in the section it "
    "cites. **supported**: the claim holds in every case measured; **not supported**: in none; **depends on "
    "X**: it holds in some cases and not in others, and X is what tells them apart (the cases flip with X "
    "at everything else equal). The rules: a gradient *vanishes* when the median norm at initialisation "
    f"falls below {FALLOFF:.0e} of its value at the scored position within the sequence; one arm holds a "
    "*longer dependency* than another when its critical length is surely longer (an arm that never failed "
    "may hold longer lengths it has not run, so a comparison it could still win is undecided, and so is one "
    "between two arms that both fail their shortest length); a cell is *faster* when its time is below "
    f"{1 - SAME:.2f}x the other's. Claims {', '.join(f'{c}{p}' for c, p in LINKS)} are the verdicts of the "
    "sweep presets that measure them, as the Ablations section gives them with their numbers (holds: "
    "supported; does not hold: not "
    "supported; partly: depends on what the preset's verdict names); there hidden values *blow up* when "
    f"max |h_t| exceeds {integer(BLOW_UP)} or the run goes non-finite, on a majority of seeds, and one arm "
    f"*does better* than another when it has {BETTER_RULE}."
)


def _sources(keys: tuple, refs: Mapping[str, str]) -> str:
    """'section 1 (critical-length tables), section 3 (paired comparisons)'."""
    out = []
    for k in keys:
        name = SOURCE_NAMES.get(k, k)
        out.append(f"{refs[k]} ({name})" if k in refs else name)
    return "; ".join(out)


def run_line(preset: str) -> str:
    """'run `python -m bench sweep sweep=tbptt`' (presets: comma-separated, any of them)."""
    return "run " + " or ".join(f"`python -m bench sweep sweep={p}`" for p in preset.split(","))


def blocks(card: pd.DataFrame, refs: Mapping[str, str]) -> list[Block]:
    """The rules, the table of the claims measured, and one line per claim not measured. `refs`: source key
    -> the section that shows it ('section 6')."""
    out: list[Block] = [Para(RULES)]
    done = card[card["verdict"] != NOT_MEASURED]
    if len(done):
        rows = pd.DataFrame(
            {
                "Claim": [
                    f"{c}{p}. {t}" for c, p, t in zip(done["claim"], done["part"], done["text"], strict=True)
                ],
                "Verdict": done["verdict"],
                "Holds where": [
                    c or ("none of the cases measured" if v == "not supported" else "every case measured")
                    for c, v in zip(done["condition"], done["verdict"], strict=True)
                ],
                "Evidence": done["evidence"],
                "From": [_sources(s, refs) for s in done["sources"]],
            }
        )
        out.append(table(rows, "Claims scorecard: the claims these results measure."))
    else:
        out.append(Para("No claim is measured by these results."))
    todo = card[card["verdict"] == NOT_MEASURED]
    if len(todo):
        lines = [
            f"{r['claim']}{r['part']}. {r['text']}: not measured"
            + (f" ({r['evidence']})" if r["evidence"] else "")
            + f": {run_line(r['preset'])}."
            for _, r in todo.iterrows()
        ]
        out += [Para("Claims with no data in these results:"), Bullets(tuple(lines))]
    return out
