"""What the preset verdicts share (pure pandas): a preset's runs, outcome statistics per arm compared at
equal steps, which of two arms did better, median gradient profiles' decay rates per layer and direction,
and the verdict rows.

A preset's runs are the runs its sweep wrote (runs.sweep == the preset's sweep_name). Each claim becomes
one verdict row (VERDICT_COLUMNS): the claim, whether it holds on these runs, the sentence with the
numbers it was decided from, and for a claim that holds in some cases only, what tells those cases apart.
A preset without runs becomes one row saying so and how to run it. These rows are the one definition of
the preset claims' verdicts: the claims scorecard (scorecard_presets.py) repeats them, never recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.report.ablations import clearly, compared
from bench.report.doc import integer, num, ratio
from bench.report.outcomes import outcome_stats
from bench.report.profiles import decay_fit

HOLDS, FAILS, PARTLY, UNTESTED, NO_RUNS = "holds", "does not hold", "partly", "not tested", "no runs"
# depends: for a 'partly', what tells the cases where the claim holds from those where it does not ("the
# init"); where: those cases ("holds: identity init + clip none on adding; not: ..."); both empty otherwise.
VERDICT_COLUMNS = ("preset", "claim", "verdict", "evidence", "depends", "where")
# "Solves": a majority of seeds solved (the critical length's rule, critical.py), so one lucky seed of three
# is not a solve.
MAJORITY = 0.5
# One arm "solves more" than another when its solved fraction is higher by at least this: with the presets'
# 3 seeds, 2 seeds more; one seed either way is within what seeds alone do.
SOLVE_MARGIN = 0.5
# Two decay rates (decades per step) "match" within this factor: a different mechanism (a path that does
# not vanish) differs by orders of magnitude, while the seeds of one init differ by far less than 2x.
RATE_FACTOR = 2.0
# Below this a rate is "no decay" (0.001 decades per step: a factor 10 only after 1000 steps), where a
# ratio of two rates means nothing.
FLAT_RATE = 1e-3


@dataclass(frozen=True)
class PresetResult:
    """One preset's analysis: its evidence table (numbers, unformatted; one row per arm) and verdicts."""

    preset: str
    n_runs: int
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(VERDICT_COLUMNS)))
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)  # further tables (e.g. profile rates)


def run_command(preset: str) -> str:
    """How to run a preset."""
    return f"`python -m bench sweep sweep={preset}`"


def missing(preset: str) -> PresetResult:
    """The result of a preset without runs: one verdict row naming the preset and its command."""
    line = f"no runs of the `{preset}` preset in these results ({run_command(preset)} runs them)"
    return PresetResult(preset, 0, verdicts=verdict_rows(preset, [("runs", NO_RUNS, line)]))


def verdict_rows(preset: str, rows: list[tuple[str, ...]]) -> pd.DataFrame:
    """Verdict rows (claim, verdict, evidence[, depends, where]) of `preset` as a frame with VERDICT_COLUMNS;
    a 'partly' that names what it depends on says so at the end of its evidence."""
    out = []
    for claim, verdict, evidence, *rest in rows:
        depends, where = (*rest, "", "")[:2]
        if verdict == PARTLY and depends:
            evidence = f"{evidence.rstrip('.')}. So it depends on {depends} ({where})."
        out.append((preset, claim, verdict, evidence, depends, where))
    return pd.DataFrame(out, columns=list(VERDICT_COLUMNS))


def of_preset(runs: pd.DataFrame, preset: str) -> pd.DataFrame:
    """The runs the preset's sweep wrote."""
    return runs[runs["sweep"] == preset] if "sweep" in runs.columns else runs.iloc[0:0]


def share(k: int, n: int) -> str:
    """The verdict of a claim checked in n groups that held in k: holds (all), partly, does not hold, or
    not tested (no group)."""
    if n == 0:
        return UNTESTED
    return HOLDS if k == n else PARTLY if k else FAILS


