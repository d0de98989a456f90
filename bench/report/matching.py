"""The analysis side of the literature comparison: the setups of papers.py matched to these results, one row
per comparison, numbers only. A published number stands beside runs that match every factor of the paper's
setup (papers.Setup: task, its form, length, and size / hidden units / optimizer where the paper fixes
them); a claim stands beside arms that are the same configuration apart from the claim's factor (and each
arm's learning rate, which the row names). literature.py renders the rows; nothing here formats text."""

from __future__ import annotations

import pandas as pd

from bench.report.ablations import Ablation, clearly
from bench.report.data import (
    CELL,
    CELL_INIT,
    INIT_FIELDS,
    TASK,
    TASK_ORDER,
    TUNE_SWEEP,
    arm_order,
    config_without,
)
from bench.report.data import T as LEN
from bench.report.outcomes import outcome_stats
from bench.report.papers import (
    ADDING_BASELINE,
    ARJOVSKY,
    CLAIM_TASKS,
    HOCHREITER_SETUPS,
    HOCHREITER_TABLE7,
    PARAMS_TOL,
    TCN_TABLE1,
    Setup,
    copy_baseline,
)

# The columns of the literature table. `kind` says which comparison a row belongs to: "tcn", "arjovsky",
# "hochreiter", or a claim's paper key ("tallec2018", "greff2017", "jozefowicz2015"). `matched` is False
# for a paper's setup (or claim) these results do not contain (the row still stands, with no numbers of
# ours). Claims: `ratio_*` / `steps` / `lr` are the claim's arm (chrono; LSTM with forget bias 1), `ref_*`
# the arm it is compared with (forget bias 1; the GRU), `base_ratio` the LSTM at PyTorch's default init.
COLUMNS = (
    "kind",
    "paper",
    "task",
    "seq_len",
    "cell",
    "setup",  # the paper's setup, or its qualitative outcome (Arjovsky et al.)
    "factors",  # the factors matched besides task and length (papers.Setup.factors)
    "preset",  # the sweep preset that produces the setup
    "metric",
    "published",  # the published number (Bai et al.: the loss; H&S: sequences to solve)
    "baseline",  # the published memoryless baseline
    "expect_beats",  # Arjovsky et al.: the paper's outcome against the baseline (None: something else)
    "matched",
    "arm",  # ours: the arm (cell x init) that stands beside the paper's cell
    "num_params",  # ours: median parameter count
    "task_label",
    "task_variant",
    "loss_mean",
    "loss_lo",
    "loss_hi",
    "loss_n",
    "chance_loss",
    "ratio_mean",
    "ratio_lo",
    "ratio_hi",
    "ratio_n",
    "verdict",  # ours: beats / at chance / none (tables.VERDICT_TEXT)
    "agrees",  # Arjovsky et al.: whether our verdict agrees with theirs (None: cannot say)
    "seqs_median",  # H&S: training sequences to solve, median over solved seeds
    "n_solved",
    "n_runs",
    "steps",  # claims: median steps to solve of the claim's arm (solved seeds)
    "lr",  # claims: the claim's arm's learning rate
    "ref_ratio",
    "ref_lo",
    "ref_hi",
    "ref_n",
    "ref_steps",
    "ref_solved",
    "ref_runs",
    "ref_lr",
    "base_ratio",  # Jozefowicz et al.: the LSTM at PyTorch's default init in the same setting (NaN: none)
    "clear",  # claims: -1 the claim's arm clearly lower loss / chance (95% intervals apart), +1 higher, 0 not
    "setting",  # claims: what the matched arms share (dict: sweep, size, steps, batch, optimizer)
    "better",  # Greff et al.: (arm, loss / chance) of the variants clearly better than vanilla
    "worse",  # ... and clearly worse
)
OURS = ("task_variant", "loss_mean", "loss_lo", "loss_hi", "loss_n", "chance_loss")
OURS += ("ratio_mean", "ratio_lo", "ratio_hi", "ratio_n", "verdict", "n_solved")


