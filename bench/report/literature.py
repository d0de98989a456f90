"""The literature section: the published numbers and claims of papers.py beside these results. The matching
is the analysis step's (matching.py, Analysis.literature); this module only renders its rows."""

from __future__ import annotations

import pandas as pd

from bench.report.data import arm_name, cell_name
from bench.report.doc import MISSING, Block, Heading, Para, Table, ci, integer, num
from bench.report.papers import CLAIMS, PAPERS
from bench.report.reading import names
from bench.report.tables import VERDICT_TEXT

NOT_HERE = "not in these results"


def _kind(lit: pd.DataFrame, kind: str) -> pd.DataFrame:
    return lit[lit["kind"] == kind] if len(lit) else lit


def _arm(o) -> str:
    """Our arm beside the paper's cell, with its size: 'LSTM, 69,871 parameters'."""
    return f"{arm_name(o.arm)}, {integer(o.num_params)} parameters"


def missing_line(rows: pd.DataFrame) -> str:
    """One line for every setup of a paper these results lack: per task and factors the lengths and cells,
    and the preset that would produce them."""
    groups: dict[tuple, dict[str, list]] = {}
    for o in rows.itertuples():
        g = groups.setdefault((o.task, o.factors), {"T": [], "cells": []})
        g["T"] += [] if int(o.seq_len) in g["T"] else [int(o.seq_len)]
        g["cells"] += [] if cell_name(o.cell) in g["cells"] else [cell_name(o.cell)]
    what = "; ".join(
        f"{task} ({factors}) at T={', '.join(integer(t) for t in g['T'])} for {names(g['cells'])}"
        for (task, factors), g in groups.items()
    )
    presets = sorted({str(p) for p in rows["preset"] if isinstance(p, str)})
    by = names([f"the `{p}` preset" for p in presets]) if presets else "runs in those setups"
    return f"{what}; {by} would produce {'it' if len(rows) == 1 else 'them'}"


def tcn_table(lit: pd.DataFrame) -> tuple[Table, pd.DataFrame]:
    """Bai et al. 2018 Table 1 beside our final loss in the same setup; and the setups these results lack."""
    rows = []
    k = _kind(lit, "tcn")
    for o in k[k["matched"]].itertuples():
        rows.append(
            [
                PAPERS[o.paper].cite,
                f"{o.task}, T={int(o.seq_len)}",
                cell_name(o.cell),
                f"{o.metric} {num(o.published)}",
                num(o.baseline),
                f"{o.factors}; {o.setup}",
                _arm(o),
                ci(o.loss_mean, o.loss_lo, o.loss_hi, o.loss_n),
                num(o.chance_loss),
                num(o.ratio_mean),
                VERDICT_TEXT[o.verdict],
            ]
        )
    header = ("Paper", "Task", "Cell", "Published", "Published baseline", "Their setup", "Ours: arm")
    header += (
        "Ours: final loss, geometric mean [95% CI]",
        "Ours: chance loss",
        "Ours: loss / chance",
        "Ours beats chance",
    )
    caption = (
        "Bai et al. 2018, Table 1 (adding: MSE; copy: cross-entropy over all T+20 positions) beside our "
        "final eval loss in the same setup (task form, length, about the same parameter count). Published "
        "baselines: adding 1/6 (predict 1), copy 10·ln 8/(T+20)."
    )
    return Table(header, tuple(tuple(r) for r in rows), caption), k[~k["matched"]]


def arjovsky_table(lit: pd.DataFrame) -> tuple[Table, pd.DataFrame]:
    """Arjovsky et al. 2016's qualitative outcomes beside our chance verdicts; and the setups missing."""
    rows = []
    k = _kind(lit, "arjovsky")
    for o in k[k["matched"]].itertuples():
        agree = MISSING if o.agrees is None or pd.isna(o.agrees) else ("yes" if o.agrees else "no")
        ours = f"{VERDICT_TEXT[o.verdict]}: loss/chance {num(o.ratio_mean)}, MSE/CE {num(o.loss_mean)}"
        rows.append([f"{o.task}, T={int(o.seq_len)}", cell_name(o.cell), o.setup, num(o.baseline)])
        rows[-1] += [_arm(o), ours, agree]
    header = ("Task", "Cell", "Arjovsky et al. 2016", "Their baseline", "Ours: arm", "Ours: beats chance")
    caption = (
        "Arjovsky et al. 2016, copy (~6.5K parameters, RMSProp lr 1e-3, clipping 1) and adding (128 hidden "
        "units): the lengths of their figures, qualitative outcomes against the memoryless baseline, beside "
        "runs in the same setup."
    )
    return Table((*header, "Agrees"), tuple(tuple(r) for r in rows), caption), k[~k["matched"]]