def arm_stats(
    runs: pd.DataFrame, keys: list[str], curves: pd.DataFrame, common: list[str] | None = None
) -> pd.DataFrame:
    """outcome_stats per `keys`, the arms of a group (`common`; default: the keys but the last) compared
    at its common step (ablations.compared: cmp_mean, cmp_lo, cmp_hi, cmp_n, cmp_step), and `solved_frac`
    (solved seeds / seeds run)."""
    s = compared(outcome_stats(runs, keys, curves, common=keys[:-1] if common is None else common))
    return s.assign(solved_frac=s["n_solved"] / s["n"].where(s["n"] > 0))


def pairs_of(
    table: pd.DataFrame, group: list[str], col: str, a: object, b: object
) -> list[tuple[pd.Series, ...]]:
    """(the row with `col` == a, the row with `col` == b) per group of `table` by `group` that has both."""
    out = []
    for _, g in table.groupby(group, sort=False):
        x, y = g[g[col] == a], g[g[col] == b]
        if len(x) and len(y):
            out.append((x.iloc[0], y.iloc[0]))
    return out


def solves(r: pd.Series) -> bool:
    """A majority of the arm's seeds solved."""
    return bool(r["n"] > 0 and r["n_solved"] > MAJORITY * r["n"])


# How `better` decides, as the verdicts' evidence says it.
BETTER_RULE = (
    "more seeds solved by at least half the seeds, else fewer diverged by at least half the seeds, else "
    "loss / chance clearly lower, 95% intervals apart"
)


def better(a: pd.Series, b: pd.Series) -> int:
    """-1 when arm `a` did better than arm `b` (arm_stats rows), +1 worse, 0 neither (BETTER_RULE): its
    solved fraction higher by SOLVE_MARGIN; else its diverged fraction lower by SOLVE_MARGIN; else loss /
    chance at the common step clearly lower (95% intervals apart).

    The one rule of every "X does better than Y" verdict. Solves by a margin, not "a majority solved where
    the other has no majority": that would count 2 of 3 seeds against 1 of 3, and one seed either way is
    what seeds alone do. Divergence before the loss: a diverged run counts as infinitely bad at the common
    step and is left out of the loss means (equal.py), so an arm that mostly diverged would otherwise be
    judged on the loss of its few survivors."""
    for col, sign in (("n_solved", -1), ("n_diverged", 1)):
        d = a[col] / a["n"] - b[col] / b["n"] if a["n"] > 0 and b["n"] > 0 else np.nan
        if np.isfinite(d) and abs(d) >= SOLVE_MARGIN - 1e-9:
            return sign if d > 0 else -sign
    return clearly(a, b)


def flips(cases: pd.DataFrame, ok: str, dims: dict[str, str]) -> str:
    """What tells the cases where `ok` holds from those where it does not: the dimensions (column -> word)
    along which it flips between cases that agree on every other dimension, ' and ' between; when no single
    one does (the cases differ in several at once), every dimension along which its share varies; '' when
    `ok` is the same in every case."""
    d = cases.assign(_ok=cases[ok].astype(bool))
    if d["_ok"].nunique() < 2 or not dims:
        return ""

    def flip(col: str) -> bool:
        rest = [c for c in dims if c != col]
        return bool((d.groupby(rest, dropna=False)["_ok"].nunique() > 1).any()) if rest else True

    named = [c for c in dims if flip(c)]
    named = named or [c for c in dims if d.groupby(c, dropna=False)["_ok"].mean().nunique() > 1]
    return " and ".join(dims[c] for c in named or dims)


def where_text(names: pd.Series, ok: pd.Series, yes: str = "holds", no: str = "not") -> str:
    """'holds: a, b; not: c': the cases `names` by whether `ok` held there."""
    hold = [str(n) for n, o in zip(names, ok, strict=True) if o]
    fail = [str(n) for n, o in zip(names, ok, strict=True) if not o]
    return "; ".join(f"{w}: {', '.join(x)}" for w, x in ((yes, hold), (no, fail)) if x)


