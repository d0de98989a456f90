"""The literature section: the published numbers and claims of papers.py beside these results. The matching
is the analysis step's (matching.py, Analysis.literature); this module only renders its rows."""

from __future__ import annotations

import pandas as pd

from bench.report.data import cell_name
from bench.report.doc import MISSING, Block, Heading, Para, Table, ci, integer, num, table
from bench.report.papers import CLAIMS, PAPERS
from bench.report.tables import VERDICT_TEXT

NOT_HERE = "not in these results"


def _kind(lit: pd.DataFrame, kind: str) -> pd.DataFrame:
    return lit[lit["kind"] == kind] if len(lit) else lit


def tcn_table(lit: pd.DataFrame) -> tuple[Table, list[str]]:
    """Bai et al. 2018 Table 1 beside our final loss at the same task and length; and the setups these
    results lack."""
    rows, missing = [], []
    for o in _kind(lit, "tcn").itertuples():
        head = [
            PAPERS[o.paper].cite,
            f"{o.task}, T={int(o.seq_len)}",
            cell_name(o.cell),
            f"{o.metric} {num(o.published)}",
            num(o.baseline),
            o.setup,
        ]
        if not o.matched:
            missing.append(f"{cell_name(o.cell)} {o.task} T={int(o.seq_len)}")
            continue
        ours = f"{ci(o.loss_mean, o.loss_lo, o.loss_hi, o.loss_n)} (variant {o.task_variant})"
        rows.append([*head, ours, num(o.chance_loss), num(o.ratio_mean), VERDICT_TEXT[o.verdict]])
    header = (
        "Paper",
        "Task",
        "Cell",
        "Published",
        "Published baseline",
        "Their setup",
        "Ours: final loss, geometric mean [95% CI]",
        "Ours: chance loss",
        "Ours: loss / chance",
        "Ours beats chance",
    )
    return (
        Table(
            header,
            tuple(tuple(r) for r in rows),
            "Bai et al. 2018, Table 1 (adding: MSE; copy: cross-entropy over all T+20 positions) beside our "
            "final eval loss at the same task and length. Published baselines: adding 1/6 (predict 1), copy "
            "10·ln 8/(T+20).",
        ),
        missing,
    )


def arjovsky_table(lit: pd.DataFrame) -> tuple[Table, list[str]]:
    """Arjovsky et al. 2016's qualitative outcomes beside our chance verdicts; and the setups missing."""
    rows, missing = [], []
    for o in _kind(lit, "arjovsky").itertuples():
        head = [f"{o.task}, T={int(o.seq_len)}", cell_name(o.cell), o.setup, num(o.baseline)]
        if not o.matched:
            missing.append(f"{cell_name(o.cell)} {o.task} T={int(o.seq_len)}")
            continue
        agree = MISSING if o.agrees is None or pd.isna(o.agrees) else ("yes" if o.agrees else "no")
        ours = f"{VERDICT_TEXT[o.verdict]}: loss/chance {num(o.ratio_mean)} (variant {o.task_variant})"
        rows.append([*head, ours, agree])
    header = ("Task", "Cell", "Arjovsky et al. 2016", "Their baseline", "Ours: beats chance", "Agrees")
    return (
        Table(
            header,
            tuple(tuple(r) for r in rows),
            "Arjovsky et al. 2016, copy (~6.5K parameters, RMSProp lr 1e-3, clipping 1) and adding (128 "
            "units): the lengths of their figures, qualitative outcomes against the memoryless baseline.",
        ),
        missing,
    )


def hochreiter_table(lit: pd.DataFrame) -> tuple[Table, list[str]]:
    """Hochreiter & Schmidhuber 1997 Table 7 beside our training sequences to solve; and what is missing."""
    rows, missing = [], []
    for o in _kind(lit, "hochreiter").itertuples():
        if not o.matched:
            missing.append(f"adding (variant hochreiter) T={integer(o.seq_len)}")
            continue
        solved = o.n_solved > 0
        rows.append(
            [
                integer(o.seq_len),
                integer(o.published),
                cell_name(o.cell),
                f"{integer(o.seqs_median)} (solved {int(o.n_solved)}/{int(o.n_runs)})",
                num(o.seqs_median / o.published) if solved else MISSING,
            ]
        )
    header = (
        "T",
        "H&S 1997 LSTM: sequences to solve",
        "Our cell",
        "Ours: steps to solve × batch (median)",
        "Ours / published",
    )
    return (
        Table(
            header,
            tuple(tuple(r) for r in rows),
            "Hochreiter & Schmidhuber 1997, Table 7, adding problem in their form (task variant "
            "'hochreiter' here). Ours: training sequences seen until the run's solve criterion, median "
            "over solved seeds. Their success criterion is their own; ours is the run's `solved` flag.",
        ),
        missing,
    )


