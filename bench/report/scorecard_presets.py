"""The scorecard's claims that ablation presets measure (tanh's bound, the remedies ReLU, clipping and
truncated backpropagation, depth, bidirectional cells), from the raw runs and the states table. Pure pandas.

A remedy or a variant is compared inside groups of runs that differ in its fields only (the same
configuration apart from them, seeds aside: `config_without`), each arm against the group's reference arm
by `better`: a majority of seeds solved, then a majority diverged, then loss / chance at the group's common
step with 95% intervals apart (ablations.clearly), the rules the critical length and the ablation tables
use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bench.report.ablations import clearly, compared
from bench.report.data import CELL, VARIANT, cell_name, config_without
from bench.report.doc import NA, integer, num, ratio, text
from bench.report.factors import FACTORS
from bench.report.outcomes import outcome_stats
from bench.report.scorecard import row, split_text, unmeasured, verdict_of

if TYPE_CHECKING:
    from bench.report.analysis import Analysis

# "Blows up": max |h_t| above this, a thousand times tanh's bound of 1 (ReLU values of a few units are
# ordinary; three orders of magnitude are not), or the run diverged (a non-finite loss or gradient).
BLOW_UP = 1e3
TANH_BOUND = 1.0 + 1e-9  # float64 tanh reaches 1.0 exactly when it saturates: the closed bound, to rounding
MAX_CASES = 4  # cases written out in a row's evidence; the rest are counted
TBPTT = "train.tbptt"


def peaks(states: pd.DataFrame) -> pd.Series:
    """Per run: the largest max |h_t| its states table recorded (any step, layer, direction, time)."""
    need = {"run_id", "stat", "state", "value"}
    if states is None or states.empty or not need <= set(states.columns):
        return pd.Series(dtype=float, name="peak")
    s = states[(states["stat"] == "max_abs") & (states["state"] == "h")]
    return pd.to_numeric(s["value"], errors="coerce").groupby(s["run_id"]).max().rename("peak")


def majority(flags: pd.Series) -> bool:
    """More than half of `flags` hold."""
    return bool(flags.sum() > len(flags) / 2)


def better(a: pd.Series, b: pd.Series) -> int:
    """+1 when arm `a` did better than arm `b` (outcome_stats rows, `compared`), -1 worse, 0 no difference:
    a majority of seeds solved where the other has none, else a majority diverged, else loss / chance at
    the common step clearly (95% intervals apart) lower."""
    for k, sign in (("n_solved", 1), ("n_diverged", -1)):
        ma, mb = a[k] > a["n"] / 2, b[k] > b["n"] / 2
        if ma != mb:
            return sign if ma else -sign
    return -clearly(a, b)


def labels(runs: pd.DataFrame, fields: list[str]) -> pd.Series:
    """The arm of each run: its values of `fields` ('norm / 1', '2'), numbers as the report writes them."""
    parts = [
        runs[f].map(num).astype(object) if pd.api.types.is_float_dtype(runs[f]) else text(runs[f])
        for f in fields
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out


def contrasts(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    fields: list[str],
    ref: Callable[[pd.DataFrame], pd.Series],
    extra: list[str],
    label: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> pd.DataFrame:
    """Groups of runs that differ in `fields` only: per arm that is not its group's reference arm (`ref`:
    the runs, with their group as `_rest` -> True for the reference arm's runs), its outcome_stats row with
    `side` (`better` against the reference) and the reference's `ref_arm`, `ref_solved`, `ref_diverged`,
    `ref_cmp`. `extra`: descriptive columns kept (constant within a group); `label`: runs -> arm label
    (default: the values of `fields`)."""
    if runs.empty:
        return pd.DataFrame()
    arm = label(runs) if label is not None else labels(runs, fields)
    r = runs.assign(_rest=config_without(runs, fields), arm=arm.astype(object))
    r = r.assign(_ref=ref(r).to_numpy())
    g = r.groupby("_rest")
    r = r[g["_ref"].transform("any") & (g["arm"].transform("nunique") > 1) & (r["status"] != "failed")]
    if r.empty:
        return pd.DataFrame()
    keys = ["_rest", "task_label", *extra, "arm"]
    st = compared(outcome_stats(r, keys, curves, common=["_rest"]))
    st = st[st["n"] > 0]
    refs = set(zip(r.loc[r["_ref"], "_rest"], r.loc[r["_ref"], "arm"], strict=True))
    is_ref = [(k, a) in refs for k, a in zip(st["_rest"], st["arm"], strict=True)]
    base = st[is_ref].drop_duplicates("_rest").set_index("_rest")
    out = st[~np.array(is_ref)]
    out = out[out["_rest"].isin(base.index)]
    if out.empty:
        return pd.DataFrame()
    b = base.loc[out["_rest"]]
    sweeps = r.groupby("_rest")["sweep"].agg(lambda x: ", ".join(sorted(set(x) - {NA})))
    side = [better(x, y) for (_, x), (_, y) in zip(out.iterrows(), b.iterrows(), strict=True)]
    return out.assign(
        side=side, ref_arm=b["arm"].to_numpy(), ref_solved=b["n_solved"].to_numpy(),
        ref_diverged=b["n_diverged"].to_numpy(), ref_cmp=b["cmp_mean"].to_numpy(), ref_n=b["n"].to_numpy(),
        sweeps=out["_rest"].map(sweeps).to_numpy(),
    ).reset_index(drop=True)  # fmt: skip


def _ratio(v: float) -> str:
    """A loss / chance as the reading writes it; a diverged run's huge one in powers of ten."""
    return ratio(v) if not abs(v) >= 100 else num(v, 2)


