"""Sections 1-6 of the report: each returns its blocks and appends what it skipped (and why) to `notes`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report import figures, profiles, tables
from bench.report.ablations import FACTORS, Ablation, ablation_table, best_lr, find
from bench.report.data import Prepared, cell_name
from bench.report.doc import Block, Bullets, Heading, Para, integer, num


@dataclass
class Context:
    """What the sections share: prepared data, derived tables, where figures go, and the notes."""

    p: Prepared
    figdir: Path
    draw: bool  # draw figures (off for fast text-only builds)
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    cost: pd.DataFrame = field(default_factory=pd.DataFrame)
    fall: pd.DataFrame = field(default_factory=pd.DataFrame)
    ablations: dict[str, Ablation] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)

    def skip(self, what: str, why: str) -> Para:
        """Record a skipped item and return the sentence that says so in the report."""
        self.notes.append(f"{what}: {why}")
        return Para(f"*Skipped: {why}.*")

    def figure(self, block: figures.Figure) -> figures.Figure:
        self.figures.append(block.path)
        return block


def summary(ctx: Context) -> list[Block]:
    """Section 1: the summary table of the main comparison."""
    out: list[Block] = [Heading("1. Summary")]
    lacks = ctx.p.lacks("final_loss", "chance_loss")
    if lacks:
        out.append(
            Para(f"*Loss statistics are incomplete: the results have no values for {', '.join(lacks)}.*")
        )
        ctx.notes.append(
            f"summary: the results have no values for {', '.join(lacks)}; loss / chance and chance verdicts "
            "left out"
        )
    ctx.summary = tables.summary(ctx.p.main)
    if ctx.summary.empty:
        return out + [ctx.skip("summary", "no runs in the main comparison")]
    out.append(
        Para(
            "One configuration per task, length and cell (the main comparison: standard variant, outside "
            "ablation presets, the most seeds). Final accuracy and loss are on held-out data at the end of "
            "training; the chance columns are the best memoryless predictor's loss and accuracy. "
            + tables.BEATS_DEFINITION
        )
    )
    out.append(tables.summary_table(ctx.summary))
    return out


def headline(ctx: Context) -> list[Block]:
    """Section 2: accuracy and loss / chance against length."""
    out: list[Block] = [Heading("2. Accuracy and loss against sequence length")]
    if ctx.summary.empty:
        return out + [ctx.skip("accuracy figure", "no summary to plot")]
    if ctx.draw:
        out.append(ctx.figure(figures.headline(ctx.summary, ctx.figdir)))
    return out


def gradients(ctx: Context) -> list[Block]:
    """Section 3: gradient profiles (figure) and where each falls off (table)."""
    out: list[Block] = [
        Heading("3. Gradient profiles"),
        Para(
            "The norm of the gradient of the loss at the scored position with respect to the hidden "
            "state h_t, against how many steps back t lies (Pascanu, Mikolov, Bengio 2013 log the same "
            "quantity). A vanishing gradient shows as a line falling by orders of magnitude; gates that "
            "keep information should keep it up. Computed on a fixed probe batch; median over seeds; top "
            "layer."
        ),
    ]
    p = ctx.p
    missing = [c for c in profiles.NEEDED if c not in p.profile.columns]
    if missing:
        return out + [ctx.skip("gradient profiles", f"the grad_profile table lacks {', '.join(missing)}")]
    med = profiles.medians(p.main, p.profile)
    if med.empty:
        return out + [ctx.skip("gradient profiles", "no gradient profiles recorded for the main comparison")]
    ctx.fall = profiles.falloff(med)
    if not (med["phase"] == "trained").any():
        ctx.notes.append("gradient profiles: no profile after step 0, only initialisation shown")
    if ctx.draw:
        out.append(ctx.figure(figures.profiles(med, ctx.figdir)))
    f = ctx.fall
    rows = pd.DataFrame(
        {
            "Task": f["task_label"],
            "T": f["seq_len"].map(integer),
            "Cell": f["cell"].map(cell_name),
            "When": f["phase"].map({"init": "initialisation", "trained": "end of training"}),
            "State": f["state"],
            "Norm at scored position": f["ref"].map(num),
            f"Falls below {profiles.FALLOFF:.0e} of it at (steps back)": f["falls_at"].map(integer),
            "Exactly 0 from (steps back)": f["zero_at"].map(integer),
            "Farthest distance profiled": f["max_distance"].map(integer),
        }
    )
    out.append(
        tables.table(rows, "Where each median profile falls off. – : it does not within the steps profiled.")
    )
    return out


def curves(ctx: Context) -> list[Block]:
    """Section 4: learning curves."""
    out: list[Block] = [Heading("4. Learning curves")]
    cm = tables.curve_medians(ctx.p.main, ctx.p.curves)
    if cm.empty:
        return out + [ctx.skip("learning curves", "no eval loss curves with a chance loss to scale them by")]
    if ctx.draw:
        out.append(ctx.figure(figures.learning_curves(cm, ctx.figdir)))
    return out


def cost(ctx: Context) -> list[Block]:
    """Section 5: time per step and throughput, parameter counts, micro-benchmarks."""
    out: list[Block] = [Heading("5. Cost")]
    p = ctx.p
    lacks = p.lacks("ms_per_step", "elements_per_s")
    if lacks:
        out.append(ctx.skip("cost figure and table", f"the results have no values for {', '.join(lacks)}"))
    else:
        ctx.cost = tables.cost_frame(p.runs, p.main)
        if ctx.cost.empty:
            out.append(ctx.skip("cost figure and table", "no finished runs with timings"))
        else:
            if ctx.draw:
                out.append(ctx.figure(figures.cost(ctx.cost, ctx.figdir)))
            out.append(tables.cost_table(ctx.cost))
    out.append(Heading("Parameter counts", 3))
    if p.lacks("num_params"):
        out.append(ctx.skip("parameter table", "the results have no values for num_params"))
    else:
        out.append(tables.params_table(p.runs))
    out.append(Heading("Micro-benchmarks", 3))
    if p.microbench is None:
        out.append(Para("*No micro-benchmark table (results_dir/microbench.parquet) in these results.*"))
    else:
        tbl, lacking = tables.microbench_table(p.microbench)
        if tbl is None:
            out.append(
                ctx.skip(
                    "micro-benchmark table", "microbench.parquet is empty or has none of the expected columns"
                )
            )
        else:
            if lacking:
                ctx.notes.append(f"micro-benchmark table: columns absent, left out: {', '.join(lacking)}")
            out.append(tbl)
    return out


def ablations(ctx: Context) -> list[Block]:
    """Section 6: one figure and table per ablation factor present."""
    out: list[Block] = [
        Heading("6. Ablations"),
        Para(
            "A factor is shown when, for one task, length and cell, runs differ in that factor only, or "
            "come from the sweep preset named for it (lstm_variants, init, clip, lr, budget). Where one "
            "group has runs in several contexts (e.g. the variants at two learning rates) the one with "
            "the most arms and runs is shown."
        ),
    ]
    p = ctx.p
    for f in FACTORS:
        if f.cols[0] in p.missing:
            ctx.notes.append(f"ablation '{f.name}': the results have no values for {f.cols[0]}")
            continue
        a = find(p.runs, p.main, f)
        if a is not None:
            ctx.ablations[f.name] = a
    if not ctx.ablations:
        return out + [
            Para(
                "No ablations present in these results: every task, length and cell has one "
                "configuration (or only seeds differ)."
            )
        ]
    absent = [f.title for f in FACTORS if f.name not in ctx.ablations]
    for name, a in ctx.ablations.items():
        out.append(Heading(a.factor.title, 3))
        if ctx.draw:
            out.append(ctx.figure(figures.ablation(a, ctx.figdir)))
        out.append(ablation_table(a))
        if name == "lr":
            b = best_lr(a)
            out.append(
                Bullets(
                    tuple(
                        f"{r.task_label}, T={integer(r.seq_len)}, {cell_name(r.cell)}: best lr {r.arm} "
                        f"(final loss / chance {num(r.ratio_mean)}"
                        + (f"; tied with {r.tied})" if r.tied else ")")
                        for r in b.itertuples()
                    )
                )
            )
        if a.dropped:
            ctx.notes.append(
                f"ablation '{name}': {a.dropped} runs in a second context of the same group not shown"
            )
    if absent:
        out.append(Para("Not present in these results: " + "; ".join(absent) + "."))
    return out
