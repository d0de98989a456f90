"""The analysis side of the literature comparison: the setups of papers.py matched to these results (on task
+ seq_len, and the task variant where the paper's form differs), one row per comparison, numbers only.
literature.py renders the rows; nothing here formats text."""

from __future__ import annotations

import pandas as pd

from bench.report.ablations import Ablation, clearly
from bench.report.data import CELL, CELL_ORDER, KEYS, TASK, first_arms, sort_frame
from bench.report.data import T as LEN
from bench.report.papers import ADDING_BASELINE, ARJOVSKY, HOCHREITER_TABLE7, TCN_TABLE1, copy_baseline

# The columns of the literature table. `kind` says which comparison a row belongs to: "tcn", "arjovsky",
# "hochreiter", or a claim's paper key ("tallec2018", "greff2017", "jozefowicz2015"). `matched` is False
# for a paper's setup these results do not contain (the row still stands, with no numbers of ours).
COLUMNS = (
    "kind",
    "paper",
    "task",
    "seq_len",
    "cell",
    "setup",  # the paper's setup, or its qualitative outcome (Arjovsky et al.)
    "metric",
    "published",  # the published number (Bai et al.: the loss; H&S: sequences to solve)
    "baseline",  # the published memoryless baseline
    "expect_beats",  # Arjovsky et al.: the paper's outcome against the baseline (None: something else)
    "matched",
    "task_label",
    "task_variant",
    "loss_mean",
    "loss_lo",
    "loss_hi",
    "loss_n",
    "chance_loss",
    "ratio_mean",
    "verdict",  # ours: beats / at chance / none (tables.VERDICT_TEXT)
    "agrees",  # Arjovsky et al.: whether our verdict agrees with theirs (None: cannot say)
    "seqs_median",  # H&S: training sequences to solve, median over solved seeds
    "n_solved",
    "n_runs",
    "ref_ratio",  # claims: the reference arm's loss / chance (standard init; b_f 1 for Jozefowicz et al.)
    "steps",  # Tallec & Ollivier: steps to solve, chrono arm
    "ref_steps",  # ... and standard arm
    "gru_ratio",  # Jozefowicz et al.: the GRU of the main comparison
    "better",  # Greff et al.: (arm, loss / chance) of the variants clearly better than vanilla
    "worse",  # ... and clearly worse
)
OURS = ("task_variant", "loss_mean", "loss_lo", "loss_hi", "loss_n", "chance_loss", "ratio_mean", "verdict")


def _is_hs(variant: str) -> bool:
    return "hochreiter" in variant.lower()


def _ours_loss(s: pd.DataFrame, task: str, T: int, cell: str, hs: bool = False) -> pd.DataFrame:
    m = (s[TASK] == task) & (s[LEN] == T) & (s[CELL] == cell)
    return s[m & (s["task_variant"].map(_is_hs) == hs)]


def _beside(kind: str, head: dict, ours: pd.DataFrame) -> list[dict]:
    """One row per matching row of ours (a row with no numbers of ours when there is none)."""
    if ours.empty:
        return [{"kind": kind, **head, "matched": False}]
    return [{"kind": kind, **head, "matched": True, **{k: o[k] for k in OURS}} for _, o in ours.iterrows()]


def tcn_rows(s: pd.DataFrame) -> list[dict]:
    """Bai et al. 2018 Table 1 beside our final loss at the same task and length."""
    rows = []
    for p in TCN_TABLE1:
        head = {"paper": p.paper, "task": p.task, "seq_len": p.seq_len, "cell": p.cell, "setup": p.setup}
        head |= {"metric": p.metric, "published": p.value, "baseline": p.baseline}
        rows += _beside("tcn", head, _ours_loss(s, p.task, p.seq_len, p.cell))
    return rows


def arjovsky_rows(s: pd.DataFrame) -> list[dict]:
    """Arjovsky et al. 2016's qualitative outcomes beside our chance verdicts."""
    rows = []
    for e in ARJOVSKY:
        base = copy_baseline(e.seq_len) if e.task == "copy" else ADDING_BASELINE
        head = {"paper": e.paper, "task": e.task, "seq_len": e.seq_len, "cell": e.cell, "setup": e.text}
        head |= {"baseline": base, "expect_beats": e.beats}
        for r in _beside("arjovsky", head, _ours_loss(s, e.task, e.seq_len, e.cell)):
            if r["matched"]:
                sure = e.beats is not None and r["verdict"] != "none"
                r["agrees"] = ((r["verdict"] == "beats") == e.beats) if sure else None
            rows.append(r)
    return rows


def _cell_rank(c: str) -> tuple[int, str]:
    return (CELL_ORDER.index(c) if c in CELL_ORDER else 9, c)