def _arm_list(arms: tuple) -> str:
    return ", ".join(f"{arm} {num(r)}" for arm, r in arms)


def _tallec(o) -> str:
    speed = (
        f"; steps to solve {integer(o.steps)} vs {integer(o.ref_steps)}"
        if pd.notna(o.steps) and pd.notna(o.ref_steps)
        else ""
    )
    return (
        f"{o.task_label} T={integer(o.seq_len)}: chrono loss/chance {num(o.ratio_mean)} "
        f"({VERDICT_TEXT[o.verdict]}) vs standard {num(o.ref_ratio)}{speed}"
    )


def _greff(o) -> str:
    text = f"{o.task_label} T={integer(o.seq_len)}: vanilla loss/chance {num(o.ratio_mean)}; "
    text += "clearly better: " + _arm_list(o.better) if len(o.better) else "no variant clearly better"
    text += "; clearly worse: " + _arm_list(o.worse) if len(o.worse) else "; none clearly worse"
    return text


def _jozefowicz(o) -> str:
    return (
        f"{o.task_label} T={integer(o.seq_len)}: loss/chance LSTM b_f=0 {num(o.ratio_mean)}, "
        f"b_f=1 {num(o.ref_ratio)}, GRU {num(o.gru_ratio)}"
    )


CLAIM_TEXT = {"tallec2018": _tallec, "greff2017": _greff, "jozefowicz2015": _jozefowicz}
CLAIM_PRESET = {"tallec2018": "init", "greff2017": "lstm_variants", "jozefowicz2015": "init"}  # measures it


def _claims_rows(lit: pd.DataFrame) -> list[list[str]]:
    rows = []
    for kind, text in CLAIM_TEXT.items():
        ours = [text(o) for o in _kind(lit, kind).itertuples() if o.matched]
        rows.append([PAPERS[kind].cite, CLAIMS[kind], "; ".join(ours) if ours else NOT_HERE])
    return rows


def section(lit: pd.DataFrame, ablation_section: str) -> list[Block]:
    """The literature section from the comparisons of the analysis (matching.literature): published
    numbers and claims beside ours; `ablation_section` names the ablations section ("section 6")."""
    out: list[Block] = [
        Para(
            "Where these results contain a setup a paper measured (same task and length; for Hochreiter & "
            "Schmidhuber also their form of the adding problem), the published number stands beside ours. "
            "Task details differ between papers (input encoding, model size, tuning): read the comparison "
            "as a sanity check, not a replication."
        )
    ]
    for title, make, preset in (
        ("Bai, Kolter, Koltun 2018 (TCN paper), Table 1", tcn_table, "the `paper` preset"),
        ("Arjovsky, Shah, Bengio 2016", arjovsky_table, "the `paper` preset at those lengths"),
        ("Hochreiter & Schmidhuber 1997, Table 7", hochreiter_table, "`task.variant=hochreiter` runs"),
    ):
        tbl, missing = make(lit)
        out.append(Heading(title, 3))
        if tbl.rows:
            out.append(tbl)
        if missing:  # one line for every setup these results lack, not a row of dashes each
            what = "none of its setups" if not tbl.rows else f"{len(missing)} of its setups"
            out.append(Para(f"*{NOT_HERE.capitalize()}: {what} ({', '.join(missing)}); {preset} would "
                            "produce them.*"))  # fmt: skip
    rows = _claims_rows(lit)
    have = [r for r in rows if r[2] != NOT_HERE]
    out.append(Heading("Claims from ablation studies", 3))
    if have:
        out.append(
            table(
                pd.DataFrame(have, columns=["Paper", "Published claim", "Ours"]),
                f"Ours: from the ablation tables of {ablation_section} (LSTM rows), matched on the factor; "
                "loss / chance means; clearly = 95% intervals apart.",
            )
        )
    lacking = [
        f"{r[0]} (the `{CLAIM_PRESET[k]}` preset)"
        for k, r in zip(CLAIM_TEXT, rows, strict=True)
        if r[2] == NOT_HERE
    ]
    if lacking:
        where = f"they would come from the ablation tables of {ablation_section}"
        out.append(Para(f"*{NOT_HERE.capitalize()}: {', '.join(lacking)}; {where}.*"))
    return out
