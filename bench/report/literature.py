"""The literature section: the published numbers and claims of papers.py matched to these results (on
task + seq_len, and the task variant where the paper's form differs)."""

from __future__ import annotations

import pandas as pd

from bench.report.ablations import Ablation, clearly
from bench.report.data import CELL, CELL_ORDER, KEYS, TASK, cell_name, sort_frame
from bench.report.data import T as LEN
from bench.report.doc import MISSING, Block, Heading, Para, Table, ci, integer, num, table
from bench.report.papers import (
    ADDING_BASELINE,
    ARJOVSKY,
    CLAIMS,
    HOCHREITER_TABLE7,
    PAPERS,
    TCN_TABLE1,
    copy_baseline,
)
from bench.report.tables import VERDICT_TEXT

NOT_HERE = "not in these results"


def _is_hs(variant: str) -> bool:
    return "hochreiter" in variant.lower()


def _ours_loss(s: pd.DataFrame, task: str, T: int, cell: str, hs: bool = False) -> pd.DataFrame:
    m = (s[TASK] == task) & (s[LEN] == T) & (s[CELL] == cell)
    return s[m & (s["task_variant"].map(_is_hs) == hs)]


def tcn_table(s: pd.DataFrame) -> Table:
    """Bai et al. 2018 Table 1 beside our final loss at the same task and length."""
    rows = []
    for p in TCN_TABLE1:
        ours = _ours_loss(s, p.task, p.seq_len, p.cell)
        head = [
            PAPERS[p.paper].cite,
            f"{p.task}, T={p.seq_len}",
            cell_name(p.cell),
            f"{p.metric} {num(p.value)}",
            num(p.baseline),
            p.setup,
        ]
        if ours.empty:
            rows.append([*head, NOT_HERE, MISSING, MISSING, MISSING])
        for _, o in ours.iterrows():
            rows.append(
                [
                    *head,
                    f"{ci(o.loss_mean, o.loss_lo, o.loss_hi, o.loss_n)} (variant {o.task_variant})",
                    num(o.chance_loss),
                    num(o.ratio_mean),
                    VERDICT_TEXT[o.verdict],
                ]
            )
    header = (
        "Paper",
        "Task",
        "Cell",
        "Published",
        "Published baseline",
        "Their setup",
        "Ours: final loss, mean [95% CI]",
        "Ours: chance loss",
        "Ours: loss / chance",
        "Ours beats chance",
    )
    return Table(
        header,
        tuple(tuple(r) for r in rows),
        "Bai et al. 2018, Table 1 (adding: MSE; copy: cross-entropy over all T+20 positions) beside our "
        "final eval loss at the same task and length. Published baselines: adding 1/6 (predict 1), copy "
        "10·ln 8/(T+20).",
    )


def arjovsky_table(s: pd.DataFrame) -> Table:
    """Arjovsky et al. 2016's qualitative outcomes beside our chance verdicts."""
    rows = []
    for e in ARJOVSKY:
        ours = _ours_loss(s, e.task, e.seq_len, e.cell)
        base = copy_baseline(e.seq_len) if e.task == "copy" else ADDING_BASELINE
        head = [f"{e.task}, T={e.seq_len}", cell_name(e.cell), e.text, num(base)]
        if ours.empty:
            rows.append([*head, NOT_HERE, MISSING])
        for _, o in ours.iterrows():
            beats = o.verdict == "beats"
            agree = (
                MISSING if e.beats is None or o.verdict == "none" else ("yes" if beats == e.beats else "no")
            )
            rows.append(
                [
                    *head,
                    f"{VERDICT_TEXT[o.verdict]}: loss/chance {num(o.ratio_mean)} (variant {o.task_variant})",
                    agree,
                ]
            )
    header = ("Task", "Cell", "Arjovsky et al. 2016", "Their baseline", "Ours: beats chance", "Agrees")
    return Table(
        header,
        tuple(tuple(r) for r in rows),
        "Arjovsky et al. 2016, copy (~6.5K parameters, RMSProp lr 1e-3, clipping 1) and adding (128 "
        "units): the lengths of their figures, qualitative outcomes against the memoryless baseline.",
    )


def hochreiter_table(main: pd.DataFrame) -> Table:
    """Hochreiter & Schmidhuber 1997 Table 7 beside our training sequences to solve."""
    m = main[(main[TASK] == "adding") & main["task_variant"].map(_is_hs) & (main["status"] != "failed")]
    m = m.assign(seqs=m["steps_to_solve"] * m["train.batch_size"])
    rows = []
    for T, published in HOCHREITER_TABLE7.items():
        d = m[m[LEN] == T]
        if d.empty:
            rows.append([integer(T), integer(published), MISSING, NOT_HERE, MISSING])
            continue
        for cell in sorted(
            d[CELL].unique(), key=lambda c: (CELL_ORDER.index(c) if c in CELL_ORDER else 9, c)
        ):
            e = d[d[CELL] == cell]
            solved = e[e["solved"]]
            med = solved["seqs"].median() if len(solved) else float("nan")
            ratio = num(med / published) if len(solved) else MISSING
            rows.append(
                [
                    integer(T),
                    integer(published),
                    cell_name(cell),
                    f"{integer(med)} (solved {int(e['solved'].sum())}/{len(e)})",
                    ratio,
                ]
            )
    header = (
        "T",
        "H&S 1997 LSTM: sequences to solve",
        "Our cell",
        "Ours: steps to solve × batch (median)",
        "Ours / published",
    )
    return Table(
        header,
        tuple(tuple(r) for r in rows),
        "Hochreiter & Schmidhuber 1997, Table 7, adding problem in their form (task variant "
        "'hochreiter' here). Ours: training sequences seen until the run's solve criterion, median "
        "over solved seeds. Their success criterion is their own; ours is the run's `solved` flag.",
    )