def hochreiter_rows(main: pd.DataFrame) -> list[dict]:
    """Hochreiter & Schmidhuber 1997 Table 7 beside our training sequences to solve."""
    main = first_arms(main)  # one arm per cell: PyTorch's default init when it ran
    m = main[(main[TASK] == "adding") & main["task_variant"].map(_is_hs) & (main["status"] != "failed")]
    m = m.assign(seqs=m["steps_to_solve"] * m["train.batch_size"])
    rows = []
    for T, published in HOCHREITER_TABLE7.items():
        head = {"kind": "hochreiter", "paper": "hochreiter1997", "task": "adding", "seq_len": T}
        head |= {"published": published}
        d = m[m[LEN] == T]
        if d.empty:
            rows.append({**head, "matched": False})
        for cell in sorted(d[CELL].unique(), key=_cell_rank):
            e = d[d[CELL] == cell]
            solved = e[e["solved"]]
            med = solved["seqs"].median() if len(solved) else float("nan")
            rows.append(
                {**head, "cell": cell, "matched": True, "seqs_median": med}
                | {"n_solved": int(e["solved"].sum()), "n_runs": len(e)}
            )
    return rows


def _arm_stats(a: Ablation | None, cell: str) -> pd.DataFrame:
    if a is None:
        return pd.DataFrame()
    return a.stats[a.stats[CELL] == cell]


def _contexts(arms: pd.DataFrame):
    return arms.groupby(["task_label", LEN], sort=True) if len(arms) else []


def tallec_rows(abl: dict[str, Ablation]) -> list[dict]:
    """Tallec & Ollivier: the chrono arm of the LSTM init ablation against the standard arm."""
    rows = []
    for (label, T), g in _contexts(_arm_stats(abl.get("init"), "lstm")):
        chrono, std = g[g["arm"].str.contains("chrono")], g[g["standard"]]
        if chrono.empty or std.empty:
            continue
        c, d = chrono.iloc[0], std.iloc[0]
        rows.append(
            {"task_label": label, "seq_len": T, "ratio_mean": c.ratio_mean, "verdict": c.verdict}
            | {"ref_ratio": d.ratio_mean, "steps": c.steps_to_solve, "ref_steps": d.steps_to_solve}
        )
    return rows


def greff_rows(abl: dict[str, Ablation]) -> list[dict]:
    """Greff et al.: LSTM variants against vanilla, those clearly better and clearly worse."""
    rows = []
    for (label, T), g in _contexts(_arm_stats(abl.get("variant"), "lstm")):
        van = g[g["arm"] == "vanilla"]
        if van.empty or len(g) < 2:
            continue
        v = van.iloc[0]
        others = g[g["arm"] != "vanilla"].sort_values(["ratio_mean", "arm"], kind="mergesort")
        side = others.apply(lambda r, v=v: clearly(r, v), axis=1)
        better, worse = others[side == -1], others[side == 1].iloc[::-1]
        arms = lambda f: tuple(zip(f["arm"], f["ratio_mean"], strict=True))  # noqa: E731
        rows.append(
            {"task_label": label, "seq_len": T, "ratio_mean": v.ratio_mean}
            | {"better": arms(better), "worse": arms(worse)}
        )
    return rows


def jozefowicz_rows(s: pd.DataFrame, abl: dict[str, Ablation]) -> list[dict]:
    """Jozefowicz et al.: LSTM with forget bias 1 vs 0, against the GRU of the main comparison."""
    rows = []
    for (label, T), g in _contexts(_arm_stats(abl.get("init"), "lstm")):
        b1, b0 = g[g["arm"].str.startswith("b_f 1")], g[g["arm"].str.startswith("b_f 0")]
        gru = s[(s["task_label"] == label) & (s[LEN] == T) & (s[CELL] == "gru")]
        if b1.empty or b0.empty or gru.empty:
            continue
        rows.append(
            {"task_label": label, "seq_len": T, "ratio_mean": b0.iloc[0].ratio_mean}
            | {"ref_ratio": b1.iloc[0].ratio_mean, "gru_ratio": gru.iloc[0].ratio_mean}
        )
    return rows


def _claim(kind: str, rows: list[dict]) -> list[dict]:
    head = {"kind": kind, "paper": kind, "cell": "lstm"}
    return [{**head, "matched": True, **r} for r in rows] or [{**head, "matched": False}]


def literature(summary: pd.DataFrame, main: pd.DataFrame, abl: dict[str, Ablation]) -> pd.DataFrame:
    """Every comparison of the literature section, one row each, in the order the section shows them."""
    # one arm per cell (PyTorch's default init when it ran): the papers' setups have no init of ours
    empty = pd.DataFrame(columns=[*KEYS, CELL, TASK, "task_variant"])
    s = first_arms(sort_frame(summary)) if len(summary) else empty
    rows = tcn_rows(s) + arjovsky_rows(s) + hochreiter_rows(main)
    rows += _claim("tallec2018", tallec_rows(abl)) + _claim("greff2017", greff_rows(abl))
    rows += _claim("jozefowicz2015", jozefowicz_rows(s, abl))
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"matched": bool})
