"""The report's sections, each rendered from the Analysis: SECTIONS lists them once, in order, and
`render` numbers them by position. A section returns its blocks and the notes on what it skipped (and
why); it never writes into state that a later section reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.atomic import StorageError
from bench.report import figures, literature, reading, scorecard_text, speed_text, study_sections, tables
from bench.report.ablations import best_arms, main_arms
from bench.report.analysis import Analysis
from bench.report.data import CELL, CELL_INIT, TASK, arm_name, arm_order, cell_name, sort_frame
from bench.report.doc import Block, Bullets, Heading, Para, integer, plural
from bench.report.factors import Factor, presets
from bench.report.part import Out, Part, skip
from bench.report.preset_tables import preset_blocks
from bench.report.profiles import DEPENDENCY_LOSS, NEEDED


def summary(a: Analysis, out: Out) -> Part:
    """The summary table of the main comparison."""
    blocks: list[Block] = []
    notes: list[str] = []
    lacks = a.prepared.lacks("final_loss", "chance_loss")
    if lacks:
        blocks.append(
            Para(f"*Loss statistics are incomplete: the results have no values for {', '.join(lacks)}.*")
        )
        notes.append(
            f"summary: the results have no values for {', '.join(lacks)}; loss / chance and chance verdicts "
            "left out"
        )
    if a.summary.empty:
        return Part([*blocks, skip("summary", "no runs in the main comparison", notes)], notes)
    blocks.append(
        Para(
            "One configuration per task, length and arm (the main comparison: an arm is a cell with its "
            "initialisation; standard variant, outside ablation presets, the most seeds). Losses and "
            "accuracies are on held-out data; the chance columns are the best memoryless predictor's loss "
            "and accuracy. " + tables.BEATS_DEFINITION
        )
    )
    return Part([*blocks, tables.summary_table(a.summary)], notes)


def headline(a: Analysis, out: Out) -> Part:
    """Solve rate and loss / chance at equal steps against length."""
    notes: list[str] = []
    if a.summary.empty:
        return Part([skip("solve-rate figure", "no summary to plot", notes)], notes)
    return Part([figures.headline(a.summary, out.figdir)] if out.draw else [])


def _dependency_text(main: pd.DataFrame) -> str:
    """Which loss each task's profile differentiates (profiles.DEPENDENCY_LOSS), for the tasks present."""
    tasks = sort_frame(main[["task_label", TASK]].drop_duplicates(TASK))[TASK] if len(main) else []
    said = [f"{t}: {DEPENDENCY_LOSS.get(t, 'the loss at its Task.dependency_mask positions')}" for t in tasks]
    return "; ".join(said)


def gradients(a: Analysis, out: Out) -> Part:
    """Gradient profiles: the figure (default vs recommended init per task and cell), one table per cell
    (decay rate, horizon, sigma_max(W_hh) per init side by side), Pascanu et al.'s condition."""
    blocks: list[Block] = [
        Para(
            "The norm of the gradient of the loss at the positions that test the dependency with respect "
            "to the hidden state h_t (and the LSTM's cell state c_t), against how many steps back t lies "
            "(Pascanu, Mikolov, Bengio 2013 log the same quantity). Which loss, per task: "
            f"{_dependency_text(a.main)}. A vanishing gradient shows as a line falling by orders of "
            "magnitude; gates that keep information should keep it up. Computed in float64 on a fixed "
            "probe batch; median over seeds; top layer; at initialisation (step 0) and at the end of "
            "training (each run's last step)."
        ),
    ]
    notes: list[str] = []
    missing = [c for c in NEEDED if c not in a.prepared.profile.columns]
    med = a.profile_medians
    if missing:
        why = f"the grad_profile table lacks {', '.join(missing)}"
        return Part([*blocks, skip("gradient profiles", why, notes)], notes)
    if med.empty:
        why = "no gradient profiles recorded for the main comparison"
        return Part([*blocks, skip("gradient profiles", why, notes)], notes)
    if not (med["phase"] == "end").any():
        notes.append("gradient profiles: no profile after step 0, only initialisation shown")
    if out.draw:
        blocks.append(figures.profiles(med, out.figdir))
    blocks += tables.profile_blocks(a.falloff)
    if a.falloff["sigma_max"].isna().all():
        notes.append("gradient profiles: no weights table (sigma_max(W_hh)) for these runs")
    said = reading.pascanu_sentence(a.falloff)
    return Part([*blocks, *([Para(said)] if said else [])], notes)