def told(c: pd.DataFrame, what: pd.Series) -> str:
    """The evidence of a contrast frame: counts by side, then the first MAX_CASES cases in numbers."""
    n = len(c)
    k = {s: int((c["side"] == s).sum()) for s in (1, 0, -1)}
    head = f"better in {k[1]} of {n} comparisons, no difference in {k[0]}, worse in {k[-1]}"
    items = [
        f"{w} on {r['task_label']}: solved {integer(r['n_solved'])}/{integer(r['n'])}, diverged "
        f"{integer(r['n_diverged'])}, loss / chance {_ratio(r['cmp_mean'])}; {r['ref_arm']}: solved "
        f"{integer(r['ref_solved'])}, diverged {integer(r['ref_diverged'])}, {_ratio(r['ref_cmp'])}"
        for w, (_, r) in zip(what, c.iterrows(), strict=True)
    ]
    more = f"; {n - MAX_CASES} more" if n > MAX_CASES else ""
    return f"{head} ({'; '.join(items[:MAX_CASES])}{more})"


def contrast_row(
    key: tuple[int, str],
    c: pd.DataFrame,
    what: pd.Series,
    ok: pd.Series,
    dims: dict[str, str],
    sources: tuple[str, ...],
    words: tuple[str, str],
) -> dict:
    """A scorecard row from a contrast frame: `ok` per comparison, `what` names it, `words` (yes, no)."""
    d = c.assign(ok=ok.to_numpy(), what=what.to_numpy())
    cond = split_text(d, "ok", words[0], words[1], key="what", name=str, always=True)
    return row(key, verdict_of(d, "ok", dims), cond, told(c, what), sources)