def judge(cases: pd.DataFrame, ok: str, dims: dict[str, str], name: str) -> tuple[str, str, str]:
    """(verdict, depends, where) of a claim checked once per row of `cases` (`ok`: it held there; `name`:
    how the case is written): share's verdict, and for a 'partly' what it flips with (`flips`) and where."""
    verdict = share(int(cases[ok].astype(bool).sum()), len(cases))
    if verdict != PARTLY:
        return verdict, "", ""
    return verdict, flips(cases, ok, dims) or "the case", where_text(cases[name], cases[ok])


def one_seed(rows: list[pd.Series]) -> str:
    """The caveat of comparisons where an arm ran one seed: no interval, so only solve counts differ."""
    if any(r["cmp_n"] < 2 or not np.isfinite(r["cmp_n"]) for r in rows):
        return " With one seed in an arm there is no interval, so only solve counts can differ clearly there."
    return ""


def rates_match(a: float, b: float) -> bool | None:
    """Whether two decay rates are the same vanishing (within RATE_FACTOR, or both below FLAT_RATE); None
    when either is unknown."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return None
    if max(abs(a), abs(b)) < FLAT_RATE:
        return True
    if min(a, b) <= 0:  # one falls, the other does not (or grows): not the same
        return False
    return max(a, b) / min(a, b) <= RATE_FACTOR


def _phased(p: pd.DataFrame) -> pd.DataFrame:
    """Rows at step 0 (phase 'init') and at each run's last probe step after 0 (phase 'end')."""
    last = p.groupby("run_id")["step"].transform("max")
    phase = np.where(p["step"] == 0, "init", np.where((p["step"] == last) & (last > 0), "end", ""))
    return p.assign(phase=phase)[phase != ""]


def profile_rates(
    profile: pd.DataFrame, runs: pd.DataFrame, keys: list[str], state: str = "h"
) -> pd.DataFrame:
    """Per (keys, layer, direction, phase): the decay rate (decades per step, profiles.decay_fit) of the
    median over seeds of ||dL/d`state`_t|| against distance, the distances fitted (fit_n), the seeds (n),
    and the first distance where that median is exactly 0 (zero_at; NaN: never)."""
    cols = [*keys, "layer", "direction", "phase", "rate", "fit_n", "n", "zero_at"]
    need = {"run_id", "step", "layer", "direction", "distance", "state", "grad_norm"}
    if profile.empty or not need <= set(profile.columns) or runs.empty:
        return pd.DataFrame(columns=cols)
    p = profile[(profile["state"] == state) & profile["run_id"].isin(set(runs["run_id"]))]
    p = p.assign(
        **{c: pd.to_numeric(p[c], errors="coerce") for c in ("step", "layer", "distance", "grad_norm")}
    )
    p = _phased(p.dropna(subset=["step", "layer", "distance"]))
    p = p.merge(runs[["run_id", *keys]], on="run_id", how="inner")
    grp = [*keys, "layer", "direction", "phase"]
    rows = []
    for key, g in p.groupby(grp, sort=True, dropna=False):
        med = g.groupby("distance")["grad_norm"].median()
        rate, _, _, n_fit = decay_fit(med.index.to_numpy(), med.to_numpy())
        zero = med.index[med.to_numpy() == 0]
        rows.append((*key, rate, n_fit, g["run_id"].nunique(), float(zero.min()) if len(zero) else np.nan))
    return pd.DataFrame(rows, columns=cols)


def rate_text(rate: float) -> str:
    """A decay rate in prose: '0.21 decades / step', or 'no fit' (fewer than two positive points)."""
    return f"{num(rate, 2)} decades / step" if np.isfinite(rate) else "no fit"


def arm_text(r: pd.Series) -> str:
    """An arm's outcome in prose: '2/3 solved, loss / chance 0.41 at step 300'."""
    at = f" at step {integer(r['cmp_step'])}" if np.isfinite(r["cmp_step"]) else " (final)"
    return f"{integer(r['n_solved'])}/{integer(r['n'])} solved, loss / chance {ratio(r['cmp_mean'])}{at}"