def curves(a: Analysis, out: Out) -> Part:
    """Learning curves."""
    notes: list[str] = []
    if a.curve_medians.empty:
        why = "no eval loss curves with a chance loss to scale them by"
        return Part([skip("learning curves", why, notes)], notes)
    return Part([figures.learning_curves(a.curve_medians, out.figdir)] if out.draw else [])


def _microbench(a: Analysis, notes: list[str]) -> Block:
    if a.microbench is None:
        return Para("*No micro-benchmark table (results_dir/microbench.parquet) in these results.*")
    tbl, lacking = tables.microbench_table(a.microbench)
    if tbl is None:
        why = "microbench.parquet is empty or has none of the expected columns"
        return skip("micro-benchmark table", why, notes)
    if lacking:
        notes.append(f"micro-benchmark table: columns absent, left out: {', '.join(lacking)}")
    return tbl


def cost(a: Analysis, out: Out) -> Part:
    """Time per step and throughput, parameter counts, micro-benchmarks."""
    blocks: list[Block] = []
    notes: list[str] = []
    lacks = a.prepared.lacks("ms_per_step", "elements_per_s")
    if lacks:
        blocks.append(
            skip("cost figure and table", f"the results have no values for {', '.join(lacks)}", notes)
        )
    elif a.cost.empty:
        blocks.append(skip("cost figure and table", "no finished runs with timings", notes))
    else:
        blocks += [figures.cost(a.cost, out.figdir)] if out.draw else []
        blocks.append(tables.cost_table(a.cost))
    blocks.append(Heading("Parameter counts", 3))
    if a.prepared.lacks("num_params"):
        blocks.append(skip("parameter table", "the results have no values for num_params", notes))
    else:
        blocks.append(tables.params_table(a.runs))
    blocks += [Heading("Micro-benchmarks", 3), _microbench(a, notes)]
    return Part(blocks, notes)


def scorecard_section(a: Analysis, out: Out) -> Part:
    """The claims scorecard: per claim its verdict, where it holds, its numbers and where they are shown."""
    notes: list[str] = []
    if a.scorecard.empty:
        return Part([skip("claims scorecard", "it could not be built (see the notes)", notes)], notes)
    refs = {k: out.ref(fn) for k, fn in SOURCES.items() if fn in out.numbers}
    return Part(scorecard_text.blocks(a.scorecard, refs))


def speed(a: Analysis, out: Out) -> Part:
    """GRU vs LSTM speed: FLOPs, time per step fused and explicit, steps and time to solve; claim 3."""
    on = scorecard_section in out.numbers
    return speed_text.speed_part(a, out.ref(scorecard_section) if on else "")


def ablations(a: Analysis, out: Out) -> Part:
    """One figure and table per ablation factor present; under a factor whose preset has verdicts
    (preset_claims.py), its evidence table and verdicts; a verdict preset without runs is one line."""
    named = ", ".join(f.preset for f in a.factors if f.preset)
    blocks: list[Block] = [
        Para(
            "Each factor's table shows the runs of the sweep preset named for it "
            f"({named}), and no other preset's: a run appears under its own preset's factor only. Runs "
            "of the main comparison join a group as its reference arm where they have the same "
            "configuration apart from the factor. Where one group has runs in several contexts (e.g. the "
            "variants at two learning rates) the one with the most arms and runs is shown."
        ),
    ]
    verdicts = {f.name: a.presets[f.preset] for f in a.factors if f.preset in a.presets}
    ran = {name for name, r in verdicts.items() if r.n_runs}
    absent = [f for f in a.factors if f.name not in a.ablations and f.name not in verdicts]
    if not a.ablations and not ran:
        blocks.append(
            Para(
                "No ablations present in these results: no ablation preset's runs."
                + _main_arms_absent(a, out, absent)
            )
        )
    for f in a.factors:
        ab = a.ablations.get(f.name)
        if ab is None and f.name not in ran:
            continue
        blocks.append(Heading(f.title, 3))
        blocks += [Para(n) for n in _main_arms_note(a, out, f)]
        if ab is not None:
            blocks += [figures.ablation(ab, out.figdir)] if out.draw else []
            blocks.append(tables.ablation_table(ab))
            if f.best:
                blocks.append(Bullets(tables.best_arm_lines(best_arms(ab), f.name, ab.key)))
        if f.name in verdicts:  # its verdicts, or the one line saying its preset has no runs
            blocks += preset_blocks(verdicts[f.name])
    blocks += [preset_blocks(r)[0] for name, r in verdicts.items() if name not in ran | set(a.ablations)]
    if absent and (a.ablations or ran):
        titles = "; ".join(f.title for f in absent)
        blocks.append(Para(f"Not present in these results: {titles}." + _main_arms_absent(a, out, absent)))
    return Part(blocks)