def tanh_rows(runs: pd.DataFrame, states: pd.DataFrame) -> list[dict]:
    """4a: every tanh RNN run's max |h_t| stays within 1; 4b: the RNN without tanh (ReLU) blows up (max |h_t|
    above BLOW_UP, or a diverged run), per configuration (a majority of its seeds)."""
    r = runs[runs[CELL] == "rnn"].merge(peaks(states), left_on="run_id", right_index=True, how="left")
    tanh = r[(r[VARIANT] == "tanh") & r["peak"].notna()]
    if tanh.empty:
        out = [unmeasured((4, "a"), "activation", "no states table (max |h_t|) of a tanh RNN run")]
    else:
        sweeps = ", ".join(sorted(set(tanh["sweep"]) - {NA})) or "not recorded"
        top = num(tanh["peak"].max(), 6)
        ev = f"max |h_t| over {len(tanh)} tanh RNN runs (sweeps {sweeps}): at most {top}"
        # a bound: one run beyond it is enough to refute it
        verdict = "supported" if (tanh["peak"] <= TANH_BOUND).all() else "not supported"
        out = [row((4, "a"), verdict, "", ev, ("states table",))]
    relu = r[(r[VARIANT] != "tanh") & (r["peak"].notna() | (r["status"] == "diverged"))]
    if relu.empty:
        return [*out, unmeasured((4, "b"), "activation", "no ReLU RNN run with a states table")]
    relu = relu.assign(
        blown=(relu["status"] == "diverged") | (relu["peak"] > BLOW_UP), cfg=config_without(relu, [])
    )
    cols = ["task_label", "cell.recurrent_init", "train.clip"]
    g = relu.groupby(["cfg", *cols], sort=False).agg(
        blown=("blown", majority), k=("blown", "sum"), n=("run_id", "size"), peak=("peak", "max"),
        diverged=("status", lambda s: int((s == "diverged").sum())),
    ).reset_index()  # fmt: skip
    what = "ReLU, " + g["cell.recurrent_init"] + " W_hh, clip " + g["train.clip"]
    d = g.assign(what=what)
    ev = f"max |h_t| above {num(BLOW_UP)} or diverged, per configuration (seeds): " + "; ".join(
        f"{w} on {r['task_label']}: {r['k']}/{r['n']} (diverged {r['diverged']}, max |h_t| {num(r['peak'])})"
        for w, (_, r) in zip(what, g.iterrows(), strict=True)
    )
    dims = {"task_label": "the task", "cell.recurrent_init": "the init", "train.clip": "clipping"}
    cond = split_text(d, "blown", "blows up", "stays bounded", key="what", name=str, always=True)
    return [*out, row((4, "b"), verdict_of(d, "blown", dims), cond, ev, ("states table", "runs table"))]


def _full_bptt(r: pd.DataFrame) -> pd.Series:
    """Full backpropagation: no truncation, or the longest truncation of the group (K = the sequence)."""
    k = pd.to_numeric(r[TBPTT], errors="coerce").fillna(np.inf)
    return k == k.groupby(r["_rest"]).transform("max")


def _fewest_layers(r: pd.DataFrame) -> pd.Series:
    k = pd.to_numeric(r["cell.layers"], errors="coerce")
    return k == k.groupby(r["_rest"]).transform("min")


def _clip_what(c: pd.DataFrame) -> pd.Series:
    """'clip norm 1, RNN relu (identity W_hh), sgd'."""
    cell = c[CELL].map(cell_name) + " " + c[VARIANT] + " (" + c["cell.recurrent_init"] + " W_hh)"
    return "clip " + c["arm"] + ", " + cell + ", " + c["train.optimizer"]


@dataclass(frozen=True)
class Test:
    """One claim measured as arms against a reference arm inside groups that differ in `fields` only."""

    key: tuple[int, str]
    fields: tuple[str, ...]
    ref: Callable[[pd.DataFrame], pd.Series]  # runs (with `_rest`) -> True for the reference arm's runs
    what: Callable[[pd.DataFrame], pd.Series]  # contrast frame -> how each comparison is written
    least: int  # the claim holds for a comparison with side >= least (1: better, 0: not worse)
    dims: dict[str, str]  # what may tell cases apart (column -> word), for "depends on"
    preset: str  # the sweep preset(s) that measure it, comma-separated
    words: tuple[str, str]  # (holds, does not), as the condition writes them
    extra: tuple[str, ...] = (CELL,)  # descriptive columns of a group
    factor: str | None = None  # the ablation factor whose tables show these runs (and label its arms)
    cells: tuple[str, ...] | None = None  # only these cells' runs
    label: Callable[[pd.DataFrame], pd.Series] | None = None  # runs -> arm label (default: the factor's)


def _cell_arm(c: pd.DataFrame) -> pd.Series:
    """How a comparison is written: '<cell> <arm>' ('GRU K=16', 'LSTM 2 layers')."""
    return c[CELL].map(cell_name) + " " + c["arm"]


def _k(r: pd.DataFrame) -> pd.Series:
    k = pd.to_numeric(r[TBPTT], errors="coerce")
    return k.map(lambda v: "full BPTT" if pd.isna(v) else f"K={integer(v)}")