def _candidates(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs a comparison may use: not failed, not tuning runs (their own seeds, several rates per arm)."""
    if runs.empty:
        return runs
    return runs[(runs["status"] != "failed") & (runs["sweep"] != TUNE_SWEEP)]


def setup_runs(runs: pd.DataFrame, st: Setup, cell: str) -> pd.DataFrame:
    """The runs of `cell` that match every factor of setup `st`."""
    if runs.empty:
        return runs
    m = (runs[TASK] == st.task) & (runs[LEN] == st.seq_len) & (runs[CELL] == cell)
    m &= runs["task_variant"] == st.variant
    if st.params is not None:
        m &= runs["num_params"].between(st.params / PARAMS_TOL, st.params * PARAMS_TOL)
    if st.hidden is not None:
        m &= runs["hidden_size"] == st.hidden
    if st.optimizer is not None:
        m &= runs["train.optimizer"] == st.optimizer
    return runs[m]


def one_config(runs: pd.DataFrame, main_ids: set[str]) -> pd.DataFrame:
    """The runs of one configuration: of the first arm in arm order (PyTorch's default init when it ran:
    a paper's setup has no init of ours), the configuration with the runs of the main comparison, else the
    most runs (ties: by id)."""
    if runs.empty:
        return runs
    r = runs[runs[CELL_INIT] == arm_order(runs[CELL_INIT])[0]]
    c = r.assign(_main=r["run_id"].isin(main_ids)).groupby("config_id")
    c = c.agg(main=("_main", "max"), n=("run_id", "size")).reset_index()
    best = c.sort_values(["main", "n", "config_id"], ascending=[False, False, True]).iloc[0]["config_id"]
    return r[r["config_id"] == best]


def _stats(runs: pd.DataFrame) -> pd.Series:
    """outcome_stats of one group of runs, with its arm and median parameter count."""
    s = outcome_stats(runs.assign(_g=0), ["_g"]).iloc[0].copy()
    s["arm"], s["num_params"] = runs[CELL_INIT].iloc[0], runs["num_params"].median()
    return s


def _beside(kind: str, head: dict, st: Setup, ours: pd.DataFrame) -> dict:
    """One row: the paper's head and setup, and our numbers when some runs match it."""
    head = {"kind": kind, **head, "task": st.task, "seq_len": st.seq_len, "factors": st.factors()}
    head["preset"] = st.preset
    if ours.empty:
        return {**head, "matched": False}
    s = _stats(ours)
    return {**head, "matched": True, "arm": s["arm"], "num_params": s["num_params"], "n_runs": s["n"]} | {
        k: s[k] for k in OURS
    }


def tcn_rows(runs: pd.DataFrame, main_ids: set[str]) -> list[dict]:
    """Bai et al. 2018 Table 1 beside our final loss in the same setup."""
    rows = []
    for p in TCN_TABLE1:
        head = {"paper": p.paper, "cell": p.cell, "setup": p.note, "metric": p.metric}
        head |= {"published": p.value, "baseline": p.baseline}
        rows.append(_beside("tcn", head, p.setup, one_config(setup_runs(runs, p.setup, p.cell), main_ids)))
    return rows


def arjovsky_rows(runs: pd.DataFrame, main_ids: set[str]) -> list[dict]:
    """Arjovsky et al. 2016's qualitative outcomes beside our chance verdicts in the same setup."""
    rows = []
    for e in ARJOVSKY:
        st = e.setup
        base = copy_baseline(st.seq_len) if st.task == "copy" else ADDING_BASELINE
        head = {"paper": e.paper, "cell": e.cell, "setup": e.text, "baseline": base, "expect_beats": e.beats}
        r = _beside("arjovsky", head, st, one_config(setup_runs(runs, st, e.cell), main_ids))
        if r["matched"]:
            sure = e.beats is not None and r["verdict"] != "none"
            r["agrees"] = ((r["verdict"] == "beats") == e.beats) if sure else None
        rows.append(r)
    return rows


def hochreiter_rows(runs: pd.DataFrame, main_ids: set[str]) -> list[dict]:
    """Hochreiter & Schmidhuber 1997 Table 7 beside our training sequences to solve, per cell, in their
    setup (their form of the adding problem, their length, about their LSTM's 93 weights)."""
    rows = []
    for T, published in HOCHREITER_TABLE7.items():
        st = HOCHREITER_SETUPS[T]
        head = {"paper": "hochreiter1997", "published": published}
        cells = arm_order(runs[CELL].unique()) if len(runs) else []
        found = [one_config(setup_runs(runs, st, c), main_ids) for c in cells]
        found = [f for f in found if len(f)]
        if not found:
            rows.append(_beside("hochreiter", head | {"cell": "lstm"}, st, runs.iloc[0:0]))
        for e in found:
            solved = e[e["solved"]]
            seqs = (solved["steps_to_solve"] * solved["train.batch_size"]).median() if len(solved) else None
            r = _beside("hochreiter", head | {"cell": e[CELL].iloc[0]}, st, e)
            rows.append(r | {"seqs_median": float("nan") if seqs is None else seqs})
    return rows


def matched_arms(runs: pd.DataFrame, arms: tuple[str, ...], free: tuple[str, ...], main_ids: set[str]):
    """Groups of runs of `arms` (cell x init labels) that are one configuration apart from the `free`
    fields, the init and the learning rate: per group {arm: its runs} (one configuration per arm: the one
    with the main comparison's runs, else the most runs), for the groups where the first two arms ran."""
    r = runs[runs[CELL_INIT].isin(arms)] if len(runs) else runs
    if r.empty:
        return []
    r = r.assign(_ctx=config_without(r, (*INIT_FIELDS, "train.lr", *free)))
    out = []
    for _, g in r.groupby("_ctx", sort=True):
        found = {a: one_config(g[g[CELL_INIT] == a], main_ids) for a in arms}
        if len(found[arms[0]]) and len(found[arms[1]]):
            out.append({a: f for a, f in found.items() if len(f)})
    return out


def _setting(found: dict[str, pd.DataFrame]) -> dict:
    """What the matched arms share and what they do not: sweeps, size, steps, batch, optimizer, rates."""
    allr = pd.concat(found.values())
    budget = allr["cell.budget"].dropna()
    return {
        "sweeps": sorted({str(s) for s in allr["sweep"]}),
        "budget": budget.iloc[0] if len(budget) else None,
        "hidden": {a: f["hidden_size"].median() for a, f in found.items()},
        "steps": allr["train.steps"].iloc[0],
        "batch": allr["train.batch_size"].iloc[0],
        "optimizer": allr["train.optimizer"].iloc[0],
        "lr": {a: f["train.lr"].iloc[0] for a, f in found.items()},
    }


def _pair(found: dict[str, pd.DataFrame], arm: str, ref: str) -> dict:
    """One claim row: the claim's arm against the reference arm, in one matched setting."""
    a, b = _stats(found[arm]), _stats(found[ref])
    f = found[arm]
    return (
        {"task_label": f["task_label"].iloc[0], "task": f[TASK].iloc[0], "seq_len": f[LEN].iloc[0]}
        | {"task_variant": f["task_variant"].iloc[0], "arm": arm, "cell": f[CELL].iloc[0]}
        | {k: a[k] for k in ("ratio_mean", "ratio_lo", "ratio_hi", "ratio_n", "verdict", "n_solved")}
        | {"n_runs": a["n"], "steps": a["steps_to_solve"], "lr": f["train.lr"].iloc[0]}
        | {
            "ref_ratio": b["ratio_mean"],
            "ref_lo": b["ratio_lo"],
            "ref_hi": b["ratio_hi"],
            "ref_n": b["ratio_n"],
        }
        | {"ref_steps": b["steps_to_solve"], "ref_solved": b["n_solved"], "ref_runs": b["n"]}
        | {"ref_lr": found[ref]["train.lr"].iloc[0], "clear": clearly(a, b), "setting": _setting(found)}
    )


def _on_claim_tasks(kind: str, rows: list[dict]) -> list[dict]:
    """The rows on the claim's tasks (papers.CLAIM_TASKS), in report order: task, length, steps, batch."""
    tasks = CLAIM_TASKS[kind]
    rows = rows if tasks is None else [r for r in rows if tasks.get(r["task"]) == r["task_variant"]]
    pos = {t: i for i, t in enumerate(TASK_ORDER)}
    key = lambda r: (pos.get(r["task"], len(pos)), r["task_label"], r["seq_len"], r["setting"]["steps"])  # noqa: E731
    return sorted(rows, key=lambda r: (*key(r), r["setting"]["batch"]))


def tallec_rows(runs: pd.DataFrame, main_ids: set[str]) -> list[dict]:
    """Tallec & Ollivier: chrono against their baseline, the standard LSTM init (forget bias 1), in matched
    settings on their tasks (copy, adding in its modern form)."""
    found = matched_arms(runs, ("lstm+chrono", "lstm+fb1"), (), main_ids)
    return _on_claim_tasks("tallec2018", [_pair(f, "lstm+chrono", "lstm+fb1") for f in found])


def jozefowicz_rows(runs: pd.DataFrame, main_ids: set[str]) -> list[dict]:
    """Jozefowicz et al.: the LSTM with forget bias 1 against the GRU (PyTorch's default init) in matched
    settings (same task, length, size, steps, batch, optimizer; each arm's own rate), with the LSTM at
    PyTorch's default init in the same setting when it ran."""
    arms = ("lstm+fb1", "gru", "lstm")
    rows = []
    for f in matched_arms(runs, arms, (CELL,), main_ids):
        base = _stats(f["lstm"])["ratio_mean"] if "lstm" in f else float("nan")
        rows.append(_pair(f, "lstm+fb1", "gru") | {"base_ratio": base})
    return _on_claim_tasks("jozefowicz2015", rows)


def greff_rows(abl: dict[str, Ablation]) -> list[dict]:
    """Greff et al.: LSTM variants against vanilla per LSTM arm, those clearly better and clearly worse."""
    a = abl.get("variant")
    if a is None:
        return []
    rows = []
    for (label, T, arm), g in a.stats[a.stats[CELL] == "lstm"].groupby(
        ["task_label", LEN, a.key], sort=False
    ):
        van = g[g["arm"] == "vanilla"]
        if van.empty or len(g) < 2:
            continue
        v = van.iloc[0]
        others = g[g["arm"] != "vanilla"].sort_values(["ratio_mean", "arm"], kind="mergesort")
        side = others.apply(lambda r, v=v: clearly(r, v), axis=1)
        better, worse = others[side == -1], others[side == 1].iloc[::-1]
        arms = lambda f: tuple(zip(f["arm"], f["ratio_mean"], strict=True))  # noqa: E731
        rows.append(
            {"task_label": label, "seq_len": T, "arm": arm, "ratio_mean": v.ratio_mean}
            | {"better": arms(better), "worse": arms(worse)}
        )
    return rows


def _claim(kind: str, rows: list[dict]) -> list[dict]:
    head = {"kind": kind, "paper": kind}
    return [{"cell": "lstm", **head, "matched": True, **r} for r in rows] or [
        {**head, "cell": "lstm", "matched": False}
    ]


def literature(runs: pd.DataFrame, main: pd.DataFrame, abl: dict[str, Ablation]) -> pd.DataFrame:
    """Every comparison of the literature section, one row each, in the order the section shows them."""
    r = _candidates(runs)
    ids = set(main["run_id"]) if len(main) else set()
    rows = tcn_rows(r, ids) + arjovsky_rows(r, ids) + hochreiter_rows(r, ids)
    rows += _claim("tallec2018", tallec_rows(r, ids)) + _claim("greff2017", greff_rows(abl))
    rows += _claim("jozefowicz2015", jozefowicz_rows(r, ids))
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"matched": bool})