def _main_arms_note(a: Analysis, out: Out, f: Factor) -> list[str]:
    """Under a factor's heading, where the main comparison varies the factor itself (the main study's init
    arms): that only its preset's runs are tabled, and where those arms are."""
    arms = main_arms(a.main, f, presets(a.factors))
    if not arms:
        return []
    preset = f"the `{f.preset}` preset's runs" if f.preset else "runs outside the presets"
    return [
        f"Only {preset} are tabled here: the main study's own arms {', '.join(map(arm_name, arms))} differ "
        f"in this factor too, and they are the main comparison, shown in {out.ref(*MAIN_SECTIONS)}."
    ]


def _main_arms_absent(a: Analysis, out: Out, absent: list[Factor]) -> str:
    """For factors without a table that the main comparison varies itself: which arms, and where."""
    by = {f.title: main_arms(a.main, f, presets(a.factors)) for f in absent}
    by = {t: arms for t, arms in by.items() if arms}
    if not by:
        return ""
    arms = arm_order(pd.Series([x for v in by.values() for x in v]))
    return (
        f" The main study's own arms ({', '.join(map(arm_name, arms))}) differ in fields that "
        f"{'these factors vary' if len(by) > 1 else 'this factor varies'} ({'; '.join(by)}): they are the "
        f"main comparison, shown in {out.ref(*MAIN_SECTIONS)}, not an ablation."
    )


def literature_section(a: Analysis, out: Out) -> Part:
    """Published numbers and claims beside ours."""
    return Part(literature.section(a.literature, out.ref(ablations)))


def reading_section(a: Analysis, out: Out) -> Part:
    """A short plain-language reading generated from the tables."""
    said = sentences(a)
    return Part(
        [
            Para(tables.BEATS_DEFINITION),
            Bullets(tuple(said)) if said else Para("Nothing to read: no summary."),
        ]
    )


def sentences(a: Analysis) -> list[str]:
    """The reading's sentences (also returned by build_report)."""
    return reading.sentences(a.summary, a.falloff, a.cost, a.runs, dict(a.ablations))


Render = Callable[[Analysis, Out], Part]
# The sections, in report order; their numbers come from this position.
SECTIONS: tuple[tuple[str, Render], ...] = (
    ("Critical length", study_sections.critical_section),
    ("Claims scorecard", scorecard_section),
    ("Summary", summary),
    ("Paired comparisons", study_sections.paired_section),
    ("Solve rate and loss against sequence length", headline),
    ("Gradient profiles", gradients),
    ("Learning curves", curves),
    ("Cost", cost),
    ("GRU vs LSTM speed", speed),
    ("Learning-rate tuning", study_sections.tuning_section),
    ("Ablations", ablations),
    ("The literature side by side", literature_section),
    ("Reading", reading_section),
)
# The sections that show the main comparison (the intro names their numbers).
MAIN_SECTIONS = (
    study_sections.critical_section,
    summary,
    study_sections.paired_section,
    headline,
    gradients,
    curves,
    speed,
    literature_section,
    reading_section,
)
# The tables the scorecard cites (scorecard.py's source keys) -> the section that shows them.
SOURCES: dict[str, Render] = {
    "critical": study_sections.critical_section,
    "gradients": gradients,
    "paired": study_sections.paired_section,
    "summary": summary,
    "cost": cost,
    "microbench": cost,
    "speed": speed,
    "ablations": ablations,
    "presets": ablations,
}