def hochreiter_table(lit: pd.DataFrame) -> tuple[Table, pd.DataFrame]:
    """Hochreiter & Schmidhuber 1997 Table 7 beside our training sequences to solve; and what is missing."""
    rows = []
    k = _kind(lit, "hochreiter")
    for o in k[k["matched"]].itertuples():
        solved = o.n_solved > 0
        rows.append(
            [
                integer(o.seq_len),
                integer(o.published),
                _arm(o),
                f"{integer(o.seqs_median)} (solved {int(o.n_solved)}/{int(o.n_runs)})",
                num(o.seqs_median / o.published) if solved else MISSING,
            ]
        )
    header = ("T", "H&S 1997 LSTM: sequences to solve", "Our arm", "Ours: steps to solve × batch (median)")
    caption = (
        "Hochreiter & Schmidhuber 1997, Table 7, adding problem in their form (task variant 'hochreiter' "
        "here), beside runs with about their LSTM's 93 weights. Ours: training sequences seen until the "
        "run's solve criterion, median over solved seeds. Their success criterion is their own; ours is the "
        "run's `solved` flag."
    )
    return Table((*header, "Ours / published"), tuple(tuple(r) for r in rows), caption), k[~k["matched"]]


def setting_text(s: dict) -> str:
    """What matched arms share (size, steps, batch, optimizer, sweeps), and their learning rates: one for
    all, or each arm's own."""
    hidden = set(s["hidden"].values())
    each = names([f"{arm_name(a)} {integer(h)}" for a, h in s["hidden"].items()])
    size = f"hidden {integer(hidden.pop())}" if len(hidden) == 1 else f"hidden {each}"
    size = f"budget {integer(s['budget'])} parameters ({size})" if s["budget"] is not None else size
    lr = s["lr"]
    all_ = "both" if len(lr) == 2 else "all"
    rates = (
        f"lr {num(next(iter(lr.values())))} for {all_}"
        if len(set(lr.values())) == 1
        else f"each arm at its own rate: {names([f'{arm_name(a)} {num(v)}' for a, v in lr.items()])}"
    )
    steps, batch = integer(s["steps"]), integer(s["batch"])
    return f"{size}, {steps} steps, batch {batch}, {s['optimizer']}; {rates} (sweep {', '.join(s['sweeps'])})"


def _solve(steps: float, k: float, n: float) -> str:
    return f"{integer(steps)} ({int(k)}/{int(n)} solved)"


CLEAR = {-1: "clearly lower", 0: "no clear difference", 1: "clearly higher"}


def tallec_table(rows: pd.DataFrame) -> Table:
    out = [
        (
            o.task_label,
            integer(o.seq_len),
            setting_text(o.setting),
            f"{num(o.ratio_mean)} vs {num(o.ref_ratio)}",
            f"{_solve(o.steps, o.n_solved, o.n_runs)} vs {_solve(o.ref_steps, o.ref_solved, o.ref_runs)}",
            CLEAR[int(o.clear)],
        )
        for o in rows.itertuples()
    ]
    header = ("Task", "T", "Setting (matched)", "Loss / chance: chrono vs forget bias 1")
    header += ("Median steps to solve: chrono vs forget bias 1", "Chrono's loss / chance vs forget bias 1's")
    return Table(header, tuple(out), "LSTM (chrono) against their baseline, LSTM (forget bias 1).")