def _arm_stats(a: Ablation | None, cell: str) -> pd.DataFrame:
    if a is None:
        return pd.DataFrame()
    return a.stats[a.stats[CELL] == cell]


def _arm_list(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.arm} {num(r.ratio_mean)}" for r in rows.itertuples())


def _claims_rows(s: pd.DataFrame, abl: dict[str, Ablation]) -> list[list[str]]:
    rows = []
    # Tallec & Ollivier: chrono arm of the LSTM init ablation against the standard arm.
    init = _arm_stats(abl.get("init"), "lstm")
    ours = []
    if len(init):
        for (label, T), g in init.groupby(["task_label", LEN], sort=True):
            chrono = g[g["arm"].str.contains("chrono")]
            std = g[g["standard"]]
            if chrono.empty or std.empty:
                continue
            c, d = chrono.iloc[0], std.iloc[0]
            speed = (
                f"; steps to solve {integer(c.steps_to_solve)} vs {integer(d.steps_to_solve)}"
                if pd.notna(c.steps_to_solve) and pd.notna(d.steps_to_solve)
                else ""
            )
            ours.append(
                f"{label} T={integer(T)}: chrono loss/chance {num(c.ratio_mean)} "
                f"({VERDICT_TEXT[c.verdict]}) vs standard {num(d.ratio_mean)}{speed}"
            )
    rows.append([PAPERS["tallec2018"].cite, CLAIMS["tallec2018"], "; ".join(ours) if ours else NOT_HERE])
    # Greff et al.: LSTM variants against vanilla.
    var = _arm_stats(abl.get("variant"), "lstm")
    ours = []
    if len(var):
        for (label, T), g in var.groupby(["task_label", LEN], sort=True):
            van = g[g["arm"] == "vanilla"]
            if van.empty or len(g) < 2:
                continue
            v = van.iloc[0]
            others = g[g["arm"] != "vanilla"].sort_values(["ratio_mean", "arm"], kind="mergesort")
            side = others.apply(lambda r, v=v: clearly(r, v), axis=1)
            better, worse = others[side == -1], others[side == 1].iloc[::-1]
            text = f"{label} T={integer(T)}: vanilla loss/chance {num(v.ratio_mean)}; "
            text += "clearly better: " + _arm_list(better) if len(better) else "no variant clearly better"
            text += "; clearly worse: " + _arm_list(worse) if len(worse) else "; none clearly worse"
            ours.append(text)
    rows.append([PAPERS["greff2017"].cite, CLAIMS["greff2017"], "; ".join(ours) if ours else NOT_HERE])
    # Jozefowicz et al.: LSTM with forget bias 1 vs 0, against the GRU of the main comparison.
    ours = []
    if len(init):
        for (label, T), g in init.groupby(["task_label", LEN], sort=True):
            b1 = g[g["arm"].str.startswith("b_f 1")]
            b0 = g[g["arm"].str.startswith("b_f 0")]
            gru = s[(s["task_label"] == label) & (s[LEN] == T) & (s[CELL] == "gru")]
            if b1.empty or b0.empty or gru.empty:
                continue
            ours.append(
                f"{label} T={integer(T)}: loss/chance LSTM b_f=0 {num(b0.iloc[0].ratio_mean)}, "
                f"b_f=1 {num(b1.iloc[0].ratio_mean)}, GRU {num(gru.iloc[0].ratio_mean)}"
            )
    rows.append(
        [PAPERS["jozefowicz2015"].cite, CLAIMS["jozefowicz2015"], "; ".join(ours) if ours else NOT_HERE]
    )
    return rows


def section(
    summary: pd.DataFrame, main: pd.DataFrame, abl: dict[str, Ablation], ablation_section: str
) -> list[Block]:
    """The literature section: published numbers and claims beside ours; `ablation_section` names the
    ablations section ("section 6")."""
    s = sort_frame(summary) if len(summary) else pd.DataFrame(columns=[*KEYS, TASK, "task_variant"])
    out: list[Block] = [
        Para(
            "Where these results contain a setup a paper measured (same task and length; for Hochreiter & "
            "Schmidhuber also their form of the adding problem), the published number stands beside ours. "
            "Task details differ between papers (input encoding, model size, tuning): read the comparison "
            "as a sanity check, not a replication."
        )
    ]
    out += [Heading("Bai, Kolter, Koltun 2018 (TCN paper), Table 1", 3), tcn_table(s)]
    out += [Heading("Arjovsky, Shah, Bengio 2016", 3), arjovsky_table(s)]
    out += [Heading("Hochreiter & Schmidhuber 1997, Table 7", 3), hochreiter_table(main)]
    out += [
        Heading("Claims from ablation studies", 3),
        table(
            pd.DataFrame(_claims_rows(s, abl), columns=["Paper", "Published claim", "Ours"]),
            f"Ours: from the ablation tables of {ablation_section} (LSTM rows), matched on the factor; "
            "loss / chance means; clearly = 95% intervals apart.",
        ),
    ]
    return out