def _values(s: pd.Series) -> str:
    v = sorted({str(x) for x in s if str(x) != "n/a"})
    return ", ".join(v) if v else "not recorded"


def provenance(runs: pd.DataFrame) -> Bullets:
    """Where and with what the runs were made (from the runs themselves)."""
    started = sorted(x for x in runs["started_at"] if x != "n/a")
    devices = runs["device"] + runs["device_name"].map(lambda d: "" if d == "n/a" else f" ({d})")
    threads = sorted({integer(t) for t in runs["threads"] if pd.notna(t)})
    return Bullets(
        (
            f"torch: {_values(runs['torch_version'])}; python: {_values(runs['python_version'])}",
            f"device: {_values(devices)}; threads: {', '.join(threads) if threads else 'not recorded'}",
            f"git commits of the runs: {_values(runs['git_commit'])}",
            f"hosts: {_values(runs['hostname'])}",
            f"runs started between {started[0]} and {started[-1]}" if started else "start times not recorded",
        )
    )


def intro(a: Analysis, out: Out, results_dir: Path, n_skipped: int, n_incomplete: int) -> list[Block]:
    """The opening: runs used and skipped, tasks and cells, the task-name note, provenance."""
    r = a.runs
    status = r["status"].value_counts()
    tasks = sort_frame(r[["task_label", TASK, "task_variant"]].drop_duplicates())
    task_list = ", ".join(
        f"{t} (variant {v})" for t, v in zip(tasks["task_label"], tasks["task_variant"], strict=True)
    )
    cells = ", ".join(cell_name(c) for c in sort_frame(r[[CELL]].drop_duplicates())[CELL])
    arms = ", ".join(arm_name(c) for c in arm_order(a.main[CELL_INIT])) if len(a.main) else "none"
    return [
        Para(
            f"Results from `{results_dir}`: {plural(len(r), 'run')} used ({integer(status.get('ok', 0))} ok, "
            f"{integer(status.get('diverged', 0))} diverged, {integer(status.get('failed', 0))} failed), "
            f"{len(a.main)} of them in the main comparison ({out.ref(*MAIN_SECTIONS)}); the others appear in "
            f"the ablations and cost sections where they match. Skipped: "
            f"{plural(n_skipped, 'unreadable file')}, {plural(n_incomplete, 'incomplete run')} (listed under "
            "Notes)."
        ),
        Para(
            f"Tasks: {task_list}. "
            f"Cells: {cells}. Arms of the main comparison (cell x initialisation; no bracket: PyTorch's "
            f"default init): {arms}. 'Delayed recall' (task `recall`) is this project's name for the latch / "
            f"delayed-match family of tasks (Bengio, Simard, Frasconi 1994; Hochreiter & Schmidhuber 1997, "
            f"experiment 2): one symbol, a delay of T steps, then a cue at which the symbol must be recalled."
        ),
        Heading("Provenance", 3),
        provenance(r),
    ]


def render(
    a: Analysis, figdir: Path, draw: bool, sections: tuple[tuple[str, Render], ...] = SECTIONS
) -> tuple[list[Block], list[str], Out]:
    """Every section's heading (numbered by position) and blocks, and the notes the sections made. A section
    that fails on unexpected data becomes a note; the rest of the report still gets written."""
    out = Out(figdir, draw, {fn: i for i, (_, fn) in enumerate(sections, start=1)})
    blocks: list[Block] = []
    notes: list[str] = []
    for i, (title, fn) in enumerate(sections, start=1):
        heading = f"{i}. {title}"
        blocks.append(Heading(heading))
        try:
            part = fn(a, out)
        except StorageError:  # a figure that cannot be written fails the report (exit 1), never a note
            raise
        except Exception as e:  # noqa: BLE001
            msg = f"section '{heading}' could not be built: {type(e).__name__}: {e}".replace("\n", " ")
            notes.append(msg)
            blocks.append(Para(f"*{msg}*"))
            continue
        blocks += part.blocks
        notes += part.notes
    return blocks, notes, out