def _layers(r: pd.DataFrame) -> pd.Series:
    return r["cell.layers"].map(lambda v: f"{integer(v)} layer{'' if v == 1 else 's'}")


def _directions(r: pd.DataFrame) -> pd.Series:
    bi = text(r["cell.bidirectional"]) == "True"
    return pd.Series(np.where(bi, "bidirectional", "unidirectional"), index=r.index)


def _relu_what(c: pd.DataFrame) -> pd.Series:
    return c["arm"] + ", " + c["cell.recurrent_init"] + " W_hh, clip " + c["train.clip"]


TASK_DIM = {"task_label": "the task"}
HELPS, ADDS = ("helps", "does not help"), ("adds", "does not add")
TESTS = (
    Test((5, "b"), (VARIANT,), ref=lambda r: r[VARIANT] == "tanh", what=_relu_what, least=1,
         dims={**TASK_DIM, "cell.recurrent_init": "the init", "train.clip": "clipping"}, preset="activation",
         words=HELPS, extra=("cell.recurrent_init", "train.clip"), factor="variant", cells=("rnn",)),
    Test((5, "c"), ("train.clip", "train.clip_value"), ref=lambda r: r["train.clip"] == "none",
         what=_clip_what, least=1, preset="clip,activation", words=HELPS, factor="clip",
         dims={**TASK_DIM, CELL: "the cell", VARIANT: "the activation", "cell.recurrent_init": "the init",
               "train.optimizer": "the optimizer"},
         extra=(CELL, VARIANT, "cell.recurrent_init", "train.optimizer")),
    Test((5, "d"), (TBPTT,), ref=_full_bptt, what=_cell_arm, least=0, preset="tbptt", label=_k,
         dims={**TASK_DIM, CELL: "the cell", "arm": "the truncation length"},
         words=("as good as full", "worse")),
    Test((6, "a"), ("cell.layers",), ref=_fewest_layers, what=_cell_arm, least=1, preset="depth",
         label=_layers, dims={**TASK_DIM, CELL: "the cell", "arm": "the depth"}, words=ADDS),
    Test((6, "b"), ("cell.bidirectional",), ref=lambda r: text(r["cell.bidirectional"]) != "True",
         what=_cell_arm, least=1, preset="bidirectional", label=_directions,
         dims={**TASK_DIM, CELL: "the cell"}, words=ADDS),
)  # fmt: skip


def remedy_rows(a: Analysis, tests: tuple[Test, ...] = TESTS) -> list[dict]:
    """5b ReLU against tanh (RNN), 5c clipping against none, 5d truncated against full backpropagation, 6a
    more layers against one, 6b bidirectional against unidirectional; each within groups of runs that differ
    in that only (TESTS)."""
    out = []
    for t in tests:
        r = a.runs if t.cells is None else a.runs[a.runs[CELL].isin(t.cells)]
        factor = next((f for f in FACTORS if f.name == t.factor), None)
        label = t.label or (factor.arms if factor is not None else None)
        c = contrasts(r, a.prepared.curves, list(t.fields), t.ref, list(t.extra), label)
        if t.least == 0 and len(c):  # "as good as": only against a reference that learnt the task
            c = c[c["ref_solved"] > c["ref_n"] / 2]
            if c.empty:
                out.append(
                    unmeasured(t.key, t.preset, "the reference arm solved a majority of seeds in no group")
                )
                continue
        if c.empty:
            out.append(unmeasured(t.key, t.preset, "no runs that differ in that only"))
            continue
        sweeps = ", ".join(sorted(set(", ".join(c["sweeps"]).split(", ")) - {""})) or "not recorded"
        sources = ("ablations",) if t.factor in a.ablations else (f"runs of sweep {sweeps}",)
        out.append(contrast_row(t.key, c, t.what(c), c["side"] >= t.least, t.dims, sources, t.words))
    return out


def rows(a: Analysis) -> list[dict]:
    """The preset claims' rows: 4a, 4b (states), then the remedies 5b-5d and capacity 6a, 6b."""
    return tanh_rows(a.runs, a.prepared.states) + remedy_rows(a)