def jozefowicz_table(rows: pd.DataFrame) -> Table:
    out = []
    for o in rows.itertuples():
        gap = f"{num(o.base_ratio - o.ref_ratio)} → "  # '– → x' without the LSTM at its default
        out.append(
            (
                o.task_label,
                integer(o.seq_len),
                setting_text(o.setting),
                f"{num(o.ratio_mean)} vs {num(o.ref_ratio)}",
                num(o.base_ratio),
                gap + num(o.ratio_mean - o.ref_ratio),
                CLEAR[int(o.clear)],
            )
        )
    header = ("Task", "T", "Setting (matched)", "Loss / chance: LSTM (forget bias 1) vs GRU")
    header += (
        "LSTM (default init)",
        "Gap LSTM - GRU: default → forget bias 1",
        "LSTM (forget bias 1)'s loss / chance vs GRU's",
    )
    caption = "LSTM with forget bias 1 against the GRU (PyTorch's default init), and the LSTM at its default."
    return Table(header, tuple(out), caption)


def _arm_list(arms: tuple) -> str:
    return ", ".join(f"{arm} {num(r)}" for arm, r in arms) or "none"


def greff_table(rows: pd.DataFrame) -> Table:
    out = [
        (o.task_label, integer(o.seq_len), arm_name(o.arm), num(o.ratio_mean))
        + (_arm_list(o.better), _arm_list(o.worse))
        for o in rows.itertuples()
    ]
    header = ("Task", "T", "Arm", "Vanilla: loss / chance", "Clearly better", "Clearly worse")
    return Table(
        header, tuple(out), "LSTM variants against the vanilla LSTM of the same arm (loss / chance)."
    )


CLAIM_TABLE = {"tallec2018": tallec_table, "greff2017": greff_table, "jozefowicz2015": jozefowicz_table}
CLAIM_PRESET = {"tallec2018": "default", "greff2017": "lstm_variants", "jozefowicz2015": "default"}


def claims_blocks(lit: pd.DataFrame, ablation_section: str) -> list[Block]:
    """Per claim: the claim, and a table of our matched comparisons; one line for the claims these results
    lack, naming the presets that would produce them."""
    out: list[Block] = [
        Para(
            "Ours: arms that are one configuration apart from the claim's factor (same task, form, length, "
            "size, steps, batch, optimizer; the learning rate as named), from the main comparison or the "
            f"ablation tables of {ablation_section}; loss / chance means over seeds; clearly = 95% "
            "intervals apart."
        )
    ]
    lacking = []
    for kind, render in CLAIM_TABLE.items():
        k = _kind(lit, kind)
        k = k[k["matched"]] if len(k) else k
        if k.empty:
            lacking.append(kind)
            continue
        out += [Para(f"**{PAPERS[kind].cite}**: {CLAIMS[kind]}"), render(k)]
    if lacking:
        cites = names([PAPERS[k].cite for k in lacking])
        presets = names([f"the `{p}` preset" for p in dict.fromkeys(CLAIM_PRESET[k] for k in lacking)])
        out.append(
            Para(f"*{NOT_HERE.capitalize()}: the comparisons for {cites}; {presets} would produce them.*")
        )
    return out


def section(lit: pd.DataFrame, ablation_section: str) -> list[Block]:
    """The literature section from the comparisons of the analysis (matching.literature): published
    numbers and claims beside ours; `ablation_section` names the ablations section ("section 6")."""
    out: list[Block] = [
        Para(
            "A published number stands beside runs that match the paper's setup: the task in the paper's "
            "form, the length, and the model size and optimizer where the paper fixes them (named per row). "
            "Other details differ between papers (input encoding, tuning, training length): read the "
            "comparison as a sanity check, not a replication."
        )
    ]
    for title, make in (
        ("Bai, Kolter, Koltun 2018 (TCN paper), Table 1", tcn_table),
        ("Arjovsky, Shah, Bengio 2016", arjovsky_table),
        ("Hochreiter & Schmidhuber 1997, Table 7", hochreiter_table),
    ):
        tbl, missing = make(lit)
        out.append(Heading(title, 3))
        if tbl.rows:
            out.append(tbl)
        if len(missing):  # one line for every setup these results lack, not a row of dashes each
            what = "none of its setups" if not tbl.rows else f"{len(missing)} of its setups"
            out.append(Para(f"*{NOT_HERE.capitalize()}: {what} ({missing_line(missing)}).*"))
    out.append(Heading("Claims from ablation studies", 3))
    return out + claims_blocks(lit, ablation_section)
